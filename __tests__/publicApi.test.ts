// The package's public surface: the runtime exports are the planned ones, and the built .d.ts shows interfaces and factories, no internal class.
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = path.resolve(__dirname, '..');

/** The error classes stay classes: users test `instanceof` on them. */
const ERROR_CLASSES = [
  'GradesUnavailableError',
  'InvalidGradeError',
  'LineItemUnavailableError',
  'LtiaasGradesError',
  'LtiaasRejectedError',
  'LtiaasUnavailableError',
  'LtikError',
  'OptionsError',
  'StorageUnavailableError',
];

/** Every value `express-ltiaas-grades` exports. A new one is a decision: add it here, and to the README. */
const PLANNED_EXPORTS = [
  ...ERROR_CLASSES,
  'fileOutbox',
  'fileServiceKeyStore',
  'isLtiaasGradesError',
  'ltiaasClient',
  'ltiaasGrades',
  'requireLti',
  'storageOutbox',
].sort();

/** Every value `express-ltiaas-grades/testing` exports. */
const PLANNED_TESTING_EXPORTS = ['LtiaasEmulator', 'startEmulator'];

/** Every value `express-ltiaas-grades/redis` exports. */
const PLANNED_REDIS_EXPORTS = ['bullmqOutbox', 'redisCoordination', 'redisServiceKeyStore', 'startOutboxWorker'].sort();

/** How the BullMQ outbox works inside: never in the built declarations of /redis, and no type of bullmq (an optional peer a user may not have). */
const REDIS_INTERNALS = ['BullmqGradeOutbox', 'OutboxGate', 'DeliverySlots', 'JobCipher', 'OutboxRetryError'];

/** Classes and types that are how the package works inside, not what its users touch. */
const INTERNALS = [
  'GradesCore',
  'LtiaasTransport',
  'LtiaasApi',
  'GradeDraft',
  'DeliveryState',
  'GradeDelivery',
  'IdTokenReader',
  'IdTokenCache',
  'LineItemRegistry',
  'ScoreClock',
  'StorageOutbox',
  'FileOutboxStorage',
  'GuardedServiceKeyStore',
  'GradeEvents',
  'LaunchGradesOfLtik',
  'ServiceKeyGradesOfKey',
  'LineItemsOfCredential',
  'GradeTelemetry',
  'OpenTelemetryGrades',
  'RecordedGradeSpan',
  'ReachabilityRecord',
  'FormGuard',
  'AdminParts',
  'OutboxCounts',
  'CoordinationProvider',
  'CoordinatedInstance',
  'SharedState',
  'LocalState',
  'RedisReachability',
];

/**
 * The types of operating the package (status, admin page, telemetry option), exported by name:
 * users write them in their health checks and set-up.
 */
const OPERATOR_TYPES = ['AdminRouterOptions', 'GradesState', 'GradesStatus', 'LtiaasReachability', 'OutboxStats', 'OutboxStatus', 'StatusProblem', 'TelemetryOptions'];

const runtimeExports = (modulePath: string): string[] => Object.keys(require(modulePath) as object).sort();

describe('public API', () => {
  it('exports the planned values from the sources, and no other', () => {
    expect(runtimeExports('../src/index')).toEqual(PLANNED_EXPORTS);
    expect(runtimeExports('../src/testing/index')).toEqual(PLANNED_TESTING_EXPORTS);
    expect(runtimeExports('../src/redis/index')).toEqual(PLANNED_REDIS_EXPORTS);
  });

  describe('as built', () => {
    let outDir: string;
    beforeAll(async () => {
      // Its own folder (the consumer tests build dist/ at the same time), inside the repository so
      // that the build's imports of joi and the peers resolve from its node_modules.
      const cache = path.join(root, 'node_modules', '.cache');
      await fs.mkdir(cache, { recursive: true });
      outDir = await fs.mkdtemp(path.join(cache, 'public-api-'));
      await run(process.execPath, [path.join(root, 'node_modules/tsup/dist/cli-default.js'), '--silent', '--out-dir', outDir], { cwd: root, maxBuffer: 16 * 1024 * 1024 });
    }, 240_000);
    afterAll(async () => {
      // Only ever the folder this test made with mkdtemp.
      if (outDir) await fs.rm(outDir, { recursive: true, force: true });
    });

    it('exports the planned values from the CommonJS and ESM builds, and no other', async () => {
      expect(runtimeExports(path.join(outDir, 'index.js'))).toEqual(PLANNED_EXPORTS);
      expect(runtimeExports(path.join(outDir, 'testing.js'))).toEqual(PLANNED_TESTING_EXPORTS);
      expect(runtimeExports(path.join(outDir, 'redis.js'))).toEqual(PLANNED_REDIS_EXPORTS);
      const esmExports = async (file: string) => {
        const { stdout } = await run(process.execPath, ['--input-type=module', '-e', `console.log(JSON.stringify(Object.keys(await import(${JSON.stringify(path.join(outDir, file))}))))`]);
        return (JSON.parse(stdout) as string[]).sort();
      };
      expect(await esmExports('index.mjs')).toEqual(PLANNED_EXPORTS);
      expect(await esmExports('testing.mjs')).toEqual(PLANNED_TESTING_EXPORTS);
      expect(await esmExports('redis.mjs')).toEqual(PLANNED_REDIS_EXPORTS);
    });

    it('declares the BullMQ outbox in /redis by its interfaces only, with no type from bullmq', async () => {
      for (const file of ['redis.d.ts', 'redis.d.mts']) {
        const declarations = await declarationsOf(file);
        expect([file, /\bbullmqOutbox\b/.test(declarations), /\bstartOutboxWorker\b/.test(declarations)]).toEqual([file, true, true]);
        for (const internal of REDIS_INTERNALS) expect([file, internal, new RegExp(`\\b${internal}\\b`).test(declarations)]).toEqual([file, internal, false]);
        expect([file, /from ['"]bullmq['"]|import\(['"]bullmq['"]\)/.test(declarations)]).toEqual([file, false]);
      }
    });

    /** A built .d.ts with the declaration chunks it imports (the build puts declarations two entries share into one). */
    const declarationsOf = async (file: string): Promise<string> => {
      const text = await fs.readFile(path.join(outDir, file), 'utf8');
      const chunks = [...text.matchAll(/from '\.\/([\w-]+)\.(m?js)'/g)].map(([, name, ext]) => `${name}.d.${ext === 'mjs' ? 'mts' : 'ts'}`);
      return [text, ...(await Promise.all([...new Set(chunks)].map((chunk) => fs.readFile(path.join(outDir, chunk), 'utf8'))))].join('\n');
    };

    it('declares no class but the error classes (and the emulator in /testing), and names no internal', async () => {
      for (const file of ['index.d.ts', 'index.d.mts']) {
        const declarations = await declarationsOf(file);
        const classes = [...declarations.matchAll(/^declare (?:abstract )?class (\w+)/gm)].map((match) => match[1]).sort();
        expect([file, classes]).toEqual([file, ERROR_CLASSES]);
        for (const internal of INTERNALS) expect([file, internal, new RegExp(`\\b${internal}\\b`).test(declarations)]).toEqual([file, internal, false]);
      }
      for (const file of ['index.d.ts', 'index.d.mts']) {
        const declarations = await fs.readFile(path.join(outDir, file), 'utf8');
        // Every `export { ... }` line, its own declarations' and those re-exported from a shared chunk (`X as Name`).
        const exported = [...declarations.matchAll(/^export \{([^}]*)\}(?: from '[^']+')?;?$/gm)]
          .flatMap((line) => line[1]!.split(','))
          .map((name) => name.trim().replace(/^type /, '').replace(/^\w+ as /, ''));
        for (const name of OPERATOR_TYPES) expect([file, name, exported.includes(name)]).toEqual([file, name, true]);
        // The optional peer stays optional for TypeScript users too: no declaration needs it.
        expect(declarations).not.toMatch(/(from|import\()\s*['"]@opentelemetry/);
      }
      const testing = await fs.readFile(path.join(outDir, 'testing.d.ts'), 'utf8');
      expect([...testing.matchAll(/^declare (?:abstract )?class (\w+)/gm)].map((match) => match[1])).toEqual(['LtiaasEmulator']);
    });
  });
});
