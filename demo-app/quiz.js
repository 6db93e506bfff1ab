// The demo quiz: its questions, and the server-side scoring that is the only source of the grade.
'use strict';

// Correct answers (for tests driving the demo): q1=b, q2=c, q3=a, q4=d.
// They live only in ANSWER_KEY below, which never leaves the server: the pages get
// `questions`, built without it, and the grade is computed here from the submitted choices.
const ANSWER_KEY = Object.freeze({ q1: 'b', q2: 'c', q3: 'a', q4: 'd' });

const CHOICE_IDS = ['a', 'b', 'c', 'd'];

/** The questions as the browser may see them: prompt and choices, no answer. */
const questions = deepFreeze(
  [
    {
      prompt: 'What does LTI stand for?',
      choices: ['Learning Tools Integration', 'Learning Tools Interoperability', 'Linked Teaching Interface', 'Learner Tracking Index'],
    },
    {
      prompt: 'Which LTI 1.3 service puts scores in the LMS grade book?',
      choices: ['Deep Linking', 'Names and Role Provisioning Services', 'Assignment and Grade Services', 'Basic Outcomes Reporting'],
    },
    {
      prompt: 'Who should decide the score that is sent to the grade book?',
      choices: ["The tool's server", "The student's browser", 'The LMS login page', 'Whoever submits the form last'],
    },
    {
      prompt: 'In an LMS grade book, what is a line item?',
      choices: ["One student's row of grades", 'A single launch of the tool', 'The API key of the tool', 'The column for one activity'],
    },
  ].map((question, index) => ({
    name: `q${index + 1}`,
    prompt: question.prompt,
    choices: question.choices.map((label, choiceIndex) => ({ value: CHOICE_IDS[choiceIndex], label })),
  })),
);

/** Points possible: one per question. */
const questionCount = questions.length;

/**
 * Counts the correct answers among the submitted choices. Only the fields q1..qN are read;
 * anything else in the body (a forged "score" field, say) is ignored. A missing, repeated
 * or unknown choice counts as wrong, so 0 is a possible grade.
 */
function countCorrectAnswers(body) {
  const answers = typeof body === 'object' && body !== null ? body : {};
  let correct = 0;
  for (const question of questions) {
    const own = Object.prototype.hasOwnProperty.call(answers, question.name);
    if (own && answers[question.name] === ANSWER_KEY[question.name]) correct += 1;
  }
  return correct;
}

/** Express middleware: scores the submitted form into `res.locals.score` for submitGrade to post. */
function scoreQuiz(req, res, next) {
  res.locals.score = countCorrectAnswers(req.body);
  next();
}

function deepFreeze(value) {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

if (Object.keys(ANSWER_KEY).length !== questionCount) {
  // A question added without its answer (or the reverse) would silently change every grade.
  throw new Error('quiz.js: ANSWER_KEY and questions are out of step');
}

module.exports = { questions, questionCount, countCorrectAnswers, scoreQuiz };
