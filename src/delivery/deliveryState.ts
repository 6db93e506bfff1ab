// One grade on its way to the grade book, as the delivery knows it in memory (stored only as a GradeRecord: see gradeRecord.ts).
import type { ValidLineItemSpec } from '../grades/lineItemSchema';
import type { ValidScore } from '../grades/scoreSchema';
import { digest } from '../secretDigest';
import { scoreKeys, type ScoreKey } from '../state/scoreClock';

/**
 * Everything needed to deliver one grade, filled in as it becomes known (the ID token names
 * the user and the grade book; the column is resolved; the timestamp is fixed before the first
 * POST). Owned by one delivery at a time: the outbox keeps a record built from it, never it.
 */
export interface DeliveryState {
  ltik?: string;
  serviceKey?: string;
  /** From the ID token: the LMS user being graded. */
  userId?: string;
  /** Platform and context, naming the grade book (see gradeBookScope.ts). */
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
  /** The trace context of the request that queued this grade (see GradeRecord.traceparent). */
  traceparent?: string;
}

/**
 * The names of this grade's student and column known so far, for ordering its timestamp
 * (see ScoreClock): the resolved column and user once known; before that, the launch (by the
 * digest of its ltik) or the user with the column the caller asked for. A launch grade
 * without a spec goes to the launch's own line item, so "the launch's column" names it
 * whether or not the ID token has been read yet.
 */
export function scoreKeysOf(state: DeliveryState, lineItemId: string | undefined = state.lineItemId): ScoreKey[] {
  const keys: ScoreKey[] = [];
  const column = lineItemId ?? (state.lineItemSpec ? undefined : state.fixedLineItemId);
  if (column !== undefined && state.userId !== undefined) keys.push(scoreKeys.column(column, state.userId));
  const asked = state.lineItemSpec ? `spec\u0000${state.lineItemSpec.resourceId}\u0000${state.lineItemSpec.tag ?? ''}` : 'launch-column';
  if (state.ltik) keys.push(scoreKeys.launch(digest(state.ltik), asked));
  if (state.userId !== undefined && state.scope !== undefined && state.lineItemSpec) keys.push(scoreKeys.user(state.scope, state.userId, asked));
  return keys;
}
