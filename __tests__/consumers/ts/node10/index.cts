// A CommonJS TypeScript app compiled with moduleResolution node10 (TypeScript's classic `node`), which ignores `exports`: both entry points must still resolve.
import assert = require('node:assert/strict');
import { ltiaasGrades, type LtiaasGradesError, isLtiaasGradesError } from 'express-ltiaas-grades';
import { startEmulator, type EmulatedLaunch } from 'express-ltiaas-grades/testing';

async function main(): Promise<void> {
  const emulator = await startEmulator();
  const grades = ltiaasGrades({ ltiaasUrl: emulator.url, apiKey: emulator.apiKey });
  const launch: EmulatedLaunch = emulator.launch({ user: { id: 'node10-student' }, lineItem: { label: 'Lab', scoreMaximum: 5 } });
  const outcome = await grades.forLaunch(launch.ltik).submit({ scoreGiven: 5, scoreMaximum: 5 });
  assert.equal(outcome.status, 'submitted');
  assert.equal(emulator.scores(launch.lineItemId!, 'node10-student').length, 1);
  const failure: unknown = await grades.forLaunch(launch.ltik).submit({ scoreGiven: -1, scoreMaximum: 5 }).catch((e: unknown) => e);
  assert.ok(isLtiaasGradesError(failure));
  const typed: LtiaasGradesError = failure;
  assert.equal(typed.code, 'SCORE_INVALID');
  await grades.close();
  await emulator.close();
  console.log(`consumer ok: typescript ${/dist-(\w+)/.exec(__filename)?.[1]}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
