// fileOutbox(): a durable outbox kept in a folder of private JSON files, with no extra dependency.
import Joi from 'joi';
import { FileOutboxStorage } from './fileOutboxStorage';
import { StorageOutbox, type OutboxOptions } from './gradeOutbox';
import { encryptionKeySchema, JobCipher } from './jobCipher';
import type { GradeOutbox } from './outbox';
import { outboxOptionsFields, outboxSchema, validateOutboxOptions, type ResolvedOutboxOptions } from './outboxOptions';

/** Options of {@link fileOutbox}. */
export interface FileOutboxOptions extends OutboxOptions {
  /**
   * Folder for the outbox, used by this process only (it is locked). Created 0700 if missing;
   * refused if another user owns it or can write to it. Files are 0600: they hold ltiks and
   * service keys. Required.
   */
  dir: string;
  /**
   * Optional: a secret of at least 32 characters. Each file then holds its job encrypted
   * (AES-256-GCM, key derived by HKDF), readable only with this key; without it, files are
   * plain JSON. A folder is read with the setting it was written with: files of the other kind
   * are set aside in `quarantine/`, so drain the outbox before turning encryption on or off.
   */
  encryptionKey?: string;
}

const fileOutboxSchema = outboxSchema({ dir: Joi.string().min(1).required(), encryptionKey: encryptionKeySchema, ...outboxOptionsFields }).required();

/**
 * A durable outbox in `dir`. Pass it to `ltiaasGrades({ outbox })`: a grade that cannot be
 * delivered now is written (atomically, fsync'd) before the student's request is answered
 * with 202, then delivered in the background, across restarts.
 *
 * Checks and locks the folder synchronously, so a folder others can write to, or one another
 * process is using, is refused here with an OptionsError. `close()` (or the grades instance's
 * `close()`) releases the lock; the lock of a process that died is taken over.
 *
 * `now`, `setTimeout` and `clearTimeout` (default `Date.now` and the global timers) are the
 * outbox's clock and timer: a test passes its own to move time on without waiting.
 * @example
 * const grades = ltiaasGrades({ ltiaasUrl, apiKey, outbox: fileOutbox({ dir: '/var/lib/my-tool/outbox' }) });
 */
export function fileOutbox(options: FileOutboxOptions): GradeOutbox {
  const { dir, encryptionKey, ...outboxOptions } = validateOutboxOptions<ResolvedOutboxOptions & { dir: string; encryptionKey?: string }>(fileOutboxSchema, options, 'fileOutbox()');
  return new StorageOutbox(FileOutboxStorage.open(dir, encryptionKey === undefined ? undefined : new JobCipher(encryptionKey)), outboxOptions);
}
