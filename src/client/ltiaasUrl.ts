// What an ltiaasUrl may be: a bare http(s) base URL, and plain http only where the API key cannot be read on the way.

/** Why an ltiaasUrl is refused, beyond not being an http(s) URL at all. */
export type LtiaasUrlProblem = 'userinfo' | 'query' | 'fragment' | 'insecure';

/** localhost, 127.0.0.0/8 and ::1, as the WHATWG URL parser writes them (`127.1` becomes `127.0.0.1`). */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase();
  return host === 'localhost' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * The first rule `url` breaks, or undefined. User info would go to LTIAAS as Basic auth beside
 * our own header, and a query or fragment would end up in the middle of every endpoint path.
 */
export function ltiaasUrlProblem(url: string, allowInsecureHttp: boolean): LtiaasUrlProblem | undefined {
  // The raw text is checked too: the parser drops an empty `?`, `#` or `@`.
  if (/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(url)) return 'userinfo';
  if (url.includes('?')) return 'query';
  if (url.includes('#')) return 'fragment';
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Not reached after joi's uri check; a URL the parser refuses is refused like an insecure one.
    return 'insecure';
  }
  if (parsed.username || parsed.password) return 'userinfo';
  if (parsed.protocol === 'http:' && !allowInsecureHttp && !isLoopbackHost(parsed.hostname)) return 'insecure';
  return undefined;
}

/** joi messages of each problem: they name the option and the rule, never the value. */
export const LTIAAS_URL_MESSAGES: Record<`ltiaasUrl.${LtiaasUrlProblem}`, string> = {
  'ltiaasUrl.userinfo': '{{#label}} must not contain a user name or password (the API key goes in apiKey)',
  'ltiaasUrl.query': '{{#label}} must not contain a query string',
  'ltiaasUrl.fragment': '{{#label}} must not contain a fragment',
  'ltiaasUrl.insecure':
    '{{#label}} must use https so the API key never travels in clear text (http is allowed for localhost, 127.0.0.0/8 and ::1, or with allowInsecureHttp: true for an emulator on a test network)',
};
