// ltiaasGrades() options: validated once, defaults filled, bad input named with the fix and never echoed.
import { ltiaasClient, ltiaasGrades, isLtiaasGradesError } from 'express-ltiaas-grades';
import { resolveOptions } from '../src/options';

const valid = { ltiaasUrl: 'http://127.0.0.1:1', apiKey: 'key-1234567890abcdef' };

function optionsError(input: unknown): Error {
  try {
    resolveOptions(input);
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the options to be refused');
}

describe('options', () => {
  it('fills every default', () => {
    const config = resolveOptions(valid);
    expect(config).toMatchObject({
      ltiaasUrl: 'http://127.0.0.1:1',
      timeoutMs: 10_000,
      retry: { retries: 3, minDelayMs: 200, maxDelayMs: 5000 },
      ltikSources: ['query', 'body', 'header'],
      cache: { idTokens: { max: 10_000, ttlMs: 86_400_000 }, lineItems: { max: 10_000, ttlMs: 86_400_000 } },
      maxSockets: 64,
    });
  });

  it('uses the validated value: trailing slashes trimmed, partial retry completed', () => {
    const config = resolveOptions({ ...valid, ltiaasUrl: 'https://x.ltiaas.com///', retry: { retries: 1 } });
    expect(config.ltiaasUrl).toBe('https://x.ltiaas.com');
    expect(config.retry).toEqual({ retries: 1, minDelayMs: 200, maxDelayMs: 5000 });
  });

  it('accepts any http(s) host and port', () => {
    expect(resolveOptions({ ...valid, ltiaasUrl: 'http://localhost:4000' }).ltiaasUrl).toBe('http://localhost:4000');
    expect(resolveOptions({ ...valid, ltiaasUrl: 'https://tool.example.org:8443/base' }).ltiaasUrl).toBe('https://tool.example.org:8443/base');
  });

  it.each([
    [{ apiKey: 'k-1234567890abcdef' }, /option "ltiaasUrl" is invalid: "ltiaasUrl" is required; pass your LTIAAS domain/],
    [{ ltiaasUrl: 'ftp://x.ltiaas.com', apiKey: 'k-1234567890abcdef' }, /option "ltiaasUrl" is invalid/],
    [{ ltiaasUrl: 'http://127.0.0.1:1' }, /option "apiKey" is invalid: "apiKey" is required; pass your LTIAAS API key/],
    [{ ...valid, timeoutMs: 0 }, /option "timeoutMs" is invalid.*whole number of milliseconds/],
    [{ ...valid, timeoutMs: '10s' }, /option "timeoutMs" is invalid/],
    [{ ...valid, retry: { retries: -1 } }, /option "retry.retries" is invalid/],
    [{ ...valid, retry: { minDelayMs: 900, maxDelayMs: 100 } }, /option "retry" is invalid.*minDelayMs <= maxDelayMs/],
    [{ ...valid, ltikSources: ['cookie'] }, /option "ltikSources.0" is invalid/],
    [{ ...valid, extractLtik: 'session' }, /option "extractLtik" is invalid/],
    [{ ...valid, logger: { log: () => undefined } }, /option "logger" is invalid.*console or pino/],
    [{ ...valid, apikey: 'x' }, /unknown option "apikey": did you mean "apiKey"\?/],
    [{ ...valid, timeout: 5 }, /unknown option "timeout": did you mean "timeoutMs"\?/],
    [{ ...valid, retry: { retries: 2, delay: 5 } }, /unknown option "retry.delay"/],
  ])('refuses %j, naming the option and the fix', (input, message) => {
    const error = optionsError(input);
    expect(isLtiaasGradesError(error)).toBe(true);
    expect(error).toMatchObject({ code: 'OPTIONS_INVALID', status: 500 });
    expect(error.message).toMatch(message);
  });

  it('never echoes the API key, even when refusing it', () => {
    const secret = 'Bearer sk-live-very-secret-value';
    const error = optionsError({ ltiaasUrl: 'http://127.0.0.1:1', apiKey: secret });
    expect(error.message).toMatch(/apiKey.*bare key/);
    expect(error.message).not.toContain('sk-live-very-secret-value');
  });

  it('reports every problem at once: a misspelt apikey gets "did you mean apiKey?" even with ltiaasUrl missing', () => {
    const error = optionsError({ apikey: 'key-1234567890abcdef', timeoutMs: 0, retry: { retries: 99 } });
    expect(error).toMatchObject({ code: 'OPTIONS_INVALID' });
    expect(error.message).toMatch(/^ltiaasGrades\(\): 4 problems with the options:\n/);
    expect(error.message).toContain('unknown option "apikey": did you mean "apiKey"?');
    expect(error.message).toMatch(/option "ltiaasUrl" is invalid: "ltiaasUrl" is required/);
    expect(error.message).toMatch(/option "timeoutMs" is invalid/);
    expect(error.message).toMatch(/option "retry.retries" is invalid/);
    // The misspelling is the problem with apiKey: it is not reported a second time as missing.
    expect(error.message).not.toMatch(/"apiKey" is required/);
    expect(error.message).not.toContain('key-1234567890abcdef');
  });

  it('hints the closest option for a typo, and lists the known options, allowInsecureHttp among them', () => {
    const error = optionsError({ ltiasUrl: 'https://x.ltiaas.com', apiKey: 'key-1234567890abcdef', allowInsecureHTTP: true });
    expect(error.message).toContain('unknown option "ltiasUrl": did you mean "ltiaasUrl"?');
    expect(error.message).toContain('unknown option "allowInsecureHTTP": did you mean "allowInsecureHttp"?');
    expect(error.message).toMatch(/Known options: ltiaasUrl, apiKey, allowInsecureHttp, timeoutMs, retry,/);
  });

  it('hints nested keys from their own object', () => {
    expect(optionsError({ ...valid, retry: { maxDelay: 100 } }).message).toContain('unknown option "retry.maxDelay": did you mean "maxDelayMs"?');
    expect(optionsError({ ...valid, cache: { idToken: { max: 5 } } }).message).toContain('unknown option "cache.idToken": did you mean "idTokens"?');
  });

  it('tells ltiaasClient() users that a request option is for ltiaasGrades() only', () => {
    expect(() => ltiaasClient({ ...valid, ltikSources: ['query'] } as never)).toThrow(/ltiaasClient\(\): option "ltikSources" is for ltiaasGrades\(\) only/);
  });

  it.each([
    ['user info', 'https://someone:s3cret-pass@x.ltiaas.com', /must not contain a user name or password/],
    ['a user name alone', 'https://someone@x.ltiaas.com', /must not contain a user name or password/],
    ['a query string', 'https://x.ltiaas.com/?tenant=s3cret-pass', /must not contain a query string/],
    ['an empty query string', 'https://x.ltiaas.com/?', /must not contain a query string/],
    ['a fragment', 'https://x.ltiaas.com/#s3cret-pass', /must not contain a fragment/],
  ])('refuses an ltiaasUrl with %s, without repeating it', (_what, ltiaasUrl, message) => {
    const error = optionsError({ ...valid, ltiaasUrl });
    expect(error).toMatchObject({ code: 'OPTIONS_INVALID' });
    expect(error.message).toMatch(message);
    expect(error.message).not.toContain('s3cret-pass');
    expect(error.message).not.toContain('someone');
  });

  it.each(['http://localhost:4000', 'http://127.0.0.1:4000', 'http://127.12.0.3', 'http://[::1]:4000', 'http://LOCALHOST:4000/base'])(
    'accepts plain http to the loopback host %s',
    (ltiaasUrl) => {
      expect(resolveOptions({ ...valid, ltiaasUrl }).ltiaasUrl).toBe(ltiaasUrl);
    },
  );

  it.each(['http://emulator.test:4000', 'http://10.0.0.5:4000', 'http://128.0.0.1', 'http://localhost.example.com', 'http://[::2]'])(
    'refuses plain http to %s, which is not loopback',
    (ltiaasUrl) => {
      const error = optionsError({ ...valid, ltiaasUrl });
      expect(error).toMatchObject({ code: 'OPTIONS_INVALID' });
      expect(error.message).toMatch(/option "ltiaasUrl" is invalid: "ltiaasUrl" must use https so the API key never travels in clear text/);
      expect(error.message).toMatch(/allowInsecureHttp: true/);
    },
  );

  it('accepts plain http to another host with allowInsecureHttp: true (default false)', () => {
    expect(resolveOptions(valid).allowInsecureHttp).toBe(false);
    const config = resolveOptions({ ...valid, ltiaasUrl: 'http://emulator.test:4000/', allowInsecureHttp: true });
    expect(config).toMatchObject({ ltiaasUrl: 'http://emulator.test:4000', allowInsecureHttp: true });
    // It opens plain http only: user info, queries and fragments stay refused.
    expect(optionsError({ ...valid, ltiaasUrl: 'http://u:p@emulator.test:4000', allowInsecureHttp: true }).message).toMatch(/user name or password/);
    expect(optionsError({ ...valid, allowInsecureHttp: 'yes' }).message).toMatch(/option "allowInsecureHttp" is invalid/);
  });

  it('refuses an apiKey shorter than 16 characters, without repeating it', () => {
    const error = optionsError({ ...valid, apiKey: 'short-key-15chr' });
    expect(error).toMatchObject({ code: 'OPTIONS_INVALID' });
    expect(error.message).toMatch(/option "apiKey" is invalid: "apiKey" is too short to be an LTIAAS API key \(they have at least 16 characters\)/);
    expect(error.message).not.toContain('short-key-15chr');
    expect(resolveOptions({ ...valid, apiKey: 'sixteen-chars-ok' }).apiKey).toBe('sixteen-chars-ok');
  });

  it('catches app.use(ltiaasGrades) written for app.use(ltiaasGrades(options))', () => {
    const fakeRequest = { method: 'GET', headers: {}, url: '/' };
    expect(() => ltiaasGrades(fakeRequest as never)).toThrow(/ltiaasGrades\(\) is a factory/);
  });

  it('refuses missing options', () => {
    expect(() => ltiaasGrades(undefined as never)).toThrow(/options are required/);
  });

  it('refuses a submitGrade without a score function, at start-up', () => {
    const grades = ltiaasGrades(valid);
    expect(() => grades.submitGrade({} as never)).toThrow(/submitGrade\(\): "score" is required/);
    expect(() =>
      grades.submitGrade({ score: () => ({ scoreGiven: 1, scoreMaximum: 1 }), lineItem: { resourceId: 'q', label: ' ', scoreMaximum: 1 } }),
    ).toThrow(/option "lineItem" is invalid.*label/);
    expect(() =>
      grades.submitGrade({ score: () => ({ scoreGiven: 1, scoreMaximum: 1 }), lineItem: { resourceId: 'q', label: 'Quiz', scoreMaximum: 0 } }),
    ).toThrow(/option "lineItem" is invalid.*scoreMaximum/);
  });
});
