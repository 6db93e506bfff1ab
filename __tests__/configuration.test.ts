// Settings checked before anything is sent: one retry schema everywhere, submitMany's overrides, and redaction of every secret given.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ltiaasClient, type LtiaasClient } from 'express-ltiaas-grades';
import { startEmulator, type LtiaasEmulator } from 'express-ltiaas-grades/testing';
import { redactSecrets, REDACTED } from '../src/redact';
import { API_KEY } from './helpers/harness';

async function failure(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected the call to fail');
}

function thrownBy(build: () => unknown): Error & { code?: string } {
  try {
    build();
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected a throw');
}

describe('settings checked before anything is sent', () => {
  let emulator: LtiaasEmulator;
  let client: LtiaasClient;
  beforeEach(async () => {
    emulator = await startEmulator({ apiKey: API_KEY });
    client = ltiaasClient({ ltiaasUrl: emulator.url, apiKey: API_KEY, retry: { retries: 0 } });
  });
  afterEach(async () => {
    await client.close();
    await emulator.close();
  });

  function expectNothingSent(): void {
    expect(emulator.requests).toHaveLength(0);
    expect(emulator.connectionCount).toBe(0);
  }

  it.each([
    ['a deadline beyond 10 minutes', { timeoutMs: 1e7 }, /option "timeoutMs" is invalid/],
    ['99 retries', { retry: { retries: 99 } }, /option "retry.retries" is invalid/],
    ['a fractional retry count', { retry: { retries: 1.5 } }, /option "retry.retries" is invalid/],
    ['a minDelayMs above the client\'s maxDelayMs', { retry: { minDelayMs: 9000 } }, /option "retry" is invalid: with the client's retry settings filled in, it needs minDelayMs <= maxDelayMs/],
    ['retries outside retry', { retries: 2 }, /unknown option "retries"/],
    ['a concurrency of 0', { concurrency: 0 }, /option "concurrency" is invalid/],
  ])('submitMany throws OPTIONS_INVALID for %s, instead of rejecting every entry', async (_what, overrides, message) => {
    const launch = emulator.launch({ context: { id: 'batch' }, lineItem: { label: 'Quiz', scoreMaximum: 5 } });
    const entries = [{ userId: 'a', scoreGiven: 1, scoreMaximum: 5 }, { userId: 'b', scoreGiven: 2, scoreMaximum: 5 }];

    const error = await failure(client.withServiceKey(launch.serviceKey!).submitMany(entries, { lineItem: launch.lineItemId!, ...overrides }));

    expect(error).toMatchObject({ code: 'OPTIONS_INVALID' });
    expect(error.message).toMatch(/^submitMany\(\): /);
    expect(error.message).toMatch(message);
    expectNothingSent();
  });

  it('submitMany reports every bad override at once', async () => {
    const error = await failure(client.withServiceKey('service-key-value').submitMany([], { lineItem: 'li-1', timeoutMs: 0, retry: { retries: 11, maxDelayMs: -1 } }));
    expect(error.message).toMatch(/"timeoutMs".*"retry.retries".*"retry.maxDelayMs"/);
  });

  it('submitMany still answers LINE_ITEM_INVALID for a missing or bad column', async () => {
    const key = client.withServiceKey('service-key-value');
    await expect(key.submitMany([], {} as never)).rejects.toMatchObject({ code: 'LINE_ITEM_INVALID' });
    await expect(key.submitMany([], undefined as never)).rejects.toMatchObject({ code: 'LINE_ITEM_INVALID' });
    await expect(key.submitMany([], { lineItem: '' })).rejects.toMatchObject({ code: 'LINE_ITEM_INVALID' });
    await expect(key.submitMany([], { lineItem: { resourceId: 'x', label: ' ', scoreMaximum: 1 } })).rejects.toMatchObject({ code: 'LINE_ITEM_INVALID' });
    expectNothingSent();
  });

  describe('one retry schema for the factory, per-call overrides and submitMany', () => {
    it.each([
      ['retries above 10', { retries: 11 }],
      ['negative retries', { retries: -1 }],
      ['minDelayMs above 60000', { minDelayMs: 60_001, maxDelayMs: 600_000 }],
      ['maxDelayMs above 600000', { maxDelayMs: 600_001 }],
      ['delays out of order', { minDelayMs: 300, maxDelayMs: 100 }],
      ['a delay that is not a number', { minDelayMs: 'soon' }],
      ['an unknown field', { delayMs: 100 }],
    ])('refuses %s with OPTIONS_INVALID everywhere', async (_what, retry) => {
      expect(thrownBy(() => ltiaasClient({ ltiaasUrl: emulator.url, apiKey: API_KEY, retry: retry as never }))).toMatchObject({ code: 'OPTIONS_INVALID' });
      const launch = emulator.launch({ user: { id: 'u1' }, lineItem: { label: 'Quiz', scoreMaximum: 5 } });
      const key = client.withServiceKey(launch.serviceKey!);
      const score = { userId: 'u1', scoreGiven: 1, scoreMaximum: 5 };
      await expect(key.submitScore(launch.lineItemId!, score, { retry: retry as never })).rejects.toMatchObject({ code: 'OPTIONS_INVALID' });
      await expect(key.submit(score, { lineItem: launch.lineItemId!, retry: retry as never })).rejects.toMatchObject({ code: 'OPTIONS_INVALID' });
      await expect(client.forLaunch(launch.ltik).submit({ scoreGiven: 1, scoreMaximum: 5 }, { retry: retry as never })).rejects.toMatchObject({ code: 'OPTIONS_INVALID' });
      await expect(key.submitMany([score], { lineItem: launch.lineItemId!, retry: retry as never })).rejects.toMatchObject({ code: 'OPTIONS_INVALID' });
      expectNothingSent();
    });

    it('accepts the largest allowed settings everywhere', async () => {
      const largest = { retries: 10, minDelayMs: 60_000, maxDelayMs: 600_000 };
      const patient = ltiaasClient({ ltiaasUrl: emulator.url, apiKey: API_KEY, retry: largest });
      await patient.close();
      const launch = emulator.launch({ user: { id: 'u1' }, lineItem: { label: 'Quiz', scoreMaximum: 5 } });
      const key = client.withServiceKey(launch.serviceKey!);
      const score = { userId: 'u1', scoreGiven: 1, scoreMaximum: 5 };
      await expect(key.submitScore(launch.lineItemId!, score, { retry: largest, timeoutMs: 600_000 })).resolves.toMatchObject({ status: 'submitted' });
      const outcomes = await key.submitMany([score], { lineItem: launch.lineItemId!, retry: largest, timeoutMs: 600_000 });
      expect(outcomes).toEqual([expect.objectContaining({ status: 'submitted' })]);
    });
  });
});

describe('redaction of every secret it is given', () => {
  it('replaces short secrets too, and a secret inside a longer one leaves nothing of either', () => {
    expect(redactSecrets('key k-42 and k-42 again', ['k-42'])).toBe(`key ${REDACTED} and ${REDACTED} again`);
    expect(redactSecrets('token abc.def', ['abc', 'abc.def'])).toBe(`token ${REDACTED}`);
    expect(redactSecrets('nothing to hide', ['', undefined])).toBe('nothing to hide');
  });

  it('scrubs a short service key out of what the LMS said', async () => {
    const shortServiceKey = 'sk-42';
    const server = http.createServer((_req, res) => {
      res.writeHead(422, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          status: 422,
          error: 'Unprocessable Entity',
          details: { message: 'The LMS refused the score', bodyReceived: { message: `Token ${shortServiceKey} may not grade this user` }, externalError: true },
        }),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = ltiaasClient({ ltiaasUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, apiKey: API_KEY, retry: { retries: 0 } });
    try {
      const error = await failure(client.withServiceKey(shortServiceKey).submitScore('li-1', { userId: 'u1', scoreGiven: 1, scoreMaximum: 5 }));
      expect(error).toMatchObject({ code: 'LTIAAS_REJECTED', lmsMessage: `Token ${REDACTED} may not grade this user` });
      expect(JSON.stringify(error)).not.toContain(shortServiceKey);
      expect(error.message).not.toContain(shortServiceKey);
    } finally {
      await client.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
