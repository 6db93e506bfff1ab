// A loopback npm registry serving the packages installed in this repository's node_modules, so consumer projects install with real npm and nothing leaves 127.0.0.1.
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

type Manifest = Record<string, unknown> & { name: string; version: string };

interface InstalledCopy {
  manifest: Manifest;
  dir: string;
}

export interface LoopbackRegistry {
  /** `http://127.0.0.1:<port>/`, for `npm_config_registry`. */
  url: string;
  /** Every package name npm asked for that node_modules does not hold (an install needing the internet). */
  missing: string[];
  close(): Promise<void>;
}

/** Finds every installed package (hoisted, nested, scoped, aliased) by its real name and version. */
async function findInstalled(nodeModules: string, found: Map<string, Map<string, InstalledCopy>>): Promise<void> {
  let entries: string[];
  try {
    entries = await fs.readdir(nodeModules);
  } catch {
    return;
  }
  for (const entry of entries) {
    if (entry.startsWith('.')) continue;
    const dir = path.join(nodeModules, entry);
    if (entry.startsWith('@')) {
      for (const scoped of await fs.readdir(dir).catch(() => [] as string[])) await addCopy(path.join(dir, scoped), found);
    } else {
      await addCopy(dir, found);
    }
  }
}

async function addCopy(dir: string, found: Map<string, Map<string, InstalledCopy>>): Promise<void> {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(await fs.readFile(path.join(dir, 'package.json'), 'utf8')) as Manifest;
  } catch {
    return;
  }
  if (typeof manifest.name !== 'string' || typeof manifest.version !== 'string') return;
  // An alias folder (node_modules/express4) holds the real package: it is served under its own name.
  const versions = found.get(manifest.name) ?? new Map<string, InstalledCopy>();
  found.set(manifest.name, versions);
  if (!versions.has(manifest.version)) versions.set(manifest.version, { manifest, dir });
  await findInstalled(path.join(dir, 'node_modules'), found);
}

/** Orders release versions numerically, so `dist-tags.latest` is the highest one. */
function compareVersions(a: string, b: string): number {
  const parts = (version: string) => version.split(/[.+-]/).slice(0, 3).map(Number);
  const [pa, pb] = [parts(a), parts(b)];
  for (let i = 0; i < 3; i += 1) if (pa[i] !== pb[i]) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}

/** The package folder as npm publishes it: a gzipped tar with one top folder (npm strips it), without nested node_modules. */
function tarball(dir: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    execFile(
      'tar',
      ['-czf', '-', '--exclude=node_modules', '-C', path.dirname(dir), path.basename(dir)],
      { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024 },
      (error, stdout) => (error ? reject(error) : resolve(stdout)),
    );
  });
}

export async function startLoopbackRegistry(nodeModules: string): Promise<LoopbackRegistry> {
  const installed = new Map<string, Map<string, InstalledCopy>>();
  await findInstalled(nodeModules, installed);
  const tarballs = new Map<string, Promise<Buffer>>();
  const missing: string[] = [];
  let base = '';

  const packument = (name: string, versions: Map<string, InstalledCopy>) => {
    const sorted = [...versions.keys()].sort(compareVersions);
    const entries = sorted.map((version) => [
      version,
      { ...versions.get(version)!.manifest, dist: { tarball: `${base}-/${encodeURIComponent(name)}/${version}.tgz` } },
    ]);
    return { name, 'dist-tags': { latest: sorted[sorted.length - 1] }, versions: Object.fromEntries(entries) };
  };

  const server = http.createServer((req, res) => {
    const url = decodeURIComponent((req.url ?? '/').split('?')[0]!);
    const tarballPath = /^\/-\/(.+)\/([^/]+)\.tgz$/.exec(url);
    if (tarballPath) {
      const [, name, version] = tarballPath;
      const copy = installed.get(name!)?.get(version!);
      if (!copy) {
        res.writeHead(404).end();
        return;
      }
      const key = `${name}@${version}`;
      if (!tarballs.has(key)) tarballs.set(key, tarball(copy.dir));
      tarballs.get(key)!.then(
        (body) => res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length }).end(body),
        () => res.writeHead(500).end(),
      );
      return;
    }
    const name = url.slice(1);
    const versions = installed.get(name);
    if (!versions) {
      missing.push(name);
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(packument(name, versions)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return {
    url: base,
    missing,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
