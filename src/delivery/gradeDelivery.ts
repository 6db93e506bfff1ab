// The one path of every grade: deliver now, else hold in the outbox, and report each outcome as an event.
import type { CallOptions } from '../client/transport';
import { gradesError, isLtiaasGradesError, type LtiaasGradesError } from '../errors';
import type { GradeEvents } from '../events';
import type { ResolvedLogger } from '../logger';
import type { Outbox, OutboxWorker, JobOutcome } from '../outbox/outbox';
import type { GradeRecord, StoredGradeJob } from '../outbox/outboxTypes';
import { NO_TELEMETRY, type GradeResult, type GradeSpan, type GradeTelemetry } from '../telemetry/gradeTelemetry';
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
  /** Spans and counts of every grade; default none. */
  telemetry?: GradeTelemetry;
}

/** What a grade that was not delivered came to: refused for good, or not delivered and not held. */
function notDelivered(state: DeliveryState, error: unknown): GradeResult {
  const known = isLtiaasGradesError(error);
  return {
    outcome: known && !error.retryable ? 'rejected' : 'failed',
    code: known ? error.code : 'UNEXPECTED',
    ...(known && error.upstream?.status !== undefined ? { upstreamStatus: error.upstream.status } : {}),
    ...idsOf(state),
  };
}

/** The user and column a grade is for, as far as known (span attributes only when the operator opts in). */
function idsOf(state: DeliveryState): Pick<GradeResult, 'userId' | 'lineItemId'> {
  const lineItemId = state.lineItemId ?? state.fixedLineItemId;
  return { ...(state.userId !== undefined ? { userId: state.userId } : {}), ...(lineItemId !== undefined ? { lineItemId } : {}) };
}

/**
 * Every way of posting a score goes through here (`submit`, `submitScore`, `submitMany`, the
 * `submitGrade` handler, the outbox's jobs), so each one emits the same events and each
 * success tells the outbox that LTIAAS is answering again.
 */
export class GradeDelivery {
  private readonly telemetry: GradeTelemetry;

  constructor(private readonly parts: GradeDeliveryParts) {
    this.telemetry = parts.telemetry ?? NO_TELEMETRY;
  }

  /** Delivers now; on failure, holds the grade in the outbox or throws (see holdOrReject). */
  async submit(state: DeliveryState, call: CallOptions | undefined, startedAt: number): Promise<SubmitOutcome> {
    return this.telemetry.inGradeSpan({}, async (span) => {
      let submitted: SubmittedGrade;
      try {
        submitted = await this.deliverNow(state, call, startedAt);
      } catch (error) {
        return this.holdOrRejectIn(span, state, error, startedAt);
      }
      span.settle({ outcome: 'submitted', ...idsOf(state) }, true);
      return submitted;
    });
  }

  /**
   * Delivers now and never queues (`submitScore` answers with the grade book's answer, so a
   * failure is the caller's to handle): events and the outbox's wake-up all the same.
   */
  async submitNow(state: DeliveryState, call: CallOptions | undefined, startedAt: number): Promise<SubmittedGrade> {
    return this.telemetry.inGradeSpan({}, async (span) => {
      let submitted: SubmittedGrade;
      try {
        submitted = await this.deliverNow(state, call, startedAt);
      } catch (error) {
        this.reportRejection(state, error, startedAt, false);
        span.settle(notDelivered(state, error), true);
        throw error;
      }
      span.settle({ outcome: 'submitted', ...idsOf(state) }, true);
      return submitted;
    });
  }

  /**
   * A grade that could not be delivered: held by the outbox when the failure may pass and there
   * is one (resolves the queued outcome), otherwise reported and thrown.
   */
  async holdOrReject(state: DeliveryState, error: unknown, startedAt: number): Promise<QueuedGrade> {
    return this.telemetry.inGradeSpan({}, (span) => this.holdOrRejectIn(span, state, error, startedAt));
  }

  private async holdOrRejectIn(span: GradeSpan, state: DeliveryState, error: unknown, startedAt: number): Promise<QueuedGrade> {
    if (isLtiaasGradesError(error) && error.retryable) {
      // The request's trace, kept with the grade: its delivery later links back to it.
      state.traceparent ??= span.traceparent();
      const queued = await this.queue(state, error, startedAt);
      if (queued) {
        span.settle({ outcome: 'queued', code: error.code, jobId: queued.id, ...(error.upstream?.status !== undefined ? { upstreamStatus: error.upstream.status } : {}), ...idsOf(state) }, true);
        return queued;
      }
    }
    this.reportRejection(state, error, startedAt, false);
    span.settle(notDelivered(state, error), true);
    throw error;
  }

  /** What the outbox is connected to: how to deliver its jobs, and the events of their outcomes. */
  outboxWorker(): OutboxWorker {
    const { logger, events } = this.parts;
    return {
      deliver: (job, persist) => this.deliverJob(job, persist),
      logger,
      onDelivered: (job, submitted) => {
        this.telemetry.count({ outcome: 'submitted' }, true);
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
        // A refusal for good, or a grade the outbox gave up on after its maxAgeMs.
        this.telemetry.count({ outcome: error.retryable ? 'failed' : 'rejected', code: error.code }, true);
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

  /**
   * One outbox delivery: the same path as a direct submission, with the service key once the
   * ltik is old. Its span links to the request that queued the grade; the outcome is counted
   * when the outbox reports it (onDelivered, onFailed), since only the outbox knows it is final.
   */
  private async deliverJob(job: StoredGradeJob, persist: (grade: GradeRecord) => Promise<void>): Promise<JobOutcome> {
    const start = { job: { id: job.id, attempt: job.attempts, ...(job.grade.traceparent !== undefined ? { traceparent: job.grade.traceparent } : {}) } };
    return this.telemetry.inGradeSpan(start, async (span) => {
      const preferServiceKey = Date.now() - Date.parse(job.createdAt) > LTIK_SAFE_AGE_MS;
      const state = fromGradeRecord(job.grade);
      try {
        const submitted = await deliverGrade(this.parts, state, { persist: (learned) => persist(toGradeRecord(learned)), preferServiceKey, serviceKeyAfterRefusedLtik: true });
        span.settle({ outcome: 'submitted', jobId: job.id, ...idsOf(state) }, false);
        return { kind: 'delivered', submitted };
      } catch (error) {
        const grade = toGradeRecord(state);
        if (!isLtiaasGradesError(error)) {
          const unexpected = gradesError('LTIAAS_UNAVAILABLE', { message: 'The delivery failed unexpectedly; it will be retried.' });
          this.parts.logger.error({ id: job.id, error: error instanceof Error ? error.message : String(error) }, 'outbox: unexpected delivery error');
          span.settle({ outcome: 'pending', code: 'UNEXPECTED', jobId: job.id, ...idsOf(state) }, false);
          return { kind: 'retry', error: unexpected, grade };
        }
        const upstream = error.upstream?.status !== undefined ? { upstreamStatus: error.upstream.status } : {};
        span.settle({ outcome: error.retryable ? 'pending' : 'rejected', code: error.code, jobId: job.id, ...upstream, ...idsOf(state) }, false);
        return error.retryable ? { kind: 'retry', error, grade } : { kind: 'failed', error, grade };
      }
    });
  }
}
