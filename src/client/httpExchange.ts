// One HTTP request and its whole answer over node:http(s) and a kept-alive agent, within a deadline: the least work a call can take.
import http from 'node:http';
import https from 'node:https';

/** Where LTIAAS is, read once from the ltiaasUrl: the URL's parts node:http takes. */
export interface HttpTarget {
  secure: boolean;
  hostname: string;
  port: number | undefined;
  /** The URL's path, without a trailing slash ('' for the root): each call's path goes after it. */
  basePath: string;
}

export interface HttpExchange {
  method: string;
  /** Path and query, already encoded, starting with '/'. */
  path: string;
  headers: Record<string, string | number>;
  body?: string;
  agent: http.Agent;
  /** The deadline of the whole exchange: connecting, sending and reading the answer. */
  timeoutMs: number;
  /** An answer longer than this is refused (and the connection dropped). */
  maxBodyBytes: number;
}

export interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The body parsed as JSON; the text itself when it is not JSON; '' when empty. */
  data: unknown;
}

/**
 * Why an exchange failed: a system code (ECONNREFUSED, ECONNRESET...), ETIMEDOUT for the deadline,
 * or ERR_RESPONSE_TOO_LARGE. Built here from the code alone, so it can hold no header and no secret.
 */
export class HttpExchangeError extends Error {
  constructor(readonly code: string) {
    super(`HTTP exchange failed: ${code}`);
    this.name = 'HttpExchangeError';
  }
}

export function httpTarget(baseUrl: string): HttpTarget {
  const url = new URL(baseUrl);
  return {
    secure: url.protocol === 'https:',
    // Brackets of an IPv6 literal are URL syntax; node:http wants the address.
    hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port === '' ? undefined : Number(url.port),
    basePath: url.pathname.replace(/\/+$/, ''),
  };
}

/** The body as LTIAAS's clients read it: JSON when it parses, else the text as sent. */
function parseBody(text: string): unknown {
  if (text === '') return '';
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** Sends one request and reads its answer; rejects with HttpExchangeError only. */
export function exchange(target: HttpTarget, request: HttpExchange): Promise<HttpAnswer> {
  return new Promise<HttpAnswer>((resolve, reject) => {
    let settled = false;
    let outgoing: http.ClientRequest | undefined;
    let deadline: NodeJS.Timeout | undefined;
    const fail = (code: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      reject(new HttpExchangeError(code));
      outgoing?.destroy();
    };
    const send = target.secure ? https.request : http.request;
    try {
      outgoing = send(
        {
          method: request.method,
          hostname: target.hostname,
          port: target.port,
          path: target.basePath + request.path,
          headers: request.headers,
          agent: request.agent,
        },
        (incoming) => {
          const chunks: Buffer[] = [];
          let length = 0;
          incoming.on('data', (chunk: Buffer) => {
            length += chunk.length;
            if (length > request.maxBodyBytes) {
              incoming.destroy();
              fail('ERR_RESPONSE_TOO_LARGE');
              return;
            }
            chunks.push(chunk);
          });
          incoming.on('end', () => {
            if (settled) return;
            settled = true;
            clearTimeout(deadline);
            const text = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
            resolve({ status: incoming.statusCode ?? 0, headers: incoming.headers, data: parseBody(text) });
          });
          incoming.on('error', (error: NodeJS.ErrnoException) => fail(error.code ?? 'ECONNRESET'));
          // The connection closed before the answer was complete.
          incoming.on('close', () => fail('ECONNRESET'));
        },
      );
    } catch (error) {
      // node:http refuses a header it cannot send (a control character in an ltik, say) at once; its message names the header, never the value.
      fail((error as NodeJS.ErrnoException).code ?? 'ERR_INVALID_REQUEST');
      return;
    }
    deadline = setTimeout(() => fail('ETIMEDOUT'), request.timeoutMs);
    outgoing.on('error', (error: NodeJS.ErrnoException) => fail(error.code ?? 'ECONNRESET'));
    outgoing.end(request.body);
  });
}
