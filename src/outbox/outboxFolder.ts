// Start-up of an outbox folder: refuse one others can write to, lock it, make its subfolders, clear failed writes.
import fs from 'node:fs';
import path from 'node:path';
import { OptionsError } from '../errors';
import { OutboxLock } from './outboxLock';

export const PENDING = 'pending';
export const FAILED = 'failed';
export const QUARANTINE = 'quarantine';

const PRIVATE_DIR_MODE = 0o700;

/** The process's user, or undefined where the platform has no uids (Windows): no owner or mode checks there. */
export const processUid = (): number | undefined => process.getuid?.();

const errnoOf = (error: unknown) => (error as NodeJS.ErrnoException).code ?? 'unknown error';
const octal = (mode: number) => (mode & 0o777).toString(8).padStart(3, '0');

/**
 * A folder the outbox trusts: a real folder (not a link, except the outbox folder itself, which
 * the app names), owned by this process's user, writable by nobody else. Anyone else who can
 * write there could plant a job that posts a grade for any student.
 */
function checkPrivateFolder(folder: string, followLink: boolean): void {
  let stat: fs.Stats;
  try {
    stat = followLink ? fs.statSync(folder) : fs.lstatSync(folder);
  } catch (error) {
    throw new OptionsError(`fileOutbox(): cannot read the outbox folder ${folder} (${errnoOf(error)}); pass a dir the tool's user can create and own.`);
  }
  if (!stat.isDirectory()) {
    throw new OptionsError(`fileOutbox(): ${folder} is not a folder${stat.isSymbolicLink() ? ' (it is a symbolic link)' : ''}; remove it, or pass another dir.`);
  }
  const uid = processUid();
  if (uid === undefined) return;
  if (stat.uid !== uid) {
    throw new OptionsError(
      `fileOutbox(): the outbox folder ${folder} is owned by uid ${stat.uid}, not by this process's user (uid ${uid}); another user could plant grades there. Run "chown ${uid} ${folder}" if it is yours, or pass a folder of your own.`,
    );
  }
  if ((stat.mode & 0o022) !== 0) {
    throw new OptionsError(
      `fileOutbox(): the outbox folder ${folder} is writable by group or others (mode ${octal(stat.mode)}); another user could plant grades there. Run "chmod 700 ${folder}".`,
    );
  }
}

function makeFolder(folder: string): void {
  try {
    fs.mkdirSync(folder, { recursive: true, mode: PRIVATE_DIR_MODE });
  } catch (error) {
    throw new OptionsError(`fileOutbox(): cannot create the outbox folder ${folder} (${errnoOf(error)}); pass a dir the tool's user can create.`);
  }
}

/** Removes the temp files of writes that never finished (a crash or a failed disk between open and rename). */
function removeLeftoverTempFiles(folder: string): void {
  for (const name of fs.readdirSync(folder)) {
    if (name.endsWith('.tmp')) fs.rmSync(path.join(folder, name), { force: true });
  }
}

/**
 * Prepares `dir` synchronously at start-up, so a refusal is an OptionsError thrown by
 * fileOutbox() itself: checks the folder, takes its lock, then (holding the lock, so no other
 * process is writing) makes and checks pending/, failed/ and quarantine/ and clears temp files.
 */
export function openOutboxFolder(dir: string): OutboxLock {
  const root = path.resolve(dir);
  makeFolder(root);
  checkPrivateFolder(root, true);
  const lock = OutboxLock.acquire(root);
  try {
    for (const sub of [PENDING, FAILED, QUARANTINE]) {
      const folder = path.join(root, sub);
      makeFolder(folder);
      checkPrivateFolder(folder, false);
    }
    for (const sub of [PENDING, FAILED]) removeLeftoverTempFiles(path.join(root, sub));
  } catch (error) {
    lock.release();
    throw error instanceof OptionsError ? error : new OptionsError(`fileOutbox(): cannot prepare the outbox folder ${root} (${errnoOf(error)}).`);
  }
  return lock;
}
