// `npm run demo:cluster` end to end: redis-server, three instances sharing their state through it, and the round-robin front; one class finishing at once through all three makes one column, resolved once in Redis.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import Redis from 'ioredis';

const ROOT = path.join(__dirname, '..', '..');
// The same answers as a student who gets 3 of 4 (the key is q1=b, q2=c, q3=a, q4=d).
const THREE_OF_FOUR = { q1: 'b', q2: 'c', q3: 'a', q4: 'a' };

interface GradebookJson {
  contexts: { contextId: string; lineItems: { id: string; resourceId?: string; users: { userId: string; scoresReceived: number; latest?: { scoreGiven?: number } }[] }[] }[];
}

describe('the demo cluster', () => {
  let cluster: ChildProcess;
  let stderr = '';
  let frontUrl: string;
  let gradebookUrl: string;
  let redis: Redis | undefined;

  beforeAll(async () => {
    // The demo runs the built package, as `npm run demo:cluster` does (it builds first).
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'tsup', 'dist', 'cli-default.js'), '--silent'], { cwd: ROOT, stdio: 'ignore' });
    cluster = spawn(process.execPath, [path.join(ROOT, 'demo-app', 'cluster.js')], { cwd: ROOT, env: { ...process.env, PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
    cluster.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    let stdout = '';
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
  }, 180_000);

  afterAll(async () => {
    redis?.disconnect();
    if (cluster.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      cluster.once('exit', () => resolve());
      cluster.kill('SIGTERM');
    });
  });

  it('grades 6 students finishing at once through the front over all three instances into one column with 6 scores, the column and ID tokens shared in Redis, and stops cleanly', async () => {
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

    const gradebook = (await (await fetch(`${gradebookUrl}.json`)).json()) as GradebookJson;
    const course = gradebook.contexts.find((context) => context.contextId === 'demo-course')!;
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
    redis.disconnect();

    const code = await new Promise<number | null>((resolve) => {
      cluster.once('exit', (exitCode) => resolve(exitCode));
      cluster.kill('SIGTERM');
    });
    expect(code).toBe(0);
  });
});
