// The layering of src/, read from every file's imports: the client imports nothing above it, nothing below the factories reaches their wiring.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const src = path.resolve(__dirname, '..', 'src');

/** Modules that import nothing from src/: anything may use them without making a cycle. */
const LEAVES = ['errors', 'logger', 'redact', 'types', 'secretDigest', 'durableFile', 'cache/lruCache'];

/** What sits above everything else: the factories, the wiring they share, and the entry point. */
const TOP = ['index', 'ltiaasGrades', 'ltiaasClient', 'wiring', 'core'];

/** The import graph: each module of src/ (path without extension) and the modules of src/ it imports. */
type ImportGraph = Map<string, string[]>;

async function sourceFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await sourceFiles(full)));
    else if (entry.name.endsWith('.ts')) files.push(full);
  }
  return files;
}

/** Every import, `import type` and `export ... from` of every file, as TypeScript's own scanner reads them. */
async function importGraph(): Promise<ImportGraph> {
  const graph: ImportGraph = new Map();
  for (const file of await sourceFiles(src)) {
    const module = path.relative(src, file).replace(/\.ts$/, '').split(path.sep).join('/');
    const { importedFiles } = ts.preProcessFile(await fs.readFile(file, 'utf8'), true, true);
    const imports = importedFiles
      .map((imported) => imported.fileName)
      .filter((specifier) => specifier.startsWith('.'))
      .map((specifier) => path.relative(src, path.resolve(path.dirname(file), specifier)).split(path.sep).join('/'));
    graph.set(module, imports);
  }
  return graph;
}

const under = (folder: string) => (module: string) => module.startsWith(`${folder}/`);
const oneOf = (names: readonly string[]) => (module: string) => names.includes(module);
const anyOf = (...tests: Array<(module: string) => boolean>) => (module: string) => tests.some((test) => test(module));

interface Rule {
  /** The rule in words, as a failure names it. */
  says: string;
  /** The modules it applies to. */
  applies: (module: string) => boolean;
  /** Whether `applies`' module may import `imported`. */
  allows: (imported: string) => boolean;
}

const RULES: Rule[] = [
  {
    says: 'src/client/ (the LTIAAS client) imports only src/client/ and the leaf modules errors, logger, redact, types',
    applies: under('client'),
    allows: anyOf(under('client'), oneOf(['errors', 'logger', 'redact', 'types'])),
  },
  {
    says: `the leaf modules (${LEAVES.join(', ')}) import nothing from src/`,
    applies: oneOf(LEAVES),
    allows: () => false,
  },
  {
    says: 'src/state/ (the shared state and its in-process defaults) imports only src/state/, src/cache/ and the leaf modules',
    applies: under('state'),
    allows: anyOf(under('state'), under('cache'), oneOf(LEAVES)),
  },
  {
    says: 'nothing below the factories imports them, their wiring or the old core (src/grades/ never imports src/core)',
    applies: (module) => !TOP.includes(module),
    allows: (imported) => !TOP.includes(imported),
  },
  {
    says: 'only the two factories import the wiring',
    applies: (module) => module !== 'ltiaasGrades' && module !== 'ltiaasClient',
    allows: (imported) => imported !== 'wiring',
  },
  {
    says: 'src/outbox/ stores records and knows nothing of the delivery: no src/delivery/, and of src/grades/ only the schemas',
    applies: under('outbox'),
    allows: (imported) => !under('delivery')(imported) && (!under('grades')(imported) || oneOf(['grades/scoreSchema', 'grades/lineItemSchema'])(imported)),
  },
  {
    says: 'src/testing/ (the emulator, written from the LTIAAS API description) imports only src/testing/',
    applies: under('testing'),
    allows: under('testing'),
  },
];

/** Every import that breaks a rule, as `module -> imported: rule`. */
function violations(graph: ImportGraph): string[] {
  const found: string[] = [];
  for (const [module, imports] of graph) {
    for (const rule of RULES) {
      if (!rule.applies(module)) continue;
      for (const imported of imports) if (!rule.allows(imported)) found.push(`${module} -> ${imported}: ${rule.says}`);
    }
  }
  return found;
}

describe('import rules of src/', () => {
  it('holds for every file', async () => {
    const graph = await importGraph();
    expect(graph.size).toBeGreaterThan(50);
    expect(graph.get('client/retryPolicy')).toEqual(['client/retrySchema']);
    expect(violations(graph)).toEqual([]);
  });

  it('catches an import that breaks each rule (the check can fail)', () => {
    const broken: ImportGraph = new Map([
      ['client/retryPolicy', ['options']],
      ['errors', ['logger']],
      ['state/scoreClock', ['grades/lineItems']],
      ['grades/launchGrades', ['core']],
      ['express/middleware', ['wiring']],
      ['outbox/gradeOutbox', ['delivery/deliveryState', 'grades/scoreSchema']],
      ['testing/emulator', ['client/transport']],
    ]);
    expect(violations(broken)).toEqual([
      `client/retryPolicy -> options: ${RULES[0]!.says}`,
      `errors -> logger: ${RULES[1]!.says}`,
      `state/scoreClock -> grades/lineItems: ${RULES[2]!.says}`,
      `grades/launchGrades -> core: ${RULES[3]!.says}`,
      `express/middleware -> wiring: ${RULES[3]!.says}`,
      `express/middleware -> wiring: ${RULES[4]!.says}`,
      `outbox/gradeOutbox -> delivery/deliveryState: ${RULES[5]!.says}`,
      `testing/emulator -> client/transport: ${RULES[6]!.says}`,
    ]);
  });
});
