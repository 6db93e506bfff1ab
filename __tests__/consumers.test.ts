// Consumer projects: the packed tarball installed and used from CommonJS, ESM and strict TypeScript, on Express 4 and 5.
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = path.resolve(__dirname, '..');
const rootPackage = require('../package.json') as { devDependencies: Record<string, string> };

/** Versions the consumers install, taken from this project's own lockfile-pinned ranges. */
const EXPRESS_5 = rootPackage.devDependencies.express!;
const EXPRESS_4 = rootPackage.devDependencies.express4!.replace(/^npm:express@/, '');
const TYPESCRIPT = rootPackage.devDependencies.typescript!;
const TYPES_EXPRESS = rootPackage.devDependencies['@types/express']!;
const TYPES_NODE = rootPackage.devDependencies['@types/node']!;

let workDir: string;
let tarball: string;

async function sh(file: string, args: string[], cwd: string): Promise<string> {
  try {
    const { stdout } = await run(file, args, { cwd, env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false' }, maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`${file} ${args.join(' ')} failed in ${cwd}:\n${stdout ?? ''}\n${stderr ?? ''}`);
  }
}

/** Copies a consumer project and installs the tarball plus its own dependencies (from npm's cache when possible). */
async function installConsumer(name: string, as: string, dependencies: string[]): Promise<string> {
  const dir = path.join(workDir, as);
  await fs.cp(path.join(__dirname, 'consumers', name), dir, { recursive: true });
  await sh('npm', ['install', '--prefer-offline', '--no-package-lock', tarball, ...dependencies], dir);
  return dir;
}

beforeAll(async () => {
  workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'consumers-'));
  // npm pack runs the prepack build, exactly as publishing would.
  const output = await sh('npm', ['pack', '--json', '--pack-destination', workDir], root);
  // The JSON report follows whatever the build printed.
  const packed = JSON.parse(output.slice(output.indexOf('\n[') + 1)) as Array<{ filename: string; files: Array<{ path: string }> }>;
  tarball = path.join(workDir, packed[0]!.filename);
  const files = packed[0]!.files.map((file) => file.path).sort();
  expect(files).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'dist/index.d.mts', 'dist/index.d.ts', 'dist/index.js', 'dist/index.mjs', 'dist/testing.js', 'package.json']));
  // `files` is an allow-list: no sources, tests, demo or benchmarks in the package.
  expect(files.filter((file) => !/^(dist\/|LICENSE$|README\.md$|package\.json$)/.test(file))).toEqual([]);
}, 180_000);

afterAll(async () => {
  await fs.rm(workDir, { recursive: true, force: true });
});

describe('consumer projects', () => {
  it.each([
    ['Express 5', EXPRESS_5],
    ['Express 4', EXPRESS_4],
  ])('CommonJS on %s', async (_name, expressRange) => {
    const dir = await installConsumer('cjs', `cjs-${expressRange}`, [`express@${expressRange}`]);
    const out = await sh(process.execPath, ['index.js'], dir);
    expect(out).toMatch(new RegExp(`consumer ok: cjs, express ${expressRange.replace(/^\^/, '').split('.')[0]}\\.`));
  });

  it('ESM on Express 5', async () => {
    const dir = await installConsumer('esm', 'esm', [`express@${EXPRESS_5}`]);
    expect(await sh(process.execPath, ['index.mjs'], dir)).toContain('consumer ok: esm');
  });

  it.each([
    ['Express 5', EXPRESS_5, TYPES_EXPRESS],
    ['Express 4', EXPRESS_4, '^4.17.25'],
  ])('strict TypeScript on %s, with moduleResolution node16 and bundler', async (_name, expressRange, typesRange) => {
    const dir = await installConsumer('ts', `ts-${expressRange}`, [
      `express@${expressRange}`,
      `@types/express@${typesRange}`,
      `@types/node@${TYPES_NODE}`,
      `typescript@${TYPESCRIPT}`,
    ]);
    for (const resolution of ['node16', 'bundler']) {
      await sh(process.execPath, [path.join(dir, 'node_modules/typescript/bin/tsc'), '-p', `tsconfig.${resolution}.json`], dir);
      expect(await sh(process.execPath, [`dist-${resolution}/index.js`], dir)).toContain('consumer ok: typescript');
    }
  });
});
