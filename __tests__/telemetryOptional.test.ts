// OpenTelemetry is optional: the main entry loads none of it, a grades instance loads only @opentelemetry/api, and without an SDK, or without the API installed, grades go as before.
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileOutbox } from 'express-ltiaas-grades';
import { startHarness, type Harness } from './helpers/harness';

const run = promisify(execFile);
const root = path.resolve(__dirname, '..');
const REGISTER_TS = path.join(root, '__tests__/fixtures/registerTs.js');
/** Starting node with the TypeScript compiler on a busy machine takes a while. */
const CHILD_TIMEOUT_MS = 60_000;

/** Runs `script` in a fresh node that compiles the TypeScript sources, and returns what it printed as JSON. */
async function inChild<T>(script: string): Promise<T> {
  const { stdout } = await run(process.execPath, ['-r', REGISTER_TS, '-e', script], { cwd: root, timeout: CHILD_TIMEOUT_MS });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as T;
}

const src = (file: string) => JSON.stringify(path.join(root, 'src', file));
const openTelemetryFiles = `Object.keys(require.cache).filter((file) => file.includes('/node_modules/@opentelemetry/')).map((file) => file.split('/node_modules/')[1].split('/').slice(0, 2).join('/'))`;

describe('OpenTelemetry is optional', () => {
  let harness: Harness | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await harness?.close();
    harness = undefined;
    // Only ever a folder this test made with mkdtemp.
    if (dir) await fs.rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it(
    'is not loaded by importing the main entry; a grades instance loads @opentelemetry/api and no SDK',
    async () => {
      const loaded = await inChild<{ onImport: string[]; withInstance: string[] }>(`
        const { ltiaasGrades } = require(${src('index.ts')});
        const onImport = [...new Set(${openTelemetryFiles})];
        const grades = ltiaasGrades({ ltiaasUrl: 'http://127.0.0.1:1', apiKey: 'apikey-Z9x8C7v6B5n4' });
        const withInstance = [...new Set(${openTelemetryFiles})];
        grades.close().then(() => console.log(JSON.stringify({ onImport, withInstance })));
      `);
      expect(loaded).toEqual({ onImport: [], withInstance: ['@opentelemetry/api'] });
    },
    CHILD_TIMEOUT_MS,
  );

  it(
    'without @opentelemetry/api installed, grades are delivered, queued and reported as before',
    async () => {
      const outcome = await inChild<{ submitted: string; queued: string; delivered: boolean; pending: number; found: string[]; storedTrace: boolean }>(`
        // The package as an app without the optional peer sees it: not installed.
        const Module = require('node:module');
        const resolve = Module._resolveFilename;
        Module._resolveFilename = function (request, ...rest) {
          if (request.startsWith('@opentelemetry/')) throw Object.assign(new Error("Cannot find module '" + request + "'"), { code: 'MODULE_NOT_FOUND' });
          return resolve.call(this, request, ...rest);
        };
        const fs = require('node:fs');
        const os = require('node:os');
        const path = require('node:path');
        const { ltiaasGrades, fileOutbox } = require(${src('index.ts')});
        const { startEmulator } = require(${src('testing/index.ts')});
        (async () => {
          const emulator = await startEmulator();
          const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'no-otel-'));
          const outbox = fileOutbox({ dir, retry: { minDelayMs: 20, maxDelayMs: 50 } });
          const grades = ltiaasGrades({ ltiaasUrl: emulator.url, apiKey: emulator.apiKey, outbox, retry: { retries: 0 } });
          const launch = emulator.launch({ user: { id: 'plain' }, lineItem: { label: 'Lab', scoreMaximum: 10 } });
          const submitted = await grades.forLaunch(launch.ltik).submit({ scoreGiven: 1, scoreMaximum: 10 });
          emulator.fail({ method: 'POST', path: /\\/scores$/, status: 503 });
          const queued = await grades.forLaunch(launch.ltik).submit({ scoreGiven: 2, scoreMaximum: 10 });
          const job = JSON.parse(fs.readFileSync(path.join(dir, 'pending', queued.id + '.json'), 'utf8'));
          const delivered = await outbox.drain(10000);
          const status = await grades.status();
          await grades.close();
          await emulator.close();
          fs.rmSync(dir, { recursive: true, force: true });
          console.log(JSON.stringify({ submitted: submitted.status, queued: queued.status, delivered, pending: status.outbox.pending, found: ${openTelemetryFiles}, storedTrace: 'traceparent' in job.grade }));
        })().catch((error) => { console.error(error); process.exit(1); });
      `);
      expect(outcome).toEqual({ submitted: 'submitted', queued: 'queued', delivered: true, pending: 0, found: [], storedTrace: false });
    },
    CHILD_TIMEOUT_MS,
  );

  it('with the API but no SDK registered, records nothing: a queued grade carries no trace context, and is delivered', async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'no-sdk-'));
    const outbox = fileOutbox({ dir, retry: { minDelayMs: 20, maxDelayMs: 50 } });
    const h = await startHarness({ outbox });
    harness = h;
    const launch = h.emulator.launch({ user: { id: 'untraced' }, lineItem: { label: 'Lab', scoreMaximum: 10 } });
    h.emulator.fail({ method: 'POST', path: /\/scores$/, status: 503 });
    const queued = await h.grades.forLaunch(launch.ltik).submit({ scoreGiven: 2, scoreMaximum: 10 });
    expect(queued).toMatchObject({ status: 'queued' });
    const job = JSON.parse(await fs.readFile(path.join(dir, 'pending', `${(queued as { id: string }).id}.json`), 'utf8')) as { grade: Record<string, unknown> };
    expect(job.grade).not.toHaveProperty('traceparent');
    expect(await outbox.drain(10_000)).toBe(true);
    expect(h.emulator.scores(launch.lineItemId!, 'untraced').map((score) => score.scoreGiven)).toEqual([2]);
  });
});
