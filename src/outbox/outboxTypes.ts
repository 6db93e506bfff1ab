// What the outbox stores for each grade, and the storage interface a durable outbox is built on.
import type { GradeDraft } from '../grades/deliverGrade';
import type { Logger } from '../logger';

/** A grade held for later delivery. Holds the ltik and service key: storage must be private. */
export interface StoredGradeJob {
  id: string;
  /** When the grade was accepted from the tool (ISO). */
  createdAt: string;
  /** Delivery attempts made so far. */
  attempts: number;
  /** Earliest time (ms since epoch) to try again. */
  nextAttemptAt: number;
  /** The last transient failure, for operators. */
  lastError?: JobError;
  draft: GradeDraft;
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
  const { draft } = job;
  return {
    id: job.id,
    createdAt: job.createdAt,
    attempts: job.attempts,
    nextAttemptAt: new Date(job.nextAttemptAt).toISOString(),
    ...(draft.userId !== undefined ? { userId: draft.userId } : {}),
    ...((draft.lineItemId ?? draft.fixedLineItemId) !== undefined ? { lineItemId: draft.lineItemId ?? draft.fixedLineItemId } : {}),
    ...(draft.lineItemSpec ? { resourceId: draft.lineItemSpec.resourceId } : {}),
    ...(draft.score.scoreGiven !== undefined ? { scoreGiven: draft.score.scoreGiven } : {}),
    ...(draft.score.scoreMaximum !== undefined ? { scoreMaximum: draft.score.scoreMaximum } : {}),
    ...(draft.timestamp !== undefined ? { timestamp: draft.timestamp } : {}),
    ...(job.lastError ? { lastError: job.lastError } : {}),
  };
}
