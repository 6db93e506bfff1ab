// The outbox folder's lock file: one process per folder, because two would post every grade twice.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { OptionsError } from '../errors';

export const LOCK_FILE_NAME = 'outbox.lock';

/** What the lock file holds: enough to tell whether its process is still running. */
interface LockHolder {
  pid: number;
  hostname: string;
  startedAt: string;
  /** Tells this lock from an earlier one taken by a process that had the same pid. */
  nonce: string;
}

/**
 * Nonces of the locks this process holds. Kept on globalThis so the CommonJS and ES module
 * builds of the package, both loaded in one app, see each other's locks.
 */
const heldHere: Set<string> = ((globalThis as Record<symbol, unknown>)[Symbol.for('express-ltiaas-grades.outboxLocks')] ??= new Set<string>()) as Set<string>;

const ONE_FOLDER_PER_PROCESS =
  'Two processes on one outbox folder would post every grade twice: use one folder per process (e.g. one per instance number) or stop the other process; ' +
  'for several instances sharing one outbox, use bullmqOutbox() from express-ltiaas-grades/redis';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function parseHolder(raw: string): LockHolder | undefined {
  try {
    const value = JSON.parse(raw) as Partial<LockHolder> | null;
    if (value && Number.isInteger(value.pid) && typeof value.hostname === 'string' && typeof value.nonce === 'string') return value as LockHolder;
  } catch {
    // fall through: unreadable
  }
  return undefined;
}

function readIfPresent(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new OptionsError(`fileOutbox(): cannot read the lock file ${file} (${errnoOf(error)}); if no other process uses this folder, delete it and start again.`);
  }
}

function writeSynced(file: string, content: string): void {
  const fd = fs.openSync(file, 'wx', 0o600);
  try {
    fs.writeSync(fd, content);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

const errnoOf = (error: unknown) => (error as NodeJS.ErrnoException).code ?? 'unknown error';

/** Codes of file systems without hard links (some network and FUSE mounts). */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

/** Creates `file` holding `content`, failing with EEXIST if it exists. */
function createExclusively(temp: string, file: string, content: string): void {
  try {
    fs.linkSync(temp, file);
    return;
  } catch (error) {
    if (!NO_HARD_LINKS.has(errnoOf(error))) throw error;
  }
  // Without hard links: O_EXCL on the lock itself (a reader may then briefly see it empty).
  writeSynced(file, content);
}

/**
 * An exclusive lock on an outbox folder, taken at start-up. A lock whose process died (kill -9,
 * power cut) on this host is taken over; a lock held by a live process, by another host, or that
 * cannot be read, refuses the start with an OptionsError naming the folder and the fix.
 */
export class OutboxLock {
  private released = false;

  private constructor(readonly file: string, private readonly content: string, private readonly nonce: string) {}

  /** Takes the lock on `dir` (which must exist), synchronously; throws OptionsError when it is held. */
  static acquire(dir: string): OutboxLock {
    const file = path.join(dir, LOCK_FILE_NAME);
    const holder: LockHolder = { pid: process.pid, hostname: os.hostname(), startedAt: new Date().toISOString(), nonce: randomBytes(12).toString('hex') };
    const content = JSON.stringify(holder);
    // Written whole and synced under a private name (opened O_EXCL), then linked into place:
    // link(2) fails if the lock exists, exactly like O_EXCL, and nobody ever reads half a lock.
    const temp = path.join(dir, `.${LOCK_FILE_NAME}.${holder.nonce}.tmp`);
    try {
      writeSynced(temp, content);
    } catch (error) {
      throw new OptionsError(`fileOutbox(): cannot create the lock file in the outbox folder ${dir} (${errnoOf(error)}); make the folder writable by the tool's user.`);
    }
    try {
      // A few rounds: each one either takes the lock, refuses, or clears a stale lock and tries again.
      for (let round = 0; round < 5; round++) {
        try {
          createExclusively(temp, file, content);
          heldHere.add(holder.nonce);
          return new OutboxLock(file, content, holder.nonce);
        } catch (error) {
          if (errnoOf(error) !== 'EEXIST') {
            throw new OptionsError(`fileOutbox(): cannot create the lock file ${file} (${errnoOf(error)}); make the outbox folder writable by the tool's user.`);
          }
        }
        const existing = readIfPresent(file);
        if (existing === undefined) continue; // released meanwhile
        OutboxLock.refuseUnlessStale(dir, file, existing);
        OutboxLock.removeStale(dir, file, existing, holder.nonce);
      }
      throw new OptionsError(`fileOutbox(): the outbox folder ${dir} is being locked and unlocked by other processes; ${ONE_FOLDER_PER_PROCESS}.`);
    } finally {
      fs.rmSync(temp, { force: true });
    }
  }

  /** Returns when the lock's process is known to be gone; otherwise throws the refusal. */
  private static refuseUnlessStale(dir: string, file: string, raw: string): void {
    const holder = parseHolder(raw);
    if (!holder) {
      throw new OptionsError(`fileOutbox(): the outbox folder ${dir} has a lock file that cannot be read (${file}); if no other process uses this folder, delete that file and start again.`);
    }
    if (holder.hostname !== os.hostname()) {
      throw new OptionsError(
        `fileOutbox(): the outbox folder ${dir} is locked by process ${holder.pid} on host ${holder.hostname} (${file}). ${ONE_FOLDER_PER_PROCESS}; if that process is gone, delete the lock file.`,
      );
    }
    if (holder.pid === process.pid) {
      // Our own pid: either this very process holds it (a second fileOutbox() on the folder), or
      // an earlier process had the same pid (a container's pid 1 after a restart) and died.
      if (heldHere.has(holder.nonce)) {
        throw new OptionsError(`fileOutbox(): the outbox folder ${dir} is already used by another fileOutbox() in this process; make one fileOutbox() per folder and share it, or close() the other one first.`);
      }
      return;
    }
    if (isAlive(holder.pid)) {
      throw new OptionsError(
        `fileOutbox(): the outbox folder ${dir} is in use by process ${holder.pid} on this host (${file}). ${ONE_FOLDER_PER_PROCESS}; if that process is not a tool using this folder, delete the lock file.`,
      );
    }
  }

  /**
   * Moves the stale lock aside and checks that what moved is the lock judged stale: if another
   * process took the lock over in between, its fresh lock is put back and the next round refuses.
   */
  private static removeStale(dir: string, file: string, staleContent: string, nonce: string): void {
    const aside = path.join(dir, `.${LOCK_FILE_NAME}.${nonce}.stale`);
    try {
      fs.renameSync(file, aside);
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return;
      throw new OptionsError(`fileOutbox(): cannot replace the stale lock file ${file} (${errnoOf(error)}); delete it and start again.`);
    }
    try {
      if (fs.readFileSync(aside, 'utf8') !== staleContent) {
        try {
          fs.linkSync(aside, file);
        } catch {
          // Yet another lock appeared: the next round reads and judges that one.
        }
      }
    } finally {
      fs.rmSync(aside, { force: true });
    }
  }

  /** Removes the lock file if it is still this lock. Safe to call more than once; never throws. */
  release(): void {
    if (this.released) return;
    this.released = true;
    heldHere.delete(this.nonce);
    try {
      if (fs.readFileSync(this.file, 'utf8') === this.content) fs.unlinkSync(this.file);
    } catch {
      // The folder is gone or the lock was removed by hand: nothing left to release.
    }
  }
}
