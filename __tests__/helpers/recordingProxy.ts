// A forward proxy on 127.0.0.1 that records what it is asked (CONNECT tunnels and plain requests) and a TLS server to tunnel to.
import { readFileSync } from 'node:fs';
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';

/** The self-signed certificate of 127.0.0.1 and localhost used by the TLS server (and trusted only where a test passes it as `ca`). */
export const LOOPBACK_TLS = {
  cert: readFileSync(path.join(__dirname, '../fixtures/tls/loopback-cert.pem')),
  key: readFileSync(path.join(__dirname, '../fixtures/tls/loopback-key.pem')),
};

export interface RecordingProxy {
  url: string;
  port: number;
  /** Each CONNECT: its target (`host:port`) and headers. */
  connects: { target: string; headers: IncomingHttpHeaders }[];
  /** Each plain (forward-proxy) request: method, URL and headers. */
  plainRequests: { method: string; url: string; headers: IncomingHttpHeaders }[];
  close(): Promise<void>;
}

/**
 * `refuseConnect` answers CONNECT with that status instead of opening the tunnel. Plain requests
 * are answered 502, so a client that forwards through the proxy fails visibly.
 */
export async function startRecordingProxy(options: { refuseConnect?: number } = {}): Promise<RecordingProxy> {
  const connects: RecordingProxy['connects'] = [];
  const plainRequests: RecordingProxy['plainRequests'] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    plainRequests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    res.writeHead(502, { 'content-type': 'text/plain' }).end('this proxy only tunnels');
  });
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    const target = req.url ?? '';
    connects.push({ target, headers: req.headers });
    if (options.refuseConnect) {
      client.end(`HTTP/1.1 ${options.refuseConnect} Refused\r\ncontent-length: 0\r\n\r\n`);
      return;
    }
    const colon = target.lastIndexOf(':');
    const upstream = net.connect(Number(target.slice(colon + 1)), target.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    client.on('close', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    connects,
    plainRequests,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface TlsServer {
  port: number;
  /** TLS connections completed (one per tunnel or direct connection that got past the handshake). */
  secureConnections: number;
  /** TCP connections accepted, including those whose handshake then failed. */
  tcpConnections: number;
  /** Authorization header of each request received. */
  authorizations: (string | undefined)[];
  close(): Promise<void>;
}

/** An https server on 127.0.0.1 with the loopback certificate that answers every request `{ ok: true }`. */
export async function startTlsServer(): Promise<TlsServer> {
  const sockets = new Set<net.Socket>();
  const state = { secureConnections: 0, tcpConnections: 0, authorizations: [] as (string | undefined)[] };
  const server = https.createServer({ ...LOOPBACK_TLS, keepAliveTimeout: 60_000 }, (req, res) => {
    state.authorizations.push(req.headers.authorization);
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  });
  server.on('connection', (socket: net.Socket) => {
    state.tcpConnections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('secureConnection', () => state.secureConnections++);
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    get secureConnections() {
      return state.secureConnections;
    },
    get tcpConnections() {
      return state.tcpConnections;
    },
    authorizations: state.authorizations,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
