// An ES module app using the packed package as its users would: import by name, mount, grade.
import assert from 'node:assert/strict';
import express from 'express';
import { ltiaasGrades, fileOutbox, ltiaasClient, LtiaasGradesError } from 'express-ltiaas-grades';
import { startEmulator } from 'express-ltiaas-grades/testing';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const emulator = await startEmulator();
const dir = await mkdtemp(join(tmpdir(), 'consumer-esm-'));
const outbox = fileOutbox({ dir, retry: { minDelayMs: 20, maxDelayMs: 50 } });
const grades = ltiaasGrades({ ltiaasUrl: emulator.url, apiKey: emulator.apiKey, outbox, retry: { retries: 0 } });
const app = express();
app.use(grades.middleware());
app.post('/finish', grades.submitGrade({ score: () => ({ scoreGiven: 4, scoreMaximum: 5 }) }));
app.use(grades.errorHandler());
const server = app.listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const base = `http://127.0.0.1:${server.address().port}`;

const launch = emulator.launch({ user: { id: 'esm-student' }, lineItem: { label: 'Lab', scoreMaximum: 5 } });
const ok = await fetch(`${base}/finish?ltik=${launch.ltik}`, { method: 'POST' });
assert.equal(ok.status, 200);
assert.equal(emulator.scores(launch.lineItemId, 'esm-student').length, 1);

// The outbox from the ESM build: queued while the LMS fails, delivered after.
emulator.fail({ method: 'POST', path: /\/scores$/, status: 503 });
const queued = await fetch(`${base}/finish`, { method: 'POST', headers: { authorization: `Bearer ${launch.ltik}` } });
assert.equal(queued.status, 202);
assert.equal(await outbox.drain(10_000), true);
assert.equal(emulator.scores(launch.lineItemId, 'esm-student').length, 2);

const client = ltiaasClient({ ltiaasUrl: emulator.url, apiKey: emulator.apiKey });
const outcomes = await client.withServiceKey(launch.serviceKey).submitMany([{ userId: 'esm-student', scoreGiven: 5, scoreMaximum: 5 }], { lineItem: launch.lineItemId });
assert.equal(outcomes[0].status, 'submitted');
assert.equal(typeof LtiaasGradesError, 'function');

// The optional peer is not installed here: the ES module build loads, grades and reports without it.
assert.throws(() => createRequire(import.meta.url).resolve('@opentelemetry/api'), { code: 'MODULE_NOT_FOUND' });
assert.equal((await grades.status()).outbox.pending, 0);

server.close();
await client.close();
await grades.close();
await emulator.close();
await rm(dir, { recursive: true, force: true });
console.log('consumer ok: esm');
