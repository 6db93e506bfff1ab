// Every ```ts and ```js block of README.md compiles under the project's strict settings, with the imports it writes itself.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const root = path.resolve(__dirname, '..');

/**
 * What a snippet may use without declaring it: things the reader's own app has, or that an
 * earlier section of the README set up. Nothing the package exports is here, so a snippet that
 * forgets `import { ltiaasGrades } ...` fails.
 */
const FREE_IDENTIFIERS = `
import type { Express, RequestHandler } from 'express';
import type { LtiaasGrades } from 'express-ltiaas-grades';
declare global {
  /** The reader's Express app. */
  const app: Express;
  /** The reader's scoring middleware; it sets res.locals.score. */
  const scoreQuiz: RequestHandler;
  /** The reader's function that builds their app around a grades instance (for their tests). */
  const buildApp: (grades: LtiaasGrades) => Express;
  /** The answers a test posts. */
  const answers: string[];
  /** The reader's metrics client. */
  const metrics: { increment(name: string, tags?: Record<string, string>): void };
  /** Set up in "Use": the reader's LTIAAS domain and API key, and their ltiaasGrades() instance. */
  const ltiaasUrl: string;
  const apiKey: string;
  const grades: LtiaasGrades;
}
export {};
`;

interface Snippet {
  /** Line of the opening fence in the markdown (1-based): the snippet's line n is the markdown's line + n. */
  line: number;
  language: 'ts' | 'js';
  code: string;
}

/** The fenced blocks marked ts/typescript or js/javascript, with the line they start on. */
function extractSnippets(markdown: string): Snippet[] {
  const snippets: Snippet[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i += 1) {
    const open = /^```(ts|typescript|js|javascript)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !/^```\s*$/.test(lines[end]!)) end += 1;
    snippets.push({ line: i + 1, language: open[1]!.startsWith('t') ? 'ts' : 'js', code: lines.slice(start, end).join('\n') });
    i = end;
  }
  return snippets;
}

/** Type-checks the snippets in one program (each its own ES module) and returns each one's errors, by markdown line. */
function typeCheck(snippets: Snippet[]): string[][] {
  const config = ts.getParsedCommandLineOfConfigFile(path.join(root, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined })!;
  const options: ts.CompilerOptions = { ...config.options, noEmit: true, allowJs: true, checkJs: true, types: ['node', 'jest'] };
  // Virtual files inside the repository, so `express`, `supertest` and `express-session` resolve from its node_modules.
  const folder = path.join(root, '.readme-snippets');
  const preludePath = path.join(folder, 'prelude.d.ts');
  const files = new Map<string, string>([[preludePath, FREE_IDENTIFIERS]]);
  const snippetPaths = snippets.map((snippet) => {
    const file = path.join(folder, `line-${snippet.line}.${snippet.language === 'ts' ? 'mts' : 'mjs'}`);
    files.set(file, snippet.code);
    return file;
  });
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (fileName, languageVersion, onError) => {
    const text = files.get(path.resolve(fileName));
    return text === undefined ? getSourceFile(fileName, languageVersion, onError) : ts.createSourceFile(fileName, text, languageVersion, true);
  };
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (fileName) => files.has(path.resolve(fileName)) || fileExists(fileName);
  const readFile = host.readFile.bind(host);
  host.readFile = (fileName) => files.get(path.resolve(fileName)) ?? readFile(fileName);

  const program = ts.createProgram([preludePath, ...snippetPaths], options, host);
  return snippetPaths.map((file, i) =>
    ts.getPreEmitDiagnostics(program, program.getSourceFile(file)).map((diagnostic) => {
      const lineInSnippet = diagnostic.file && diagnostic.start !== undefined ? diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start).line + 1 : 0;
      return `README.md:${snippets[i]!.line + lineInSnippet}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`;
    }),
  );
}

/** Compiling the package's sources and Express's types takes a while on a loaded machine. */
const TYPE_CHECK_TIMEOUT_MS = 120_000;

describe('README snippets', () => {
  let readmeSnippets: Snippet[];
  let errors: Map<Snippet, string[]>;
  let probeErrors: string[];

  beforeAll(async () => {
    readmeSnippets = extractSnippets(await fs.readFile(path.join(root, 'README.md'), 'utf8'));
    // A snippet that uses the package without importing it: the check must catch it.
    const probe: Snippet = { line: 0, language: 'ts', code: "const grades = ltiaasGrades({ ltiaasUrl: 'https://your.ltiaas.com', apiKey: 'key' });\nexport {};" };
    const results = typeCheck([...readmeSnippets, probe]);
    errors = new Map(readmeSnippets.map((snippet, i) => [snippet, results[i]!]));
    probeErrors = results[results.length - 1]!;
  }, TYPE_CHECK_TIMEOUT_MS);

  it('finds the ts and js blocks of the README', () => {
    expect(readmeSnippets.length).toBeGreaterThanOrEqual(5);
  });

  it('fails a snippet that uses the package without importing it', () => {
    expect(probeErrors.join('\n')).toMatch(/Cannot find name 'ltiaasGrades'/);
  });

  it('compiles every ts and js block of README.md under strict, with only its own imports', () => {
    expect([...errors.values()].flat()).toEqual([]);
  });
});
