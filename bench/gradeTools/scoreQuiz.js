// The quiz's own scoring, shared by the three tools the grade benchmark compares: one point per right answer.
const RIGHT_ANSWERS = ['b', 'a', 'd', 'c', 'b', 'b', 'a', 'c', 'd', 'a'];

/** Sets res.locals.score from the submitted answers, as a tool's scoring middleware would. */
function scoreQuiz(req, res, next) {
  const answers = Array.isArray(req.body?.answers) ? req.body.answers : [];
  res.locals.score = RIGHT_ANSWERS.reduce((points, right, i) => points + (answers[i] === right ? 1 : 0), 0);
  next();
}

/** Answers that score `points` out of 10, for the load generator. */
function answersScoring(points) {
  return RIGHT_ANSWERS.map((right, i) => (i < points ? right : 'x'));
}

module.exports = { scoreQuiz, answersScoring, SCORE_MAXIMUM: RIGHT_ANSWERS.length };
