// `npm run demo:cluster` end to end: redis-server, three instances sharing their state and one BullMQ outbox through it, and the round-robin front; one class finishing at once through all three makes one column, resolved once in Redis, and a grade held while LTIAAS is down is listed by every instance and delivered even without the instance that took it.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Redis from 'ioredis';

const ROOT = path.join(__dirname, '..', '..');
// The same answers as a student who gets 3 of 4 (the key is q1=b, q2=c, q3=a, q4=d).
const THREE_OF_FOUR = { q1: 'b', q2: 'c', q3: 'a', q4: 'a' };

interface GradebookJson {
  contexts: { contextId: string; lineItems: { id: string; resourceId?: string; users: { userId: string; scoresReceived: number; latest?: { scoreGiven?: number } }[] }[] }[];
}

interface AdminJson {
  status: { state: string; outbox?: { pending?: number; paused?: boolean } };
  pending: { id: string; userId?: string; scoreGiven?: number; scoreMaximum?: number; lastError?: { code: string } }[];
  failed: unknown[];
}

/** Polls a condition (never a fixed sleep) until it holds, or fails after `timeoutMs`. */
async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A process's environment, as Linux shows it to the same user. */
function environmentOf(pid: number): Record<string, string> {
  const entries = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
  return Object.fromEntries(entries.map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]));
}

describe('the demo cluster', () => {
  let cluster: ChildProcess;
  let stderr = '';
  let stdout = '';
  let frontUrl: string;
  let gradebookUrl: string;
  let redis: Redis | undefined;
  /** Each instance's pid, by name, as the cluster prints them. */
  const pids = new Map<string, number>();

  const gradebook = async () => (await (await fetch(`${gradebookUrl}.json`)).json()) as GradebookJson;
  /** A student launched from the front who opened the quiz (its ID token read while LTIAAS answers): the launch's ltik. */
  async function openQuiz(): Promise<string> {
    const launch = await fetch(`${frontUrl}launch`, { method: 'POST', body: new URLSearchParams({ role: 'learner' }), redirect: 'manual' });
    expect(launch.status).toBe(303);
    const ltik = new URL(launch.headers.get('location')!, frontUrl).searchParams.get('ltik')!;
    expect((await fetch(`${frontUrl}quiz?ltik=${encodeURIComponent(ltik)}`)).status).toBe(200);
    return ltik;
  }

  beforeAll(async () => {
    // The demo runs the built package, as `npm run demo:cluster` does (it builds first).
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'tsup', 'dist', 'cli-default.js'), '--silent'], { cwd: ROOT, stdio: 'ignore' });
    cluster = spawn(process.execPath, [path.join(ROOT, 'demo-app', 'cluster.js')], { cwd: ROOT, env: { ...process.env, PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
    cluster.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    await new Promise<void>((resolve, reject) => {
      cluster.stdout!.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        const front = /Demo cluster front \(round-robin over 3 instances\): (\S+)/.exec(stdout);
        const gradebook = /Grade book \(emulator\): (\S+)/.exec(stdout);
        if (front && gradebook) {
          frontUrl = front[1]!;
          gradebookUrl = gradebook[1]!;
          resolve();
        }
      });
      cluster.once('exit', (code) => reject(new Error(`demo:cluster exited (${code}): ${stderr}`)));
    });
    await until(() => /instance-3 \(pid \d+\)/.test(stderr), 10_000, 'the instances\' pids');
    for (const [, name, pid] of stderr.matchAll(/(instance-\d) \(pid (\d+)\) on port \d+/g)) pids.set(name!, Number(pid));
    expect([...pids.keys()]).toEqual(['instance-1', 'instance-2', 'instance-3']);
  }, 180_000);

  afterAll(async () => {
    redis?.disconnect();
    if (cluster.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      cluster.once('exit', () => resolve());
      cluster.kill('SIGTERM');
    });
  });

  it('grades 6 students finishing at once through the front over all three instances into one column with 6 scores, the column and ID tokens shared in Redis', async () => {
    const answeredBy = new Set<string>();
    const ltiks: string[] = [];
    for (let i = 0; i < 6; i++) {
      const launch = await fetch(`${frontUrl}launch`, { method: 'POST', body: new URLSearchParams({ role: 'learner' }), redirect: 'manual' });
      expect(launch.status).toBe(303);
      const ltik = new URL(launch.headers.get('location')!, frontUrl).searchParams.get('ltik')!;
      const quiz = await fetch(`${frontUrl}quiz?ltik=${encodeURIComponent(ltik)}`);
      expect(quiz.status).toBe(200);
      answeredBy.add(quiz.headers.get('x-demo-instance')!);
      ltiks.push(ltik);
    }
    // The whole class finishes at once: the first grades of a new column race on all three instances.
    const finishes = await Promise.all(ltiks.map((ltik) => fetch(`${frontUrl}quiz/finish`, { method: 'POST', body: new URLSearchParams({ ltik, ...THREE_OF_FOUR }) })));
    for (const finish of finishes) {
      expect(finish.status).toBe(200);
      answeredBy.add(finish.headers.get('x-demo-instance')!);
    }
    expect([...answeredBy].sort()).toEqual(['instance-1', 'instance-2', 'instance-3']);

    const course = (await gradebook()).contexts.find((context) => context.contextId === 'demo-course')!;
    expect(course.lineItems).toHaveLength(1);
    const graded = course.lineItems[0]!.users.filter((user) => user.scoresReceived === 1 && user.latest?.scoreGiven === 3);
    expect(graded.map((user) => user.userId).sort()).toEqual(['student-1', 'student-2', 'student-3', 'student-4', 'student-5', 'student-6']);

    // The instances shared their state through the cluster's Redis: the column, resolved once, and each launch's ID token.
    const redisUrl = /redis-server on (redis:\/\/127\.0\.0\.1:\d+)/.exec(stderr)?.[1];
    expect(redisUrl).toBeDefined();
    redis = new Redis(redisUrl!, { disconnectTimeout: 0 });
    const columnKeys = await redis.keys('ltiaas-grades:column:*');
    expect(columnKeys).toHaveLength(1);
    expect(JSON.parse((await redis.get(columnKeys[0]!))!)).toMatchObject({ id: course.lineItems[0]!.id });
    expect(await redis.keys('ltiaas-grades:id-token:*')).toHaveLength(6);
  });

  it('holds a grade finished while LTIAAS is down in the one outbox the instances share: sealed in Redis, listed by every instance\'s admin page, and delivered into the same column once LTIAAS is back, though the instance that took it was killed', async () => {
    const heldLtik = await openQuiz();
    const laterLtik = await openQuiz();
    // The key the cluster made for the outbox, from an instance's environment: long enough, and never printed.
    const outboxKey = environmentOf(pids.get('instance-1')!).GRADES_KEY!;
    expect(outboxKey.length).toBeGreaterThanOrEqual(32);
    expect(environmentOf(pids.get('instance-3')!).GRADES_KEY).toBe(outboxKey);

    cluster.kill('SIGUSR2');
    await until(() => stderr.includes('The emulated LTIAAS is down'), 10_000, 'the emulated LTIAAS down');
    const finish = await fetch(`${frontUrl}quiz/finish`, { method: 'POST', body: new URLSearchParams({ ltik: heldLtik, ...THREE_OF_FOUR }) });
    expect(finish.status).toBe(202);
    const takenBy = finish.headers.get('x-demo-instance')!;

    // Every instance's admin page (JSON) lists the held grade: the queue is in Redis, not in the instance that took it.
    const listed = new Map<string, AdminJson>();
    for (let i = 0; i < 6 && listed.size < 3; i++) {
      const answer = await fetch(`${frontUrl}admin/grades/grades.json`);
      expect(answer.status).toBe(200);
      const text = await answer.text();
      expect(text).not.toContain(heldLtik);
      expect(text).not.toContain(outboxKey);
      listed.set(answer.headers.get('x-demo-instance')!, JSON.parse(text) as AdminJson);
    }
    expect([...listed.keys()].sort()).toEqual(['instance-1', 'instance-2', 'instance-3']);
    const [held] = listed.get(takenBy)!.pending;
    expect(held).toMatchObject({ userId: expect.stringMatching(/^student-\d+$/), scoreGiven: 3, scoreMaximum: 4, lastError: { code: 'LTIAAS_UNAVAILABLE' } });
    for (const [name, body] of listed) {
      expect([name, body.pending.map((job) => [job.id, job.userId])]).toEqual([name, [[held!.id, held!.userId]]]);
      expect(body.status).toMatchObject({ state: 'degraded', outbox: { pending: 1 } });
    }
    // The job is sealed with the cluster's key: neither the ltik nor the student is in clear in Redis.
    const job = (await redis!.hget(`bull:ltiaas-grades:${held!.id}`, 'data'))!;
    expect(job).toMatch(/^\{"sealed":"v1\./);
    expect(job).not.toContain(heldLtik);
    expect(job).not.toContain(held!.userId!);

    // The instance that took the grade dies; LTIAAS comes back; another student's grade goes through directly.
    process.kill(pids.get(takenBy)!, 'SIGKILL');
    cluster.kill('SIGUSR2');
    await until(() => stderr.includes('The emulated LTIAAS is back'), 10_000, 'the emulated LTIAAS back');
    let later: Response | undefined;
    // The front may pick the dead instance (502: the request reached no instance); then the next one.
    for (let i = 0; i < 3 && (later === undefined || later.status === 502); i++) {
      later = await fetch(`${frontUrl}quiz/finish`, { method: 'POST', body: new URLSearchParams({ ltik: laterLtik, ...THREE_OF_FOUR }) });
    }
    expect(later!.status).toBe(200);

    // The held grade reaches the grade book, once, in the class's one column.
    const heldUser = () => gradebook().then((book) => book.contexts.find((context) => context.contextId === 'demo-course')!.lineItems.flatMap((item) => item.users).find((user) => user.userId === held!.userId));
    await until(async () => (await heldUser())?.scoresReceived === 1, 120_000, 'the held grade delivered');
    const course = (await gradebook()).contexts.find((context) => context.contextId === 'demo-course')!;
    expect(course.lineItems).toHaveLength(1);
    expect(course.lineItems[0]!.users.filter((user) => user.scoresReceived === 1 && user.latest?.scoreGiven === 3)).toHaveLength(8);
    expect(`${stdout}\n${stderr}`).not.toContain(outboxKey);
  }, 180_000);

  it('stops cleanly', async () => {
    redis?.disconnect();
    const code = await new Promise<number | null>((resolve) => {
      cluster.once('exit', (exitCode) => resolve(exitCode));
      cluster.kill('SIGTERM');
    });
    expect(code).toBe(0);
  });
});
