// package.json as the registry and npm read it: links and images that work on the package page, /testing without `exports`, no unreviewed install scripts.
import { promises as fs } from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '..');

interface Manifest {
  name: string;
  homepage?: string;
  repository?: { type: string; url: string };
  bugs?: { url: string };
  files: string[];
  exports: Record<string, { import: { types: string; default: string }; require: { types: string; default: string } }>;
  allowScripts?: Record<string, boolean>;
  scripts?: Record<string, string>;
}

const manifest = require('../package.json') as Manifest;

/** https://github.com/<owner>/<name>, from the repository field. */
const repositoryPage = (): string => manifest.repository!.url.replace(/^git\+/, '').replace(/\.git$/, '');

/** Every installed package folder, hoisted, nested and scoped. */
async function installedPackages(nodeModules: string): Promise<string[]> {
  const found: string[] = [];
  const entries = await fs.readdir(nodeModules).catch(() => [] as string[]);
  for (const entry of entries) {
    if (entry.startsWith('.')) continue;
    const dirs = entry.startsWith('@')
      ? (await fs.readdir(path.join(nodeModules, entry)).catch(() => [] as string[])).map((scoped) => path.join(nodeModules, entry, scoped))
      : [path.join(nodeModules, entry)];
    for (const dir of dirs) {
      found.push(dir, ...(await installedPackages(path.join(dir, 'node_modules'))));
    }
  }
  return found;
}

describe('package.json', () => {
  it('names its repository, homepage and issue tracker, so the package page links back', () => {
    expect(manifest.repository).toEqual({ type: 'git', url: expect.stringMatching(/^git\+https:\/\/github\.com\/[\w.-]+\/[\w.-]+\.git$/) });
    expect(manifest.homepage).toBe(`${repositoryPage()}#readme`);
    expect(manifest.bugs).toEqual({ url: `${repositoryPage()}/issues` });
  });

  it('shows README images by absolute URL into the repository (docs/ is not in the package), each one a file there', async () => {
    const readme = await fs.readFile(path.join(root, 'README.md'), 'utf8');
    const images = [...readme.matchAll(/!\[[^\]]*\]\(([^)\s]+)/g), ...readme.matchAll(/<img[^>]*\ssrc="([^"]+)"/g)].map((match) => match[1]!);
    expect(images.length).toBeGreaterThan(0);
    const rawBase = `${repositoryPage().replace('https://github.com/', 'https://raw.githubusercontent.com/')}/main/`;
    for (const image of images) {
      expect(image.startsWith(rawBase) ? image : `not under ${rawBase}: ${image}`).toBe(image);
      await expect(fs.access(path.join(root, image.slice(rawBase.length)))).resolves.toBeUndefined();
    }
  });

  it('resolves express-ltiaas-grades/testing without `exports` (TypeScript node10): testing/package.json points at the built entry', () => {
    const stub = require('../testing/package.json') as { types: string; main: string; module: string };
    const fromStub = (target: string) => path.posix.join('testing', target);
    const testing = manifest.exports['./testing']!;
    expect(fromStub(stub.types)).toBe(path.posix.normalize(testing.require.types));
    expect(fromStub(stub.main)).toBe(path.posix.normalize(testing.require.default));
    expect(fromStub(stub.module)).toBe(path.posix.normalize(testing.import.default));
    expect(manifest.files).toContain('testing/package.json');
    // Are-the-types-wrong's default profile includes node10; `--profile node16` would skip it.
    expect(manifest.scripts!['test:package']).toMatch(/attw --pack \.(?! --profile)/);
  });

  it('lists in allowScripts every installed package with an install script, so npm ci warns about none', async () => {
    const unreviewed = new Set<string>();
    for (const dir of await installedPackages(path.join(root, 'node_modules'))) {
      const pkg = JSON.parse(await fs.readFile(path.join(dir, 'package.json'), 'utf8').catch(() => '{}')) as { name?: string; scripts?: Record<string, string> };
      const scripts = pkg.scripts ?? {};
      // npm runs `node-gyp rebuild` for a binding.gyp when the package has no install script of its own.
      const hasGyp = !scripts.install && !scripts.preinstall && (await fs.access(path.join(dir, 'binding.gyp')).then(() => true, () => false));
      if (pkg.name && (scripts.preinstall || scripts.install || scripts.postinstall || hasGyp) && !(pkg.name in (manifest.allowScripts ?? {}))) {
        unreviewed.add(pkg.name);
      }
    }
    expect([...unreviewed]).toEqual([]);
  });
});
