// Runs __tests__/fixtures/coordinatedTool.ts as real child processes (one per tool instance) and sends students to them round-robin, as a load balancer without sticky sessions.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const FIXTURES = path.join(__dirname, '..', 'fixtures');

export interface CoordinatedTool {
  child: ChildProcess;
  port: number;
  /** Every complete line the process wrote (stdout), then stderr's chunks. */
  output: string[];
}

/** Starts one instance and resolves once it listens; rejects with its output if it exits first. */
export function startCoordinatedTool(env: Record<string, string>): Promise<CoordinatedTool> {
  const child = spawn(process.execPath, ['-r', path.join(FIXTURES, 'registerTs.js'), path.join(FIXTURES, 'coordinatedTool.ts')], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  let partial = '';
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop()!;
      output.push(...lines.filter(Boolean));
      const listening = output.find((entry) => entry.startsWith('listening '));
      if (listening) resolve({ child, port: Number(listening.split(' ')[1]), output });
    });
    child.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    child.once('exit', (code) => reject(new Error(`tool exited (${code}): ${output.join('\n')}`)));
  });
}

export function startCoordinatedTools(count: number, env: Record<string, string>): Promise<CoordinatedTool[]> {
  return Promise.all(Array.from({ length: count }, () => startCoordinatedTool(env)));
}

/** Stops an instance with SIGTERM (it closes its grades and Redis client) and resolves once it is gone. */
export function stopTool(tool: CoordinatedTool, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  const { child } = tool;
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

/** The instances in turn, as a round-robin load balancer hands out requests. */
export function roundRobin(tools: readonly CoordinatedTool[]): () => CoordinatedTool {
  let next = 0;
  return () => {
    const tool = tools[next % tools.length]!;
    next += 1;
    return tool;
  };
}

/** GET /quiz: the quiz page, which reads the launch's ID token. */
export async function openQuiz(tool: CoordinatedTool, ltik: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`http://127.0.0.1:${tool.port}/quiz?ltik=${encodeURIComponent(ltik)}`);
  return { status: res.status, body: await res.json() };
}

export interface FinishAnswer {
  status: number;
  body: { status?: string; lineItemId?: string; timestamp?: string; userId?: string; error?: { code: string; message: string } };
}

/** POST /finish: the student's grade, scored on the server. */
export async function finishQuiz(tool: CoordinatedTool, ltik: string, points: number): Promise<FinishAnswer> {
  const res = await fetch(`http://127.0.0.1:${tool.port}/finish?ltik=${encodeURIComponent(ltik)}&points=${points}`, { method: 'POST' });
  return { status: res.status, body: (await res.json()) as FinishAnswer['body'] };
}
