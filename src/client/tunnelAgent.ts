// An https.Agent whose connections run TLS inside a proxy's CONNECT tunnel, pooled and kept alive like direct ones.
import https from 'node:https';
import type { Duplex } from 'node:stream';
import type { ProxyEndpoint } from './envProxy';
import { ProxyTunnel } from './proxyTunnel';

type ConnectionOptions = https.RequestOptions;

/**
 * https.Agent does the rest: TLS (its own `createConnection` wraps `tls.connect` around the
 * socket we pass), session reuse, keep-alive pooling and `maxSockets`, which counts each
 * tunnel from the moment it is asked for because the tunnel stream is returned at once.
 */
export class TunnelAgent extends https.Agent {
  private readonly tunnels = new WeakMap<Duplex, ProxyTunnel>();

  constructor(private readonly proxy: ProxyEndpoint, options: https.AgentOptions) {
    super(options);
  }

  override createConnection(options: ConnectionOptions, callback?: (error: Error | null, socket: Duplex) => void): Duplex {
    const tunnel = new ProxyTunnel(this.proxy, { host: String(options.host ?? 'localhost'), port: Number(options.port) || 443 });
    // With `socket`, tls.connect runs TLS over the tunnel and uses host and port only to check the certificate.
    const socket = super.createConnection({ ...options, socket: tunnel } as ConnectionOptions, callback)!;
    this.tunnels.set(socket, tunnel);
    // TLS over a plain stream does not always pass a failure of that stream on: do it here.
    tunnel.on('error', (error) => socket.destroy(error));
    socket.once('close', () => tunnel.destroy());
    return socket;
  }

  // Typed as void, but Node's agent destroys the socket when this returns false.
  override keepSocketAlive(socket: Duplex): boolean {
    const kept = (super.keepSocketAlive as (socket: Duplex) => unknown)(socket) as boolean;
    if (kept) this.tunnels.get(socket)?.unref();
    return kept;
  }

  override reuseSocket(socket: Duplex, request: Parameters<https.Agent['reuseSocket']>[1]): void {
    this.tunnels.get(socket)?.ref();
    super.reuseSocket(socket, request);
  }
}
