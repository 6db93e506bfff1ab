// One attempt at posting a grade: who (the launch), which column, when (the score clock), then the POST.
import type { LtiaasApi } from '../client/ltiaasApi';
import { ltikCredential, serviceKeyCredential, type Credential } from '../client/credentials';
import type { CallOptions } from '../client/transport';
import { gradesError, LtikError, isLtiaasGradesError } from '../errors';
import { scopeOf } from '../grades/gradeBookScope';
import type { IdTokenReader } from '../grades/idTokenReader';
import { forgetLineItem, resolveLineItem } from '../grades/lineItemResolver';
import { LineItemsOfCredential, type ColumnOperations } from '../grades/lineItems';
import type { LineItemRegistry } from '../state/lineItemRegistry';
import type { ScoreClock } from '../state/scoreClock';
import type { SubmittedGrade } from '../types';
import { scoreKeysOf, type DeliveryState } from './deliveryState';

/** The shared pieces a delivery uses: the LTIAAS API, the ID tokens, the column registry and the score clock. */
export interface DeliveryParts {
  api: LtiaasApi;
  idTokens: IdTokenReader;
  lineItems: LineItemRegistry;
  clock: ScoreClock;
  /**
   * After creating a column, list again and converge on the first matching one (deleting an empty
   * surplus column this instance created): for instances that share no column registry.
   */
  convergeColumns?: boolean;
}

export interface DeliveryOptions {
  call?: CallOptions;
  /** Saves the state when something it must keep becomes known (the outbox's hook). */
  persist?: (state: DeliveryState) => Promise<void>;
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

/** What a launch's ID token tells a delivery: user, grade book, resource link, its own column, service key. */
export interface LaunchFacts {
  userId: string;
  scope: string;
  resourceLinkId?: string;
  /** The launch's own line item, when the LMS coupled one to the link. */
  lineItemId?: string;
  serviceKey?: string;
}

/** Reads the launch's ID token and returns what it says; the caller decides what to keep. */
export async function learnLaunch(idTokens: IdTokenReader, ltik: string | undefined, call?: CallOptions): Promise<LaunchFacts> {
  if (!ltik) {
    throw LtikError.missing();
  }
  const token = await idTokens.read(ltik, call);
  if (!token.services.assignmentAndGrades.available) {
    throw gradesError('GRADES_UNAVAILABLE');
  }
  return {
    userId: token.user.id,
    scope: scopeOf(token),
    resourceLinkId: token.launch.resourceLink?.id,
    lineItemId: token.services.assignmentAndGrades.lineItemId,
    serviceKey: token.services.serviceKey,
  };
}

/** The state with the launch's facts merged in: a column the caller named wins over the launch's own. */
function withLaunchFacts(state: DeliveryState, facts: LaunchFacts): DeliveryState {
  return {
    ...state,
    userId: facts.userId,
    scope: facts.scope,
    resourceLinkId: facts.resourceLinkId,
    fixedLineItemId: state.fixedLineItemId ?? facts.lineItemId,
    ...(facts.serviceKey ? { serviceKey: facts.serviceKey } : {}),
  };
}

function chooseCredential(state: DeliveryState, preferServiceKey: boolean): Credential {
  if (state.ltik && !(preferServiceKey && state.serviceKey)) return ltikCredential(state.ltik);
  if (state.serviceKey) return serviceKeyCredential(state.serviceKey);
  throw LtikError.missing();
}

async function targetLineItemId(parts: DeliveryParts, state: DeliveryState, lineItems: ColumnOperations, call?: CallOptions): Promise<string> {
  if (state.lineItemSpec) {
    const item = await resolveLineItem(parts.lineItems, state.scope!, state.lineItemSpec, lineItems, state.resourceLinkId, call, parts.convergeColumns);
    return item.id;
  }
  if (state.fixedLineItemId) return state.fixedLineItemId;
  throw gradesError('LINE_ITEM_UNAVAILABLE');
}

/**
 * Delivers the state's score. Fills the state in as things become known (launch facts, column,
 * timestamp): it belongs to this delivery. Throws the package's errors; a retryable one means
 * the state (with everything learned so far) may be delivered later.
 */
export async function deliverGrade(parts: DeliveryParts, state: DeliveryState, options: DeliveryOptions = {}): Promise<SubmittedGrade> {
  if (state.userId === undefined || state.scope === undefined) {
    Object.assign(state, withLaunchFacts(state, await learnLaunch(parts.idTokens, state.ltik, options.call)));
    await options.persist?.(state);
  }
  let credential = chooseCredential(state, options.preferServiceKey === true);
  const userId = state.userId!;

  const post = async (lineItems: ColumnOperations): Promise<string> => {
    const lineItemId = await targetLineItemId(parts, state, lineItems, options.call);
    const keys = scoreKeysOf(state, lineItemId);
    if (state.timestamp === undefined) {
      state.timestamp = await parts.clock.stampFor(keys);
      await options.persist?.(state);
    } else {
      // A queued grade delivered now: a later score of this student on this column comes after it.
      await parts.clock.observeFor(keys, state.timestamp);
    }
    state.lineItemId = lineItemId;
    await parts.api.postScore(credential, lineItemId, { ...state.score, userId, timestamp: state.timestamp }, options.call);
    return lineItemId;
  };

  const attempt = async (): Promise<string> => {
    const lineItems = new LineItemsOfCredential(parts.api, () => credential);
    try {
      return await post(lineItems);
    } catch (error) {
      // A column deleted in the LMS: forget the kept id, find or create it again, once.
      if (isStaleLineItem(error) && state.lineItemSpec && state.lineItemId) {
        await forgetLineItem(parts.lineItems, state.scope!, state.lineItemSpec, state.lineItemId);
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
    if (options.serviceKeyAfterRefusedLtik && isRejectedLtik(error) && credential.kind === 'ltik' && state.serviceKey) {
      credential = serviceKeyCredential(state.serviceKey);
      lineItemId = await attempt();
    } else {
      throw error;
    }
  }
  return {
    status: 'submitted',
    lineItemId,
    userId,
    ...(state.score.scoreGiven !== undefined ? { scoreGiven: state.score.scoreGiven } : {}),
    ...(state.score.scoreMaximum !== undefined ? { scoreMaximum: state.score.scoreMaximum } : {}),
    timestamp: state.timestamp!,
  };
}
