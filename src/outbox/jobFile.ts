// Reads one stored job file, only if this process's user wrote it and nobody else can read or change it; seals and opens its content.
import fs, { promises as fsp } from 'node:fs';
import type { JobCipher } from './jobCipher';
import { processUid } from './outboxFolder';

/** A job is a few kB; anything this large was not written by the outbox. */
const MAX_JOB_FILE_BYTES = 1024 * 1024;

/** Why a file was not read: short fixed phrases, safe to log (never the file's content). */
export type UntrustedReason =
  | 'not a regular file'
  | 'not owned by this process\'s user'
  | 'readable or writable by group or others'
  | 'too large'
  | 'unreadable';

export type JobFileContent = { text: string } | { untrusted: UntrustedReason };

const { O_RDONLY, O_NOFOLLOW = 0, O_NONBLOCK = 0 } = fs.constants;

function trustProblem(stat: fs.Stats): UntrustedReason | undefined {
  if (!stat.isFile()) return 'not a regular file';
  const uid = processUid();
  if (uid !== undefined && stat.uid !== uid) return 'not owned by this process\'s user';
  if (uid !== undefined && (stat.mode & 0o077) !== 0) return 'readable or writable by group or others';
  if (stat.size > MAX_JOB_FILE_BYTES) return 'too large';
  return undefined;
}

/** The file's text, or why it cannot be trusted; undefined when the file is gone. */
export async function readJobFile(file: string): Promise<JobFileContent | undefined> {
  let handle: fsp.FileHandle;
  try {
    // lstat first: a link or a FIFO is refused without opening it (opening a FIFO would block).
    const problem = trustProblem(await fsp.lstat(file));
    if (problem) return { untrusted: problem };
    handle = await fsp.open(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return { untrusted: 'unreadable' };
  }
  try {
    // Checked again on what was opened, in case the name was swapped in between.
    const problem = trustProblem(await handle.stat());
    if (problem) return { untrusted: problem };
    return { text: await handle.readFile('utf8') };
  } catch {
    return { untrusted: 'unreadable' };
  } finally {
    await handle.close();
  }
}

/** What a file of a folder with an `encryptionKey` holds: the job sealed under its id. */
export interface SealedJobFile {
  sealed: string;
}

export const sealedJobFile = (cipher: JobCipher, job: { id: string }): SealedJobFile => ({ sealed: cipher.seal(job, job.id) });

const isSealedJobFile = (value: unknown): value is SealedJobFile =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && 'sealed' in value && Object.keys(value).length === 1;

/**
 * The job a parsed file holds, or why it cannot be used (a short phrase, safe to log). With a
 * cipher only sealed files are read, so a file planted or edited in the folder grades nobody;
 * without one a sealed file is set aside, to be moved back once the outbox has its key.
 */
export function unsealedJobFile(cipher: JobCipher | undefined, parsed: unknown, id: string): { value: unknown } | { problem: string } {
  if (!isSealedJobFile(parsed)) {
    return cipher ? { problem: 'not encrypted, and this outbox has an encryptionKey (deliver it by starting once without the key)' } : { value: parsed };
  }
  if (!cipher) return { problem: 'encrypted: start the outbox with the encryptionKey it was written with, then move it back' };
  const value = cipher.open(parsed.sealed, id);
  return value === undefined ? { problem: 'cannot be decrypted with this encryptionKey (another key, another file name, or altered)' } : { value };
}
