// The grade passback pattern in one place: who, which column, when, then post (now or from the outbox).
import { ltikCredential, serviceKeyCredential, type Credential } from '../client/credentials';
import type { CallOptions } from '../client/transport';
import { GradesCore, digest } from '../core';
import { gradesError, LtikError, isLtiaasGradesError } from '../errors';
import type { SubmittedGrade } from '../types';
import type { ValidLineItemSpec } from './lineItemSchema';
import { LineItems } from './lineItems';
import { scoreKeys, type ScoreKey } from './scoreClock';
import type { ValidScore } from './scoreSchema';

/**
 * Everything needed to deliver one grade, filled in as it becomes known. The outbox stores it,
 * so that a grade accepted from a student can be finished without the student, even after
 * the ltik expires (the service key is kept as soon as the ID token shows it).
 */
export interface GradeDraft {
  ltik?: string;
  serviceKey?: string;
  /** From the ID token: the LMS user being graded. */
  userId?: string;
  /** Platform and context, naming the grade book (see GradesCore.scopeOf). */
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
}

export interface DeliveryOptions {
  call?: CallOptions;
  /** Saves the draft when something it must keep becomes known (the outbox's hook). */
  persist?: (draft: GradeDraft) => Promise<void>;
  /** Use the service key even while the ltik may still be valid (queued grades, near the ltik's end). */
  preferServiceKey?: boolean;
  /**
   * When LTIAAS refuses the ltik, finish with the launch's service key. Only for grades the tool
   * already accepted (the outbox): in a live request a refused ltik means the launch is not proven.
   */
  serviceKeyAfterRefusedLtik?: boolean;
}

const isStaleLineItem = (error: unknown) =>
  isLtiaasGradesError(error) && error.code === 'LTIAAS_REJECTED' && error.upstream?.status === 404;

const isRejectedLtik = (error: unknown) => isLtiaasGradesError(error) && error.code === 'LTIK_INVALID';

/** Reads the ID token into the draft: user, grade book, resource link, service key. */
async function learnLaunch(core: GradesCore, draft: GradeDraft, options: DeliveryOptions): Promise<void> {
  if (!draft.ltik) {
    throw LtikError.missing();
  }
  const token = await core.idToken(draft.ltik, options.call);
  if (!token.services.assignmentAndGrades.available) {
    throw gradesError('GRADES_UNAVAILABLE');
  }
  draft.userId = token.user.id;
  draft.scope = GradesCore.scopeOf(token);
  draft.resourceLinkId = token.launch.resourceLink?.id;
  draft.fixedLineItemId ??= token.services.assignmentAndGrades.lineItemId;
  if (token.services.serviceKey) draft.serviceKey = token.services.serviceKey;
  await options.persist?.(draft);
}

/**
 * The names of this draft's student and column known so far, for ordering its timestamp
 * (see ScoreClock): the resolved column and user once known; before that, the launch (by the
 * digest of its ltik) or the user with the column the caller asked for. A launch grade
 * without a spec goes to the launch's own line item, so "the launch's column" names it
 * whether or not the ID token has been read yet.
 */
export function scoreKeysOf(draft: GradeDraft, lineItemId: string | undefined = draft.lineItemId): ScoreKey[] {
  const keys: ScoreKey[] = [];
  const column = lineItemId ?? (draft.lineItemSpec ? undefined : draft.fixedLineItemId);
  if (column !== undefined && draft.userId !== undefined) keys.push(scoreKeys.column(column, draft.userId));
  const asked = draft.lineItemSpec ? `spec\u0000${draft.lineItemSpec.resourceId}\u0000${draft.lineItemSpec.tag ?? ''}` : 'launch-column';
  if (draft.ltik) keys.push(scoreKeys.launch(digest(draft.ltik), asked));
  if (draft.userId !== undefined && draft.scope !== undefined && draft.lineItemSpec) keys.push(scoreKeys.user(draft.scope, draft.userId, asked));
  return keys;
}

function chooseCredential(draft: GradeDraft, preferServiceKey: boolean): Credential {
  if (draft.ltik && !(preferServiceKey && draft.serviceKey)) return ltikCredential(draft.ltik);
  if (draft.serviceKey) return serviceKeyCredential(draft.serviceKey);
  throw LtikError.missing();
}

async function targetLineItemId(core: GradesCore, draft: GradeDraft, lineItems: LineItems, call?: CallOptions): Promise<string> {
  if (draft.lineItemSpec) {
    const item = await core.resolver.resolve(draft.scope!, draft.lineItemSpec, lineItems, draft.resourceLinkId, call);
    return item.id;
  }
  if (draft.fixedLineItemId) return draft.fixedLineItemId;
  throw gradesError('LINE_ITEM_UNAVAILABLE');
}

/**
 * Delivers the draft's score. Throws the package's errors; a retryable one means the draft
 * (with everything learned so far) may be delivered later.
 */
export async function deliverGrade(core: GradesCore, draft: GradeDraft, options: DeliveryOptions = {}): Promise<SubmittedGrade> {
  if (draft.userId === undefined || draft.scope === undefined) await learnLaunch(core, draft, options);
  let credential = chooseCredential(draft, options.preferServiceKey === true);
  const userId = draft.userId!;

  const post = async (lineItems: LineItems): Promise<string> => {
    const lineItemId = await targetLineItemId(core, draft, lineItems, options.call);
    const keys = scoreKeysOf(draft, lineItemId);
    if (draft.timestamp === undefined) {
      draft.timestamp = core.clock.stampFor(keys);
      await options.persist?.(draft);
    } else {
      // A queued grade delivered now: a later score of this student on this column comes after it.
      core.clock.observeFor(keys, draft.timestamp);
    }
    draft.lineItemId = lineItemId;
    await core.api.postScore(credential, lineItemId, { ...draft.score, userId, timestamp: draft.timestamp }, options.call);
    return lineItemId;
  };

  const attempt = async (): Promise<string> => {
    const lineItems = new LineItems(core.api, () => credential);
    try {
      return await post(lineItems);
    } catch (error) {
      // A column deleted in the LMS: forget the cached id, find or create it again, once.
      if (isStaleLineItem(error) && draft.lineItemSpec && draft.lineItemId) {
        await core.resolver.forget(draft.scope!, draft.lineItemSpec, draft.lineItemId);
        return post(lineItems);
      }
      throw error;
    }
  };

  let lineItemId: string;
  try {
    lineItemId = await attempt();
  } catch (error) {
    // The ltik expired (24 h) but the launch's service key still works.
    if (options.serviceKeyAfterRefusedLtik && isRejectedLtik(error) && credential.kind === 'ltik' && draft.serviceKey) {
      credential = serviceKeyCredential(draft.serviceKey);
      lineItemId = await attempt();
    } else {
      throw error;
    }
  }
  return {
    status: 'submitted',
    lineItemId,
    userId,
    ...(draft.score.scoreGiven !== undefined ? { scoreGiven: draft.score.scoreGiven } : {}),
    ...(draft.score.scoreMaximum !== undefined ? { scoreMaximum: draft.score.scoreMaximum } : {}),
    timestamp: draft.timestamp!,
  };
}
