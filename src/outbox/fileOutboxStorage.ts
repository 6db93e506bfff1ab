// Keeps outbox jobs as one private JSON file each in pending/ and failed/ (sealed with the encryptionKey when there is one); sets aside any file it cannot trust.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { removeFile, writeFileDurably } from '../durableFile';
import { OptionsError } from '../errors';
import { silentLogger, type ResolvedLogger } from '../logger';
import type { JobCipher } from './jobCipher';
import { readJobFile, sealedJobFile, unsealedJobFile } from './jobFile';
import { FAILED, openOutboxFolder, PENDING, QUARANTINE } from './outboxFolder';
import type { OutboxLock } from './outboxLock';
import type { FailedGradeJob, OutboxStorage, StoredGradeJob } from './outboxTypes';
import { JOB_ID_PATTERN, readFailedJob, readStoredJob, type JobReading } from './storedJobSchema';

export class FileOutboxStorage implements OutboxStorage {
  private readonly pendingDir: string;
  private readonly failedDir: string;
  private readonly quarantineDir: string;
  private logger: ResolvedLogger = silentLogger;

  private constructor(readonly dir: string, private readonly lock: OutboxLock, private readonly cipher?: JobCipher) {
    this.pendingDir = path.join(dir, PENDING);
    this.failedDir = path.join(dir, FAILED);
    this.quarantineDir = path.join(dir, QUARANTINE);
  }

  /**
   * Checks, locks and prepares `dir` synchronously (see openOutboxFolder): throws OptionsError
   * at start-up rather than failing later with grades in hand. With a `cipher`, every file is
   * written sealed and only files sealed with it are read.
   */
  static open(dir: string, cipher?: JobCipher): FileOutboxStorage {
    const lock = openOutboxFolder(dir);
    return new FileOutboxStorage(path.resolve(dir), lock, cipher);
  }

  useLogger(logger: ResolvedLogger): void {
    this.logger = logger;
  }

  private fileOf(dir: string, id: string): string {
    if (!JOB_ID_PATTERN.test(id)) throw new OptionsError('outbox: a job id must be letters, digits, "-" and "_" only.');
    return path.join(dir, `${id}.json`);
  }

  async save(job: StoredGradeJob): Promise<void> {
    await writeFileDurably(this.fileOf(this.pendingDir, job.id), this.textOf(job));
  }

  /** The file's content: the job's JSON, or with a cipher `{"sealed":"v1...."}` bound to the job's id. */
  private textOf(job: StoredGradeJob): string {
    return JSON.stringify(this.cipher ? sealedJobFile(this.cipher, job) : job);
  }

  async remove(id: string): Promise<void> {
    await removeFile(this.fileOf(this.pendingDir, id));
  }

  async loadPending(): Promise<StoredGradeJob[]> {
    return this.loadJobs(this.pendingDir, readStoredJob);
  }

  async moveToFailed(job: FailedGradeJob): Promise<void> {
    // Written to failed/ first: a crash in between leaves the job in both lists, never in none.
    await writeFileDurably(this.fileOf(this.failedDir, job.id), this.textOf(job));
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
      // Named by its file: a sealed job only opens under the id it was sealed with.
      const opened = unsealedJobFile(this.cipher, parsed, name.slice(0, -'.json'.length));
      if ('problem' in opened) {
        await this.quarantine(dir, name, opened.problem);
        continue;
      }
      const reading = read(opened.value);
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
