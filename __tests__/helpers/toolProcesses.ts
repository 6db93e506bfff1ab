// Runs __tests__/fixtures/toolProcess.ts as a real child process: start it, read its lines, SIGKILL it.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export interface ToolProcess {
  child: ChildProcess;
  /** Every complete line the process wrote to stdout, then stderr's chunks, as they came. */
  output: string[];
}

const FIXTURES = path.join(__dirname, '..', 'fixtures');

/** Spawns the tool (`fixture`: a file of __tests__/fixtures/); lines are split on newlines across chunks, so none is ever cut in two. */
export function spawnTool(env: Record<string, string>, fixture = 'toolProcess.ts'): ToolProcess {
  const child = spawn(process.execPath, ['-r', path.join(FIXTURES, 'registerTs.js'), path.join(FIXTURES, fixture)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  let partial = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop()!;
    output.push(...lines.filter(Boolean));
  });
  child.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  return { child, output };
}

/** Starts the tool and resolves with its port once it listens; rejects if it exits first. */
export function startTool(env: Record<string, string>, fixture?: string): Promise<ToolProcess & { port: number }> {
  const tool = spawnTool(env, fixture);
  return new Promise((resolve, reject) => {
    tool.child.stdout!.on('data', () => {
      const listening = tool.output.find((line) => line.startsWith('listening '));
      if (listening) resolve({ ...tool, port: Number(listening.split(' ')[1]) });
    });
    tool.child.on('exit', (code) => reject(new Error(`tool exited (${code}): ${tool.output.join('\n')}`)));
  });
}

/**
 * Runs a tool expected to refuse to start: resolves with its exit code and output once it
 * exits, or with `listening: true` (after killing it) if it started serving instead.
 */
export function runToolExpectingRefusal(env: Record<string, string>): Promise<{ code: number | null; listening: boolean; output: string[] }> {
  const tool = spawnTool(env);
  return new Promise((resolve) => {
    tool.child.stdout!.on('data', () => {
      if (tool.output.some((line) => line.startsWith('listening '))) {
        void killed(tool.child).then(() => resolve({ code: null, listening: true, output: tool.output }));
      }
    });
    tool.child.on('close', (code) => resolve({ code, listening: false, output: tool.output }));
  });
}

/** SIGKILLs the process (no chance to clean up) and resolves once it is gone. */
export function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/** Polls a condition on state (not a timer): resolves when it holds, rejects after `timeoutMs`. */
export async function waitFor(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
