// Proxies from the environment: never for plain http, only a CONNECT tunnel for https, NO_PROXY honoured, pooled like direct connections.
import https from 'node:https';
import { ltiaasClient, isLtiaasGradesError, type LtiaasClient } from 'express-ltiaas-grades';
import { startEmulator, type LtiaasEmulator } from 'express-ltiaas-grades/testing';
import { bypassesProxy, proxyFromEnv } from '../src/client/envProxy';
import { TunnelAgent } from '../src/client/tunnelAgent';
import { API_KEY } from './helpers/harness';
import { LOOPBACK_TLS, startRecordingProxy, startTlsServer, type RecordingProxy, type TlsServer } from './helpers/recordingProxy';

const PROXY_VARIABLES = ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy'];
const SERVICE_KEY = 'service-key-for-the-proxy-tests';

let savedEnv: Record<string, string | undefined>;
beforeEach(() => {
  savedEnv = Object.fromEntries(PROXY_VARIABLES.map((name) => [name, process.env[name]]));
  for (const name of PROXY_VARIABLES) delete process.env[name];
});
afterEach(() => {
  for (const [name, value] of Object.entries(savedEnv)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

async function failure(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected the call to fail');
}

describe('proxies from the environment', () => {
  let proxy: RecordingProxy;
  let client: LtiaasClient | undefined;
  beforeEach(async () => {
    proxy = await startRecordingProxy();
  });
  afterEach(async () => {
    await client?.close();
    client = undefined;
    await proxy.close();
  });

  describe('plain http (a loopback emulator)', () => {
    let emulator: LtiaasEmulator;
    beforeEach(async () => {
      emulator = await startEmulator({ apiKey: API_KEY });
    });
    afterEach(async () => {
      await emulator.close();
    });

    it('never sends an http LTIAAS call through HTTP_PROXY, HTTPS_PROXY or ALL_PROXY', async () => {
      for (const name of ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'ALL_PROXY', 'all_proxy']) process.env[name] = proxy.url;
      client = ltiaasClient({ ltiaasUrl: emulator.url, apiKey: API_KEY, retry: { retries: 0 } });
      const launch = emulator.launch({ user: { id: 'student-1' }, lineItem: { label: 'Quiz', scoreMaximum: 10 } });

      const outcome = await client.withServiceKey(launch.serviceKey!).submitScore(launch.lineItemId!, { userId: 'student-1', scoreGiven: 7, scoreMaximum: 10 });

      expect(outcome).toMatchObject({ status: 'submitted', scoreGiven: 7 });
      expect(proxy.plainRequests).toEqual([]);
      expect(proxy.connects).toEqual([]);
    });
  });

  describe('https', () => {
    let tls: TlsServer;
    beforeEach(async () => {
      tls = await startTlsServer();
    });
    afterEach(async () => {
      await tls.close();
    });

    it('tunnels an https call through HTTPS_PROXY with CONNECT: the proxy sees host and port, never the Authorization header', async () => {
      process.env.HTTPS_PROXY = proxy.url;
      process.env.HTTP_PROXY = proxy.url;
      client = ltiaasClient({ ltiaasUrl: `https://127.0.0.1:${tls.port}`, apiKey: API_KEY, retry: { retries: 0 } });

      // The certificate is self-signed, so the TLS handshake inside the tunnel fails: the call fails as unreachable.
      const error = await failure(client.withServiceKey(SERVICE_KEY).lineItems.list());

      expect(isLtiaasGradesError(error)).toBe(true);
      expect(error).toMatchObject({ code: 'LTIAAS_UNAVAILABLE' });
      expect(proxy.connects.map((c) => c.target)).toEqual([`127.0.0.1:${tls.port}`]);
      const seenByProxy = JSON.stringify(proxy.connects);
      expect(seenByProxy).not.toMatch(/authorization/i);
      expect(seenByProxy).not.toContain(API_KEY);
      expect(seenByProxy).not.toContain(SERVICE_KEY);
      expect(proxy.plainRequests).toEqual([]);
      // The tunnel reached the server (the handshake was tried there, not at the proxy).
      expect(tls.tcpConnections).toBe(1);
    });

    it('reads https_proxy in lower case too, and sends the proxy its own credentials on the CONNECT only', async () => {
      process.env.https_proxy = `http://proxy-user:proxy%40pass@127.0.0.1:${proxy.port}`;
      client = ltiaasClient({ ltiaasUrl: `https://localhost:${tls.port}`, apiKey: API_KEY, retry: { retries: 0 } });

      await failure(client.withServiceKey(SERVICE_KEY).lineItems.list());

      expect(proxy.connects).toHaveLength(1);
      expect(proxy.connects[0]!.target).toBe(`localhost:${tls.port}`);
      expect(proxy.connects[0]!.headers['proxy-authorization']).toBe(`Basic ${Buffer.from('proxy-user:proxy@pass').toString('base64')}`);
      expect(proxy.connects[0]!.headers.authorization).toBeUndefined();
    });

    it.each([
      ['the host', '127.0.0.1'],
      ['the host and port', 'localhost:9,127.0.0.1:PORT'],
      ['everything', '*'],
    ])('connects directly when NO_PROXY lists %s', async (_what, noProxy) => {
      process.env.HTTPS_PROXY = proxy.url;
      process.env.NO_PROXY = noProxy.replace('PORT', String(tls.port));
      client = ltiaasClient({ ltiaasUrl: `https://127.0.0.1:${tls.port}`, apiKey: API_KEY, retry: { retries: 0 } });

      const error = await failure(client.withServiceKey(SERVICE_KEY).lineItems.list());

      expect(error).toMatchObject({ code: 'LTIAAS_UNAVAILABLE' });
      expect(proxy.connects).toEqual([]);
      expect(tls.tcpConnections).toBe(1);
    });

    it('fails as LTIAAS_UNAVAILABLE, retryable and not sent, when the proxy refuses the tunnel', async () => {
      const refusing = await startRecordingProxy({ refuseConnect: 403 });
      try {
        process.env.HTTPS_PROXY = `http://someone:proxy-password@127.0.0.1:${refusing.port}`;
        client = ltiaasClient({ ltiaasUrl: `https://127.0.0.1:${tls.port}`, apiKey: API_KEY, retry: { retries: 1, minDelayMs: 0, maxDelayMs: 0 } });

        // Creating a column is not idempotent: it is retried only when the request cannot have reached LTIAAS.
        const error = await failure(client.withServiceKey(SERVICE_KEY).lineItems.create({ label: 'Lab', scoreMaximum: 10 }));

        expect(error).toMatchObject({ code: 'LTIAAS_UNAVAILABLE', retryable: true });
        expect(error.message).toContain('EPROXYTUNNEL');
        expect(error.message).not.toContain('proxy-password');
        expect(refusing.connects).toHaveLength(2);
        expect(tls.tcpConnections).toBe(0);
      } finally {
        await refusing.close();
      }
    });

    it('refuses an HTTPS_PROXY it cannot use at start-up, without repeating it', () => {
      process.env.HTTPS_PROXY = 'socks5://someone:proxy-password@127.0.0.1:1080';
      let thrown: unknown;
      try {
        ltiaasClient({ ltiaasUrl: 'https://your.ltiaas.com', apiKey: API_KEY });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toMatchObject({ code: 'OPTIONS_INVALID' });
      expect((thrown as Error).message).toMatch(/HTTPS_PROXY.*http:\/\/ proxy URL/);
      expect((thrown as Error).message).not.toContain('proxy-password');
    });
  });
});

describe('the CONNECT tunnel agent', () => {
  let proxy: RecordingProxy;
  let tls: TlsServer;
  let agent: TunnelAgent | undefined;
  beforeEach(async () => {
    proxy = await startRecordingProxy();
    tls = await startTlsServer();
  });
  afterEach(async () => {
    agent?.destroy();
    agent = undefined;
    await tls.close();
    await proxy.close();
  });

  /** One GET through the agent, trusting the loopback certificate; resolves with the parsed body. */
  function get(through: TunnelAgent): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const req = https.request(
        { host: '127.0.0.1', port: tls.port, path: '/api/lineitems', agent: through, ca: LOOPBACK_TLS.cert, headers: { authorization: `SERVICE-AUTH-V1 ${API_KEY}:${SERVICE_KEY}` } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end();
    });
  }

  it('carries TLS end to end: the server gets the Authorization header, the proxy only the CONNECT', async () => {
    agent = new TunnelAgent({ host: '127.0.0.1', port: proxy.port }, { keepAlive: true, maxSockets: 4, ca: LOOPBACK_TLS.cert });
    await expect(get(agent)).resolves.toEqual({ ok: true });
    expect(tls.authorizations).toEqual([`SERVICE-AUTH-V1 ${API_KEY}:${SERVICE_KEY}`]);
    expect(proxy.connects.map((c) => c.target)).toEqual([`127.0.0.1:${tls.port}`]);
    expect(JSON.stringify(proxy.connects)).not.toContain(API_KEY);
  });

  it('keeps a tunnel alive and reuses it for the next call', async () => {
    agent = new TunnelAgent({ host: '127.0.0.1', port: proxy.port }, { keepAlive: true, maxSockets: 4, ca: LOOPBACK_TLS.cert });
    await get(agent);
    await get(agent);
    await get(agent);
    expect(proxy.connects).toHaveLength(1);
    expect(tls.secureConnections).toBe(1);
    expect(tls.authorizations).toHaveLength(3);
  });

  it('opens no more tunnels than maxSockets, even for a burst that arrives before any tunnel is open', async () => {
    agent = new TunnelAgent({ host: '127.0.0.1', port: proxy.port }, { keepAlive: true, maxSockets: 2, ca: LOOPBACK_TLS.cert });
    const burst = await Promise.all(Array.from({ length: 8 }, () => get(agent!)));
    expect(burst).toEqual(Array(8).fill({ ok: true }));
    expect(proxy.connects).toHaveLength(2);
    expect(tls.secureConnections).toBe(2);
  });
});

describe('reading the proxy from the environment', () => {
  const target = new URL('https://tenant.ltiaas.com');

  it('proxies only https targets, through an http proxy', () => {
    const env = { HTTPS_PROXY: 'http://proxy.corp:3128', HTTP_PROXY: 'http://proxy.corp:3128' };
    expect(proxyFromEnv(target, env)).toEqual({ host: 'proxy.corp', port: 3128 });
    expect(proxyFromEnv(new URL('http://127.0.0.1:4000'), env)).toBeUndefined();
    expect(proxyFromEnv(target, { HTTP_PROXY: 'http://proxy.corp:3128' })).toBeUndefined();
    expect(proxyFromEnv(target, { HTTPS_PROXY: 'proxy.corp:8080' })).toEqual({ host: 'proxy.corp', port: 8080 });
    expect(proxyFromEnv(target, { HTTPS_PROXY: 'http://proxy.corp' })).toEqual({ host: 'proxy.corp', port: 80 });
    expect(proxyFromEnv(target, { https_proxy: 'http://lower:1', HTTPS_PROXY: 'http://upper:2' })).toEqual({ host: 'lower', port: 1 });
  });

  it.each([
    ['*', true],
    ['tenant.ltiaas.com', true],
    ['ltiaas.com', true],
    ['.ltiaas.com', true],
    ['*.ltiaas.com', true],
    ['TENANT.LTIAAS.COM.', true],
    ['other.example, ltiaas.com:443', true],
    ['ltiaas.com:8443', false],
    ['tiaas.com', false],
    ['other.example', false],
    ['', false],
  ])('NO_PROXY=%j bypasses the proxy for https://tenant.ltiaas.com: %s', (noProxy, bypassed) => {
    expect(bypassesProxy(target, noProxy)).toBe(bypassed);
  });

  it('matches IP addresses exactly, IPv6 with or without brackets', () => {
    expect(bypassesProxy(new URL('https://127.0.0.1:8443'), '127.0.0.1')).toBe(true);
    expect(bypassesProxy(new URL('https://127.0.0.1:8443'), '0.0.1')).toBe(false);
    expect(bypassesProxy(new URL('https://[::1]:8443'), '::1')).toBe(true);
    expect(bypassesProxy(new URL('https://[::1]:8443'), '[::1]:8443')).toBe(true);
    expect(bypassesProxy(new URL('https://[::1]:8443'), '[::1]:443')).toBe(false);
  });
});
