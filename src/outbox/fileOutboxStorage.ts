// Keeps outbox jobs as one private JSON file each in pending/ and failed/; sets aside any file it cannot trust.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { removeFile, writeFileDurably } from '../durableFile';
import { OptionsError } from '../errors';
import { silentLogger, type ResolvedLogger } from '../logger';
import { readJobFile } from './jobFile';
import { FAILED, openOutboxFolder, PENDING, QUARANTINE } from './outboxFolder';
import type { OutboxLock } from './outboxLock';
import type { FailedGradeJob, OutboxStorage, StoredGradeJob } from './outboxTypes';
import { JOB_ID_PATTERN, readFailedJob, readStoredJob, type JobReading } from './storedJobSchema';

export class FileOutboxStorage implements OutboxStorage {
  private readonly pendingDir: string;
  private readonly failedDir: string;
  private readonly quarantineDir: string;
  private logger: ResolvedLogger = silentLogger;

  private constructor(readonly dir: string, private readonly lock: OutboxLock) {
    this.pendingDir = path.join(dir, PENDING);
    this.failedDir = path.join(dir, FAILED);
    this.quarantineDir = path.join(dir, QUARANTINE);
  }

  /**
   * Checks, locks and prepares `dir` synchronously (see openOutboxFolder): throws OptionsError
   * at start-up rather than failing later with grades in hand.
   */
  static open(dir: string): FileOutboxStorage {
    const lock = openOutboxFolder(dir);
    return new FileOutboxStorage(path.resolve(dir), lock);
  }

  useLogger(logger: ResolvedLogger): void {
    this.logger = logger;
  }

  private fileOf(dir: string, id: string): string {
    if (!JOB_ID_PATTERN.test(id)) throw new OptionsError('outbox: a job id must be letters, digits, "-" and "_" only.');
    return path.join(dir, `${id}.json`);
  }

  async save(job: StoredGradeJob): Promise<void> {
    await writeFileDurably(this.fileOf(this.pendingDir, job.id), JSON.stringify(job));
  }

  async remove(id: string): Promise<void> {
    await removeFile(this.fileOf(this.pendingDir, id));
  }

  async loadPending(): Promise<StoredGradeJob[]> {
    return this.loadJobs(this.pendingDir, readStoredJob);
  }

  async moveToFailed(job: FailedGradeJob): Promise<void> {
    // Written to failed/ first: a crash in between leaves the job in both lists, never in none.
    await writeFileDurably(this.fileOf(this.failedDir, job.id), JSON.stringify(job));
    await removeFile(this.fileOf(this.pendingDir, job.id));
  }

  async loadFailed(): Promise<FailedGradeJob[]> {
    return this.loadJobs(this.failedDir, readFailedJob);
  }

  async removeFailed(id: string): Promise<void> {
    await removeFile(this.fileOf(this.failedDir, id));
  }

  /** Releases the folder's lock; the jobs stay on disk for the next run. */
  async close(): Promise<void> {
    this.lock.release();
  }

  /**
   * Every `<id>.json` of `dir` that this process's user wrote privately and that is a valid job
   * named after its id (a job of the release before versioning is upgraded). Anything else goes
   * to quarantine/, so it is never delivered (a planted job could post a grade for any student)
   * and never breaks pending() or failed().
   */
  private async loadJobs<T extends { id: string }>(dir: string, read: (value: unknown) => JobReading<T>): Promise<T[]> {
    const jobs: T[] = [];
    for (const name of await fs.readdir(dir)) {
      // Dot files are temp files of writes under way.
      if (!name.endsWith('.json') || name.startsWith('.')) continue;
      const content = await readJobFile(path.join(dir, name));
      if (content === undefined) continue;
      if ('untrusted' in content) {
        await this.quarantine(dir, name, content.untrusted);
        continue;
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(content.text);
      } catch {
        await this.quarantine(dir, name, 'not JSON');
        continue;
      }
      const reading = read(parsed);
      if ('problem' in reading) await this.quarantine(dir, name, reading.problem);
      // A job not named after its id would never be removed once delivered, and delivered again at every start.
      else if (`${reading.job.id}.json` !== name) await this.quarantine(dir, name, 'its id is not its file name');
      else jobs.push(reading.job);
    }
    return jobs;
  }

  /** Moves a file out of the way, with one warning naming the file (never its content). */
  private async quarantine(dir: string, name: string, reason: string): Promise<void> {
    const list = path.basename(dir);
    let target = `${list}-${name}`;
    if (await exists(path.join(this.quarantineDir, target))) target = `${list}-${Date.now().toString(36)}-${name}`;
    try {
      await fs.rename(path.join(dir, name), path.join(this.quarantineDir, target));
      this.logger.warn({ file: `${list}/${name}`, reason, movedTo: `${QUARANTINE}/${target}` }, 'outbox: set aside a job file it cannot use');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // Gone already: a concurrent load set it aside first.
      if (code === 'ENOENT') return;
      this.logger.error({ file: `${list}/${name}`, reason, error: code }, 'outbox: could not set aside a job file it cannot use; skipping it');
    }
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.lstat(file);
    return true;
  } catch {
    return false;
  }
}
