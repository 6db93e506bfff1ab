// Keeps other sites from using the admin page's forms: a same-origin check of every POST, and a signed token per page bound to the browser by a cookie.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Request, Response } from 'express';

const COOKIE = 'ltiaas_grades_admin';
/** How long a page's forms stay usable. */
const TOKEN_LIFETIME_MS = 12 * 60 * 60 * 1000;
/** Allowance for clocks of instances that share the key. */
const CLOCK_SKEW_MS = 60 * 1000;
const NONCE_PATTERN = /^[A-Za-z0-9_-]{43}$/;
const TOKEN_PATTERN = /^([0-9a-z]{1,12})\.([A-Za-z0-9_-]{43})$/;

/** The value of one cookie in the request's Cookie header. */
function cookieValue(req: Request, name: string): string | undefined {
  const header = req.headers.cookie;
  if (typeof header !== 'string') return undefined;
  for (const part of header.split(';')) {
    const separator = part.indexOf('=');
    if (separator > 0 && part.slice(0, separator).trim() === name) return part.slice(separator + 1).trim();
  }
  return undefined;
}

/** The cookie's Path: where the router is mounted, when that is a plain path. */
const cookiePath = (baseUrl: string) => (baseUrl !== '' && /^\/[A-Za-z0-9/_.~%-]*$/.test(baseUrl) ? baseUrl : '/');

/**
 * Why a state-changing request does not come from a page of this origin, or undefined when it
 * does. Browsers say it in `Sec-Fetch-Site`; without that header, `Origin` must name this host.
 * A request with neither (not a browser's form post) is refused too.
 */
export function crossSiteReason(req: Request): string | undefined {
  const site = req.headers['sec-fetch-site'];
  if (typeof site === 'string') return site === 'same-origin' ? undefined : 'the form was sent from another site';
  const origin = req.headers.origin;
  if (typeof origin !== 'string' || origin === 'null') return 'the request names no origin';
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    return 'the request names no origin';
  }
  return host === req.headers.host ? undefined : 'the form was sent from another site';
}

/**
 * The tokens of the admin forms. Each page gets its own (the time it was made, signed with the
 * browser's cookie nonce), so a token is worth nothing without that browser's cookie, the
 * cookie nothing without a page's token, and both nothing after 12 hours. The key is derived
 * from the API key, so every instance of the tool accepts the pages of the others.
 */
export class FormGuard {
  constructor(private readonly key: Buffer, private readonly now: () => number = Date.now) {}

  private sign(nonce: string, issued: string): string {
    return createHmac('sha256', this.key).update(`${nonce}.${issued}`).digest('base64url');
  }

  /** The token for a page answered to `req`; sets the browser's cookie first when it has none. */
  pageToken(req: Request, res: Response): string {
    let nonce = cookieValue(req, COOKIE);
    if (nonce === undefined || !NONCE_PATTERN.test(nonce)) {
      nonce = randomBytes(32).toString('base64url');
      const secure = req.secure ? '; Secure' : '';
      res.append('Set-Cookie', `${COOKIE}=${nonce}; Path=${cookiePath(req.baseUrl)}; HttpOnly; SameSite=Strict${secure}`);
    }
    const issued = this.now().toString(36);
    return `${issued}.${this.sign(nonce, issued)}`;
  }

  /** Why the form's token is not good for this browser now, or undefined when it is. */
  tokenProblem(req: Request, token: unknown): string | undefined {
    const nonce = cookieValue(req, COOKIE);
    const match = typeof token === 'string' ? TOKEN_PATTERN.exec(token) : null;
    if (nonce === undefined || !NONCE_PATTERN.test(nonce) || !match) return 'the form carries no valid token';
    const [, issued, mac] = match;
    const age = this.now() - Number.parseInt(issued!, 36);
    if (!(age >= -CLOCK_SKEW_MS && age <= TOKEN_LIFETIME_MS)) return 'the page has expired';
    const expected = Buffer.from(this.sign(nonce, issued!));
    const given = Buffer.from(mac!);
    return expected.length === given.length && timingSafeEqual(expected, given) ? undefined : 'the form carries no valid token';
  }
}

/** The key of the admin forms: derived from the API key, which it cannot reveal. */
export function formKeyOf(apiKey: string): Buffer {
  return createHmac('sha256', apiKey).update('express-ltiaas-grades admin forms').digest();
}
