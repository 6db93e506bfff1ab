// Consumer projects: the packed tarball installed with npm from a loopback registry and used from CommonJS, ESM and strict TypeScript, on Express 4 and 5.
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startLoopbackRegistry, type LoopbackRegistry } from './consumers/loopbackRegistry';

const run = promisify(execFile);
const root = path.resolve(__dirname, '..');
const TSC = path.join(root, 'node_modules/typescript/bin/tsc');

/** The exact version of a package installed in this repository (an alias folder holds the aliased package). */
const installedVersion = (folder: string): string =>
  (require(path.join(root, 'node_modules', folder, 'package.json')) as { version: string }).version;

// The consumers install what this repository's lockfile installed, served from its node_modules.
const EXPRESS_5 = installedVersion('express');
const EXPRESS_4 = installedVersion('express4');
const TYPES_EXPRESS_5 = installedVersion('@types/express');
const TYPES_EXPRESS_4 = installedVersion('@types/express4');
const TYPES_NODE = installedVersion('@types/node');
const EXPRESS_SESSION = installedVersion('express-session');
const TYPES_EXPRESS_SESSION = installedVersion('@types/express-session');
// The OpenTelemetry API and SDK an app would register (the optional peer and what records it).
const OPENTELEMETRY = ['@opentelemetry/api', '@opentelemetry/sdk-trace-base', '@opentelemetry/sdk-metrics', '@opentelemetry/context-async-hooks'].map((name) => `${name}@${installedVersion(name)}`);

/** Installs and builds take a while on a loaded machine; nothing here waits on a timer. */
const CONSUMER_TIMEOUT_MS = 240_000;

let registry: LoopbackRegistry;
let workDir: string;
let tarball: string;

/**
 * npm reads only the loopback registry, a fresh cache and empty config files: whatever the
 * machine's own npm settings, an install that needed the internet fails here.
 */
function npmEnvironment(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    npm_config_registry: registry.url,
    npm_config_cache: path.join(workDir, 'npm-cache'),
    npm_config_userconfig: path.join(workDir, 'user-npmrc'),
    npm_config_globalconfig: path.join(workDir, 'global-npmrc'),
    npm_config_offline: 'false',
    npm_config_prefer_offline: 'false',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
  };
}

async function sh(file: string, args: string[], cwd: string): Promise<string> {
  try {
    const { stdout } = await run(file, args, { cwd, env: npmEnvironment(), maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    const missing = registry.missing.length > 0 ? `\nnot in node_modules (add them as devDependencies): ${registry.missing.join(', ')}` : '';
    throw new Error(`${file} ${args.join(' ')} failed in ${cwd}:\n${stdout ?? ''}\n${stderr ?? ''}${missing}`);
  }
}

/** Copies a consumer project and installs the tarball plus its own dependencies, as its users would. */
async function installConsumer(name: string, as: string, dependencies: string[]): Promise<string> {
  const dir = path.join(workDir, as);
  await fs.cp(path.join(__dirname, 'consumers', name), dir, { recursive: true });
  await sh('npm', ['install', '--no-package-lock', tarball, ...dependencies], dir);
  return dir;
}

beforeAll(async () => {
  workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'consumers-'));
  await fs.writeFile(path.join(workDir, 'user-npmrc'), '');
  await fs.writeFile(path.join(workDir, 'global-npmrc'), '');
  registry = await startLoopbackRegistry(path.join(root, 'node_modules'));
  // npm pack runs the prepack build, exactly as publishing would.
  const output = await sh('npm', ['pack', '--json', '--pack-destination', workDir], root);
  // The JSON report follows whatever the build printed.
  const packed = JSON.parse(output.slice(output.indexOf('\n[') + 1)) as Array<{ filename: string; files: Array<{ path: string }> }>;
  tarball = path.join(workDir, packed[0]!.filename);
  const files = packed[0]!.files.map((file) => file.path).sort();
  expect(files).toEqual(
    expect.arrayContaining(['LICENSE', 'README.md', 'dist/index.d.mts', 'dist/index.d.ts', 'dist/index.js', 'dist/index.mjs', 'dist/testing.js', 'package.json', 'testing/package.json']),
  );
  // `files` is an allow-list: no sources, tests, demo or benchmarks in the package.
  expect(files.filter((file) => !/^(dist\/|LICENSE$|README\.md$|package\.json$|testing\/package\.json$|redis\/package\.json$)/.test(file))).toEqual([]);
}, CONSUMER_TIMEOUT_MS);

afterAll(async () => {
  await registry?.close();
  if (workDir) await fs.rm(workDir, { recursive: true, force: true });
});

describe('consumer projects', () => {
  it.each([
    ['Express 5', EXPRESS_5],
    ['Express 4', EXPRESS_4],
  ])(
    'CommonJS on %s',
    async (_name, expressVersion) => {
      const dir = await installConsumer('cjs', `cjs-${expressVersion}`, [`express@${expressVersion}`]);
      const out = await sh(process.execPath, ['index.js'], dir);
      expect(out).toContain(`consumer ok: cjs, express ${expressVersion}`);
    },
    CONSUMER_TIMEOUT_MS,
  );

  it(
    'ESM on Express 5',
    async () => {
      const dir = await installConsumer('esm', 'esm', [`express@${EXPRESS_5}`]);
      expect(await sh(process.execPath, ['index.mjs'], dir)).toContain('consumer ok: esm');
    },
    CONSUMER_TIMEOUT_MS,
  );

  it(
    'with an OpenTelemetry SDK of the app\'s own, from ESM and CommonJS: spans, links and metrics are recorded (without it, the other consumers run)',
    async () => {
      const dir = await installConsumer('otel', 'otel', [`express@${EXPRESS_5}`, ...OPENTELEMETRY]);
      expect(await sh(process.execPath, ['index.mjs'], dir)).toContain('consumer ok: otel esm');
      expect(await sh(process.execPath, ['index.cjs'], dir)).toContain('consumer ok: otel cjs');
    },
    CONSUMER_TIMEOUT_MS,
  );

  it.each([
    ['Express 5', EXPRESS_5, TYPES_EXPRESS_5],
    ['Express 4', EXPRESS_4, TYPES_EXPRESS_4],
  ])(
    'strict TypeScript on %s, with moduleResolution node16, bundler and node10, requireLti and an ltik kept in express-session',
    async (_name, expressVersion, typesVersion) => {
      const dir = await installConsumer('ts', `ts-${expressVersion}`, [
        `express@${expressVersion}`,
        `@types/express@${typesVersion}`,
        `@types/node@${TYPES_NODE}`,
        `express-session@${EXPRESS_SESSION}`,
        `@types/express-session@${TYPES_EXPRESS_SESSION}`,
      ]);
      for (const [resolution, entry] of [['node16', 'index.js'], ['bundler', 'index.js'], ['node10', 'index.cjs']] as const) {
        await sh(process.execPath, [TSC, '-p', `tsconfig.${resolution}.json`], dir);
        expect(await sh(process.execPath, [`dist-${resolution}/${entry}`], dir)).toContain(`consumer ok: typescript ${resolution}`);
      }
    },
    CONSUMER_TIMEOUT_MS,
  );
});
