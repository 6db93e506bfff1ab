// Grading outside a launch with an activity's service key: cron jobs, webhooks, instructor regrades, batches (interface and implementation).
import Joi from 'joi';
import { CALL_OPTION_FIELDS, callOptionFieldSchemas, describeCallOptionProblems, resolveCallOptions, type CallOptions } from '../client/callOptions';
import type { LtiaasApi } from '../client/ltiaasApi';
import { serviceKeyCredential, type Credential } from '../client/credentials';
import type { ResolvedRetry } from '../client/retrySchema';
import type { DeliveryState } from '../delivery/deliveryState';
import type { GradeDelivery } from '../delivery/gradeDelivery';
import { gradesError, InvalidGradeError, isLtiaasGradesError, OptionsError } from '../errors';
import type { LineItemRegistry } from '../state/lineItemRegistry';
import type { LineItem, LineItemSpec, Result, ResultFilters, ScoreInput, SubmitOutcome, SubmittedGrade } from '../types';
import { scopeOfServiceKey } from './gradeBookScope';
import { resolveLineItem } from './lineItemResolver';
import { validateLineItemId, validateLineItemSpec, type ValidLineItemSpec } from './lineItemSchema';
import { LineItemsOfCredential, type LineItems } from './lineItems';
import { listAllResults } from './results';
import { validateUserScore, type ValidScore } from './scoreSchema';

/** A score for a named user (outside a launch the caller says whom it grades). */
export type UserScoreInput = ScoreInput & { userId: string };

/** Where a service-key grade goes: a spec (found or created) or a line item id. */
export type LineItemTarget = LineItemSpec | string;

/** Options of `submitMany`. */
export interface SubmitManyOptions extends CallOptions {
  /** The column: a spec `{ resourceId, label, scoreMaximum }` (found or created once) or a line item id. Required. */
  lineItem: LineItemTarget;
  /** Scores posted at once. Default `8`. */
  concurrency?: number;
}

/** What became of one user's grade in a batch. */
export interface BatchOutcome {
  /** Position in the input list. */
  index: number;
  userId: string;
  /**
   * `submitted`: in the grade book. `queued`: held by the outbox. `rejected`: refused for good
   * (an instructor, a test student, a concluded course: see `lmsMessage`). `failed`: could not
   * be delivered now and there is no outbox; try again later.
   */
  status: 'submitted' | 'queued' | 'rejected' | 'failed';
  lineItemId?: string;
  /** The outbox job, when queued. */
  id?: string;
  code?: string;
  message?: string;
  lmsMessage?: string;
  upstreamStatus?: number;
}

/** The options other than the column; a problem with them is OPTIONS_INVALID, one with the column LINE_ITEM_INVALID. */
const submitManySchema = Joi.object({
  lineItem: Joi.any(),
  concurrency: Joi.number().integer().min(1).max(64).default(8),
  ...callOptionFieldSchemas,
});

const lineItemTargetSchema = Joi.alternatives(Joi.string().min(1), Joi.object().unknown(true)).required().label('lineItem');

/**
 * Checks every option of submitMany before anything is sent, so that a bad override fails the
 * call once instead of failing each entry.
 */
function validateSubmitManyOptions(options: unknown, callDefaults: CallDefaults): SubmitManyOptions & { concurrency: number } {
  if (typeof options !== 'object' || options === null) {
    throw gradesError('LINE_ITEM_INVALID', { message: 'submitMany(entries, options): pass { lineItem } (a spec or a line item id).' });
  }
  const { value, error } = submitManySchema.validate(options, { abortEarly: false });
  if (error) throw new OptionsError(`submitMany(): ${describeCallOptionProblems(error)}; pass { lineItem, concurrency: 1..64, ${CALL_OPTION_FIELDS} }.`);
  const target = lineItemTargetSchema.validate((options as { lineItem?: unknown }).lineItem);
  if (target.error) throw gradesError('LINE_ITEM_INVALID', { message: `submitMany(): ${target.error.details[0]!.message}.` });
  const valid = value as SubmitManyOptions & { concurrency: number };
  // The overrides must also fit the client's own settings (e.g. minDelayMs against its maxDelayMs).
  if (valid.timeoutMs !== undefined || valid.retry !== undefined) resolveCallOptions(valid, callDefaults, 'submitMany()');
  return valid;
}

/** Runs `work` over `items`, at most `concurrency` at a time, keeping input order in the results. */
async function mapConcurrently<T, R>(items: readonly T[], concurrency: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

/**
 * The grade operations of one activity, authenticated with its service key (which does not
 * expire): `withServiceKey(key)`. The caller names the user of each score: use it only from
 * trusted server code.
 */
export interface ServiceKeyGrades {
  /** List, read, create, update and delete this activity's grade-book columns. */
  readonly lineItems: LineItems;
  /** The column for `spec`, found by `resourceId` (and `tag`) or created; resolved once and shared. */
  findOrCreateLineItem(spec: LineItemSpec, options?: CallOptions): Promise<LineItem>;
  /**
   * Posts one score for `score.userId` to `lineItemId`, now: it is never queued (a failure is
   * thrown), and emits `submitted` or `rejected` like every other submission.
   */
  submitScore(lineItemId: string, score: UserScoreInput, options?: CallOptions): Promise<SubmittedGrade>;
  /** The results the LMS holds on `lineItemId` (all pages). */
  scores(lineItemId: string, filters?: ResultFilters, options?: CallOptions): Promise<Result[]>;
  /** Posts one score to a column (found or created from a spec), queuing it in the outbox if LTIAAS fails now. */
  submit(score: UserScoreInput, options: CallOptions & { lineItem: LineItemTarget }): Promise<SubmitOutcome>;
  /**
   * Grades many users on one column, `concurrency` at a time, and returns one outcome per
   * entry, in order. One user who cannot be graded never fails the batch.
   * @example
   * const outcomes = await client.withServiceKey(key).submitMany(
   *   [{ userId: 'u1', scoreGiven: 8, scoreMaximum: 10 }, { userId: 'u2', scoreGiven: 0, scoreMaximum: 10 }],
   *   { lineItem: { resourceId: 'lab-3', label: 'Lab 3', scoreMaximum: 10 } },
   * );
   */
  submitMany(entries: readonly UserScoreInput[], options: SubmitManyOptions): Promise<BatchOutcome[]>;
}

/** The client's deadline and retry policy, which per-call overrides are checked against. */
export interface CallDefaults {
  retry: ResolvedRetry;
  timeoutMs: number;
}

/** What the grade operations of a service key are made of. */
export interface ServiceKeyGradesParts {
  api: LtiaasApi;
  lineItems: LineItemRegistry;
  delivery: GradeDelivery;
  callDefaults: CallDefaults;
  /**
   * After creating a column, list again and converge on the first matching one (deleting an empty
   * surplus column this instance created): for instances that share no column registry.
   */
  convergeColumns?: boolean;
}

/** The grade operations of the activity this service key belongs to. */
export function serviceKeyGrades(parts: ServiceKeyGradesParts, serviceKey: string): ServiceKeyGrades {
  return new ServiceKeyGradesOfKey(parts, serviceKey);
}

class ServiceKeyGradesOfKey implements ServiceKeyGrades {
  readonly lineItems: LineItemsOfCredential;
  private readonly credential: Credential;
  private readonly scope: string;

  constructor(private readonly parts: ServiceKeyGradesParts, private readonly serviceKey: string) {
    this.credential = serviceKeyCredential(serviceKey);
    this.scope = scopeOfServiceKey(serviceKey);
    this.lineItems = new LineItemsOfCredential(parts.api, () => this.credential);
  }

  async findOrCreateLineItem(spec: LineItemSpec, options?: CallOptions): Promise<LineItem> {
    const valid = validateLineItemSpec(spec);
    // Checked here too: a cached column would otherwise let a bad override pass unnoticed.
    if (options) resolveCallOptions(options, this.parts.callDefaults);
    return resolveLineItem(this.parts.lineItems, this.scope, valid, this.lineItems, valid.resourceLinkId, options, this.parts.convergeColumns);
  }

  async submitScore(lineItemId: string, score: UserScoreInput, options?: CallOptions): Promise<SubmittedGrade> {
    const startedAt = Date.now();
    const id = validateLineItemId(lineItemId);
    const { userId, ...valid } = validateUserScore(score);
    const state: DeliveryState = { serviceKey: this.serviceKey, userId, scope: this.scope, fixedLineItemId: id, score: valid };
    return this.parts.delivery.submitNow(state, options, startedAt);
  }

  async scores(lineItemId: string, filters: ResultFilters = {}, options?: CallOptions): Promise<Result[]> {
    return listAllResults(this.parts.api, this.credential, lineItemId, filters, options);
  }

  private stateFor(userId: string, score: ValidScore, target: ValidLineItemSpec | string): DeliveryState {
    return {
      serviceKey: this.serviceKey,
      userId,
      scope: this.scope,
      score,
      ...(typeof target === 'string' ? { fixedLineItemId: target } : { lineItemSpec: target, resourceLinkId: target.resourceLinkId }),
    };
  }

  async submit(score: UserScoreInput, options: CallOptions & { lineItem: LineItemTarget }): Promise<SubmitOutcome> {
    const startedAt = Date.now();
    const { lineItem, ...call } = options;
    const target = typeof lineItem === 'string' ? validateLineItemId(lineItem) : validateLineItemSpec(lineItem);
    const { userId, ...valid } = validateUserScore(score);
    return this.parts.delivery.submit(this.stateFor(userId, valid, target), call, startedAt);
  }

  async submitMany(entries: readonly UserScoreInput[], options: SubmitManyOptions): Promise<BatchOutcome[]> {
    if (!Array.isArray(entries)) {
      throw gradesError('SCORE_INVALID', { message: 'submitMany(entries): entries must be an array of { userId, scoreGiven, scoreMaximum, ... }.' });
    }
    const { lineItem, concurrency, ...call } = validateSubmitManyOptions(options, this.parts.callDefaults);
    const target = typeof lineItem === 'string' ? validateLineItemId(lineItem) : validateLineItemSpec(lineItem);

    // Resolve the column once, before the fan-out. If that fails, no entry can succeed now:
    // each gets the same outcome (queued or failed, or rejected) without another call.
    let columnError: unknown;
    if (typeof target !== 'string') {
      await resolveLineItem(this.parts.lineItems, this.scope, target, this.lineItems, target.resourceLinkId, call, this.parts.convergeColumns).catch((error: unknown) => {
        columnError = error;
      });
    }

    return mapConcurrently(entries, concurrency, async (entry, index): Promise<BatchOutcome> => {
      const userId = typeof (entry as { userId?: unknown } | null)?.userId === 'string' ? (entry as { userId: string }).userId : '';
      try {
        const { userId: validUser, ...valid } = validateUserScore(entry);
        const state = this.stateFor(validUser, valid, target);
        const startedAt = Date.now();
        const outcome = columnError ? await this.parts.delivery.holdOrReject(state, columnError, startedAt) : await this.parts.delivery.submit(state, call, startedAt);
        return outcome.status === 'submitted'
          ? { index, userId, status: 'submitted', lineItemId: outcome.lineItemId }
          : { index, userId, status: 'queued', id: outcome.id, ...(outcome.lineItemId ? { lineItemId: outcome.lineItemId } : {}) };
      } catch (failure) {
        if (!isLtiaasGradesError(failure)) throw failure;
        return {
          index,
          userId,
          status: failure.retryable ? 'failed' : 'rejected',
          code: failure.code,
          message: failure.message,
          ...(failure.upstream?.lmsMessage ? { lmsMessage: failure.upstream.lmsMessage } : {}),
          ...(failure.upstream?.status !== undefined ? { upstreamStatus: failure.upstream.status } : {}),
        };
      }
    });
  }
}
