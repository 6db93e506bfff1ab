// One process per outbox folder: a second one is refused at start, the lock of a process killed with -9 is taken over.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileOutbox, OptionsError } from 'express-ltiaas-grades';
import { killed, runToolExpectingRefusal, startTool, type ToolProcess } from './helpers/toolProcesses';

function thrownBy(action: () => unknown): Error & { code?: string } {
  try {
    action();
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected a throw');
}

/** Nothing here reaches LTIAAS: the tools only start, hold or refuse the folder. */
const NO_LTIAAS = { LTIAAS_URL: 'http://127.0.0.1:9', LTIAAS_API_KEY: 'lock-test-api-key' };

describe('outbox folder lock', () => {
  let dir: string;
  let lockFile: string;
  const tools: ToolProcess[] = [];

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'outbox-lock-'));
    lockFile = path.join(dir, 'outbox.lock');
  });
  afterEach(async () => {
    await Promise.all(tools.splice(0).map((tool) => killed(tool.child)));
    await fs.rm(dir, { recursive: true, force: true });
  });

  const readLock = async () => JSON.parse(await fs.readFile(lockFile, 'utf8')) as { pid: number; hostname: string };

  it('refuses a second tool process on the same folder with OPTIONS_INVALID, naming the folder and the fix', async () => {
    const first = await startTool({ ...NO_LTIAAS, OUTBOX_DIR: dir });
    tools.push(first);
    expect(await readLock()).toMatchObject({ pid: first.child.pid, hostname: os.hostname() });

    const second = await runToolExpectingRefusal({ ...NO_LTIAAS, OUTBOX_DIR: dir });
    expect(second.listening).toBe(false);
    expect(second.code).toBe(3);
    const refusal = second.output.find((line) => line.startsWith('refused '));
    expect(refusal).toContain('refused OPTIONS_INVALID');
    expect(refusal).toContain(`the outbox folder ${dir} is in use by process ${first.child.pid} on this host`);
    expect(refusal).toContain('use one folder per process');
    expect(refusal).toContain('for several instances sharing one outbox, use bullmqOutbox() from express-ltiaas-grades/redis');
    // The first keeps its lock.
    expect(first.child.exitCode).toBeNull();
    expect(await readLock()).toMatchObject({ pid: first.child.pid });
  });

  it('takes over the lock of a tool process killed with SIGKILL on this host, and releases it on close()', async () => {
    const crashed = await startTool({ ...NO_LTIAAS, OUTBOX_DIR: dir });
    tools.push(crashed);
    await killed(crashed.child);
    expect(await readLock()).toMatchObject({ pid: crashed.child.pid });

    const outbox = fileOutbox({ dir });
    expect(await readLock()).toMatchObject({ pid: process.pid, hostname: os.hostname() });
    await outbox.close();
    await expect(fs.stat(lockFile)).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await fs.readdir(dir)).sort()).toEqual(['failed', 'pending', 'quarantine']);
  });

  it('refuses a second fileOutbox() on the same folder in one process, until the first is closed', async () => {
    const first = fileOutbox({ dir });
    const error = thrownBy(() => fileOutbox({ dir: path.join(dir, '.', 'pending', '..') }));
    expect(error).toBeInstanceOf(OptionsError);
    expect(error.message).toContain(`the outbox folder ${dir} is already used by another fileOutbox() in this process`);
    await first.close();
    await fileOutbox({ dir }).close();
  });

  it('refuses a folder locked by a process on another host, naming the host and the lock file', async () => {
    await fs.writeFile(lockFile, JSON.stringify({ pid: 4242, hostname: 'other-host', startedAt: new Date().toISOString(), nonce: 'theirs' }), { mode: 0o600 });
    const error = thrownBy(() => fileOutbox({ dir }));
    expect(error).toBeInstanceOf(OptionsError);
    expect(error.message).toContain(`locked by process 4242 on host other-host (${lockFile})`);
    expect(error.message).toContain('delete the lock file');
    expect(await readLock()).toMatchObject({ hostname: 'other-host' });
  });

  it('takes over a lock left by an earlier process that had this process\'s pid (a container restarted)', async () => {
    await fs.writeFile(lockFile, JSON.stringify({ pid: process.pid, hostname: os.hostname(), startedAt: '2020-01-01T00:00:00.000Z', nonce: 'before-restart' }), { mode: 0o600 });
    const outbox = fileOutbox({ dir });
    expect(await readLock()).not.toMatchObject({ nonce: 'before-restart' });
    await outbox.close();
  });

  it('refuses a lock file it cannot read, naming it, rather than guessing', async () => {
    await fs.writeFile(lockFile, 'not a lock', { mode: 0o600 });
    const error = thrownBy(() => fileOutbox({ dir }));
    expect(error).toBeInstanceOf(OptionsError);
    expect(error.message).toContain(`a lock file that cannot be read (${lockFile})`);
  });

  it('leaves a lock it no longer holds alone on close()', async () => {
    const outbox = fileOutbox({ dir });
    // Someone removed the lock by hand and another process took the folder.
    const other = JSON.stringify({ pid: 4242, hostname: 'other-host', startedAt: new Date().toISOString(), nonce: 'other' });
    await fs.writeFile(lockFile, other);
    await outbox.close();
    expect(await fs.readFile(lockFile, 'utf8')).toBe(other);
  });
});
