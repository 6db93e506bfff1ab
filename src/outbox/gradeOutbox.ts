// The outbox: holds grades that could not be delivered now and delivers them in the background.
import { randomBytes } from 'node:crypto';
import { isLtiaasGradesError, type LtiaasGradesError } from '../errors';
import type { GradeDraft } from '../grades/deliverGrade';
import { silentLogger, type ResolvedLogger } from '../logger';
import { retryDelayMs } from '../client/retryPolicy';
import type { SubmittedGrade } from '../types';
import {
  viewOf,
  type FailedGradeJob,
  type FailedGradeJobView,
  type GradeJobView,
  type JobError,
  type OutboxStorage,
  type StoredGradeJob,
} from './outboxTypes';

/** Options of an outbox. */
export interface OutboxOptions {
  /** Grades delivered at once when LTIAAS is reachable. Default `8`. */
  concurrency?: number;
  /**
   * Backoff between delivery rounds while LTIAAS or the LMS is failing (exponential, full
   * jitter). Default `{ minDelayMs: 1000, maxDelayMs: 60000 }`.
   */
  retry?: { minDelayMs?: number; maxDelayMs?: number };
  /** A grade still undeliverable after this long moves to the dead-letter list. Default 7 days. */
  maxAgeMs?: number;
}

/** What one delivery attempt came to. */
export type JobOutcome =
  | { kind: 'delivered'; submitted: SubmittedGrade }
  | { kind: 'retry'; error: LtiaasGradesError }
  | { kind: 'failed'; error: LtiaasGradesError };

/** Delivers one job; `persist` saves what the job learned (user, service key) before it is used. */
export type JobDeliverer = (job: StoredGradeJob, persist: () => Promise<void>) => Promise<JobOutcome>;

export interface OutboxHooks {
  deliver: JobDeliverer;
  logger: ResolvedLogger;
  onDelivered(job: StoredGradeJob, submitted: SubmittedGrade): void;
  onFailed(job: FailedGradeJob, error: LtiaasGradesError): void;
}

const DAY_MS = 24 * 60 * 60 * 1000;

function jobErrorOf(error: unknown): JobError {
  if (!isLtiaasGradesError(error)) return { code: 'UNEXPECTED', message: 'The delivery failed unexpectedly.' };
  return {
    code: error.code,
    message: error.message,
    ...(error.upstream?.status !== undefined ? { upstreamStatus: error.upstream.status } : {}),
    ...(error.upstream?.lmsMessage !== undefined ? { lmsMessage: error.upstream.lmsMessage } : {}),
  };
}

/**
 * Jobs are delivered `concurrency` at a time. When a delivery fails in a way that may pass,
 * the outbox stops sending everything and probes with one job after a backoff; the first
 * success (or a direct submission that went through, see `wake`) sends everything again at
 * once, so an outage costs one probe per backoff instead of a retry storm.
 */
export class GradeOutbox {
  private readonly jobs = new Map<string, StoredGradeJob>();
  private readonly running = new Set<string>();
  private readonly concurrency: number;
  private readonly backoff: { retries: number; minDelayMs: number; maxDelayMs: number };
  private readonly maxAgeMs: number;
  private hooks?: OutboxHooks;
  private loaded?: Promise<void>;
  private consecutiveFailures = 0;
  private blockedUntil = 0;
  private timer?: NodeJS.Timeout;
  private closed = false;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly storage: OutboxStorage, options: OutboxOptions = {}) {
    this.concurrency = options.concurrency ?? 8;
    this.backoff = { retries: 0, minDelayMs: options.retry?.minDelayMs ?? 1000, maxDelayMs: options.retry?.maxDelayMs ?? 60_000 };
    this.maxAgeMs = options.maxAgeMs ?? 7 * DAY_MS;
  }

  private get logger(): ResolvedLogger {
    return this.hooks?.logger ?? silentLogger;
  }

  /** Connects the outbox to the grades instance that delivers its jobs, and loads what a previous run left. */
  connect(hooks: OutboxHooks): void {
    if (this.hooks) throw new Error('This outbox is already used by another ltiaasGrades() or ltiaasClient() instance.');
    this.hooks = hooks;
    this.loaded = this.storage.loadPending().then(
      (jobs) => {
        jobs.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
        for (const job of jobs) if (!this.jobs.has(job.id)) this.jobs.set(job.id, { ...job, nextAttemptAt: Math.min(job.nextAttemptAt, Date.now()) });
        if (jobs.length > 0) this.logger.info({ pending: jobs.length }, 'outbox: resuming grades left by a previous run');
        this.pump();
      },
      (error: unknown) => {
        this.logger.error({ error: (error as Error).message }, 'outbox: could not read the pending grades');
      },
    );
  }

  /** Stores a grade durably (resolves once it is on disk) and schedules its delivery. */
  async enqueue(draft: GradeDraft, reason: unknown): Promise<StoredGradeJob> {
    if (this.closed) throw new Error('The outbox is closed.');
    const now = Date.now();
    // The grade is here because LTIAAS just failed: count that, so the outbox probes after a
    // backoff instead of sending straight into the same failure.
    if (this.blockedUntil <= now) this.noteFailure(reason);
    const job: StoredGradeJob = {
      id: `${now.toString(36)}-${randomBytes(8).toString('hex')}`,
      createdAt: new Date(now).toISOString(),
      attempts: 0,
      nextAttemptAt: this.blockedUntil,
      lastError: jobErrorOf(reason),
      draft,
    };
    await this.storage.save(job);
    this.jobs.set(job.id, job);
    this.pump();
    return job;
  }

  /** Opens (or extends) the pause after a failure that may pass: exponential backoff, full jitter. */
  private noteFailure(error: unknown): number {
    const retryAfterMs = isLtiaasGradesError(error) ? error.upstream?.retryAfterMs : undefined;
    const delay = retryDelayMs(this.consecutiveFailures, this.backoff, retryAfterMs);
    this.consecutiveFailures += 1;
    this.blockedUntil = Date.now() + delay;
    return delay;
  }

  /** LTIAAS answered a direct submission: deliver everything held now instead of at the next probe. */
  wake(): void {
    if (this.consecutiveFailures === 0 && this.blockedUntil === 0) return;
    this.consecutiveFailures = 0;
    this.blockedUntil = 0;
    const now = Date.now();
    for (const job of this.jobs.values()) job.nextAttemptAt = Math.min(job.nextAttemptAt, now);
    this.pump();
  }

  private pump(): void {
    if (this.closed || !this.hooks) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    const now = Date.now();
    if (now < this.blockedUntil) {
      this.schedule(this.blockedUntil - now);
      return;
    }
    // While failing, one job probes; once LTIAAS answers, all of them go.
    const limit = this.consecutiveFailures > 0 ? 1 : this.concurrency;
    // The map is in the order grades were accepted, oldest first; the walk stops as soon as the
    // slots are full, so a backlog of 100k grades costs a few steps per delivery, not a scan.
    let nextDue = Infinity;
    for (const job of this.jobs.values()) {
      if (this.running.size >= limit) break;
      if (this.running.has(job.id)) continue;
      if (job.nextAttemptAt <= now) this.start(job);
      else nextDue = Math.min(nextDue, job.nextAttemptAt);
    }
    // Full slots need no timer: each finished delivery pumps again.
    if (this.running.size < limit && nextDue !== Infinity) this.schedule(nextDue - now);
    this.notifyIfIdle();
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.pump(), Math.max(0, delayMs));
    this.timer.unref?.();
  }

  private start(job: StoredGradeJob): void {
    this.running.add(job.id);
    job.attempts += 1;
    const persist = () => this.storage.save(job);
    this.hooks!
      .deliver(job, persist)
      .then(
        (outcome) => this.settle(job, outcome),
        (error: unknown) => this.settle(job, { kind: 'retry', error: error as LtiaasGradesError }),
      )
      .catch((error: unknown) => this.logger.error({ id: job.id, error: (error as Error).message }, 'outbox: could not record a delivery'))
      .finally(() => {
        this.running.delete(job.id);
        this.pump();
      });
  }

  private async settle(job: StoredGradeJob, outcome: JobOutcome): Promise<void> {
    if (outcome.kind === 'delivered') {
      // Marked done right after LTIAAS said 2xx. A crash before this line repeats the score
      // with the same timestamp, which the LMS treats as the same score.
      this.jobs.delete(job.id);
      await this.storage.remove(job.id);
      this.consecutiveFailures = 0;
      this.blockedUntil = 0;
      this.hooks!.onDelivered(job, outcome.submitted);
      return;
    }
    if (outcome.kind === 'failed') {
      // LTIAAS answered, so it is reachable: only this grade is refused.
      this.consecutiveFailures = 0;
      this.blockedUntil = 0;
      await this.moveToFailed(job, outcome.error);
      return;
    }
    job.lastError = jobErrorOf(outcome.error);
    if (Date.now() - Date.parse(job.createdAt) > this.maxAgeMs) {
      await this.moveToFailed(job, outcome.error, `Gave up after ${Math.round(this.maxAgeMs / 3_600_000)} h: ${outcome.error.message}`);
      return;
    }
    const delay = this.noteFailure(outcome.error);
    job.nextAttemptAt = this.blockedUntil;
    this.logger.warn({ id: job.id, code: job.lastError.code, attempts: job.attempts, retryInMs: delay }, 'outbox: delivery failed, will retry');
    await this.storage.save(job);
  }

  private async moveToFailed(job: StoredGradeJob, error: LtiaasGradesError, message?: string): Promise<void> {
    const failed: FailedGradeJob = { ...job, failedAt: new Date().toISOString(), error: { ...jobErrorOf(error), ...(message ? { message } : {}) } };
    this.jobs.delete(job.id);
    await this.storage.moveToFailed(failed);
    this.hooks!.onFailed(failed, error);
  }

  private notifyIfIdle(): void {
    if (this.jobs.size > 0 || this.running.size > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Grades waiting for delivery (no secrets in the views). */
  async pending(): Promise<GradeJobView[]> {
    await this.loaded;
    return [...this.jobs.values()].map(viewOf);
  }

  /** Grades refused for good, with the LMS's message; `requeue(id)` sends one again. */
  async failed(): Promise<FailedGradeJobView[]> {
    const jobs = await this.storage.loadFailed();
    return jobs.map((job) => ({ ...viewOf(job), failedAt: job.failedAt, error: job.error }));
  }

  /** Moves a dead-letter grade back to the pending list (after fixing its cause, e.g. enrolling the student). */
  async requeue(id: string): Promise<boolean> {
    const failed = (await this.storage.loadFailed()).find((job) => job.id === id);
    if (!failed) return false;
    const { failedAt: _failedAt, error: _error, ...job } = failed;
    const pending: StoredGradeJob = { ...job, attempts: 0, nextAttemptAt: Date.now() };
    delete pending.lastError;
    await this.storage.save(pending);
    await this.storage.removeFailed(id);
    this.jobs.set(id, pending);
    this.pump();
    return true;
  }

  /** Resolves when nothing is pending, or with false after `timeoutMs`. */
  async drain(timeoutMs = 60_000): Promise<boolean> {
    await this.loaded;
    if (this.jobs.size === 0 && this.running.size === 0) return true;
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** Stops scheduling; deliveries under way finish. Pending grades stay on disk for the next run. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    while (this.running.size > 0) await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
