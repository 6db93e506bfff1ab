// Tool (a) of the grade benchmark: the package mounted exactly as README.md's "Use" section shows.
const express = require('express');
const { ltiaasGrades } = require('express-ltiaas-grades');
const { scoreQuiz } = require('./scoreQuiz');

function createPackageTool({ ltiaasUrl, apiKey }) {
  const app = express();
  const grades = ltiaasGrades({ ltiaasUrl, apiKey });

  app.use(express.json());
  app.use(grades.middleware());
  app.post('/quiz/:id/finish', scoreQuiz,
    grades.submitGrade({
      score: (req, res) => ({ scoreGiven: res.locals.score, scoreMaximum: 10 }),
      lineItem: (req) => ({ resourceId: `quiz-${req.params.id}`, label: `Quiz ${req.params.id}`, scoreMaximum: 10 }),
    }));
  app.use(grades.errorHandler());

  return { app, close: () => grades.close() };
}

module.exports = { createPackageTool };
