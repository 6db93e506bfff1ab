// No secret leaks: the API key, ltiks and service keys never appear in responses, errors (five ways) or logs.
import { Writable } from 'node:stream';
import { inspect } from 'node:util';
import pino from 'pino';
import request from 'supertest';
import type { ErrorRequestHandler } from 'express';
import { storageOutbox, type OutboxStorage, type ServiceKeyStore } from 'express-ltiaas-grades';
import type { FaultSpec, LaunchDescription } from 'express-ltiaas-grades/testing';
import { resolveLogger } from '../src/logger';
import { GuardedServiceKeyStore } from '../src/serviceKeys/guardedServiceKeyStore';
import { API_KEY, EXPRESS_VERSIONS, startHarness, type Harness } from './helpers/harness';

/** A logger that keeps every line it is given, at every level, as text. */
function recordingLogger() {
  const lines: string[] = [];
  const record = (level: string) => (fields: Record<string, unknown>, message: string) => {
    lines.push(`${level} ${message} ${JSON.stringify(fields)} ${inspect(fields, { depth: Infinity })}`);
  };
  return { lines, logger: { debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') } };
}

/** The error as a real pino logger writes it with its standard `err` serializer. */
async function serializedByPino(error: Error): Promise<string> {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  pino({}, sink).error({ err: error }, 'grading failed');
  return chunks.join('');
}

interface Scenario {
  code: string;
  launch?: LaunchDescription;
  withLtik?: boolean;
  fault?: FaultSpec;
  score?: unknown;
  lineItem?: boolean;
  /** The error names the failed LTIAAS call: `upstream`, and `cause` redacted from it. */
  upstream?: true;
}

/** Every key a redacted `cause` of an LTIAAS call may have. */
const UPSTREAM_CAUSE_KEYS = ['kind', 'method', 'endpoint', 'status', 'ltiaasCode'];

const scenarios: Array<[string, Scenario]> = [
  ['LTIK_MISSING', { code: 'LTIK_MISSING', withLtik: false }],
  ['LTIK_INVALID', { code: 'LTIK_INVALID', launch: { expired: true }, upstream: true }],
  ['SCORE_INVALID', { code: 'SCORE_INVALID', score: { scoreGiven: 5 } }],
  ['GRADES_UNAVAILABLE', { code: 'GRADES_UNAVAILABLE', launch: { grades: false } }],
  ['LINE_ITEM_UNAVAILABLE', { code: 'LINE_ITEM_UNAVAILABLE', launch: { lineItem: null }, lineItem: false }],
  ['LTIAAS_REJECTED by the LMS', { code: 'LTIAAS_REJECTED', launch: { role: 'instructor' }, upstream: true }],
  ['LTIAAS_UNAVAILABLE (503)', { code: 'LTIAAS_UNAVAILABLE', fault: { status: 503, times: Infinity }, upstream: true }],
  ['LTIAAS_UNAVAILABLE (timeout)', { code: 'LTIAAS_UNAVAILABLE', fault: { hang: true, times: Infinity }, upstream: true }],
  ['LTIAAS_UNAVAILABLE (dropped)', { code: 'LTIAAS_UNAVAILABLE', fault: { drop: true, times: Infinity }, upstream: true }],
];

describe.each(EXPRESS_VERSIONS)('secrets on %s', (_name, expressLib) => {
  let harness: Harness;
  let log: ReturnType<typeof recordingLogger>;

  beforeEach(async () => {
    log = recordingLogger();
    harness = await startHarness({ logger: log.logger, timeoutMs: 300, retry: { retries: 1, minDelayMs: 1, maxDelayMs: 5 } });
  });
  afterEach(() => harness.close());

  it.each(scenarios)('%s: nothing secret in the response, the error or the log', async (_what, scenario) => {
    const launch = harness.emulator.launch(scenario.launch ?? {});
    if (scenario.fault) harness.emulator.fail(scenario.fault);
    let caught: unknown;
    const app = expressLib();
    app.use(expressLib.json());
    app.use(harness.grades.middleware());
    app.post(
      '/finish',
      harness.grades.submitGrade({
        score: () => (scenario.score ?? { scoreGiven: 1, scoreMaximum: 2 }) as never,
        ...(scenario.lineItem === false ? {} : { lineItem: { resourceId: 'quiz-1', label: 'Quiz', scoreMaximum: 2 } }),
      }),
    );
    const spy: ErrorRequestHandler = (err, _req, _res, next) => {
      caught = err;
      next(err);
    };
    app.use(spy);
    app.use(harness.grades.errorHandler());

    const res = await request(app)
      .post(scenario.withLtik === false ? '/finish' : `/finish?ltik=${launch.ltik}`)
      .send({});
    expect(res.body.error?.code).toBe(scenario.code);

    const error = caught as Error;
    const cause = (error as { cause?: unknown }).cause;
    const texts = {
      response: `${JSON.stringify(res.headers)} ${res.text}`,
      message: error.message,
      string: String(error),
      json: JSON.stringify(error),
      inspect: inspect(error, { depth: Infinity, showHidden: true }),
      stack: error.stack ?? '',
      // What error reporters copy (pino's err serializer, Sentry): every own property, enumerable or not.
      ownProperties: inspect(
        Object.fromEntries(Object.getOwnPropertyNames(error).map((key) => [key, (error as unknown as Record<string, unknown>)[key]])),
        { depth: Infinity, showHidden: true },
      ),
      spread: JSON.stringify({ ...error }),
      cause: `${JSON.stringify(cause)} ${inspect(cause, { depth: Infinity, showHidden: true })}`,
      pino: await serializedByPino(error),
      log: log.lines.join('\n'),
    };
    const secrets = [API_KEY, launch.ltik, launch.serviceKey].filter((s): s is string => Boolean(s));
    expect(secrets.length).toBeGreaterThanOrEqual(2);
    for (const [where, text] of Object.entries(texts)) {
      for (const secret of secrets) {
        if (text.includes(secret)) throw new Error(`a secret appears in ${where}: ${text}`);
      }
      // No Authorization header value either (a scheme followed by credentials).
      expect(text).not.toMatch(/(LTIK-AUTH-V\d|SERVICE-AUTH-V1|Bearer) [^<\s]/);
    }
    // The raw HTTP client error is never exposed, neither as a property nor as a cause: the
    // cause is the failed call, redacted (method, endpoint template, status, LTIAAS code), or absent.
    expect(Object.values(error).some((value) => value && typeof value === 'object' && 'config' in value)).toBe(false);
    if (scenario.upstream) {
      expect(cause).toEqual(expect.objectContaining({ kind: expect.any(String), method: expect.any(String), endpoint: expect.stringMatching(/^\/api\/[A-Za-z/:]+$/) }));
      expect(cause).not.toBeInstanceOf(Error);
      expect(Object.isFrozen(cause)).toBe(true);
      expect(Object.keys(cause as object).filter((key) => !UPSTREAM_CAUSE_KEYS.includes(key))).toEqual([]);
    } else {
      expect(cause).toBeUndefined();
    }
    expect((error as { isAxiosError?: unknown }).isAxiosError).toBeUndefined();
  });

  it('scrubs secrets that LTIAAS or the LMS echo back in an error body', async () => {
    const launch = harness.emulator.launch({ lineItem: { label: 'L', scoreMaximum: 5 } });
    harness.emulator.fail({
      method: 'POST',
      path: /\/scores$/,
      status: 400,
      body: {
        status: 400,
        error: 'Bad Request',
        details: {
          message: 'LMS_ERROR',
          description: `Header was LTIK-AUTH-V2 ${API_KEY}:${launch.ltik}`,
          externalError: true,
          bodyReceived: { message: `token ${launch.ltik} with key ${API_KEY} and ${launch.serviceKey} refused` },
        },
      },
    });
    let caught: Error | undefined;
    await harness.grades
      .forLaunch(launch.ltik)
      .submit({ scoreGiven: 1, scoreMaximum: 5 })
      .catch((error: Error) => {
        caught = error;
      });
    expect(caught).toMatchObject({ code: 'LTIAAS_REJECTED' });
    const everything = [caught!.message, String(caught), JSON.stringify(caught), inspect(caught, { showHidden: true, depth: Infinity }), log.lines.join('\n')].join('\n');
    expect(everything).toContain('[redacted]');
    for (const secret of [API_KEY, launch.ltik, launch.serviceKey!]) expect(everything).not.toContain(secret);
  });
});

describe('secrets and the redacted cause of a storage failure', () => {
  const SERVICE_KEY = 'svc-key-0123456789abcdefghijklmnopqrstuvwxyz-ZYXWVU';
  const LTIK = 'ltik-0123456789abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJ';

  /** A store or database error that quotes the row it choked on, as drivers do. */
  const quoting = (secret: string) => Object.assign(new TypeError(`duplicate row {"key":"${secret}","apiKey":"${API_KEY}"}`), { code: 'ER_DUP_ENTRY', syscall: secret });

  async function everyWayOf(error: Error): Promise<string> {
    const cause = (error as { cause?: unknown }).cause;
    return [
      error.message,
      String(error),
      JSON.stringify(error),
      JSON.stringify({ ...error }),
      inspect(error, { depth: Infinity, showHidden: true }),
      inspect(Object.fromEntries(Object.getOwnPropertyNames(error).map((key) => [key, (error as unknown as Record<string, unknown>)[key]])), { depth: Infinity, showHidden: true }),
      JSON.stringify(cause),
      inspect(cause, { depth: Infinity, showHidden: true }),
      await serializedByPino(error),
    ].join('\n');
  }

  it('SERVICE_KEY_STORE_FAILED keeps the store error\'s code and class in `cause`, never its message or a key', async () => {
    const log = recordingLogger();
    const store = new GuardedServiceKeyStore(
      { save: async () => undefined, get: async () => Promise.reject(quoting(SERVICE_KEY)), list: async () => [] } as ServiceKeyStore,
      resolveLogger(log.logger),
      [API_KEY],
    );
    const error = (await store.get({ platformId: 'p', contextId: 'c', resourceLinkId: 'r' }).catch((failure: unknown) => failure)) as Error;
    expect(error).toMatchObject({ code: 'SERVICE_KEY_STORE_FAILED' });
    // The store's own code and class survive; its syscall held a key, so it is dropped.
    expect(error.cause).toEqual({ kind: 'storage', operation: 'serviceKeyStore.get', errno: 'ER_DUP_ENTRY', errorName: 'TypeError' });
    const everything = `${await everyWayOf(error)}\n${log.lines.join('\n')}`;
    for (const secret of [SERVICE_KEY, API_KEY]) expect(everything).not.toContain(secret);
  });

  it('OUTBOX_UNAVAILABLE from a storage whose error quotes a stored ltik shows neither the error nor the ltik', async () => {
    const storage: OutboxStorage = {
      save: async () => Promise.reject(quoting(LTIK)),
      remove: async () => undefined,
      loadPending: async () => [],
      moveToFailed: async () => undefined,
      loadFailed: async () => Promise.reject(quoting(LTIK)),
      removeFailed: async () => undefined,
    };
    const outbox = storageOutbox(storage);
    const failures = [
      await outbox.failed().catch((failure: unknown) => failure),
      await outbox.requeue('job-1').catch((failure: unknown) => failure),
      await outbox.enqueue({ ltik: LTIK, score: { activityProgress: 'Completed', gradingProgress: 'FullyGraded' } } as never, new Error('down')).catch((failure: unknown) => failure),
    ] as Error[];
    for (const error of failures) {
      expect(error).toMatchObject({ code: 'OUTBOX_UNAVAILABLE', cause: { kind: 'storage', errno: 'ER_DUP_ENTRY', errorName: 'TypeError' } });
      const everything = await everyWayOf(error);
      for (const secret of [LTIK, API_KEY]) expect(everything).not.toContain(secret);
      expect(everything).not.toContain('duplicate row');
    }
  });
});
