// ltiaasGrades() options: validated once, defaults filled, bad input named with the fix and never echoed.
import { ltiaasGrades, isLtiaasGradesError } from 'express-ltiaas-grades';
import { resolveOptions } from '../src/options';

const valid = { ltiaasUrl: 'http://127.0.0.1:1', apiKey: 'key-123456' };

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
    [{ apiKey: 'k-123456' }, /option "ltiaasUrl" is invalid: "ltiaasUrl" is required; pass your LTIAAS domain/],
    [{ ltiaasUrl: 'ftp://x.ltiaas.com', apiKey: 'k-123456' }, /option "ltiaasUrl" is invalid/],
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
