// Durable writes: the job is fsync'd, renamed into place and its folder fsync'd before enqueue resolves; a failed write leaves the old file whole.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeFileDurably } from '../src/durableFile';
import { FileOutboxStorage } from '../src/outbox/fileOutboxStorage';

describe('durable file writes', () => {
  let dir: string;
  let fileHandlePrototype: { sync(): Promise<void> };
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'durable-'));
    const probe = await fs.open(path.join(dir, 'probe'), 'w');
    fileHandlePrototype = Object.getPrototypeOf(probe);
    await probe.close();
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('syncs the file, renames it into place, then syncs the folder, all before resolving', async () => {
    const steps: string[] = [];
    const realSync = fileHandlePrototype.sync;
    jest.spyOn(fileHandlePrototype, 'sync').mockImplementation(function (this: { sync(): Promise<void> }) {
      steps.push('sync');
      return realSync.call(this);
    });
    const realRename = fs.rename;
    jest.spyOn(fs, 'rename').mockImplementation(async (from, to) => {
      steps.push(`rename ${path.basename(String(to))}`);
      return realRename(from, to);
    });
    const storage = FileOutboxStorage.open(dir);
    const job = { id: 'job-1', createdAt: new Date().toISOString(), attempts: 0, nextAttemptAt: 0, draft: { score: { activityProgress: 'Completed', gradingProgress: 'FullyGraded' } } };
    try {
      await storage.save(job as never);
      steps.push('resolved');
    } finally {
      await storage.close();
    }
    expect(steps).toEqual(['sync', 'rename job-1.json', 'sync', 'resolved']);
    expect(JSON.parse(await fs.readFile(path.join(dir, 'pending', 'job-1.json'), 'utf8'))).toMatchObject({ id: 'job-1' });
  });

  it('leaves the previous content whole when a write fails half-way, and no temp file behind', async () => {
    const file = path.join(dir, 'state.json');
    await writeFileDurably(file, JSON.stringify({ version: 1 }));
    jest.spyOn(fileHandlePrototype, 'sync').mockRejectedValueOnce(Object.assign(new Error('EIO: disk failed'), { code: 'EIO' }));
    await expect(writeFileDurably(file, JSON.stringify({ version: 2, padding: 'x'.repeat(10_000) }))).rejects.toThrow(/EIO/);
    expect(JSON.parse(await fs.readFile(file, 'utf8'))).toEqual({ version: 1 });
    expect((await fs.readdir(dir)).filter((name) => name.endsWith('.tmp'))).toEqual([]);
    await expect(writeFileDurably(file, JSON.stringify({ version: 3 }))).resolves.toBeUndefined();
    expect(JSON.parse(await fs.readFile(file, 'utf8'))).toEqual({ version: 3 });
  });
});
