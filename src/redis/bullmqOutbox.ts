// bullmqOutbox(): an outbox on a BullMQ queue in Redis, shared by every tool instance, with its jobs encrypted; startOutboxWorker() for processes that deliver.
//
// Interface:
//   bullmqOutbox(options: BullmqOutboxOptions): BullmqOutbox     options checked here (OPTIONS_INVALID)
//   startOutboxWorker(outbox: BullmqOutbox): Promise<void>        delivers in this process; resolves once the worker listens
//
// One job per grade (its id a keyed digest of the grade), added only once Redis acknowledged it.
// Delivery is BullMQ's: workers in every process whose outbox delivers, retries by BullMQ's
// attempts and a custom backoff (the outbox's retry policy, LTIAAS's Retry-After as a floor,
// capped at retry.maxDelayMs), and while LTIAAS fails a pause of all instances by BullMQ's
// global rate limit with one probe at a time (outboxGate.ts). Final refusals stay in BullMQ's
// failed set with the LMS's message, for failed(), requeue() and discard().
import type { Job, Queue, Worker } from 'bullmq';
import { gradesError, OptionsError, outboxUnavailable, type LtiaasGradesError } from '../errors';
import { silentLogger, type ResolvedLogger } from '../logger';
import { gaveUpMessage } from '../outbox/gaveUpMessage';
import { jobErrorOf } from '../outbox/gradeOutbox';
import { JobCipher } from '../outbox/jobCipher';
import type { GradeOutbox, JobOutcome, OutboxStats, OutboxWorker } from '../outbox/outbox';
import {
  ageCountsFrom,
  STORED_JOB_VERSION,
  viewOf,
  type FailedGradeJob,
  type FailedGradeJobView,
  type GradeJobView,
  type GradeRecord,
  type JobError,
  type StoredGradeJob,
} from '../outbox/outboxTypes';
import { JOB_ID_PATTERN, readFailedJob, readStoredJob } from '../outbox/storedJobSchema';
import { retryDelayMs } from '../client/retryPolicy';
import { isIoredisClient, resolveBullmqOutboxOptions, type BullmqOutboxOptions, type ResolvedBullmqOutboxOptions } from './bullmqOptions';
import { loadBullmq, loadIoredis, type BullmqModule } from './bullmqModule';
import { DeliverySlots } from './deliverySlots';
import { OutboxGate, type GateDecision } from './outboxGate';
import type { RedisClientLike } from './redisClient';

/** What {@link bullmqOutbox} returns: an outbox for `ltiaasGrades({ outbox })`, with counts for status pages. */
export interface BullmqOutbox extends GradeOutbox {
  stats(): Promise<OutboxStats>;
}

/** The job's name in BullMQ (every job of the queue is a grade). */
const JOB_NAME = 'grade';
/** The custom backoff strategy's name, stored in each job's options. */
const BACKOFF_TYPE = 'ltiaas-grades';
/** BullMQ stops retrying after `attempts`; the outbox gives up by age (`maxAgeMs`) instead. */
const MAX_ATTEMPTS = 2 ** 31 - 1;
/** BullMQ applies a manual rate limit only to workers with a limiter: one far above any real rate. */
const LIMITER = { max: 1_000_000, duration: 1000 };
/**
 * BullMQ fetches jobs one after another and refills its slots only between deliveries; it holds
 * this many times `concurrency` jobs, of which `concurrency` are delivered at once (DeliverySlots),
 * so that a delivery starts the moment another ends.
 */
const PREFETCH_FACTOR = 2;
/** How often a paused worker looks again (BullMQ's maximumRateLimitDelay): the lag between a probe's success and the other instances' return. */
const PAUSE_POLL_MS = 100;
/** A student's request waits at most this long for Redis to take a grade, then is answered as not delivered. */
const ENQUEUE_DEADLINE_MS = 5000;
/** A worker whose job stalled (its process died) gets it back this many times before BullMQ fails it. */
const MAX_STALLED_COUNT = 3;
/** wake() asks Redis at most this often: a direct success ends an outage, not every direct success. */
const WAKE_INTERVAL_MS = 1000;
/** How long close() waits for Redis to be reachable again before it gives up on a graceful close of the worker (ioredis 6 retries at most 5.2 s apart). */
const CLOSE_WAIT_MS = 6000;
/** How long drain() waits between looks at the queue. */
const DRAIN_POLL_MS = 25;

/** The connections this outbox opens: ioredis clients, as far as it calls them. */
interface OwnConnection extends RedisClientLike {
  readonly status: string;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  disconnect(): void;
}

interface Producer {
  bull: BullmqModule;
  connection: OwnConnection;
  queue: Queue;
}

interface RunningWorker {
  connection: OwnConnection;
  /** A queue handle on the worker's connection, for the pause (rate limit) and promotions from inside a delivery. */
  control: Queue;
  worker: Worker;
  /** The outbox's `concurrency`: deliveries under way at once in this process. */
  slots: DeliverySlots;
}

/** A retryable failure, as thrown to BullMQ: the code only (Redis keeps the message), and the pause the backoff strategy returns. */
class OutboxRetryError extends Error {
  constructor(code: string, readonly delayMs: number) {
    super(code);
    this.name = 'OutboxRetryError';
    this.stack = `${this.name}: ${code}`;
  }
}

/** JSON with sorted keys: the same grade always gives the same text, hence the same job id. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter((entry) => entry[1] !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

const iso = (ms: number) => new Date(ms).toISOString();

const UNREADABLE: JobError = { code: 'OUTBOX_UNREADABLE', message: 'This job cannot be decrypted with this encryptionKey (another key wrote it, or it was altered).' };

async function withDeadline<T>(work: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(message), { code: 'ETIMEDOUT' })), ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** The outbox object; users see it as {@link BullmqOutbox}. */
class BullmqGradeOutbox implements BullmqOutbox {
  private readonly cipher: JobCipher;
  private readonly gate: OutboxGate;
  private readonly producer: Promise<Producer>;
  private hooks?: OutboxWorker;
  private running?: Promise<RunningWorker>;
  private closing?: Promise<void>;
  private closed = false;
  private redisDown = false;
  private waking = false;
  /** The probe this process is making, if any: resolves when it has its answer. */
  private localProbe?: Promise<void>;
  private lastWake = 0;
  /** Failures this process counted, so that a gate answer older than one is asked again. */
  private failuresSeen = 0;
  /** Delivered or refused jobs, until BullMQ reports them completed or failed (then the grades instance is told). */
  private readonly delivered = new Map<string, { job: StoredGradeJob; submitted: Parameters<OutboxWorker['onDelivered']>[1] }>();
  private readonly refused = new Map<string, { job: FailedGradeJob; error: LtiaasGradesError }>();

  constructor(private readonly options: ResolvedBullmqOutboxOptions) {
    this.cipher = new JobCipher(options.encryptionKey);
    this.gate = new OutboxGate(`${options.prefix}:${options.queueName}`, options.retry);
    this.producer = this.openProducer();
    // Awaited by every operation; a failure (bullmq missing) is reported there, never as an unhandled rejection.
    this.producer.catch(() => undefined);
  }

  private get logger(): ResolvedLogger {
    return this.hooks?.logger ?? silentLogger;
  }

  /** One warning per outage of Redis, one line when it is back: a down Redis must not flood the log. */
  private readonly onRedisError = (error: unknown) => {
    if (this.redisDown || this.closed) return;
    this.redisDown = true;
    const failure = error as { code?: unknown; name?: unknown } | undefined;
    this.logger.warn(
      { error: typeof failure?.code === 'string' ? failure.code : String(failure?.name ?? 'Error') },
      'outbox: Redis is unreachable; a grade that cannot be delivered now is answered as not delivered until Redis is back',
    );
  };

  private readonly onRedisReady = () => {
    if (!this.redisDown) return;
    this.redisDown = false;
    this.logger.info({}, 'outbox: Redis is reachable again');
  };

  /** A connection of the outbox's own, made from the app's client (never used itself) or from its options. */
  private async openConnection(settings: Record<string, unknown>): Promise<OwnConnection> {
    const { connection } = this.options;
    let made: OwnConnection;
    if (isIoredisClient(connection)) {
      made = (connection as unknown as { duplicate(override: object): OwnConnection }).duplicate(settings);
    } else {
      const Redis = await loadIoredis();
      made = new Redis({ ...connection, ...settings }) as OwnConnection;
    }
    made.on('error', this.onRedisError);
    made.on('ready', this.onRedisReady);
    return made;
  }

  private async openProducer(): Promise<Producer> {
    const bull = await loadBullmq();
    // Fails fast: with Redis down, a grade is answered as not delivered at once, never held by a client queue.
    const connection = await this.openConnection({ enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    const queue = new bull.Queue(this.options.queueName, { connection: connection as never, prefix: this.options.prefix });
    queue.on('error', this.onRedisError);
    return { bull, connection, queue };
  }

  connect(hooks: OutboxWorker): void {
    if (this.hooks) {
      throw new OptionsError('This outbox is already used by another ltiaasGrades() or ltiaasClient() instance; make one bullmqOutbox() per instance (they may share the queue).');
    }
    this.hooks = hooks;
    if (this.options.worker) void this.runWorker().catch(() => undefined);
  }

  /** Starts this process's worker once (connect() with `worker: true`, or startOutboxWorker()); resolves once it listens. */
  async runWorker(): Promise<void> {
    if (!this.hooks) {
      throw new OptionsError('startOutboxWorker(outbox): connect the outbox first, by passing it to ltiaasClient({ ltiaasUrl, apiKey, outbox }) (or ltiaasGrades()) in this process: its deliveries go through that instance.');
    }
    if (this.closed) throw gradesError('OUTBOX_UNAVAILABLE', { message: 'The outbox is closed.', retryable: false });
    if (!this.running) {
      this.running = this.startWorker(this.hooks);
      this.running.catch((error: unknown) => this.logger.error({ error: (error as Error).message }, 'outbox: could not start delivering'));
    }
    const { worker } = await this.running;
    await worker.waitUntilReady();
  }

  private async startWorker(hooks: OutboxWorker): Promise<RunningWorker> {
    const { bull } = await this.producer;
    // BullMQ's worker waits through a Redis restart instead of failing its commands: maxRetriesPerRequest null.
    const connection = await this.openConnection({ maxRetriesPerRequest: null, enableOfflineQueue: true });
    const { queueName, prefix, concurrency, retry } = this.options;
    const control = new bull.Queue(queueName, { connection: connection as never, prefix });
    control.on('error', this.onRedisError);
    const run: Partial<RunningWorker> = { connection, control, slots: new DeliverySlots(concurrency) };
    const worker = new bull.Worker(queueName, (job: Job) => this.process(bull, job, hooks, run as RunningWorker), {
      connection: connection as never,
      prefix,
      concurrency: concurrency * PREFETCH_FACTOR,
      limiter: LIMITER,
      maximumRateLimitDelay: PAUSE_POLL_MS,
      maxStalledCount: MAX_STALLED_COUNT,
      runRetryDelay: 2000,
      settings: {
        // The pause the outbox chose for this failure; any other error backs off by the same policy.
        backoffStrategy: (attemptsMade: number, _type?: string, error?: Error) =>
          error instanceof OutboxRetryError ? error.delayMs : retryDelayMs(attemptsMade - 1, { retries: 0, ...retry }),
      },
    });
    run.worker = worker;
    worker.on('error', this.onRedisError);
    worker.on('completed', (job: Job) => {
      const done = this.delivered.get(job.id!);
      if (!done) return;
      this.delivered.delete(job.id!);
      hooks.onDelivered(done.job, done.submitted);
    });
    worker.on('failed', (job: Job | undefined) => {
      const done = job?.id === undefined ? undefined : this.refused.get(job.id);
      if (!done) return;
      this.refused.delete(job!.id!);
      hooks.onFailed(done.job, done.error);
    });
    if (this.closed) {
      await worker.close();
      await control.close();
      connection.disconnect();
    }
    return run as RunningWorker;
  }

  /** The job as stored (a dead-letter record is taken back to its pending form), or undefined when it cannot be read with this key. */
  private openJob(bullJob: Job): { job: StoredGradeJob; failed?: Pick<FailedGradeJob, 'failedAt' | 'error'> } | undefined {
    const value = this.cipher.open((bullJob.data as { sealed?: unknown } | undefined)?.sealed, bullJob.id ?? '');
    if (value === undefined) return undefined;
    const pending = readStoredJob(value);
    if ('job' in pending) return { job: pending.job };
    const failed = readFailedJob(value);
    if (!('job' in failed)) return undefined;
    const { failedAt, error, ...job } = failed.job;
    return { job, failed: { failedAt, error } };
  }

  private sealed(job: StoredGradeJob): { sealed: string } {
    return { sealed: this.cipher.seal(job, job.id) };
  }

  /** One delivery attempt of a job BullMQ handed this worker. */
  private async process(bull: BullmqModule, bullJob: Job, hooks: OutboxWorker, run: RunningWorker): Promise<void> {
    // Asked while the job waits for a slot, so that its delivery starts the moment one frees. An
    // answer older than a failure this process saw meanwhile is not trusted; one older than a
    // failure elsewhere costs at most this one request before the pause reaches this process.
    const failuresBefore = this.failuresSeen;
    const noOutage = this.gate.noOutage(run.connection).catch(() => false);
    const free = await run.slots.take();
    try {
      await this.deliverJob(bull, bullJob, hooks, run, (await noOutage) && this.failuresSeen === failuresBefore);
    } finally {
      free();
    }
  }

  private async deliverJob(bull: BullmqModule, bullJob: Job, hooks: OutboxWorker, run: RunningWorker, noOutage: boolean): Promise<void> {
    const opened = this.openJob(bullJob);
    if (!opened) {
      this.logger.error({ id: bullJob.id }, 'outbox: a job cannot be decrypted with this encryptionKey; it is kept on the dead-letter list');
      throw this.unrecoverable(bull, UNREADABLE.code);
    }
    let decision: GateDecision = noOutage ? { kind: 'open' } : await this.gate.enter(run.connection);
    // While this process probes, the jobs it fetched meanwhile wait for the answer here: after a
    // success they go at once, instead of after BullMQ's next look at its pause.
    while (decision.kind === 'wait' && this.localProbe) {
      await this.localProbe;
      decision = await this.gate.enter(run.connection);
    }
    if (decision.kind === 'wait') {
      // Paused, or another instance is probing: back to the waiting list (not an attempt), every instance held back meanwhile.
      await run.control.rateLimit(decision.waitMs);
      throw bull.Worker.RateLimitError();
    }
    let probeDone: (() => void) | undefined;
    if (decision.kind === 'probe') this.localProbe = new Promise<void>((resolve) => (probeDone = resolve));
    try {
      await this.attempt(bull, bullJob, opened.job, hooks, run, decision.kind === 'probe');
    } finally {
      if (decision.kind === 'probe') {
        await decision.lease.release().catch(() => undefined);
        this.localProbe = undefined;
        probeDone!();
      }
    }
  }

  /** `probing`: this delivery holds the probe lease, so an outage is on record and its outcome ends or extends it. */
  private async attempt(bull: BullmqModule, bullJob: Job, job: StoredGradeJob, hooks: OutboxWorker, run: RunningWorker, probing: boolean): Promise<void> {
    job.attempts += 1;
    // What the attempt learns (user, service key) is sealed into the job before it is used.
    const persist = async (grade: GradeRecord) => {
      job.grade = grade;
      await bullJob.updateData(this.sealed(job));
    };
    let outcome: JobOutcome;
    try {
      outcome = await hooks.deliver(job, persist);
    } catch (error) {
      outcome = { kind: 'retry', error: error as LtiaasGradesError };
    }
    if (outcome.kind === 'delivered') {
      // Lifted before BullMQ marks the job done, so that its next fetch already runs at full
      // concurrency. A delivery made without an outage on record has nothing to lift: one Redis
      // call less per grade (a failure noted meanwhile elsewhere is ended by its next probe).
      if (probing) await this.liftPause(run.connection, run.control);
      this.delivered.set(bullJob.id!, { job, submitted: outcome.submitted });
      return;
    }
    if (outcome.grade) job.grade = outcome.grade;
    if (outcome.kind === 'failed') {
      // LTIAAS answered, so it is reachable: only this grade is refused.
      await this.liftPause(run.connection, run.control);
      return this.refuse(bull, bullJob, job, outcome.error);
    }
    job.lastError = jobErrorOf(outcome.error);
    if (Date.now() - ageCountsFrom(job) > this.options.maxAgeMs) {
      return this.refuse(bull, bullJob, job, outcome.error, gaveUpMessage(this.options.maxAgeMs, outcome.error.message));
    }
    this.failuresSeen += 1;
    const delay = (await this.gate.noteFailure(run.connection, outcome.error)) ?? this.options.retry.minDelayMs;
    await run.control.rateLimit(delay);
    job.nextAttemptAt = Date.now() + delay;
    await bullJob.updateData(this.sealed(job));
    this.logger.warn({ id: job.id, code: job.lastError.code, attempts: job.attempts, retryInMs: delay }, 'outbox: delivery failed, will retry');
    throw new OutboxRetryError(job.lastError.code, delay);
  }

  /**
   * A final refusal: the dead-letter record is sealed into the job, then BullMQ moves it to its
   * failed set. If Redis fails in between, the job stays pending and is tried again.
   */
  private async refuse(bull: BullmqModule, bullJob: Job, job: StoredGradeJob, error: LtiaasGradesError, message?: string): Promise<never> {
    const failed: FailedGradeJob = { ...job, failedAt: iso(Date.now()), error: { ...jobErrorOf(error), ...(message ? { message } : {}) } };
    await bullJob.updateData({ sealed: this.cipher.seal(failed, job.id) });
    this.refused.set(bullJob.id!, { job: failed, error });
    throw this.unrecoverable(bull, failed.error.code);
  }

  private unrecoverable(bull: BullmqModule, code: string): Error {
    const error = new bull.UnrecoverableError(code);
    error.stack = `UnrecoverableError: ${code}`;
    return error;
  }

  /** Ends the outage, if there was one: BullMQ's pause lifted, grades in their backoff due now. */
  private async liftPause(connection: RedisClientLike, queue: Queue): Promise<void> {
    if (!(await this.gate.end(connection))) return;
    await queue.removeRateLimitKey();
    await queue.promoteJobs();
    // Workers that found nothing to fetch during the pause block on BullMQ's marker; resuming
    // the queue (unless someone paused it on purpose) sets the marker, so they start at once.
    if (!(await queue.isPaused())) await queue.resume();
    this.logger.info({}, 'outbox: LTIAAS answers again; delivering the held grades');
  }

  async enqueue(grade: GradeRecord, reason: unknown): Promise<{ id: string }> {
    if (this.closed) throw gradesError('OUTBOX_UNAVAILABLE', { message: 'The outbox is closed: the grade was not stored.', retryable: false });
    const { queue, connection } = await this.ready('enqueue');
    const id = `g${this.cipher.digest(canonicalJson(grade)).slice(0, 40)}`;
    const store = async () => {
      // The grade is here because LTIAAS just failed: every instance pauses, as after a failed probe.
      this.failuresSeen += 1;
      const pause = await this.gate.noteFailure(connection, reason, true);
      if (pause !== undefined) await queue.rateLimit(pause);
      const now = Date.now();
      const job: StoredGradeJob = {
        v: STORED_JOB_VERSION,
        id,
        createdAt: iso(now),
        attempts: 0,
        nextAttemptAt: now + (pause ?? 0),
        lastError: jobErrorOf(reason),
        grade,
      };
      // Resolves once Redis acknowledged the job; the same grade again finds the same job.
      await queue.add(JOB_NAME, this.sealed(job), {
        jobId: id,
        timestamp: now,
        attempts: MAX_ATTEMPTS,
        backoff: { type: BACKOFF_TYPE },
        removeOnComplete: true,
        removeOnFail: false,
        stackTraceLimit: 0,
      });
      return { id };
    };
    try {
      return await withDeadline(store(), ENQUEUE_DEADLINE_MS, 'Redis did not acknowledge the grade in time');
    } catch (error) {
      this.onRedisError(error);
      return outboxUnavailable('enqueue', 'store the grade in Redis')(error);
    }
  }

  wake(): void {
    if (this.closed || this.waking || Date.now() - this.lastWake < WAKE_INTERVAL_MS) return;
    this.waking = true;
    this.lastWake = Date.now();
    this.ready('wake')
      .then(({ connection, queue }) => this.liftPause(connection, queue))
      .catch((error: unknown) => this.logger.debug({ error: (error as Error).message }, 'outbox: could not lift the pause after a delivery'))
      .finally(() => {
        this.waking = false;
      });
  }

  /**
   * The producer once its connection is ready. Its commands fail at once while Redis is down,
   * but not before its first connection: that wait is bounded too.
   */
  private async ready(operation: string): Promise<Producer> {
    try {
      const producer = await this.producer;
      await withDeadline(producer.queue.waitUntilReady(), ENQUEUE_DEADLINE_MS, 'Redis did not answer in time');
      return producer;
    } catch (error) {
      return outboxUnavailable(operation, 'reach Redis')(error);
    }
  }

  private async queue(operation: string): Promise<Queue> {
    return (await this.ready(operation)).queue;
  }

  private viewOfJob(bullJob: Job): GradeJobView {
    const opened = this.openJob(bullJob);
    if (opened) return viewOf(opened.job);
    return { id: bullJob.id!, createdAt: iso(bullJob.timestamp), attempts: bullJob.attemptsMade, nextAttemptAt: iso(bullJob.timestamp), lastError: UNREADABLE };
  }

  async pending(): Promise<GradeJobView[]> {
    const queue = await this.queue('pending');
    const jobs = await queue.getJobs(['active', 'wait', 'delayed', 'prioritized', 'waiting-children']).catch(outboxUnavailable('pending', 'read its pending grades'));
    return (jobs as Job[])
      .filter((job) => job?.id !== undefined)
      .map((job) => this.viewOfJob(job))
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  async failed(): Promise<FailedGradeJobView[]> {
    const queue = await this.queue('failed');
    const jobs = await queue.getJobs(['failed']).catch(outboxUnavailable('failed', 'read its dead-letter list'));
    return (jobs as Job[])
      .filter((job) => job?.id !== undefined)
      .map((job) => {
        const opened = this.openJob(job);
        const failed = opened?.failed ?? {
          failedAt: iso(job.finishedOn ?? job.timestamp),
          // Failed by BullMQ itself (a job that stalled too often), or unreadable: its reason holds no grade data.
          error: opened ? { code: 'OUTBOX_WORKER_FAILED', message: job.failedReason || 'The job failed in the worker.' } : UNREADABLE,
        };
        return { ...this.viewOfJob(job), ...failed };
      })
      .sort((a, b) => a.failedAt.localeCompare(b.failedAt));
  }

  private async failedJob(operation: string, id: string): Promise<Job | undefined> {
    if (typeof id !== 'string' || !JOB_ID_PATTERN.test(id)) return undefined;
    const queue = await this.queue(operation);
    const job = (await queue.getJob(id).catch(outboxUnavailable(operation, 'read its dead-letter list'))) as Job | undefined;
    if (!job) return undefined;
    const state = await job.getState().catch(outboxUnavailable(operation, 'read its dead-letter list'));
    return state === 'failed' ? job : undefined;
  }

  async requeue(id: string): Promise<boolean> {
    const job = await this.failedJob('requeue', id);
    if (!job) return false;
    const opened = this.openJob(job);
    if (opened) {
      const pending: StoredGradeJob = { ...opened.job, requeuedAt: new Date().toISOString(), attempts: 0, nextAttemptAt: Date.now() };
      delete pending.lastError;
      await job.updateData(this.sealed(pending)).catch(outboxUnavailable('requeue', 'store the grade again'));
    }
    try {
      await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
    } catch (error) {
      // Re-queued or discarded by someone else in the meantime.
      if (!(await this.failedJob('requeue', id))) return false;
      return outboxUnavailable('requeue', 'store the grade again')(error);
    }
    return true;
  }

  async discard(id: string): Promise<boolean> {
    const job = await this.failedJob('discard', id);
    if (!job) return false;
    await job.remove().catch(outboxUnavailable('discard', 'remove the grade'));
    this.logger.info({ id }, 'outbox: dead-letter grade discarded');
    return true;
  }

  async stats(): Promise<OutboxStats> {
    const { queue, connection } = await this.ready('stats');
    const read = async (): Promise<OutboxStats> => {
      const counts = await queue.getJobCounts('active', 'wait', 'delayed', 'prioritized', 'waiting-children', 'failed');
      const pending = Object.entries(counts).reduce((sum, [state, count]) => (state === 'failed' ? sum : sum + count), 0);
      const outage = await this.gate.read(connection);
      let oldest: number | undefined;
      if (pending > 0) {
        // Waiting jobs are taken oldest first, so only the oldest of each list is read; delayed and active ones are few (a backoff round's).
        const candidates = [...(await queue.getJobs(['active', 'delayed'])), ...(await queue.getJobs(['wait', 'prioritized'], 0, 0, true))] as Job[];
        for (const job of candidates) if (job && (oldest === undefined || job.timestamp < oldest)) oldest = job.timestamp;
      }
      return {
        pending,
        failed: counts.failed ?? 0,
        ...(oldest !== undefined ? { oldestPendingAt: iso(oldest) } : {}),
        paused: outage.consecutiveFailures > 0,
        ...(outage.pausedUntil > Date.now() ? { pausedUntil: iso(outage.pausedUntil) } : {}),
        consecutiveFailures: outage.consecutiveFailures,
      };
    };
    return read().catch(outboxUnavailable('stats', 'count its grades'));
  }

  /** Resolves true once no grade is pending in the queue (whichever instance delivers), or false after `timeoutMs`. */
  async drain(timeoutMs = 60_000): Promise<boolean> {
    const queue = await this.queue('drain');
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      // A Redis restart in between is waited out like the grades are, until the deadline.
      const counts = await queue.getJobCounts('active', 'wait', 'delayed', 'prioritized', 'waiting-children').catch(() => undefined);
      if (counts && Object.values(counts).every((count) => count === 0)) return true;
      if (Date.now() >= deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
    }
  }

  /** True once the worker's connections are both ready (waits up to CLOSE_WAIT_MS for a reconnect). */
  private async workerReachable(run: RunningWorker): Promise<boolean> {
    const blocking = (await run.worker.backend.blockingClient?.catch(() => undefined)) as { status?: string } | undefined;
    const deadline = Date.now() + CLOSE_WAIT_MS;
    for (;;) {
      if (run.connection.status === 'ready' && (blocking === undefined || blocking.status === 'ready')) return true;
      if (Date.now() >= deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
    }
  }

  /** Stops delivering (deliveries under way finish) and closes the connections the outbox opened; the queue stays in Redis. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      const run = await this.running?.catch(() => undefined);
      if (run) {
        // BullMQ's graceful close waits for its blocking connection to end, which never happens
        // while that connection is reconnecting: with Redis away, deliveries under way are left
        // to BullMQ, which gives them to another worker once their lock expires.
        const reachable = await this.workerReachable(run);
        if (!reachable) this.logger.warn({}, 'outbox: closing while Redis is unreachable; a delivery under way is taken over by another worker once its lock expires');
        await run.worker.close(!reachable);
        await run.control.close();
        run.connection.disconnect();
      }
      const producer = await this.producer.catch(() => undefined);
      if (producer) {
        await producer.queue.close();
        producer.connection.disconnect();
      }
    })();
    return this.closing;
  }
}

/** The outboxes this copy of the package made, for startOutboxWorker() to recognise. */
const outboxes = new WeakSet<BullmqGradeOutbox>();

/**
 * An outbox on a BullMQ queue, shared by every instance of the tool: a grade that cannot be
 * delivered now is answered `202 queued` only once Redis acknowledged its job, encrypted with a
 * key derived from `encryptionKey`. Options are checked here (OPTIONS_INVALID naming each problem).
 * @example
 * const outbox = bullmqOutbox({ connection: new Redis(process.env.REDIS_URL!), encryptionKey: process.env.GRADES_KEY! });
 * const grades = ltiaasGrades({ ltiaasUrl, apiKey, outbox });
 */
export function bullmqOutbox(options: BullmqOutboxOptions): BullmqOutbox {
  const outbox = new BullmqGradeOutbox(resolveBullmqOutboxOptions(options));
  outboxes.add(outbox);
  return outbox;
}

/**
 * Delivers the outbox's queue in this process: for a process that only delivers, when the web
 * instances run with `worker: false`. Connect the outbox first (`ltiaasClient({ ..., outbox })`:
 * deliveries go through that client). Resolves once the worker is listening to Redis.
 * @example
 * const outbox = bullmqOutbox({ connection: redis, encryptionKey: process.env.GRADES_KEY!, worker: false });
 * const client = ltiaasClient({ ltiaasUrl, apiKey, outbox });
 * await startOutboxWorker(outbox);
 */
export async function startOutboxWorker(outbox: BullmqOutbox): Promise<void> {
  if (!outboxes.has(outbox as BullmqGradeOutbox)) {
    throw new OptionsError('startOutboxWorker(outbox): pass an outbox made by bullmqOutbox() from express-ltiaas-grades/redis.');
  }
  await (outbox as BullmqGradeOutbox).runWorker();
}
