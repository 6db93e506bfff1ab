// Tool (c) of the grade benchmark: the LTIAAS grade passback guide's pattern written by hand with axios, every step on every grade.
const axios = require('axios');
const express = require('express');
const { scoreQuiz } = require('./scoreQuiz');

/**
 * The guide's steps for each finished activity: read the ID token and check the grade service,
 * find the column by resourceId (list line items), create it when missing, post the score.
 * Plain axios with its defaults, as a tool written from the guide would use it.
 */
function createGuideTool({ ltiaasUrl, apiKey }) {
  const app = express();
  app.use(express.json());
  app.post('/quiz/:id/finish', scoreQuiz, async (req, res, next) => {
    try {
      const headers = { Authorization: `LTIK-AUTH-V2 ${apiKey}:${req.query.ltik}` };
      const { data: idToken } = await axios.get(`${ltiaasUrl}/api/idtoken`, { headers });
      if (!idToken.services.assignmentAndGrades.available) {
        res.status(403).json({ error: { code: 'GRADES_UNAVAILABLE', message: 'Grades are not available for this launch.' } });
        return;
      }
      const resourceId = `quiz-${req.params.id}`;
      const { data: page } = await axios.get(`${ltiaasUrl}/api/lineitems`, { headers, params: { resourceId } });
      let lineItem = page.lineItems[0];
      if (!lineItem) {
        const created = await axios.post(
          `${ltiaasUrl}/api/lineitems`,
          { label: `Quiz ${req.params.id}`, scoreMaximum: 10, resourceId, resourceLinkId: idToken.launch.resourceLink.id },
          { headers },
        );
        lineItem = created.data;
      }
      await axios.post(
        `${ltiaasUrl}/api/lineitems/${encodeURIComponent(lineItem.id)}/scores`,
        {
          userId: idToken.user.id,
          scoreGiven: res.locals.score,
          scoreMaximum: 10,
          activityProgress: 'Completed',
          gradingProgress: 'FullyGraded',
          timestamp: new Date().toISOString(),
        },
        { headers },
      );
      res.json({ status: 'submitted', lineItemId: lineItem.id, userId: idToken.user.id, scoreGiven: res.locals.score, scoreMaximum: 10 });
    } catch (error) {
      next(error);
    }
  });
  return { app, close: () => {} };
}

module.exports = { createGuideTool };
