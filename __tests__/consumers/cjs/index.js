// A CommonJS app using the packed package as its users would: require by name, mount, grade.
const assert = require('node:assert/strict');
const express = require('express');
const { ltiaasGrades, isLtiaasGradesError } = require('express-ltiaas-grades');
const { startEmulator } = require('express-ltiaas-grades/testing');

async function main() {
  const emulator = await startEmulator();
  const grades = ltiaasGrades({ ltiaasUrl: emulator.url, apiKey: emulator.apiKey });
  const app = express();
  app.use(express.json());
  app.use(grades.middleware());
  app.post(
    '/finish',
    grades.submitGrade({
      score: () => ({ scoreGiven: 0, scoreMaximum: 5 }),
      lineItem: { resourceId: 'consumer-quiz', label: 'Consumer quiz', scoreMaximum: 5 },
    }),
  );
  app.use(grades.errorHandler());
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${server.address().port}`;

  const launch = emulator.launch({ user: { id: 'cjs-student' }, context: { id: 'cjs' } });
  const ok = await fetch(`${base}/finish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ltik: launch.ltik }) });
  assert.equal(ok.status, 200);
  assert.deepEqual((await ok.json()).scoreGiven, 0);
  const [column] = emulator.lineItems({ contextId: 'cjs' });
  assert.equal(emulator.scores(column.id, 'cjs-student').length, 1);

  // An async failure reaches the error handler (Express 4 does not forward rejections by itself).
  const missing = await fetch(`${base}/finish`, { method: 'POST' });
  assert.equal(missing.status, 401);
  assert.equal((await missing.json()).error.code, 'LTIK_MISSING');
  assert.equal(typeof isLtiaasGradesError, 'function');

  // The optional peer is not installed here: the package loads, grades and reports without it.
  assert.throws(() => require.resolve('@opentelemetry/api'), { code: 'MODULE_NOT_FOUND' });
  assert.equal((await grades.status()).state, 'ok');

  server.close();
  await grades.close();
  await emulator.close();
  console.log(`consumer ok: cjs, express ${require('express/package.json').version}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
