// The shared state behind its interfaces: grades go the same way when every piece answers asynchronously, as one shared between tool instances would.
import { LtiaasApi } from '../src/client/ltiaasApi';
import { LtiaasTransport } from '../src/client/transport';
import { GradeDelivery } from '../src/delivery/gradeDelivery';
import { GradeEvents } from '../src/events';
import { IdTokenReader } from '../src/grades/idTokenReader';
import { launchGrades } from '../src/grades/launchGrades';
import { silentLogger } from '../src/logger';
import { InProcessIdTokenCache, type IdTokenCache } from '../src/state/idTokenCache';
import { InProcessLineItemRegistry, type LineItemRegistry } from '../src/state/lineItemRegistry';
import { InProcessScoreClock, type ScoreClock, type ScoreKey } from '../src/state/scoreClock';
import type { IdToken, LineItem } from '../src/types';
import { startEmulator, type LtiaasEmulator } from 'express-ltiaas-grades/testing';
import { API_KEY } from './helpers/harness';

/** Answers on a later turn of the event loop, as a network round trip would. */
const later = <T>(value: T): Promise<T> => new Promise((resolve) => setImmediate(() => resolve(value)));

class AsyncIdTokenCache implements IdTokenCache {
  private readonly inner = new InProcessIdTokenCache({ max: 100, ttlMs: 60_000 });
  get(ltikDigest: string): Promise<IdToken | undefined> {
    return later(this.inner.get(ltikDigest));
  }
  set(ltikDigest: string, token: IdToken): Promise<void> {
    this.inner.set(ltikDigest, token);
    return later(undefined);
  }
}

class AsyncLineItemRegistry implements LineItemRegistry {
  private readonly inner = new InProcessLineItemRegistry({ max: 100, ttlMs: 60_000 });
  resolve(key: string, findOrCreate: () => Promise<LineItem>): Promise<LineItem> {
    return later(undefined).then(() => this.inner.resolve(key, findOrCreate));
  }
  forget(key: string, lineItemId: string): Promise<void> {
    return later(undefined).then(() => this.inner.forget(key, lineItemId));
  }
  unreadableCreations(key: string): Promise<number> {
    return later(this.inner.unreadableCreations(key));
  }
  setUnreadableCreations(key: string, count: number): Promise<void> {
    this.inner.setUnreadableCreations(key, count);
    return later(undefined);
  }
  clearUnreadableCreations(key: string): Promise<void> {
    this.inner.clearUnreadableCreations(key);
    return later(undefined);
  }
}

class AsyncScoreClock implements ScoreClock {
  /** A fixed wall clock: every stamp past the first of a student comes from the ordering alone. */
  private readonly inner = new InProcessScoreClock(() => Date.UTC(2026, 0, 1));
  stampFor(keys: readonly ScoreKey[]): Promise<string> {
    return later(this.inner.stampFor(keys));
  }
  observeFor(keys: readonly ScoreKey[], timestamp: string): Promise<void> {
    this.inner.observeFor(keys, timestamp);
    return later(undefined);
  }
}

describe('shared state answering asynchronously', () => {
  let emulator: LtiaasEmulator;
  let transport: LtiaasTransport;

  beforeAll(async () => {
    emulator = await startEmulator({ apiKey: API_KEY });
    transport = new LtiaasTransport({ ltiaasUrl: emulator.url, apiKey: API_KEY, timeoutMs: 5000, retry: { retries: 0, minDelayMs: 0, maxDelayMs: 0 }, maxSockets: 8, logger: silentLogger });
  });
  afterAll(async () => {
    transport.close();
    await emulator.close();
  });

  it('reads each ID token once, creates one column for a course\'s concurrent first grades, and orders one student\'s scores', async () => {
    const api = new LtiaasApi(transport);
    const idTokens = new IdTokenReader(api, new AsyncIdTokenCache());
    const lineItems = new AsyncLineItemRegistry();
    const events = new GradeEvents(() => undefined);
    const delivery = new GradeDelivery({ api, idTokens, lineItems, clock: new AsyncScoreClock(), events, logger: silentLogger });
    const parts = { api, idTokens, lineItems, delivery, callDefaults: { retry: { retries: 0, minDelayMs: 200, maxDelayMs: 5000 }, timeoutMs: 10_000 } };
    const quiz = { resourceId: 'async-quiz', label: 'Async quiz', scoreMaximum: 5 };
    const students = Array.from({ length: 6 }, (_, i) => emulator.launch({ user: { id: `async-${i}` }, context: { id: 'async-course' } }));

    const first = await Promise.all(students.map((student, i) => launchGrades(parts, student.ltik).submit({ scoreGiven: i % 6, scoreMaximum: 5 }, { lineItem: quiz })));
    expect(first.map((outcome) => outcome.status)).toEqual(students.map(() => 'submitted'));
    const columns = emulator.lineItems({ contextId: 'async-course' });
    expect(columns).toHaveLength(1);

    const again = await launchGrades(parts, students[0]!.ltik).submit({ scoreGiven: 5, scoreMaximum: 5 }, { lineItem: quiz });
    const regraded = await launchGrades(parts, students[0]!.ltik).submitScore(columns[0]!.id, { scoreGiven: 4, scoreMaximum: 5 });
    expect(again).toMatchObject({ status: 'submitted', lineItemId: columns[0]!.id });
    const stamps = emulator.scores(columns[0]!.id, 'async-0').map((score) => Date.parse(score.timestamp!));
    expect(stamps).toEqual([Date.UTC(2026, 0, 1), Date.UTC(2026, 0, 1) + 1, Date.UTC(2026, 0, 1) + 2]);
    expect(regraded.timestamp).toBe(new Date(Date.UTC(2026, 0, 1) + 2).toISOString());
    expect(emulator.countRequests({ method: 'GET', path: '/api/idtoken' })).toBe(students.length);
  });
});
