// A byte stream to host:port through an HTTP proxy's CONNECT tunnel, usable at once (writes wait for the tunnel).
import net from 'node:net';
import { Duplex } from 'node:stream';
import type { ProxyEndpoint } from './envProxy';

/** Error code of a tunnel the proxy refused or answered badly; nothing reached LTIAAS. */
export const TUNNEL_REFUSED = 'EPROXYTUNNEL';

/** The proxy's answer to CONNECT is a status line and headers; more than this is not a proxy. */
const MAX_CONNECT_ANSWER = 16 * 1024;

function tunnelError(message: string): Error {
  return Object.assign(new Error(message), { code: TUNNEL_REFUSED });
}

/**
 * Why a Duplex of our own and not the proxy socket itself: the stream exists from the first
 * moment, so an https.Agent can wrap TLS around it synchronously and count it against
 * `maxSockets` while the CONNECT is still under way. TLS's first bytes (the ClientHello) are
 * held until the proxy answers 2xx; the proxy only ever reads the CONNECT line, the host
 * header and its own Proxy-Authorization, never the request inside.
 */
export class ProxyTunnel extends Duplex {
  private readonly socket: net.Socket;
  private open = false;
  private answer = Buffer.alloc(0);
  private readonly held: { chunk: Buffer; callback: (error?: Error | null) => void }[] = [];
  private heldFinal?: (error?: Error | null) => void;

  constructor(proxy: ProxyEndpoint, target: { host: string; port: number }) {
    super();
    const authority = `${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`;
    this.socket = net.connect({ host: proxy.host, port: proxy.port });
    this.socket.once('connect', () => {
      const lines = [`CONNECT ${authority} HTTP/1.1`, `Host: ${authority}`];
      if (proxy.authorization) lines.push(`Proxy-Authorization: ${proxy.authorization}`);
      this.socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    });
    this.socket.on('data', (chunk: Buffer) => (this.open ? this.deliver(chunk) : this.readAnswer(chunk)));
    this.socket.on('end', () => (this.open ? this.push(null) : this.destroy(tunnelError('The proxy closed the connection before opening the tunnel.'))));
    this.socket.on('error', (error) => this.destroy(error));
    this.socket.on('close', () => this.destroy());
  }

  /** Lets the process exit while the tunnel idles in a keep-alive pool (and counts again when reused). */
  unref(): this {
    this.socket.unref();
    return this;
  }

  ref(): this {
    this.socket.ref();
    return this;
  }

  private readAnswer(chunk: Buffer): void {
    this.answer = Buffer.concat([this.answer, chunk]);
    const end = this.answer.indexOf('\r\n\r\n');
    if (end === -1) {
      if (this.answer.length > MAX_CONNECT_ANSWER) this.destroy(tunnelError('The proxy answered CONNECT with oversized headers.'));
      return;
    }
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(this.answer.subarray(0, end).toString('latin1'))?.[1];
    if (!status || !status.startsWith('2')) {
      this.destroy(tunnelError(`The proxy refused the tunnel${status ? ` (${status})` : ''}.`));
      return;
    }
    const rest = this.answer.subarray(end + 4);
    this.answer = Buffer.alloc(0);
    this.open = true;
    if (rest.length > 0) this.deliver(rest);
    for (const { chunk: held, callback } of this.held.splice(0)) this.socket.write(held, callback);
    if (this.heldFinal) this.socket.end(this.heldFinal);
  }

  private deliver(chunk: Buffer): void {
    if (!this.push(chunk)) this.socket.pause();
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.open) this.socket.write(chunk, callback);
    else this.held.push({ chunk, callback });
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.open) this.socket.end(callback);
    else this.heldFinal = callback;
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.socket.destroy();
    const closed = error ?? tunnelError('The tunnel closed.');
    for (const { callback: heldCallback } of this.held.splice(0)) heldCallback(closed);
    this.heldFinal?.(closed);
    this.heldFinal = undefined;
    callback(error);
  }
}
