// req.lti.grades: the grade operations of one launch, bound to its ltik (interface and implementation).
import type { LtiaasApi } from '../client/ltiaasApi';
import { ltikCredential, type Credential } from '../client/credentials';
import { resolveCallOptions } from '../client/callOptions';
import type { CallOptions } from '../client/transport';
import type { DeliveryState } from '../delivery/deliveryState';
import type { GradeDelivery } from '../delivery/gradeDelivery';
import { gradesError, LtikError } from '../errors';
import type { LineItemRegistry } from '../state/lineItemRegistry';
import type { CallDefaults } from './serviceKeyGrades';
import type { IdToken, LineItem, LineItemSpec, Result, ResultFilters, ScoreInput, SubmitOutcome, SubmittedGrade } from '../types';
import { scopeOf } from './gradeBookScope';
import type { IdTokenReader } from './idTokenReader';
import { resolveLineItem } from './lineItemResolver';
import { validateLineItemId, validateLineItemSpec, type ValidLineItemSpec } from './lineItemSchema';
import { LineItemsOfCredential, type LineItems } from './lineItems';
import { listAllResults } from './results';
import { validateScore } from './scoreSchema';

/** Options of {@link LaunchGrades.submit}. */
export interface SubmitOptions extends CallOptions {
  /** The column to post to, found by `resourceId` (and `tag`) or created; default: the launch's own line item. */
  lineItem?: LineItemSpec;
}


/**
 * The grade operations of one launch: `req.lti.grades` (or `grades.forLaunch(ltik)`). The ID
 * token is fetched (once per ltik) only when a method needs it.
 * @example
 * app.post('/lab/done', async (req, res, next) => {
 *   try {
 *     const outcome = await req.lti!.grades.submit(
 *       { scoreGiven: res.locals.points, scoreMaximum: 20, comment: 'All tests pass' },
 *       { lineItem: { resourceId: 'lab-2', label: 'Lab 2', scoreMaximum: 20 } },
 *     );
 *     res.json(outcome);
 *   } catch (error) {
 *     next(error);
 *   }
 * });
 */
export interface LaunchGrades {
  /** The launch's ID token (user, context, services), fetched once per ltik and cached. */
  idToken(options?: CallOptions): Promise<IdToken>;
  /** Whether the LMS granted the grade service to this launch. */
  isAvailable(options?: CallOptions): Promise<boolean>;
  /** The launch's service key (for grading later, outside the launch), when grades or roster are available. */
  serviceKey(options?: CallOptions): Promise<string | undefined>;
  /** List, read, create, update and delete this context's grade-book columns. */
  readonly lineItems: LineItems;
  /**
   * The column for `spec`: found by `resourceId` (and `tag`) in this launch's context, or
   * created bound to the launch's resource link. Resolved once per context and shared by
   * every launch in it; concurrent first calls create exactly one column.
   */
  findOrCreateLineItem(spec: LineItemSpec, options?: CallOptions): Promise<LineItem>;
  /**
   * Posts a score for this launch's user to `lineItemId`, now: it is never queued (a failure is
   * thrown), and emits `submitted` or `rejected` like every other submission. The user is always
   * the ID token's.
   */
  submitScore(lineItemId: string, score: ScoreInput, options?: CallOptions): Promise<SubmittedGrade>;
  /** The results the LMS holds on `lineItemId` (all pages), e.g. `{ userId }` to read one back. */
  scores(lineItemId: string, filters?: ResultFilters, options?: CallOptions): Promise<Result[]>;
  /**
   * The whole pattern: check grading is available, find or create the column (or use the
   * launch's own), post the score for the launch's user. With an outbox, a grade that cannot
   * be delivered now is held and `{ status: 'queued' }` returned.
   */
  submit(score: ScoreInput, options?: SubmitOptions): Promise<SubmitOutcome>;
}

/** What the grade operations of a launch are made of. */
export interface LaunchGradesParts {
  api: LtiaasApi;
  idTokens: IdTokenReader;
  lineItems: LineItemRegistry;
  delivery: GradeDelivery;
  /** The client's deadline and retry policy, which per-call overrides are checked against. */
  callDefaults: CallDefaults;
  /**
   * After creating a column, list again and converge on the first matching one (deleting an empty
   * surplus column this instance created): for instances that share no column registry.
   */
  convergeColumns?: boolean;
}

/**
 * The grade operations of the launch of `ltik`, or of no launch when `ltik` is undefined (every
 * method then fails with LTIK_MISSING). Made for every request by the middleware, so it does nothing now.
 */
export function launchGrades(parts: LaunchGradesParts, ltik: string | undefined): LaunchGrades {
  return new LaunchGradesOfLtik(parts, ltik);
}

class LaunchGradesOfLtik implements LaunchGrades {
  private lineItemsOfLaunch?: LineItemsOfCredential;

  constructor(
    private readonly parts: LaunchGradesParts,
    private readonly ltik: string | undefined,
  ) {}

  private credential(): Credential {
    if (!this.ltik) {
      throw LtikError.missing();
    }
    return ltikCredential(this.ltik);
  }

  async idToken(options?: CallOptions): Promise<IdToken> {
    const credential = this.credential() as { ltik: string };
    // Checked here too: a cached token would otherwise let a bad override pass unnoticed.
    if (options) resolveCallOptions(options, this.parts.callDefaults);
    return this.parts.idTokens.read(credential.ltik, options);
  }

  async isAvailable(options?: CallOptions): Promise<boolean> {
    return (await this.idToken(options)).services.assignmentAndGrades.available;
  }

  async serviceKey(options?: CallOptions): Promise<string | undefined> {
    return (await this.idToken(options)).services.serviceKey;
  }

  get lineItems(): LineItems {
    return this.columnOperations();
  }

  private columnOperations(): LineItemsOfCredential {
    this.lineItemsOfLaunch ??= new LineItemsOfCredential(this.parts.api, () => this.credential());
    return this.lineItemsOfLaunch;
  }

  private async gradableToken(options?: CallOptions): Promise<IdToken> {
    const token = await this.idToken(options);
    if (!token.services.assignmentAndGrades.available) {
      throw gradesError('GRADES_UNAVAILABLE');
    }
    return token;
  }

  async findOrCreateLineItem(spec: LineItemSpec, options?: CallOptions): Promise<LineItem> {
    const valid = validateLineItemSpec(spec);
    const token = await this.gradableToken(options);
    return resolveLineItem(this.parts.lineItems, scopeOf(token), valid, this.columnOperations(), token.launch.resourceLink?.id, options, this.parts.convergeColumns);
  }

  async submitScore(lineItemId: string, score: ScoreInput, options?: CallOptions): Promise<SubmittedGrade> {
    const startedAt = Date.now();
    const id = validateLineItemId(lineItemId);
    const valid = validateScore(score);
    this.credential(); // LTIK_MISSING before anything else happens
    // The named column, and the user (and grading's availability) from the launch's ID token.
    const state: DeliveryState = { ltik: this.ltik, score: valid, fixedLineItemId: id };
    return this.parts.delivery.submitNow(state, options, startedAt);
  }

  async scores(lineItemId: string, filters: ResultFilters = {}, options?: CallOptions): Promise<Result[]> {
    return listAllResults(this.parts.api, this.credential(), lineItemId, filters, options);
  }

  async submit(score: ScoreInput, options: SubmitOptions = {}): Promise<SubmitOutcome> {
    const startedAt = Date.now();
    const { lineItem, ...call } = options;
    const valid = validateScore(score);
    const spec: ValidLineItemSpec | undefined = lineItem === undefined ? undefined : validateLineItemSpec(lineItem);
    this.credential(); // LTIK_MISSING before anything else happens
    const state: DeliveryState = { ltik: this.ltik, score: valid, ...(spec ? { lineItemSpec: spec } : {}) };
    return this.parts.delivery.submit(state, call, startedAt);
  }
}
