// The outbox over a storage: holds grades that could not be delivered now and delivers them in the background.
import { randomBytes } from 'node:crypto';
import { gradesError, isLtiaasGradesError, OptionsError, outboxUnavailable, type LtiaasGradesError } from '../errors';
import { silentLogger, type ResolvedLogger } from '../logger';
import { retryDelayMs } from '../client/retryPolicy';
import type { GradeOutbox, JobOutcome, OutboxStats, OutboxWorker } from './outbox';
import { resolveOutboxOptions } from './outboxOptions';
import {
  STORED_JOB_VERSION,
  viewOf,
  type FailedGradeJob,
  type FailedGradeJobView,
  type GradeJobView,
  type GradeRecord,
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
   * jitter). Default `{ minDelayMs: 1000, maxDelayMs: 60000 }`; `minDelayMs <= maxDelayMs <= 3600000`
   * (1 hour), and `minDelayMs` defaults to `maxDelayMs` when that is below 1000.
   */
  retry?: { minDelayMs?: number; maxDelayMs?: number };
  /** A grade still undeliverable after this long moves to the dead-letter list. Default 7 days. */
  maxAgeMs?: number;
}

/** setTimeout fires a longer delay after 1 ms (a timer spinning every millisecond); longer waits are re-armed on wake-up. */
const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/** A delay setTimeout keeps as given: at least 0, at most about 24.8 days. */
const timerDelayMs = (delayMs: number) => (Number.isNaN(delayMs) ? 0 : Math.min(MAX_TIMER_DELAY_MS, Math.max(0, delayMs)));

/** Retries of one job whose dead-letter write failed count up to this in its backoff. */
const MAX_JOB_BACKOFF_STEP = 20;

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
export class StorageOutbox implements GradeOutbox {
  private readonly jobs = new Map<string, StoredGradeJob>();
  private readonly running = new Set<string>();
  private readonly concurrency: number;
  private readonly backoff: { retries: number; minDelayMs: number; maxDelayMs: number };
  private readonly maxAgeMs: number;
  private hooks?: OutboxWorker;
  private loaded?: Promise<void>;
  private consecutiveFailures = 0;
  private blockedUntil = 0;
  private timer?: NodeJS.Timeout;
  private closed = false;
  private idleWaiters: Array<() => void> = [];

  /** Validates `options` (OptionsError naming the option and the fix). `storage` may be any {@link OutboxStorage}: see storageOutbox(). */
  constructor(private readonly storage: OutboxStorage, options: OutboxOptions = {}) {
    const resolved = resolveOutboxOptions(options);
    this.concurrency = resolved.concurrency;
    this.backoff = { retries: 0, ...resolved.retry };
    this.maxAgeMs = resolved.maxAgeMs;
  }

  private get logger(): ResolvedLogger {
    return this.hooks?.logger ?? silentLogger;
  }

  /** Connects the outbox to the grades instance that delivers its jobs, and loads what a previous run left. */
  connect(hooks: OutboxWorker): void {
    if (this.hooks) {
      throw new OptionsError('This outbox is already used by another ltiaasGrades() or ltiaasClient() instance; make one outbox per instance, each with its own folder.');
    }
    this.hooks = hooks;
    this.storage.useLogger?.(hooks.logger);
    this.loaded = this.storage
      .loadPending()
      .then((jobs) => {
        jobs.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
        for (const job of jobs) if (!this.jobs.has(job.id)) this.jobs.set(job.id, { ...job, nextAttemptAt: Math.min(job.nextAttemptAt, Date.now()) });
        if (jobs.length > 0) this.logger.info({ pending: jobs.length }, 'outbox: resuming grades left by a previous run');
        this.pump();
      })
      // Caught after the handler too: nothing a stored file holds may become an unhandled rejection (a crash).
      .catch((error: unknown) => {
        this.logger.error({ error: (error as Error).message }, 'outbox: could not read the pending grades');
      });
  }

  /** Stores a grade durably (resolves once it is on disk) and schedules its delivery. */
  async enqueue(grade: GradeRecord, reason: unknown): Promise<StoredGradeJob> {
    if (this.closed) {
      throw gradesError('OUTBOX_UNAVAILABLE', { message: 'The outbox is closed: the grade was not stored.', retryable: false });
    }
    const now = Date.now();
    // The grade is here because LTIAAS just failed: count that, so the outbox probes after a
    // backoff instead of sending straight into the same failure.
    if (this.blockedUntil <= now) this.noteFailure(reason);
    const job: StoredGradeJob = {
      v: STORED_JOB_VERSION,
      id: `${now.toString(36)}-${randomBytes(8).toString('hex')}`,
      createdAt: new Date(now).toISOString(),
      attempts: 0,
      nextAttemptAt: this.blockedUntil,
      lastError: jobErrorOf(reason),
      grade,
    };
    await this.storage.save(job).catch(outboxUnavailable('enqueue', 'store the grade'));
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
    this.timer = setTimeout(() => this.pump(), timerDelayMs(delayMs));
    this.timer.unref?.();
  }

  private start(job: StoredGradeJob): void {
    this.running.add(job.id);
    job.attempts += 1;
    const persist = (grade: GradeRecord) => {
      job.grade = grade;
      return this.storage.save(job);
    };
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
    // What the attempt learned (user, column, service key) is kept with the job, delivered or not.
    if (outcome.kind !== 'delivered' && outcome.grade) job.grade = outcome.grade;
    if (outcome.kind === 'delivered') {
      // Marked done right after LTIAAS said 2xx. A crash before the removal repeats the score
      // with the same timestamp, which the LMS treats as the same score.
      this.jobs.delete(job.id);
      this.consecutiveFailures = 0;
      this.blockedUntil = 0;
      try {
        await this.storage.remove(job.id);
      } catch (error) {
        this.logger.error({ id: job.id, error: (error as Error).message }, 'outbox: grade delivered, but its file could not be removed; the next start sends it again, with the same timestamp');
      }
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

  /**
   * Moves a refused grade to the dead-letter list. It leaves the pending list only once the
   * dead-letter write succeeded: if that fails, the grade stays pending (shown with the refusal)
   * and is tried again after a backoff, so it is never in neither list.
   */
  private async moveToFailed(job: StoredGradeJob, error: LtiaasGradesError, message?: string): Promise<void> {
    const failed: FailedGradeJob = { ...job, failedAt: new Date().toISOString(), error: { ...jobErrorOf(error), ...(message ? { message } : {}) } };
    try {
      await this.storage.moveToFailed(failed);
    } catch (writeError) {
      const delay = retryDelayMs(Math.min(Math.max(0, job.attempts - 1), MAX_JOB_BACKOFF_STEP), this.backoff);
      job.lastError = failed.error;
      job.nextAttemptAt = Date.now() + delay;
      this.logger.error(
        { id: job.id, code: failed.error.code, error: (writeError as Error).message, retryInMs: delay },
        'outbox: grade refused, but the dead-letter list could not be written; it stays pending and is tried again',
      );
      await this.storage.save(job).catch(() => undefined);
      return;
    }
    this.jobs.delete(job.id);
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
    const jobs = await this.storage.loadFailed().catch(outboxUnavailable('failed', 'read its dead-letter list'));
    return jobs.map((job) => ({ ...viewOf(job), failedAt: job.failedAt, error: job.error }));
  }

  /**
   * Counts for grades.status() and the outbox gauges: the pending ones from memory, the failed
   * ones from the storage's dead-letter list, and whether delivery is held back after failures.
   */
  async stats(): Promise<OutboxStats> {
    await this.loaded;
    const failed = await this.storage.loadFailed().catch(outboxUnavailable('stats', 'read its dead-letter list'));
    let oldest = Infinity;
    for (const job of this.jobs.values()) oldest = Math.min(oldest, Date.parse(job.createdAt));
    const pausedUntil = this.blockedUntil > Date.now() ? this.blockedUntil : undefined;
    return {
      pending: this.jobs.size,
      failed: failed.length,
      ...(oldest !== Infinity ? { oldestPendingAt: new Date(oldest).toISOString() } : {}),
      paused: pausedUntil !== undefined,
      ...(pausedUntil !== undefined ? { pausedUntil: new Date(pausedUntil).toISOString() } : {}),
      consecutiveFailures: this.consecutiveFailures,
    };
  }

  /** Moves a dead-letter grade back to the pending list (after fixing its cause, e.g. enrolling the student). */
  async requeue(id: string): Promise<boolean> {
    const failed = (await this.storage.loadFailed().catch(outboxUnavailable('requeue', 'read its dead-letter list'))).find((job) => job.id === id);
    if (!failed) return false;
    const { failedAt: _failedAt, error: _error, ...job } = failed;
    const pending: StoredGradeJob = { ...job, attempts: 0, nextAttemptAt: Date.now() };
    delete pending.lastError;
    // Pending first, in memory only once it is on disk; a failed removal below leaves it in both lists, never in none.
    await this.storage.save(pending).catch(outboxUnavailable('requeue', 'store the grade again'));
    this.jobs.set(id, pending);
    this.pump();
    try {
      await this.storage.removeFailed(id);
    } catch (error) {
      this.logger.error({ id, error: (error as Error).message }, 'outbox: grade re-queued, but it could not be removed from the dead-letter list');
    }
    return true;
  }

  /** Removes a dead-letter grade for good (its cause cannot be fixed, or it was graded another way). */
  async discard(id: string): Promise<boolean> {
    const failed = (await this.storage.loadFailed()).find((job) => job.id === id);
    if (!failed) return false;
    await this.storage.removeFailed(id);
    this.logger.info({ id }, 'outbox: dead-letter grade discarded');
    return true;
  }

  /** Resolves when nothing is pending, or with false after `timeoutMs`. */
  async drain(timeoutMs = 60_000): Promise<boolean> {
    await this.loaded;
    if (this.jobs.size === 0 && this.running.size === 0) return true;
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timerDelayMs(timeoutMs));
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /**
   * Stops scheduling; deliveries under way finish. Pending grades stay stored for the next run,
   * and the storage is closed (a file outbox releases its folder's lock).
   */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    while (this.running.size > 0) await new Promise((resolve) => setTimeout(resolve, 10));
    await this.storage.close?.();
  }
}

/**
 * An outbox that keeps its jobs in `storage` (a database table, say) instead of a folder, with
 * the file outbox's delivery rules: backoff, one probe while failing, dead-letter list.
 * Options are validated here (OptionsError naming the option and the fix).
 * @example const outbox = storageOutbox(myStorage, { concurrency: 4 });
 */
export function storageOutbox(storage: OutboxStorage, options: OutboxOptions = {}): GradeOutbox {
  return new StorageOutbox(storage, options);
}
