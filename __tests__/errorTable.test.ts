// Errors from one table: each code's class, status, retryable and expose, and the inconsistencies the table brought to light.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import {
  fileOutbox,
  storageOutbox,
  GradesUnavailableError,
  InvalidGradeError,
  isLtiaasGradesError,
  LineItemUnavailableError,
  LtiaasGradesError,
  LtiaasRejectedError,
  LtiaasUnavailableError,
  LtikError,
  ltiaasClient,
  ltiaasGrades,
  OptionsError,
  requireLti,
  StorageUnavailableError,
  type FailedGradeJob,
  type LtiaasGradesErrorCode,
  type OutboxStorage,
  type StoredGradeJob,
} from 'express-ltiaas-grades';
import { ERROR_TABLE, gradesError } from '../src/errors';
import { API_KEY, EXPRESS_VERSIONS, quizApp, startHarness, type Harness } from './helpers/harness';
import { startMisbehavingLtiaas } from './helpers/misbehavingLtiaas';

const CODES = Object.keys(ERROR_TABLE) as LtiaasGradesErrorCode[];

/** What the table says of each code, written out here so that a change to the table is a change to this test. */
const EXPECTED: Record<LtiaasGradesErrorCode, { type: Function; status: number; retryable: boolean; expose: boolean }> = {
  OPTIONS_INVALID: { type: OptionsError, status: 500, retryable: false, expose: false },
  LTIK_MISSING: { type: LtikError, status: 401, retryable: false, expose: true },
  LTIK_INVALID: { type: LtikError, status: 401, retryable: false, expose: true },
  SCORE_INVALID: { type: InvalidGradeError, status: 400, retryable: false, expose: true },
  LINE_ITEM_INVALID: { type: InvalidGradeError, status: 400, retryable: false, expose: true },
  GRADES_UNAVAILABLE: { type: GradesUnavailableError, status: 403, retryable: false, expose: true },
  LINE_ITEM_UNAVAILABLE: { type: LineItemUnavailableError, status: 409, retryable: false, expose: true },
  LTIAAS_REJECTED: { type: LtiaasRejectedError, status: 422, retryable: false, expose: true },
  LTIAAS_UNAVAILABLE: { type: LtiaasUnavailableError, status: 503, retryable: true, expose: true },
  SERVICE_KEY_STORE_FAILED: { type: StorageUnavailableError, status: 503, retryable: true, expose: true },
  OUTBOX_UNAVAILABLE: { type: StorageUnavailableError, status: 503, retryable: true, expose: true },
  COORDINATION_UNAVAILABLE: { type: StorageUnavailableError, status: 503, retryable: true, expose: true },
};

/** An error raised anywhere must be what its code's row says, within the overrides the row allows. */
function expectAsTheTableSays(error: unknown): void {
  expect(isLtiaasGradesError(error)).toBe(true);
  const { code, status, retryable, expose } = error as LtiaasGradesError;
  const rule = ERROR_TABLE[code] as (typeof ERROR_TABLE)[LtiaasGradesErrorCode] & { otherStatuses?: readonly number[]; retryableVaries?: boolean };
  expect(error).toBeInstanceOf(rule.type);
  expect([rule.status, ...(rule.otherStatuses ?? [])]).toContain(status);
  if (!rule.retryableVaries) expect(retryable).toBe(rule.retryable);
  expect(expose).toBe(rule.expose);
}

async function rejection(promise: Promise<unknown>): Promise<LtiaasGradesError> {
  try {
    await promise;
  } catch (error) {
    return error as LtiaasGradesError;
  }
  throw new Error('expected the call to fail');
}

function thrownBy(build: () => unknown): LtiaasGradesError {
  try {
    build();
  } catch (error) {
    return error as LtiaasGradesError;
  }
  throw new Error('expected a throw');
}

const SCORE = { activityProgress: 'Completed', gradingProgress: 'FullyGraded', scoreGiven: 1, scoreMaximum: 2 } as const;

describe('the error table', () => {
  it('has a row for every code, and each code constructs with its class, status, retryable, expose and message', () => {
    expect(CODES.sort()).toEqual(Object.keys(EXPECTED).sort());
    for (const code of CODES) {
      const error = gradesError(code);
      const expected = EXPECTED[code];
      expect(error).toBeInstanceOf(expected.type);
      expect(error).toBeInstanceOf(LtiaasGradesError);
      expect(error).toMatchObject({ code, status: expected.status, statusCode: expected.status, retryable: expected.retryable, expose: expected.expose, name: expected.type.name });
      expect(error.message).toBe(ERROR_TABLE[code].message);
      expect(error.message.length).toBeGreaterThan(10);
    }
  });

  it('fills what a direct construction leaves out from the table', () => {
    expect(new LtiaasUnavailableError({ code: 'LTIAAS_UNAVAILABLE' })).toMatchObject({ status: 503, retryable: true, expose: true, message: ERROR_TABLE.LTIAAS_UNAVAILABLE.message });
    expect(new OptionsError('bad set-up')).toMatchObject({ code: 'OPTIONS_INVALID', status: 500, expose: false, message: 'bad set-up' });
    // What a caller gives still wins, as before the table.
    expect(new LtiaasRejectedError({ code: 'LTIAAS_REJECTED', status: 401, message: 'no' })).toMatchObject({ status: 401, message: 'no', retryable: false });
  });

  it('isLtiaasGradesError knows every code, also raised by another copy of the package', () => {
    for (const code of CODES) {
      expect(isLtiaasGradesError(gradesError(code))).toBe(true);
      const fromAnotherCopy = Object.assign(new Error('x'), { code, status: EXPECTED[code].status });
      expect(isLtiaasGradesError(fromAnotherCopy)).toBe(true);
    }
    expect(isLtiaasGradesError(Object.assign(new Error('x'), { code: 'ENOENT', status: 500 }))).toBe(false);
    expect(isLtiaasGradesError(Object.assign(new Error('x'), { code: 'toString', status: 500 }))).toBe(false);
  });

  it('is the README\'s Errors table: one row per code, with the code\'s status first', async () => {
    const readme = await fs.readFile(path.resolve(__dirname, '..', 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Errors'), readme.indexOf('\n## ', readme.indexOf('## Errors') + 1));
    const rows = new Map([...section.matchAll(/^\| `([A-Z_]+)` \| (\d+)/gm)].map(([, code, status]) => [code, Number(status)]));
    expect([...rows.keys()].sort()).toEqual([...CODES].sort());
    for (const code of CODES) expect(rows.get(code)).toBe(ERROR_TABLE[code].status);
  });

  it('leaves no error built by hand in src/: every throw site goes through the table', async () => {
    const byHand: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
        const file = path.join(dir, entry.name);
        if (entry.isDirectory()) {
          // The emulator plays LTIAAS: its errors are LTIAAS's, not the package's.
          if (entry.name !== 'testing') await walk(file);
        } else if (file.endsWith('.ts') && !file.endsWith(`${path.sep}errors.ts`)) {
          const text = await fs.readFile(file, 'utf8');
          for (const match of text.matchAll(/new (\w+Error)\(\s*\{/g)) byHand.push(`${path.relative(process.cwd(), file)}: ${match[0]}`);
        }
      }
    };
    await walk(path.resolve(__dirname, '..', 'src'));
    expect(byHand).toEqual([]);
  });
});

describe.each(EXPRESS_VERSIONS)('LINE_ITEM_UNAVAILABLE on %s', (_name, expressLib) => {
  let harness: Harness;
  beforeEach(async () => {
    harness = await startHarness();
  });
  afterEach(() => harness.close());

  it('is a LineItemUnavailableError (409), still a GradesUnavailableError for code that catches those', async () => {
    let caught: unknown;
    const app = quizApp(expressLib, harness.grades, (routes) => {
      routes.post('/direct', async (req, res, next) => {
        try {
          res.json(await requireLti(req).grades.submit({ scoreGiven: 1, scoreMaximum: 2 }));
        } catch (error) {
          caught = error;
          next(error);
        }
      });
    });
    const launch = harness.emulator.launch({ lineItem: null });
    const res = await request(app).post(`/direct?ltik=${launch.ltik}`).send({});
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('LINE_ITEM_UNAVAILABLE');
    expect(caught).toBeInstanceOf(LineItemUnavailableError);
    expect(caught).toBeInstanceOf(GradesUnavailableError);
    expectAsTheTableSays(caught);
    // The other code of the family keeps its own class.
    const ungraded = harness.emulator.launch({ grades: false });
    const refused = await rejection(harness.grades.forLaunch(ungraded.ltik).submit({ scoreGiven: 1, scoreMaximum: 2 }));
    expect(refused).toBeInstanceOf(GradesUnavailableError);
    expect(refused).not.toBeInstanceOf(LineItemUnavailableError);
    expectAsTheTableSays(refused);
  });
});

describe('one LTIK_MISSING message', () => {
  let harness: Harness;
  beforeEach(async () => {
    harness = await startHarness();
  });
  afterEach(() => harness.close());

  /** An outbox storage in memory that hands over jobs a previous run left, and reports each dead letter. */
  function storageLeaving(jobs: StoredGradeJob[]): OutboxStorage & { deadLetters: Promise<FailedGradeJob[]> } {
    const failed: FailedGradeJob[] = [];
    let allFailed!: (jobs: FailedGradeJob[]) => void;
    const deadLetters = new Promise<FailedGradeJob[]>((resolve) => {
      allFailed = resolve;
    });
    return {
      deadLetters,
      save: async () => undefined,
      remove: async () => undefined,
      loadPending: async () => jobs,
      moveToFailed: async (job) => {
        failed.push(job);
        if (failed.length === jobs.length) allFailed(failed);
      },
      loadFailed: async () => failed,
      removeFailed: async () => undefined,
    };
  }

  it.each(EXPRESS_VERSIONS)('is the same from the middleware, requireLti, submitGrade and the delivery of a grade (%s)', async (_name, expressLib) => {
    const messages = new Map<string, string>();
    const app = quizApp(expressLib, harness.grades, (routes) => {
      routes.get('/required', (req, _res, next) => {
        try {
          requireLti(req);
        } catch (error) {
          next(error);
        }
      });
      routes.get('/through-middleware', async (req, res, next) => {
        try {
          res.json(await req.lti!.grades.idToken());
        } catch (error) {
          next(error);
        }
      });
    });
    for (const [where, call] of [
      ['requireLti', () => request(app).get('/required')],
      ['req.lti.grades', () => request(app).get('/through-middleware')],
      ['submitGrade', () => request(app).post('/quiz/1/finish').send({ answers: [] })],
    ] as const) {
      const res = await call();
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('LTIK_MISSING');
      messages.set(where, res.body.error.message);
    }

    // Grades a previous run left without any credential: one without an ltik to learn the launch
    // from, one whose user is known but that has neither an ltik nor a service key.
    const now = new Date().toISOString();
    const storage = storageLeaving([
      { v: 1, id: 'no-launch', createdAt: now, attempts: 0, nextAttemptAt: 0, grade: { score: SCORE } },
      { v: 1, id: 'no-credential', createdAt: now, attempts: 0, nextAttemptAt: 0, grade: { userId: 'u1', scope: 'p\u0000context:c', fixedLineItemId: 'li-1', score: SCORE } },
    ]);
    const delivering = ltiaasGrades({ ltiaasUrl: harness.emulator.url, apiKey: API_KEY, outbox: storageOutbox(storage) });
    try {
      for (const job of await storage.deadLetters) {
        expect(job.error.code).toBe('LTIK_MISSING');
        messages.set(`delivery of ${job.id}`, job.error.message);
      }
    } finally {
      await delivering.close();
    }

    expect(messages.size).toBe(5);
    expect(new Set(messages.values())).toEqual(new Set([LtikError.missing().message]));
    expectAsTheTableSays(LtikError.missing());
  });
});

describe('an LMS whose paging never ends', () => {
  it('fails with LTIAAS_UNAVAILABLE (502), not retryable, as the table allows that code to say', async () => {
    const lms = await startMisbehavingLtiaas({ retry: { retries: 0 } });
    try {
      const launch = lms.emulator.launch({ lineItem: { label: 'Quiz', scoreMaximum: 5 } });
      // Every page, the first and each one asked for by ?url=, links to the same next page.
      lms.rewrite({ method: 'GET', path: '/api/lineitems', rewrite: () => ({ status: 200, body: JSON.stringify({ lineItems: [], next: 'https://lms.example/lineitems?page=2' }) }) });
      const error = await rejection(lms.grades.forLaunch(launch.ltik).lineItems.listAll());
      expect(error).toBeInstanceOf(LtiaasUnavailableError);
      expect(error).toMatchObject({ code: 'LTIAAS_UNAVAILABLE', status: 502, retryable: false });
      expect(error.message).toMatch(/paging did not end/);
      expect(ERROR_TABLE.LTIAAS_UNAVAILABLE.retryableVaries).toBe(true);
      expectAsTheTableSays(error);
    } finally {
      await lms.close();
    }
  });
});

describe('no plain Error from fileOutbox() or an outbox\'s methods', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'error-table-outbox-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  /** A refused grade as the outbox writes it to failed/. */
  async function writeDeadLetter(outboxDir: string, id: string): Promise<void> {
    const now = new Date().toISOString();
    const job: FailedGradeJob = { v: 1, id, createdAt: now, attempts: 1, nextAttemptAt: 0, grade: { ltik: 'l'.repeat(60), score: SCORE }, failedAt: now, error: { code: 'LTIAAS_REJECTED', message: 'refused' } };
    await fs.writeFile(path.join(outboxDir, 'failed', `${id}.json`), JSON.stringify(job), { mode: 0o600 });
  }

  /** Puts a file where a folder of the outbox should be: every read or write in it fails (ENOTDIR), whoever runs the test. */
  async function breakFolder(outboxDir: string, sub: 'pending' | 'failed'): Promise<void> {
    await fs.rm(path.join(outboxDir, sub), { recursive: true, force: true });
    await fs.writeFile(path.join(outboxDir, sub), 'not a folder');
  }

  it('fileOutbox() refuses a lock file it cannot read with OPTIONS_INVALID', async () => {
    await fs.mkdir(path.join(dir, 'outbox.lock'));
    const error = thrownBy(() => fileOutbox({ dir }));
    expect(error).toBeInstanceOf(OptionsError);
    expect(error.message).toMatch(/cannot read the lock file .*outbox\.lock \(EISDIR\)/);
  });

  it('failed() and requeue() turn an unreadable dead-letter list into OUTBOX_UNAVAILABLE', async () => {
    const outbox = fileOutbox({ dir });
    try {
      await breakFolder(dir, 'failed');
      for (const error of [await rejection(outbox.failed()), await rejection(outbox.requeue('job-1'))]) {
        expect(error).toBeInstanceOf(StorageUnavailableError);
        expect(error).toMatchObject({ code: 'OUTBOX_UNAVAILABLE', status: 503, retryable: true, cause: { kind: 'storage', errno: 'ENOTDIR' } });
        expect(error.message).toMatch(/^The outbox could not read its dead-letter list \(ENOTDIR\)/);
        expectAsTheTableSays(error);
      }
    } finally {
      await outbox.close();
    }
  });

  it('requeue() turns a failed write into OUTBOX_UNAVAILABLE, and the grade stays in the dead-letter list', async () => {
    const outbox = fileOutbox({ dir });
    try {
      await writeDeadLetter(dir, 'job-1');
      await breakFolder(dir, 'pending');
      const error = await rejection(outbox.requeue('job-1'));
      expect(error).toMatchObject({ code: 'OUTBOX_UNAVAILABLE', cause: { kind: 'storage', operation: 'outbox.requeue', errno: 'ENOTDIR' } });
      expectAsTheTableSays(error);
      expect((await outbox.failed()).map((job) => job.id)).toEqual(['job-1']);
    } finally {
      await outbox.close();
    }
  });

  it('enqueue() turns a failed write into OUTBOX_UNAVAILABLE', async () => {
    const outbox = fileOutbox({ dir });
    try {
      await breakFolder(dir, 'pending');
      const error = await rejection(outbox.enqueue({ ltik: 'l'.repeat(60), score: SCORE } as never, gradesError('LTIAAS_UNAVAILABLE')));
      expect(error).toMatchObject({ code: 'OUTBOX_UNAVAILABLE', cause: { operation: 'outbox.enqueue', errno: 'ENOTDIR' } });
      expect(error.message).toMatch(/^The outbox could not store the grade \(ENOTDIR\)/);
      expectAsTheTableSays(error);
    } finally {
      await outbox.close();
    }
  });

  it('passes the package\'s own errors through unchanged', async () => {
    const refusal = gradesError('OPTIONS_INVALID', { message: 'a storage that refuses' });
    const storage: OutboxStorage = {
      save: async () => Promise.reject(refusal),
      remove: async () => undefined,
      loadPending: async () => [],
      moveToFailed: async () => undefined,
      loadFailed: async () => Promise.reject(refusal),
      removeFailed: async () => undefined,
    };
    const outbox = storageOutbox(storage);
    expect(await rejection(outbox.failed())).toBe(refusal);
    expect(await rejection(outbox.enqueue({ score: SCORE } as never, refusal))).toBe(refusal);
  });
});

describe('a bad retry setting is OPTIONS_INVALID in every place that takes one', () => {
  let harness: Harness;
  beforeEach(async () => {
    harness = await startHarness();
  });
  afterEach(() => harness.close());

  const BAD_RETRY: Array<[string, Record<string, unknown>]> = [
    ['negative retries', { retries: -1 }],
    ['delays out of order', { minDelayMs: 300, maxDelayMs: 100 }],
    ['a minDelayMs above the client\'s maxDelayMs', { minDelayMs: 9000 }],
  ];

  it.each(BAD_RETRY)('%s: the factories', (_what, retry) => {
    for (const build of [
      () => ltiaasGrades({ ltiaasUrl: harness.emulator.url, apiKey: API_KEY, retry: retry as never }),
      () => ltiaasClient({ ltiaasUrl: harness.emulator.url, apiKey: API_KEY, retry: retry as never }),
    ]) {
      const error = thrownBy(build);
      expect(error).toMatchObject({ code: 'OPTIONS_INVALID' });
      expectAsTheTableSays(error);
    }
  });

  it.each(BAD_RETRY.slice(0, 2))('%s: the outboxes', async (_what, retry) => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'error-table-retry-'));
    try {
      for (const build of [() => fileOutbox({ dir, retry: retry as never }), () => storageOutbox({} as OutboxStorage, { retry: retry as never })]) {
        const error = thrownBy(build);
        expect(error).toMatchObject({ code: 'OPTIONS_INVALID' });
        expectAsTheTableSays(error);
      }
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it.each(BAD_RETRY)('%s: every per-call override, sending nothing, whether or not the ID token and the column are cached', async (_what, retry) => {
    const launch = harness.emulator.launch({ user: { id: 'u1' }, lineItem: { label: 'Quiz', scoreMaximum: 5 } });
    const spec = { resourceId: 'quiz-1', label: 'Quiz 1', scoreMaximum: 5 };
    const bad = { retry } as never;
    const forLaunch = harness.grades.forLaunch(launch.ltik);
    const withKey = harness.grades.withServiceKey(launch.serviceKey!);
    const lineItemId = launch.lineItemId!;
    const calls: Array<[string, () => Promise<unknown>]> = [
      ['forLaunch.idToken', () => forLaunch.idToken(bad)],
      ['forLaunch.isAvailable', () => forLaunch.isAvailable(bad)],
      ['forLaunch.serviceKey', () => forLaunch.serviceKey(bad)],
      ['forLaunch.findOrCreateLineItem', () => forLaunch.findOrCreateLineItem(spec, bad)],
      ['forLaunch.submitScore', () => forLaunch.submitScore(lineItemId, { scoreGiven: 1, scoreMaximum: 5 }, bad)],
      ['forLaunch.scores', () => forLaunch.scores(lineItemId, {}, bad)],
      ['forLaunch.submit', () => forLaunch.submit({ scoreGiven: 1, scoreMaximum: 5 }, bad)],
      ['forLaunch.submit with a spec', () => forLaunch.submit({ scoreGiven: 1, scoreMaximum: 5 }, { lineItem: spec, retry } as never)],
      ['forLaunch.lineItems.list', () => forLaunch.lineItems.list({}, bad)],
      ['forLaunch.lineItems.listAll', () => forLaunch.lineItems.listAll({}, bad)],
      ['forLaunch.lineItems.get', () => forLaunch.lineItems.get(lineItemId, bad)],
      ['forLaunch.lineItems.create', () => forLaunch.lineItems.create({ label: 'New', scoreMaximum: 1 }, bad)],
      ['forLaunch.lineItems.update', () => forLaunch.lineItems.update(lineItemId, { label: 'Quiz', scoreMaximum: 5 }, bad)],
      ['forLaunch.lineItems.delete', () => forLaunch.lineItems.delete(lineItemId, bad)],
      ['withServiceKey.findOrCreateLineItem', () => withKey.findOrCreateLineItem(spec, bad)],
      ['withServiceKey.submitScore', () => withKey.submitScore(lineItemId, { userId: 'u1', scoreGiven: 1, scoreMaximum: 5 }, bad)],
      ['withServiceKey.scores', () => withKey.scores(lineItemId, {}, bad)],
      ['withServiceKey.submit', () => withKey.submit({ userId: 'u1', scoreGiven: 1, scoreMaximum: 5 }, { lineItem: spec, retry } as never)],
      ['withServiceKey.submitMany', () => withKey.submitMany([{ userId: 'u1', scoreGiven: 1, scoreMaximum: 5 }], { lineItem: spec, retry } as never)],
      ['withServiceKey.lineItems.list', () => withKey.lineItems.list({}, bad)],
    ];
    const codes = async () => {
      const found: Record<string, string> = {};
      for (const [name, call] of calls) {
        const outcome = await call().then(
          () => 'resolved',
          (error: unknown) => (isLtiaasGradesError(error) ? error.code : String(error)),
        );
        found[name] = outcome;
      }
      return found;
    };
    const everyOptionsInvalid = Object.fromEntries(calls.map(([name]) => [name, 'OPTIONS_INVALID']));

    expect(await codes()).toEqual(everyOptionsInvalid);
    expect(harness.emulator.requests).toHaveLength(0);

    // Now with the ID token and both columns cached.
    await forLaunch.idToken();
    await forLaunch.findOrCreateLineItem(spec);
    await withKey.findOrCreateLineItem(spec);
    harness.emulator.clearRequests();
    expect(await codes()).toEqual(everyOptionsInvalid);
    expect(harness.emulator.requests).toHaveLength(0);
  });
});
