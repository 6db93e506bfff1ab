// Kill -9 loses no accepted grade: 20 students finish while LTIAAS is down, the tool is SIGKILLed and restarted.
import type { ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startEmulator, type LtiaasEmulator } from 'express-ltiaas-grades/testing';
import { killed, startTool, waitFor } from './helpers/toolProcesses';

const API_KEY = 'crash-test-api-key';

describe('outbox across kill -9', () => {
  let emulator: LtiaasEmulator;
  let dir: string;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    emulator = await startEmulator({ apiKey: API_KEY });
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'outbox-crash-'));
  });
  afterAll(async () => {
    await Promise.all(children.map(killed));
    await emulator.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  /** Starts the tool, takes LTIAAS away, and has every launch's student finish: the answers the tool gave. */
  async function finishWhileLtiaasIsDown(env: Record<string, string>, launches: Array<{ ltik: string }>, points: (index: number) => number) {
    const tool = await startTool(env);
    children.push(tool.child);
    await emulator.unreachable();
    const answers = await Promise.all(
      launches.map(async (launch, i) => {
        const res = await fetch(`http://127.0.0.1:${tool.port}/finish?ltik=${launch.ltik}&points=${points(i)}`, { method: 'POST' });
        return { status: res.status, body: (await res.json()) as { status: string; id: string } };
      }),
    );
    return { tool, answers };
  }

  it('delivers all 20 grades after a restart, none twice, in one line item', async () => {
    const env = { LTIAAS_URL: emulator.url, LTIAAS_API_KEY: API_KEY, OUTBOX_DIR: dir };
    const launches = Array.from({ length: 20 }, (_, i) => emulator.launch({ user: { id: `crash-${i}` }, context: { id: 'crash-course' } }));

    const { tool: first, answers } = await finishWhileLtiaasIsDown(env, launches, (i) => i % 11);
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(202));
    expect(answers.every((a) => a.body.status === 'queued')).toBe(true);

    // Every accepted grade is on disk before its 202; the process dies without any warning.
    await killed(first.child);
    expect((await fs.readdir(path.join(dir, 'pending'))).filter((n) => n.endsWith('.json'))).toHaveLength(20);

    await emulator.reachable();
    const second = await startTool(env);
    children.push(second.child);
    await waitFor(() => emulator.lineItems({ contextId: 'crash-course' }).flatMap((item) => item.scores).length >= 20, 30_000);
    await waitFor(() => second.output.filter((line) => line.startsWith('delivered ')).length >= 20, 10_000);

    const columns = emulator.lineItems({ contextId: 'crash-course' });
    expect(columns).toHaveLength(1);
    const accepted = emulator.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/scores') && r.status === 204);
    const users = accepted.map((r) => (r.body as { userId: string }).userId).sort();
    expect(users).toEqual(launches.map((l) => l.userId).sort());
    expect(emulator.scores(columns[0]!.id).map((s) => [s.userId, s.scoreGiven]).sort()).toEqual(
      launches.map((l, i) => [l.userId, i % 11]).sort(),
    );
    expect((await fs.readdir(path.join(dir, 'pending'))).filter((n) => n.endsWith('.json'))).toEqual([]);
    await killed(second.child);
  });

  it('loses nothing when killed in the middle of delivering; a repeat carries the same timestamp', async () => {
    const env = { LTIAAS_URL: emulator.url, LTIAAS_API_KEY: API_KEY, OUTBOX_DIR: dir };
    const launches = Array.from({ length: 20 }, (_, i) => emulator.launch({ user: { id: `mid-${i}` }, context: { id: 'mid-course' } }));
    const { tool: first, answers } = await finishWhileLtiaasIsDown(env, launches, () => 5);
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(202));
    await killed(first.child);

    // Slow LTIAAS, so the next run is killed while deliveries are under way.
    emulator.setLatency(80);
    await emulator.reachable();
    const second = await startTool(env);
    children.push(second.child);
    const acceptedFor = (context: string) =>
      emulator.lineItems({ contextId: context }).flatMap((item) => item.scores).length;
    await waitFor(() => acceptedFor('mid-course') >= 5, 30_000);
    await killed(second.child);
    expect(acceptedFor('mid-course')).toBeLessThan(20);

    emulator.setLatency(0);
    const third = await startTool(env);
    children.push(third.child);
    await waitFor(() => acceptedFor('mid-course') >= 20, 30_000);
    await waitFor(() => third.output.some((line) => line.startsWith('delivered ')), 10_000);

    const [column, ...others] = emulator.lineItems({ contextId: 'mid-course' });
    expect(others).toEqual([]);
    // Each student has exactly one score in the LMS.
    expect(column!.scores.map((s) => s.userId).sort()).toEqual(launches.map((l) => l.userId).sort());
    // Any score sent twice (sent, then killed before it was marked done) carried its one timestamp.
    const sent = new Map<string, Set<string>>();
    for (const r of emulator.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/scores') && r.status === 204)) {
      const body = r.body as { userId: string; timestamp: string };
      if (!body.userId.startsWith('mid-')) continue;
      sent.set(body.userId, (sent.get(body.userId) ?? new Set()).add(body.timestamp));
    }
    expect([...sent.values()].every((stamps) => stamps.size === 1)).toBe(true);
    await killed(third.child);
  });
});
