// Which HTTP proxy the environment asks for to reach an https LTIAAS (HTTPS_PROXY, minus NO_PROXY hosts).
import { isIP } from 'node:net';
import { OptionsError } from '../errors';

/** Where a CONNECT tunnel is opened, and the proxy's own credentials (never ours). */
export interface ProxyEndpoint {
  host: string;
  port: number;
  /** `Proxy-Authorization` value when the proxy URL carries a user name. */
  authorization?: string;
}

type Env = Readonly<Record<string, string | undefined>>;

/** Lower case first, as curl and most tools read them; an empty value counts as unset. */
function read(env: Env, name: string): string | undefined {
  return env[name.toLowerCase()] || env[name.toUpperCase()] || undefined;
}

/** `[::1]` and `::1` compare alike; a trailing dot of a host name is not significant. */
function normalizeHost(host: string): string {
  return host.toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.+$/, '');
}

/**
 * NO_PROXY as curl reads it: `*` for every host, else a comma or space separated list of host
 * names (matching the host and its subdomains, a leading `.` or `*.` allowed) and IP addresses
 * (matching only themselves; no CIDR ranges), each optionally with `:port`.
 */
export function bypassesProxy(target: URL, noProxy: string | undefined): boolean {
  if (!noProxy) return false;
  const host = normalizeHost(target.hostname);
  const port = Number(target.port) || (target.protocol === 'https:' ? 443 : 80);
  return noProxy
    .split(/[\s,]+/)
    .filter(Boolean)
    .some((entry) => {
      if (entry === '*') return true;
      const withPort = /^(.*?):(\d+)$/.exec(entry);
      // A bare IPv6 address has colons of its own: only `[addr]:port` or `host:port` carry a port.
      const hasPort = withPort !== null && (!withPort[1]!.includes(':') || withPort[1]!.startsWith('['));
      if (hasPort && Number(withPort![2]) !== port) return false;
      const name = normalizeHost(hasPort ? withPort![1]! : entry).replace(/^\*?\./, '');
      // An address matches only itself; a name matches itself and its subdomains.
      return name !== '' && (host === name || (isIP(host) === 0 && host.endsWith(`.${name}`)));
    });
}

/** An http proxy URL (`proxy.example:3128` without a scheme means http, as curl reads it), or undefined. */
function parseHttpProxyUrl(value: string): URL | undefined {
  try {
    const proxy = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`);
    return proxy.protocol === 'http:' && proxy.hostname !== '' ? proxy : undefined;
  } catch {
    return undefined;
  }
}

const decodeComponent = (text: string) => {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
};

/**
 * The proxy for calls to `target`, or undefined to connect directly. Only https targets are
 * ever proxied (through a CONNECT tunnel, so the proxy sees host and port only); a plain-http
 * LTIAAS is a loopback or test-network emulator, and an http proxy would read the API key.
 * Throws OptionsError at start-up for a proxy URL that cannot be used, naming the variable and
 * never its value (it may hold the proxy's password).
 */
export function proxyFromEnv(target: URL, env: Env = process.env): ProxyEndpoint | undefined {
  if (target.protocol !== 'https:') return undefined;
  const value = read(env, 'https_proxy');
  if (!value || bypassesProxy(target, read(env, 'no_proxy'))) return undefined;
  const proxy = parseHttpProxyUrl(value);
  if (!proxy) {
    throw new OptionsError(
      'HTTPS_PROXY (or https_proxy) must be an http:// proxy URL such as http://proxy.example:3128 to reach an https ltiaasUrl; fix it, unset it, or list the LTIAAS host in NO_PROXY.',
    );
  }
  const user = decodeComponent(proxy.username);
  const password = decodeComponent(proxy.password);
  return {
    host: proxy.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: Number(proxy.port) || 80,
    ...(user || password ? { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` } : {}),
  };
}
