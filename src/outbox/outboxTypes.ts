// What the outbox stores for each grade (a versioned record of plain fields), and the storage interface a durable outbox is built on.
import type { ValidLineItemSpec } from '../grades/lineItemSchema';
import type { ValidScore } from '../grades/scoreSchema';
import type { Logger } from '../logger';

/** The version of the stored job record this package writes and reads (older records are upgraded on load). */
export const STORED_JOB_VERSION = 1;

/**
 * One grade as stored, in plain JSON fields: everything needed to deliver it without the
 * student, even after the ltik expired (the service key is kept as soon as the ID token shows
 * it). Built from the delivery's in-memory state and back by delivery/gradeRecord.ts.
 */
export interface GradeRecord {
  /** The launch's ltik (secret), when the grade came from a launch. */
  ltik?: string;
  /** The activity's service key (secret), once known. */
  serviceKey?: string;
  /** The LMS user being graded, once known. */
  userId?: string;
  /** The grade book (platform and context) the column is resolved in, once known. */
  scope?: string;
  resourceLinkId?: string;
  /** The tool's column, found or created by `resourceId` (and `tag`). */
  lineItemSpec?: ValidLineItemSpec;
  /** The column to use when no spec is given: the launch's own line item, or one named by the caller. */
  fixedLineItemId?: string;
  score: ValidScore;
  /** Fixed before the first POST and never changed, so a repeat is the same score to the LMS. */
  timestamp?: string;
  /** The column the score was last sent to. */
  lineItemId?: string;
  /**
   * The W3C trace context (`traceparent`) of the request that queued the grade, when a
   * tracer recorded it: its delivery's span links to it. Not a secret.
   */
  traceparent?: string;
}

/** A grade held for later delivery. Holds the ltik and service key: storage must be private. */
export interface StoredGradeJob {
  /** The record's version: {@link STORED_JOB_VERSION}. A record of another version is set aside, never guessed at. */
  v: typeof STORED_JOB_VERSION;
  id: string;
  /** When the grade was accepted from the tool (ISO). */
  createdAt: string;
  /**
   * When a person last re-queued it from the dead-letter list (ISO). `maxAgeMs` counts from here
   * once set: a grade re-queued after a week gets its full time again, not one attempt.
   */
  requeuedAt?: string;
  /** Delivery attempts made so far. */
  attempts: number;
  /** Earliest time (ms since epoch) to try again. */
  nextAttemptAt: number;
  /** The last transient failure, for operators. */
  lastError?: JobError;
  grade: GradeRecord;
}

/** Since when a job's `maxAgeMs` counts: its last re-queue, or its acceptance (ms since epoch). */
export function ageCountsFrom(job: StoredGradeJob): number {
  return Date.parse(job.requeuedAt ?? job.createdAt);
}

export interface JobError {
  code: string;
  message: string;
  upstreamStatus?: number;
  lmsMessage?: string;
}

/** A grade that LTIAAS or the LMS refused for good, kept for a person to look at and re-queue. */
export interface FailedGradeJob extends StoredGradeJob {
  failedAt: string;
  error: JobError;
}

/**
 * Durable storage of jobs. `save` must not resolve before the job would survive kill -9 (and,
 * for a file store, a power cut). Implement this to keep jobs elsewhere (a database, Redis).
 */
export interface OutboxStorage {
  save(job: StoredGradeJob): Promise<void>;
  remove(id: string): Promise<void>;
  loadPending(): Promise<StoredGradeJob[]>;
  /** Moves a job to the dead-letter list (written there before it leaves the pending list). */
  moveToFailed(job: FailedGradeJob): Promise<void>;
  loadFailed(): Promise<FailedGradeJob[]>;
  removeFailed(id: string): Promise<void>;
  /** Optional: where to report what the storage set aside (given when the outbox is connected). */
  useLogger?(logger: Required<Logger>): void;
  /** Optional: called by the outbox's close(), after deliveries under way finished (e.g. to release a lock). */
  close?(): Promise<void>;
}

/** A job as shown to people and logs: no ltik, no service key. */
export interface GradeJobView {
  id: string;
  createdAt: string;
  requeuedAt?: string;
  attempts: number;
  nextAttemptAt: string;
  userId?: string;
  lineItemId?: string;
  resourceId?: string;
  scoreGiven?: number;
  scoreMaximum?: number;
  timestamp?: string;
  lastError?: JobError;
}

export interface FailedGradeJobView extends GradeJobView {
  failedAt: string;
  error: JobError;
}

export function viewOf(job: StoredGradeJob): GradeJobView {
  const { grade } = job;
  return {
    id: job.id,
    createdAt: job.createdAt,
    ...(job.requeuedAt !== undefined ? { requeuedAt: job.requeuedAt } : {}),
    attempts: job.attempts,
    nextAttemptAt: new Date(job.nextAttemptAt).toISOString(),
    ...(grade.userId !== undefined ? { userId: grade.userId } : {}),
    ...((grade.lineItemId ?? grade.fixedLineItemId) !== undefined ? { lineItemId: grade.lineItemId ?? grade.fixedLineItemId } : {}),
    ...(grade.lineItemSpec ? { resourceId: grade.lineItemSpec.resourceId } : {}),
    ...(grade.score.scoreGiven !== undefined ? { scoreGiven: grade.score.scoreGiven } : {}),
    ...(grade.score.scoreMaximum !== undefined ? { scoreMaximum: grade.score.scoreMaximum } : {}),
    ...(grade.timestamp !== undefined ? { timestamp: grade.timestamp } : {}),
    ...(job.lastError ? { lastError: job.lastError } : {}),
  };
}
