// Writes a file so that it is whole and on disk before we go on: temp file, fsync, rename, fsync the folder.
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

/** Owner-only: these files hold ltiks and service keys. */
export const PRIVATE_FILE_MODE = 0o600;
export const PRIVATE_DIR_MODE = 0o700;

export async function ensurePrivateDir(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
}

/** Makes a rename or unlink in `dir` survive a power cut (the folder's entry is on disk). */
async function syncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Replaces `file` with `content` atomically: a reader (or a restart after kill -9) sees the old
 * file or the new one, never half of one. Resolves only once the content is durable.
 */
export async function writeFileDurably(file: string, content: string): Promise<void> {
  const dir = path.dirname(file);
  const temp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await fs.open(temp, 'wx', PRIVATE_FILE_MODE);
  try {
    try {
      await handle.writeFile(content, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temp, file);
  } catch (error) {
    // A failed write leaves nothing behind (a crash may: those are removed at the next start).
    await fs.rm(temp, { force: true }).catch(() => undefined);
    throw error;
  }
  await syncDir(dir);
}

/** Removes `file` if present. Not synced: a removal lost in a crash only means a harmless repeat. */
export async function removeFile(file: string): Promise<void> {
  await fs.rm(file, { force: true });
}
