// Reports a grade that LTIAAS or the LMS refused for good as a `rejected` event.
import type { GradesCore } from '../core';
import { isLtiaasGradesError } from '../errors';
import type { GradeDraft } from './deliverGrade';

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
