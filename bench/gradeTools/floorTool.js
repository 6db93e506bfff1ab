// Tool (b) of the grade benchmark, the protocol floor: per grade one ID token GET and one score POST over kept-alive node:http, nothing checked.
const http = require('node:http');
const express = require('express');
const { scoreQuiz } = require('./scoreQuiz');

/** The least a client can do: send, read the body, parse it when there is one. */
function requester(ltiaasUrl, apiKey) {
  const { hostname, port } = new URL(ltiaasUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  return (method, path, ltik, body) =>
    new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const headers = { Authorization: `LTIK-AUTH-V2 ${apiKey}:${ltik}` };
      if (payload !== undefined) {
        headers['Content-Type'] = 'application/json';
        headers['Content-Length'] = Buffer.byteLength(payload);
      }
      const request = http.request({ agent, hostname, port, method, path, headers }, (response) => {
        const chunks = [];
        response.on('data', (chunk) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          resolve({ status: response.statusCode, data: text === '' ? undefined : JSON.parse(text) });
        });
        response.on('error', reject);
      });
      request.on('error', reject);
      request.end(payload);
    });
}

/**
 * A tool that knows its column already: the line item is found or created once, at start-up
 * (outside the measured rounds), as a tool with a fixed grade-book column would have it.
 */
async function createFloorTool({ ltiaasUrl, apiKey, quizId, setupLtik }) {
  const send = requester(ltiaasUrl, apiKey);
  const resourceId = `quiz-${quizId}`;
  const listed = await send('GET', `/api/lineitems?resourceId=${encodeURIComponent(resourceId)}`, setupLtik);
  const lineItem =
    listed.data.lineItems[0] ??
    (await send('POST', '/api/lineitems', setupLtik, { label: `Quiz ${quizId}`, scoreMaximum: 10, resourceId })).data;
  const scoresPath = `/api/lineitems/${encodeURIComponent(lineItem.id)}/scores`;

  const app = express();
  app.use(express.json());
  app.post('/quiz/:id/finish', scoreQuiz, async (req, res, next) => {
    try {
      const ltik = req.query.ltik;
      const idToken = await send('GET', '/api/idtoken', ltik);
      const userId = idToken.data.user.id;
      const posted = await send('POST', scoresPath, ltik, {
        userId,
        scoreGiven: res.locals.score,
        scoreMaximum: 10,
        activityProgress: 'Completed',
        gradingProgress: 'FullyGraded',
        timestamp: new Date().toISOString(),
      });
      if (posted.status >= 300) {
        res.status(502).json({ error: { code: 'LTIAAS_UNAVAILABLE', message: `score POST answered ${posted.status}` } });
        return;
      }
      res.json({ status: 'submitted', lineItemId: lineItem.id, userId, scoreGiven: res.locals.score, scoreMaximum: 10 });
    } catch (error) {
      next(error);
    }
  });
  return { app, close: () => {} };
}

module.exports = { createFloorTool };
