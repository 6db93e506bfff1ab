// Hardening cases a second review found open: blank ids from LTIAAS, careless stores and loggers, a lock path that is a folder.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { fileOutbox, ltiaasGrades, type Logger, type ServiceKeyRecord, type ServiceKeyStore } from 'express-ltiaas-grades';
import { startEmulator, type LtiaasEmulator } from 'express-ltiaas-grades/testing';
import { GuardedServiceKeyStore } from '../src/serviceKeys/guardedServiceKeyStore';
import { resolveLogger } from '../src/logger';
import { API_KEY, EXPRESS_VERSIONS, quizApp } from './helpers/harness';
import { editJson, startMisbehavingLtiaas, type MisbehavingLtiaas } from './helpers/misbehavingLtiaas';

/** A logger that keeps every line as text. */
function collectingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const write = (level: string) => (fields: Record<string, unknown>, message: string) => {
    lines.push(JSON.stringify({ level, message, fields }));
  };
  return { lines, logger: { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') } };
}

/** Values a careless store may throw that have no usable text: no prototype, a message getter that throws, a hostile Proxy. */
const undescribable: Array<[string, () => unknown]> = [
  ['an object without a prototype', () => Object.create(null)],
  [
    'an Error whose message getter throws',
    () => {
      const error = new Error('x');
      Object.defineProperty(error, 'message', {
        get() {
          throw new Error('no message');
        },
      });
      return error;
    },
  ],
  [
    'a Proxy that throws on every access',
    () =>
      new Proxy(
        {},
        {
          get() {
            throw new Error('trap');
          },
          getPrototypeOf() {
            throw new Error('trap');
          },
        },
      ),
  ],
];

describe.each(EXPRESS_VERSIONS)('a column created with a blank id on %s', (_name, expressLib) => {
  let ltiaas: MisbehavingLtiaas;
  beforeEach(async () => {
    ltiaas = await startMisbehavingLtiaas();
  });
  afterEach(() => ltiaas.close());

  it('is an unreadable creation: no score posted to a blank column, at most two columns over many requests, 502 LTIAAS_UNAVAILABLE', async () => {
    const launch = ltiaas.emulator.launch({ user: { id: 'ada' } });
    // LTIAAS creates the column but answers an id of spaces, and its list does not show the column.
    ltiaas.rewrite({ method: 'POST', path: '/api/lineitems', rewrite: editJson((body) => ({ ...body, id: '   ' })) });
    ltiaas.rewrite({ method: 'GET', path: '/api/lineitems', rewrite: editJson((body) => ({ ...body, lineItems: [] })) });
    const app = quizApp(expressLib, ltiaas.grades);
    for (let i = 0; i < 3; i++) {
      const res = await request(app).post(`/quiz/1/finish?ltik=${launch.ltik}`).send({ answers: ['b'] });
      expect(res.status).toBe(502);
      expect(res.body.error.code).toBe('LTIAAS_UNAVAILABLE');
    }
    expect(ltiaas.emulator.countRequests({ method: 'POST', path: /\/scores$/ })).toBe(0);
    expect(ltiaas.emulator.lineItems({ contextId: launch.contextId }).length).toBeLessThanOrEqual(2);
  });

  it('answers an ID token whose user id is blank with 502 LTIAAS_UNAVAILABLE naming user.id, and posts no score', async () => {
    const launch = ltiaas.emulator.launch({ user: { id: 'ada' }, lineItem: { label: 'Lab', scoreMaximum: 5 } });
    ltiaas.rewrite({ method: 'GET', path: '/api/idtoken', rewrite: editJson((body) => ({ ...body, user: { ...body.user, id: ' ' } })) });
    const res = await request(quizApp(expressLib, ltiaas.grades)).post(`/activity/finish?ltik=${launch.ltik}`);
    expect(res.status).toBe(502);
    expect(res.body.error.code).toBe('LTIAAS_UNAVAILABLE');
    expect(res.body.error.message).toContain('user.id ');
    expect(ltiaas.emulator.countRequests({ method: 'POST', path: /\/scores$/ })).toBe(0);
  });
});

describe.each(EXPRESS_VERSIONS)('a service key store whose save throws something without text (%s)', (_name, expressLib) => {
  let emulator: LtiaasEmulator;
  beforeEach(async () => {
    emulator = await startEmulator({ apiKey: API_KEY });
  });
  afterEach(() => emulator.close());

  it.each(undescribable)('logs the failed save of %s and the page goes on', async (_what, thrown) => {
    const { logger, lines } = collectingLogger();
    const store: ServiceKeyStore = {
      save: () => {
        throw thrown();
      },
      get: async () => undefined,
      list: async () => [],
    };
    const grades = ltiaasGrades({ ltiaasUrl: emulator.url, apiKey: API_KEY, retry: { retries: 0 }, serviceKeyStore: store, logger });
    try {
      const launch = emulator.launch({ user: { id: 'ada' }, lineItem: { label: 'Lab', scoreMaximum: 5 } });
      const res = await request(quizApp(expressLib, grades)).get(`/plain?ltik=${launch.ltik}`);
      expect(res.status).toBe(200);
      // The save runs in the background of the page: the log line is what shows it was handled.
      const handled = await grades.forLaunch(launch.ltik).idToken().then(async () => {
        for (let turn = 0; turn < 50 && !lines.some((line) => line.includes('serviceKeyStore.save failed')); turn++) await new Promise(setImmediate);
        return lines.filter((line) => line.includes('serviceKeyStore.save failed'));
      });
      expect(handled).toHaveLength(1);
      expect(handled[0]).not.toContain(launch.serviceKey!);
    } finally {
      await grades.close();
    }
  });
});

describe('GuardedServiceKeyStore with a save that throws something without text', () => {
  const record: ServiceKeyRecord = { platformId: 'p', contextId: 'c', resourceLinkId: 'r', serviceKey: 'sk_0123456789abcdef0123456789abcdef', updatedAt: '2026-01-01T00:00:00.000Z' };

  it.each(undescribable)('never rejects for %s (a rejection there would end the process)', async (_what, thrown) => {
    const store = new GuardedServiceKeyStore(
      {
        save: () => {
          throw thrown();
        },
      } as unknown as ServiceKeyStore,
      resolveLogger(collectingLogger().logger),
    );
    await expect(store.save(record)).resolves.toBeUndefined();
  });
});

describe('options that throw when looked at', () => {
  const hostile = () =>
    new Proxy(
      {},
      {
        get() {
          throw new Error(`cannot read, key ${API_KEY}`);
        },
      },
    );

  it.each([
    ['serviceKeyStore', 'save, get and list'],
    ['logger', 'debug/info/warn/error'],
  ])('refuses a %s that throws on every property read with OPTIONS_INVALID, never quoting what it threw (it may hold the API key)', (option, expected) => {
    let thrown: (Error & { code?: string }) | undefined;
    try {
      ltiaasGrades({ ltiaasUrl: 'http://127.0.0.1:9', apiKey: API_KEY, [option]: hostile() });
    } catch (error) {
      thrown = error as Error & { code?: string };
    }
    expect(thrown?.code).toBe('OPTIONS_INVALID');
    expect(thrown?.message).toContain(expected);
    expect(thrown?.message).not.toContain(API_KEY);
  });
});

describe('an outbox folder whose lock path is a folder', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'outbox-lockdir-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('is refused with OPTIONS_INVALID naming the lock file, not a raw file-system error', async () => {
    await fs.mkdir(path.join(dir, 'outbox.lock'));
    let thrown: (Error & { code?: string }) | undefined;
    try {
      fileOutbox({ dir });
    } catch (error) {
      thrown = error as Error & { code?: string };
    }
    expect(thrown?.code).toBe('OPTIONS_INVALID');
    expect(thrown?.message).toContain(path.join(dir, 'outbox.lock'));
    // Nothing of ours is left behind: only the folder that was there.
    expect(await fs.readdir(dir)).toEqual(['outbox.lock']);
  });
});

describe('settings that only look safe', () => {
  const refusal = (options: Record<string, unknown>): (Error & { code?: string }) | undefined => {
    try {
      void ltiaasGrades({ ltiaasUrl: 'http://127.0.0.1:9', apiKey: API_KEY, ...options } as never).close();
    } catch (error) {
      return error as Error & { code?: string };
    }
    return undefined;
  };

  it.each(['http://127.0.0.1.evil.com', 'http://localhost.evil.com:4000', 'http://localhost.', 'http://[::ffff:127.0.0.1]', 'HTTP://evil.com'])(
    'refuses plain http to %s, a host that only looks like loopback',
    (ltiaasUrl) => {
      expect(refusal({ ltiaasUrl })).toMatchObject({ code: 'OPTIONS_INVALID' });
    },
  );

  it('refuses an apiKey of 16 spaces, without repeating it', () => {
    const error = refusal({ apiKey: ' '.repeat(16) });
    expect(error).toMatchObject({ code: 'OPTIONS_INVALID' });
    expect(error?.message).toMatch(/option "apiKey" is invalid/);
  });
});

describe('one outbox folder reached by two paths', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'outbox-alias-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('is locked once: a second fileOutbox() through a link to the folder is refused while the first holds it', async () => {
    const real = path.join(dir, 'outbox');
    const alias = path.join(dir, 'alias');
    const first = fileOutbox({ dir: real });
    try {
      await fs.symlink(real, alias);
      let thrown: (Error & { code?: string }) | undefined;
      try {
        fileOutbox({ dir: alias });
      } catch (error) {
        thrown = error as Error & { code?: string };
      }
      expect(thrown).toMatchObject({ code: 'OPTIONS_INVALID' });
      expect(thrown?.message).toMatch(/already used by another fileOutbox\(\) in this process/);
    } finally {
      await first.close();
    }
  });
});
