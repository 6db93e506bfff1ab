// Delivers a grade now or hands it to the outbox, and reports what became of it as events.
import type { CallOptions } from '../client/transport';
import type { GradesCore } from '../core';
import { isLtiaasGradesError } from '../errors';
import type { QueuedGrade, SubmitOutcome } from '../types';
import { deliverGrade, type GradeDraft } from './deliverGrade';

/** Emits `rejected` for a grade that LTIAAS or the LMS refused for good. */
export function reportRejection(core: GradesCore, draft: GradeDraft, error: unknown, startedAt: number): void {
  if (!isLtiaasGradesError(error) || error.retryable || !error.upstream) return;
  core.events.emit('rejected', {
    lineItemId: draft.lineItemId ?? draft.fixedLineItemId,
    userId: draft.userId,
    status: 'rejected',
    code: error.code,
    upstreamStatus: error.upstream.status,
    message: error.message,
    durationMs: Date.now() - startedAt,
    fromOutbox: false,
  });
}

/**
 * A grade that could not be delivered: held by the outbox when the failure may pass and there
 * is one (resolves the queued outcome), otherwise reported and thrown.
 */
export async function holdOrReject(core: GradesCore, draft: GradeDraft, error: unknown, startedAt: number): Promise<QueuedGrade> {
  if (isLtiaasGradesError(error) && error.retryable) {
    const queued = await core.queueGrade(draft, error, startedAt);
    if (queued) return queued;
  }
  reportRejection(core, draft, error, startedAt);
  throw error;
}

/** Delivers the draft now; on failure, holds it in the outbox or throws (see holdOrReject). */
export async function submitDraft(core: GradesCore, draft: GradeDraft, call: CallOptions | undefined, startedAt: number): Promise<SubmitOutcome> {
  try {
    const submitted = await deliverGrade(core, draft, { call });
    core.noteDelivered();
    core.events.emit('submitted', {
      lineItemId: submitted.lineItemId,
      userId: submitted.userId,
      status: 'submitted',
      scoreGiven: submitted.scoreGiven,
      scoreMaximum: submitted.scoreMaximum,
      durationMs: Date.now() - startedAt,
      fromOutbox: false,
    });
    return submitted;
  } catch (error) {
    return holdOrReject(core, draft, error, startedAt);
  }
}
