// fileOutbox(): a durable outbox kept in a folder of private JSON files, with no extra dependency.
import Joi from 'joi';
import { FileOutboxStorage } from './fileOutboxStorage';
import { GradeOutbox, type OutboxOptions } from './gradeOutbox';
import { outboxOptionsFields, validateOutboxOptions, type ResolvedOutboxOptions } from './outboxOptions';

/** Options of {@link fileOutbox}. */
export interface FileOutboxOptions extends OutboxOptions {
  /** Folder for the outbox (created 0700; files 0600, they hold ltiks and service keys). Required. */
  dir: string;
}

const fileOutboxSchema = Joi.object({ dir: Joi.string().min(1).required(), ...outboxOptionsFields }).required();

/**
 * A durable outbox in `dir`. Pass it to `ltiaasGrades({ outbox })`: a grade that cannot be
 * delivered now is written (atomically, fsync'd) before the student's request is answered
 * with 202, then delivered in the background, across restarts.
 * @example
 * const grades = ltiaasGrades({ ltiaasUrl, apiKey, outbox: fileOutbox({ dir: '/var/lib/my-tool/outbox' }) });
 */
export function fileOutbox(options: FileOutboxOptions): GradeOutbox {
  const { dir, ...outboxOptions } = validateOutboxOptions<ResolvedOutboxOptions & { dir: string }>(fileOutboxSchema, options, 'fileOutbox()');
  return new GradeOutbox(new FileOutboxStorage(dir), outboxOptions);
}
