// The outbox over a storage: holds grades that could not be delivered now and delivers them in the background.
import { randomBytes } from 'node:crypto';
import { gradesError, isLtiaasGradesError, OptionsError, outboxUnavailable, type LtiaasGradesError } from '../errors';
import { silentLogger, type ResolvedLogger } from '../logger';
import { MAX_TIMER_DELAY_MS, retryDelayMs } from '../client/retryPolicy';
import { gaveUpMessage } from './gaveUpMessage';
import type { GradeOutbox, JobOutcome, OutboxStats, OutboxWorker } from './outbox';
import { resolveOutboxOptions } from './outboxOptions';
import {
  ageCountsFrom,
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
  /**
   * The outbox's clock, in milliseconds since the epoch: it stamps `createdAt` and `failedAt`,
   * sets when each grade is due, and measures `maxAgeMs`. Default `Date.now` (read at each call).
   * Tests pass their own to move time on without waiting.
   */
  now?: () => number;
  /**
   * Arms the outbox's timers: the next delivery round while LTIAAS fails, and `drain()`'s
   * timeout. Called with delays of 0 to 2^31 - 1 ms; what it returns is only passed back to
   * `clearTimeout` (and its `unref()` is called when it has one, so a waiting outbox never keeps
   * the process alive). Default the global `setTimeout` (read at each call). Give `clearTimeout`
   * with it.
   */
  setTimeout?: (callback: () => void, delayMs: number) => unknown;
  /** Cancels a timer that `setTimeout` returned. Default the global `clearTimeout`; required with `setTimeout`. */
  clearTimeout?: (timer: unknown) => void;
}

/** A delay setTimeout keeps as given: at least 0, at most about 24.8 days (a longer one would fire after 1 ms; longer waits are re-armed on wake-up). */
const timerDelayMs = (delayMs: number) => (Number.isNaN(delayMs) ? 0 : Math.min(MAX_TIMER_DELAY_MS, Math.max(0, delayMs)));

/** Retries of one job whose dead-letter write failed count up to this in its backoff. */
const MAX_JOB_BACKOFF_STEP = 20;

export function jobErrorOf(error: unknown): JobError {
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
  private readonly now: () => number;
  private readonly setTimer: (callback: () => void, delayMs: number) => unknown;
  private readonly clearTimer: (timer: unknown) => void;
  private hooks?: OutboxWorker;
  private loaded?: Promise<void>;
  private consecutiveFailures = 0;
  private blockedUntil = 0;
  private timer?: unknown;
  private closed = false;
  private idleWaiters: Array<() => void> = [];
  /** The deliveries under way, settled (never rejected) once their outcome is recorded: close() waits for them. */
  private readonly deliveries = new Set<Promise<void>>();

  /** Validates `options` (OptionsError naming the option and the fix). `storage` may be any {@link OutboxStorage}: see storageOutbox(). */
  constructor(private readonly storage: OutboxStorage, options: OutboxOptions = {}) {
    const resolved = resolveOutboxOptions(options);
    this.concurrency = resolved.concurrency;
    this.backoff = { retries: 0, ...resolved.retry };
    this.maxAgeMs = resolved.maxAgeMs;
    this.now = resolved.now;
    this.setTimer = resolved.setTimeout;
    this.clearTimer = resolved.clearTimeout;
  }

  /** Arms a timer on the outbox's clock; it never keeps the process alive on its own. */
  private arm(callback: () => void, delayMs: number): unknown {
    const timer = this.setTimer(callback, timerDelayMs(delayMs));
    (timer as { unref?: () => void } | undefined)?.unref?.();
    return timer;
  }

  private disarm(): void {
    if (this.timer !== undefined) this.clearTimer(this.timer);
    this.timer = undefined;
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
        const now = this.now();
        for (const job of jobs) if (!this.jobs.has(job.id)) this.jobs.set(job.id, { ...job, nextAttemptAt: Math.min(job.nextAttemptAt, now) });
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
    const now = this.now();
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
    this.blockedUntil = this.now() + delay;
    return delay;
  }

  /** LTIAAS answered a direct submission: deliver everything held now instead of at the next probe. */
  wake(): void {
    if (this.consecutiveFailures === 0 && this.blockedUntil === 0) return;
    this.consecutiveFailures = 0;
    this.blockedUntil = 0;
    const now = this.now();
    for (const job of this.jobs.values()) job.nextAttemptAt = Math.min(job.nextAttemptAt, now);
    this.pump();
  }

  private pump(): void {
    if (this.closed || !this.hooks) return;
    this.disarm();
    const now = this.now();
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
    this.disarm();
    this.timer = this.arm(() => {
      this.timer = undefined;
      this.pump();
    }, delayMs);
  }

  private start(job: StoredGradeJob): void {
    this.running.add(job.id);
    job.attempts += 1;
    const persist = (grade: GradeRecord) => {
      job.grade = grade;
      return this.storage.save(job);
    };
    const delivery: Promise<void> = this.hooks!
      .deliver(job, persist)
      .then(
        (outcome) => this.settle(job, outcome),
        (error: unknown) => this.settle(job, { kind: 'retry', error: error as LtiaasGradesError }),
      )
      .catch((error: unknown) => this.logger.error({ id: job.id, error: (error as Error).message }, 'outbox: could not record a delivery'))
      .finally(() => {
        this.deliveries.delete(delivery);
        this.running.delete(job.id);
        this.pump();
      });
    this.deliveries.add(delivery);
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
    if (this.now() - ageCountsFrom(job) > this.maxAgeMs) {
      await this.moveToFailed(job, outcome.error, gaveUpMessage(this.maxAgeMs, outcome.error.message));
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
    const failed: FailedGradeJob = { ...job, failedAt: new Date(this.now()).toISOString(), error: { ...jobErrorOf(error), ...(message ? { message } : {}) } };
    try {
      await this.storage.moveToFailed(failed);
    } catch (writeError) {
      const delay = retryDelayMs(Math.min(Math.max(0, job.attempts - 1), MAX_JOB_BACKOFF_STEP), this.backoff);
      job.lastError = failed.error;
      job.nextAttemptAt = this.now() + delay;
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
    const pausedUntil = this.blockedUntil > this.now() ? this.blockedUntil : undefined;
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
    const pending: StoredGradeJob = { ...job, requeuedAt: new Date(this.now()).toISOString(), attempts: 0, nextAttemptAt: this.now() };
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

  /** Resolves when nothing is pending, or with false after `timeoutMs` on the outbox's clock. */
  async drain(timeoutMs = 60_000): Promise<boolean> {
    await this.loaded;
    if (this.jobs.size === 0 && this.running.size === 0) return true;
    return new Promise<boolean>((resolve) => {
      const idle = () => {
        this.clearTimer(timer);
        resolve(true);
      };
      const timer = this.arm(() => {
        this.idleWaiters = this.idleWaiters.filter((waiter) => waiter !== idle);
        resolve(false);
      }, timeoutMs);
      this.idleWaiters.push(idle);
    });
  }

  /**
   * Stops scheduling; deliveries under way finish. Pending grades stay stored for the next run,
   * and the storage is closed (a file outbox releases its folder's lock).
   */
  async close(): Promise<void> {
    this.closed = true;
    this.disarm();
    // Waits for the deliveries themselves, not a polling timer: nothing here depends on the clock.
    while (this.deliveries.size > 0) await Promise.all([...this.deliveries]);
    await this.storage.close?.();
  }
}

/**
 * An outbox that keeps its jobs in `storage` (a database table, say) instead of a folder, with
 * the file outbox's delivery rules: backoff, one probe while failing, dead-letter list.
 * Options are validated here (OptionsError naming every problem and its fix). `now`,
 * `setTimeout` and `clearTimeout` put the outbox on another clock (a test's, say).
 * @example const outbox = storageOutbox(myStorage, { concurrency: 4 });
 */
export function storageOutbox(storage: OutboxStorage, options: OutboxOptions = {}): GradeOutbox {
  return new StorageOutbox(storage, options);
}
