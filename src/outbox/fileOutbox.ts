// fileOutbox(): a durable outbox kept in a folder of private JSON files, with no extra dependency.
import Joi from 'joi';
import { OptionsError } from '../errors';
import { FileOutboxStorage } from './fileOutboxStorage';
import { GradeOutbox, type OutboxOptions } from './gradeOutbox';

/** Options of {@link fileOutbox}. */
export interface FileOutboxOptions extends OutboxOptions {
  /** Folder for the outbox (created 0700; files 0600, they hold ltiks and service keys). Required. */
  dir: string;
}

const fileOutboxSchema = Joi.object({
  dir: Joi.string().min(1).required(),
  concurrency: Joi.number().integer().min(1).max(256).default(8),
  retry: Joi.object({
    minDelayMs: Joi.number().integer().min(1).default(1000),
    maxDelayMs: Joi.number().integer().min(1).default(60_000),
  }).default(),
  maxAgeMs: Joi.number().integer().min(1000).default(7 * 24 * 60 * 60 * 1000),
});

/**
 * A durable outbox in `dir`. Pass it to `ltiaasGrades({ outbox })`: a grade that cannot be
 * delivered now is written (atomically, fsync'd) before the student's request is answered
 * with 202, then delivered in the background, across restarts.
 * @example
 * const grades = ltiaasGrades({ ltiaasUrl, apiKey, outbox: fileOutbox({ dir: '/var/lib/my-tool/outbox' }) });
 */
export function fileOutbox(options: FileOutboxOptions): GradeOutbox {
  const { value, error } = fileOutboxSchema.validate(options);
  if (error) throw new OptionsError(`fileOutbox(): ${error.details[0]!.message}; pass { dir: '/path/to/outbox' }.`);
  return new GradeOutbox(new FileOutboxStorage(value.dir), value);
}
