// The outbox seam: what a grades instance needs from an outbox (the file outbox, or one of your own), and its shape check.
import type { LtiaasGradesError } from '../errors';
import type { Logger } from '../logger';
import type { SubmittedGrade } from '../types';
import type { FailedGradeJob, FailedGradeJobView, GradeJobView, GradeRecord, StoredGradeJob } from './outboxTypes';

/**
 * What one delivery attempt of a job came to. A job that is not delivered comes back with its
 * grade as the attempt left it (user, column, service key learned): the outbox keeps that.
 */
export type JobOutcome =
  | { kind: 'delivered'; submitted: SubmittedGrade }
  | { kind: 'retry'; error: LtiaasGradesError; grade?: GradeRecord }
  | { kind: 'failed'; error: LtiaasGradesError; grade?: GradeRecord };

/**
 * Delivers one job. `persist` stores what the attempt learned (user, service key, timestamp)
 * before it is used, so that a crash in between cannot lose it.
 */
export type JobDeliverer = (job: StoredGradeJob, persist: (grade: GradeRecord) => Promise<void>) => Promise<JobOutcome>;

/** What the grades instance gives its outbox in `connect`: how to deliver a job, and whom to tell. */
export interface OutboxWorker {
  deliver: JobDeliverer;
  logger: Required<Logger>;
  /** A job reached the grade book (the outbox has forgotten it). */
  onDelivered(job: StoredGradeJob, submitted: SubmittedGrade): void;
  /** A job was refused for good and is now on the dead-letter list. */
  onFailed(job: FailedGradeJob, error: LtiaasGradesError): void;
}

/**
 * Holds grades that could not be delivered now and delivers them later, through the worker it
 * is connected to. `ltiaasGrades({ outbox })` and `ltiaasClient({ outbox })` take any object
 * with these methods: `fileOutbox({ dir })`, or your own (one shared by several instances,
 * say). Views never hold secrets.
 */
export interface Outbox {
  /** Called once, by the grades instance that delivers this outbox's jobs. Throw if already connected. */
  connect(worker: OutboxWorker): void;
  /** Stores the grade durably (resolve only once it would survive a crash); `reason` is why it could not be delivered now. */
  enqueue(grade: GradeRecord, reason: unknown): Promise<{ id: string }>;
  /** LTIAAS just took a grade: deliver what is held now instead of after the backoff. Must not throw. */
  wake(): void | Promise<void>;
  /** Grades waiting for delivery. */
  pending(): Promise<GradeJobView[]>;
  /** Grades refused for good (the dead-letter list). */
  failed(): Promise<FailedGradeJobView[]>;
  /** Moves a dead-letter grade back to the pending list; false when there is no such failed grade. */
  requeue(id: string): Promise<boolean>;
  /** Removes a dead-letter grade for good; false when there is no such failed grade. */
  discard(id: string): Promise<boolean>;
  /** Stops delivering; pending grades stay stored for the next run. */
  close(): Promise<void>;
  /**
   * Optional: counts for `grades.status()` and the outbox gauges, without listing every grade.
   * An outbox without it is counted through `pending()` and `failed()`.
   */
  stats?(): Promise<OutboxStats>;
}

/** What an outbox holds and whether it is holding back, as `grades.status()` reports it. */
export interface OutboxStats {
  /** Grades waiting for delivery. */
  pending: number;
  /** Grades refused for good (the dead-letter list). */
  failed: number;
  /** When the oldest pending grade was accepted (ISO 8601); absent when nothing is pending. */
  oldestPendingAt?: string;
  /** True while delivery is held back because LTIAAS or the LMS kept failing (one probe at a time). */
  paused: boolean;
  /** When the next delivery attempt is due while paused (ISO 8601). */
  pausedUntil?: string;
  /** Delivery attempts that failed in a row in a way that may pass (0 once one succeeds). */
  consecutiveFailures: number;
}

/** The methods of {@link Outbox}, in the order a message lists them. */
export const OUTBOX_METHODS = ['connect', 'enqueue', 'wake', 'pending', 'failed', 'requeue', 'discard', 'close'] as const;

/** The outbox methods `value` lacks (all of them for a value that is not an object). */
export function missingOutboxMethods(value: unknown): string[] {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return [...OUTBOX_METHODS];
  return OUTBOX_METHODS.filter((method) => typeof (value as Record<string, unknown>)[method] !== 'function');
}

/** The outbox `fileOutbox()` and `storageOutbox()` make: an {@link Outbox} that can also wait until nothing is pending. */
export interface GradeOutbox extends Outbox {
  /** Resolves true once nothing is pending, or false after `timeoutMs` (default 60000). */
  drain(timeoutMs?: number): Promise<boolean>;
}
