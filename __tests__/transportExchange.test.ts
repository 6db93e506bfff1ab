// One LTIAAS call through the transport, against a raw loopback server playing LTIAAS: no redirect followed, a bounded answer, a deadline that covers the body, the ltiaasUrl's path, JSON with its length.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { isLtiaasGradesError, ltiaasClient, type LtiaasClient } from 'express-ltiaas-grades';
import { API_KEY } from './helpers/harness';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

interface RawServer {
  url: string;
  seen: Seen[];
  close(): Promise<void>;
}

/** A loopback server that records every request and answers it with `answer`. */
async function rawServer(answer: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<RawServer> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      answer(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const SERVICE_KEY = 'service-key-0123456789abcdef';
const LINE_ITEM = 'https://lms.example.edu/lineitems/1';

describe('one LTIAAS call through the transport', () => {
  const servers: RawServer[] = [];
  const clients: LtiaasClient[] = [];
  const start = async (answer: Parameters<typeof rawServer>[0]) => {
    const server = await rawServer(answer);
    servers.push(server);
    return server;
  };
  const clientOf = (ltiaasUrl: string, timeoutMs = 10_000) => {
    const client = ltiaasClient({ ltiaasUrl, apiKey: API_KEY, timeoutMs, retry: { retries: 0 } });
    clients.push(client);
    return client;
  };
  const failureOf = (pending: Promise<unknown>) => pending.then(() => new Error('expected a failure'), (error: unknown) => error);
  afterEach(async () => {
    for (const client of clients.splice(0)) await client.close();
    for (const server of servers.splice(0)) await server.close();
  });

  it('sends a score as JSON with its length, asking for JSON, and under the ltiaasUrl\'s path', async () => {
    const ltiaas = await start((_req, res) => res.writeHead(204).end());
    const client = clientOf(`${ltiaas.url}/ltiaas`);
    await client.withServiceKey(SERVICE_KEY).submitScore(LINE_ITEM, { userId: 'u-1', scoreGiven: 7, scoreMaximum: 10 });
    expect(ltiaas.seen).toHaveLength(1);
    const [post] = ltiaas.seen;
    expect(post!.method).toBe('POST');
    expect(post!.url).toBe(`/ltiaas/api/lineitems/${encodeURIComponent(LINE_ITEM)}/scores`);
    expect(post!.headers).toMatchObject({
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(post!.body)),
      accept: 'application/json',
      authorization: `SERVICE-AUTH-V1 ${API_KEY}:${SERVICE_KEY}`,
    });
    expect(JSON.parse(post!.body)).toMatchObject({ userId: 'u-1', scoreGiven: 7, scoreMaximum: 10, timestamp: expect.any(String) });
  });

  it('does not follow a redirect: a 302 is a failed call, and the place it points to is never asked (nor given the API key)', async () => {
    const elsewhere = await start((_req, res) => res.writeHead(204).end());
    const ltiaas = await start((_req, res) => res.writeHead(302, { Location: `${elsewhere.url}/api/lineitems/x/scores` }).end());
    const error = await failureOf(clientOf(ltiaas.url).withServiceKey(SERVICE_KEY).submitScore(LINE_ITEM, { userId: 'u-1', scoreGiven: 1, scoreMaximum: 10 }));
    expect(isLtiaasGradesError(error)).toBe(true);
    expect(error).toMatchObject({ code: 'LTIAAS_UNAVAILABLE', upstream: expect.objectContaining({ status: 302 }) });
    expect((error as Error).message).toContain('an unexpected redirect');
    expect(ltiaas.seen).toHaveLength(1);
    expect(elsewhere.seen).toEqual([]);
  });

  it('refuses an answer longer than 20 MB as a failed call instead of reading it all', async () => {
    const chunk = Buffer.alloc(1024 * 1024, 'x');
    const ltiaas = await start((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      let sent = 0;
      // 21 MB, written as the socket drains; the write stops when the client hangs up.
      const more = () => {
        while (sent < 21 && !res.destroyed) {
          sent += 1;
          if (!res.write(chunk)) return void res.once('drain', more);
        }
        res.end();
      };
      res.on('error', () => undefined);
      more();
    });
    const error = await failureOf(clientOf(ltiaas.url).withServiceKey(SERVICE_KEY).lineItems.list());
    expect(error).toMatchObject({ code: 'LTIAAS_UNAVAILABLE', upstream: expect.objectContaining({ kind: 'network' }) });
    expect((error as Error).message).toContain('(ERR_RESPONSE_TOO_LARGE)');
  });

  it('keeps its deadline while the answer\'s body is still coming', async () => {
    // Headers and half a body, then nothing: only a deadline over the whole call ends this.
    const ltiaas = await start((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write('{"lineItems": [');
    });
    const error = await failureOf(clientOf(ltiaas.url, 300).withServiceKey(SERVICE_KEY).lineItems.list());
    expect(error).toMatchObject({ code: 'LTIAAS_UNAVAILABLE', status: 504, upstream: expect.objectContaining({ kind: 'timeout' }) });
    expect((error as Error).message).toBe('LTIAAS did not answer GET /api/lineitems within 300 ms; try again later.');
  });

  it('reads a body that is not JSON as the text it is, and reports the answer as unusable', async () => {
    const ltiaas = await start((_req, res) => res.writeHead(200, { 'Content-Type': 'text/html' }).end('<html>maintenance</html>'));
    const error = await failureOf(clientOf(ltiaas.url).withServiceKey(SERVICE_KEY).lineItems.list());
    expect(error).toMatchObject({ code: 'LTIAAS_UNAVAILABLE', status: 502 });
    expect((error as Error).message).toContain('body is not JSON');
  });
});
