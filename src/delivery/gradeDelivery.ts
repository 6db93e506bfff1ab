// The one path of every grade: deliver now, else hold in the outbox, and report each outcome as an event.
import type { CallOptions } from '../client/transport';
import { gradesError, isLtiaasGradesError, type LtiaasGradesError } from '../errors';
import type { GradeEvents } from '../events';
import type { ResolvedLogger } from '../logger';
import type { Outbox, OutboxWorker, JobOutcome } from '../outbox/outbox';
import type { GradeRecord, StoredGradeJob } from '../outbox/outboxTypes';
import type { QueuedGrade, SubmitOutcome, SubmittedGrade } from '../types';
import { deliverGrade, type DeliveryParts } from './deliverGrade';
import { scoreKeysOf, type DeliveryState } from './deliveryState';
import { fromGradeRecord, toGradeRecord } from './gradeRecord';

/** Past this age a queued grade is sent with the service key: the ltik lives 24 h. */
const LTIK_SAFE_AGE_MS = 23 * 60 * 60 * 1000;

/** What a GradeDelivery is built from: the delivery's shared pieces, plus where outcomes go. */
export interface GradeDeliveryParts extends DeliveryParts {
  events: GradeEvents;
  logger: ResolvedLogger;
  /** Holds grades that cannot be delivered now; without one, those failures are thrown. */
  outbox?: Outbox;
}

/**
 * Every way of posting a score goes through here (`submit`, `submitScore`, `submitMany`, the
 * `submitGrade` handler, the outbox's jobs), so each one emits the same events and each
 * success tells the outbox that LTIAAS is answering again.
 */
export class GradeDelivery {
  constructor(private readonly parts: GradeDeliveryParts) {}

  /** Delivers now; on failure, holds the grade in the outbox or throws (see holdOrReject). */
  async submit(state: DeliveryState, call: CallOptions | undefined, startedAt: number): Promise<SubmitOutcome> {
    try {
      return await this.deliverNow(state, call, startedAt);
    } catch (error) {
      return this.holdOrReject(state, error, startedAt);
    }
  }

  /**
   * Delivers now and never queues (`submitScore` answers with the grade book's answer, so a
   * failure is the caller's to handle): events and the outbox's wake-up all the same.
   */
  async submitNow(state: DeliveryState, call: CallOptions | undefined, startedAt: number): Promise<SubmittedGrade> {
    try {
      return await this.deliverNow(state, call, startedAt);
    } catch (error) {
      this.reportRejection(state, error, startedAt, false);
      throw error;
    }
  }

  /**
   * A grade that could not be delivered: held by the outbox when the failure may pass and there
   * is one (resolves the queued outcome), otherwise reported and thrown.
   */
  async holdOrReject(state: DeliveryState, error: unknown, startedAt: number): Promise<QueuedGrade> {
    if (isLtiaasGradesError(error) && error.retryable) {
      const queued = await this.queue(state, error, startedAt);
      if (queued) return queued;
    }
    this.reportRejection(state, error, startedAt, false);
    throw error;
  }

  /** What the outbox is connected to: how to deliver its jobs, and the events of their outcomes. */
  outboxWorker(): OutboxWorker {
    const { logger, events } = this.parts;
    return {
      deliver: (job, persist) => this.deliverJob(job, persist),
      logger,
      onDelivered: (job, submitted) => {
        logger.info({ id: job.id, lineItemId: submitted.lineItemId, userId: submitted.userId, attempts: job.attempts }, 'outbox: grade delivered');
        events.emit('submitted', {
          lineItemId: submitted.lineItemId,
          userId: submitted.userId,
          status: 'submitted',
          scoreGiven: submitted.scoreGiven,
          scoreMaximum: submitted.scoreMaximum,
          durationMs: Date.now() - Date.parse(job.createdAt),
          fromOutbox: true,
        });
      },
      onFailed: (job, error) => {
        logger.warn({ id: job.id, code: error.code, upstreamStatus: error.upstream?.status, lineItemId: job.grade.lineItemId, userId: job.grade.userId }, 'outbox: grade refused, moved to the dead-letter list');
        events.emit('rejected', {
          lineItemId: job.grade.lineItemId ?? job.grade.fixedLineItemId,
          userId: job.grade.userId,
          status: 'rejected',
          code: error.code,
          upstreamStatus: error.upstream?.status,
          message: error.message,
          durationMs: Date.now() - Date.parse(job.createdAt),
          fromOutbox: true,
        });
      },
    };
  }

  private async deliverNow(state: DeliveryState, call: CallOptions | undefined, startedAt: number): Promise<SubmittedGrade> {
    const submitted = await deliverGrade(this.parts, state, { call });
    this.wakeOutbox();
    this.parts.events.emit('submitted', {
      lineItemId: submitted.lineItemId,
      userId: submitted.userId,
      status: 'submitted',
      scoreGiven: submitted.scoreGiven,
      scoreMaximum: submitted.scoreMaximum,
      durationMs: Date.now() - startedAt,
      fromOutbox: false,
    });
    return submitted;
  }

  /** LTIAAS took a grade: anything the outbox holds can go now. A careless outbox's failure here is only logged. */
  private wakeOutbox(): void {
    const { outbox, logger } = this.parts;
    if (!outbox) return;
    const report = (error: unknown) => logger.error({ error: error instanceof Error ? error.message : String(error) }, 'outbox: wake() failed');
    try {
      const woken: unknown = outbox.wake();
      if (woken instanceof Promise) woken.catch(report);
    } catch (error) {
      report(error);
    }
  }

  /** Emits `rejected` for a grade that LTIAAS or the LMS refused for good. */
  private reportRejection(state: DeliveryState, error: unknown, startedAt: number, fromOutbox: boolean): void {
    if (!isLtiaasGradesError(error) || error.retryable || !error.upstream) return;
    this.parts.events.emit('rejected', {
      lineItemId: state.lineItemId ?? state.fixedLineItemId,
      userId: state.userId,
      status: 'rejected',
      code: error.code,
      upstreamStatus: error.upstream.status,
      message: error.message,
      durationMs: Date.now() - startedAt,
      fromOutbox,
    });
  }

  /**
   * Hands a grade that failed in a way that may pass to the outbox. Resolves undefined without
   * an outbox; throws the original error if the outbox cannot store it (never lost silently).
   */
  private async queue(state: DeliveryState, reason: LtiaasGradesError, startedAt: number): Promise<QueuedGrade | undefined> {
    const { outbox, logger, clock, events } = this.parts;
    if (!outbox) return undefined;
    // The time the student finished, fixed now so every later attempt repeats the same score.
    // Stamped under this student's own names (the launch, when the user is not known yet), so
    // an outage's backlog of other students' grades cannot push it ahead of the clock.
    state.timestamp ??= await clock.stampFor(scoreKeysOf(state));
    let job: { id: string };
    try {
      job = await outbox.enqueue(toGradeRecord(state), reason);
    } catch (error) {
      logger.error({ error: (error as Error).message, code: reason.code }, 'outbox: could not store a grade; answering that it was not delivered');
      throw reason;
    }
    const lineItemId = state.lineItemId ?? state.fixedLineItemId;
    logger.warn({ id: job.id, code: reason.code, upstreamStatus: reason.upstream?.status, lineItemId, userId: state.userId }, 'grade queued in the outbox');
    events.emit('queued', {
      id: job.id,
      lineItemId,
      userId: state.userId,
      status: 'queued',
      code: reason.code,
      upstreamStatus: reason.upstream?.status,
      durationMs: Date.now() - startedAt,
    });
    return {
      status: 'queued',
      id: job.id,
      ...(lineItemId ? { lineItemId } : {}),
      ...(state.userId ? { userId: state.userId } : {}),
      ...(state.score.scoreGiven !== undefined ? { scoreGiven: state.score.scoreGiven } : {}),
      ...(state.score.scoreMaximum !== undefined ? { scoreMaximum: state.score.scoreMaximum } : {}),
    };
  }

  /** One outbox delivery: the same path as a direct submission, with the service key once the ltik is old. */
  private async deliverJob(job: StoredGradeJob, persist: (grade: GradeRecord) => Promise<void>): Promise<JobOutcome> {
    const preferServiceKey = Date.now() - Date.parse(job.createdAt) > LTIK_SAFE_AGE_MS;
    const state = fromGradeRecord(job.grade);
    try {
      const submitted = await deliverGrade(this.parts, state, { persist: (learned) => persist(toGradeRecord(learned)), preferServiceKey, serviceKeyAfterRefusedLtik: true });
      return { kind: 'delivered', submitted };
    } catch (error) {
      const grade = toGradeRecord(state);
      if (!isLtiaasGradesError(error)) {
        const unexpected = gradesError('LTIAAS_UNAVAILABLE', { message: 'The delivery failed unexpectedly; it will be retried.' });
        this.parts.logger.error({ id: job.id, error: error instanceof Error ? error.message : String(error) }, 'outbox: unexpected delivery error');
        return { kind: 'retry', error: unexpected, grade };
      }
      return error.retryable ? { kind: 'retry', error, grade } : { kind: 'failed', error, grade };
    }
  }
}
