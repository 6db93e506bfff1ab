// Counts LTIAAS calls for the two scenarios: 5 re-submits in one launch, 50 students in one context.
const express = require('express');
const { ltiaasGrades } = require('express-ltiaas-grades');
const { startRemoteEmulator } = require('./remoteEmulator');

async function submitThroughApp(port, ltik, answers) {
  const res = await fetch(`http://127.0.0.1:${port}/quiz/1/finish?ltik=${encodeURIComponent(ltik)}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ answers }),
  });
  if (res.status !== 200) throw new Error(`submission answered ${res.status}: ${await res.text()}`);
}

async function run() {
  const emulator = await startRemoteEmulator({ pageSize: 10 });
  const grades = ltiaasGrades({ ltiaasUrl: emulator.url, apiKey: emulator.apiKey });
  const app = express();
  app.use(express.json());
  app.use(grades.middleware());
  app.post(
    '/quiz/:id/finish',
    grades.submitGrade({
      score: (req) => ({ scoreGiven: req.body.answers.filter((a) => a === 'b').length, scoreMaximum: 3 }),
      lineItem: (req) => ({ resourceId: `quiz-${req.params.id}`, label: `Quiz ${req.params.id}`, scoreMaximum: 3 }),
    }),
  );
  app.use(grades.errorHandler());
  const server = await new Promise((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  const { port } = server.address();

  // Scenario 1: one student re-submits five times in one launch.
  const [single] = await emulator.call('launchMany', { count: 1, description: { context: { id: 'resubmit' }, userPrefix: 'solo' } });
  await emulator.call('clearRequests');
  for (let i = 0; i < 5; i++) await submitThroughApp(port, single.ltik, ['b', i % 2 ? 'b' : 'a']);
  const resubmitCalls = await emulator.call('requestCount');

  // Scenario 2: 50 students in one fresh context each submit once.
  const students = await emulator.call('launchMany', { count: 50, description: { context: { id: 'class-of-50' }, userPrefix: 'student' } });
  await emulator.call('clearRequests');
  for (const student of students) await submitThroughApp(port, student.ltik, ['b', 'b', 'a']);
  const classCalls = await emulator.call('requestCount');
  const columns = await emulator.call('lineItemCount', { contextId: 'class-of-50' });

  server.close();
  await grades.close();
  await emulator.close();
  return {
    resubmitCalls,
    resubmitTarget: 8,
    classCalls,
    callsPerGrade: classCalls / 50,
    callsPerGradeTarget: 2.04,
    columnsCreated: columns,
  };
}

module.exports = { run };
if (require.main === module) run().then((result) => console.log(result));
