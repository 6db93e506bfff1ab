// req.lti.grades: the grade operations of one launch, bound to its ltik.
import { ltikCredential, type Credential } from '../client/credentials';
import { resolveCallOptions } from '../client/callOptions';
import type { CallOptions } from '../client/transport';
import { GradesCore } from '../core';
import { gradesError, LtikError } from '../errors';
import type { IdToken, LineItem, LineItemSpec, Result, ResultFilters, ScoreInput, SubmitOutcome, SubmittedGrade } from '../types';
import type { GradeDraft } from './deliverGrade';
import { validateLineItemId, validateLineItemSpec, type ValidLineItemSpec } from './lineItemSchema';
import { LineItems } from './lineItems';
import { listAllResults } from './results';
import { submitDraft } from './submitDraft';
import { validateScore } from './scoreSchema';

/** Options of {@link LaunchGrades.submit}. */
export interface SubmitOptions extends CallOptions {
  /** The column to post to, found by `resourceId` (and `tag`) or created; default: the launch's own line item. */
  lineItem?: LineItemSpec;
}


/**
 * The grade operations of one launch: `req.lti.grades`. Created for every request by the
 * middleware, so the constructor does nothing: the ID token is fetched (once per ltik) only
 * when a method needs it.
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
export class LaunchGrades {
  private lineItemsOfLaunch?: LineItems;

  constructor(
    private readonly core: GradesCore,
    /** The launch's ltik, or undefined when the request carried none (every method then fails with LTIK_MISSING). */
    private readonly ltik: string | undefined,
  ) {}

  private credential(): Credential {
    if (!this.ltik) {
      throw LtikError.missing();
    }
    return ltikCredential(this.ltik);
  }

  /** The launch's ID token (user, context, services), fetched once per ltik and cached. */
  async idToken(options?: CallOptions): Promise<IdToken> {
    const credential = this.credential() as { ltik: string };
    // Checked here too: a cached token would otherwise let a bad override pass unnoticed.
    if (options) resolveCallOptions(options, this.core.options);
    return this.core.idToken(credential.ltik, options);
  }

  /** Whether the LMS granted the grade service to this launch. */
  async isAvailable(options?: CallOptions): Promise<boolean> {
    return (await this.idToken(options)).services.assignmentAndGrades.available;
  }

  /** The launch's service key (for grading later, outside the launch), when grades or roster are available. */
  async serviceKey(options?: CallOptions): Promise<string | undefined> {
    return (await this.idToken(options)).services.serviceKey;
  }

  /** List, read, create, update and delete this context's grade-book columns. */
  get lineItems(): LineItems {
    this.lineItemsOfLaunch ??= new LineItems(this.core.api, () => this.credential());
    return this.lineItemsOfLaunch;
  }

  private async gradableToken(options?: CallOptions): Promise<IdToken> {
    const token = await this.idToken(options);
    if (!token.services.assignmentAndGrades.available) {
      throw gradesError('GRADES_UNAVAILABLE');
    }
    return token;
  }

  /**
   * The column for `spec`: found by `resourceId` (and `tag`) in this launch's context, or
   * created bound to the launch's resource link. Resolved once per context and shared by
   * every launch in it; concurrent first calls create exactly one column.
   */
  async findOrCreateLineItem(spec: LineItemSpec, options?: CallOptions): Promise<LineItem> {
    const valid = validateLineItemSpec(spec);
    const token = await this.gradableToken(options);
    return this.core.resolver.resolve(GradesCore.scopeOf(token), valid, this.lineItems, token.launch.resourceLink?.id, options);
  }

  /** Posts a score for this launch's user to `lineItemId`. The user is always the ID token's. */
  async submitScore(lineItemId: string, score: ScoreInput, options?: CallOptions): Promise<SubmittedGrade> {
    const id = validateLineItemId(lineItemId);
    const valid = validateScore(score);
    const token = await this.gradableToken(options);
    const userId = token.user.id;
    const timestamp = this.core.clock.stamp(id, userId);
    await this.core.api.postScore(this.credential(), id, { userId, ...valid, timestamp }, options);
    return {
      status: 'submitted',
      lineItemId: id,
      userId,
      ...(valid.scoreGiven !== undefined ? { scoreGiven: valid.scoreGiven } : {}),
      ...(valid.scoreMaximum !== undefined ? { scoreMaximum: valid.scoreMaximum } : {}),
      timestamp,
    };
  }

  /** The results the LMS holds on `lineItemId` (all pages), e.g. `{ userId }` to read one back. */
  async scores(lineItemId: string, filters: ResultFilters = {}, options?: CallOptions): Promise<Result[]> {
    return listAllResults(this.core.api, this.credential(), lineItemId, filters, options);
  }

  /**
   * The whole pattern: check grading is available, find or create the column (or use the
   * launch's own), post the score for the launch's user. With an outbox, a grade that cannot
   * be delivered now is held and `{ status: 'queued' }` returned.
   */
  async submit(score: ScoreInput, options: SubmitOptions = {}): Promise<SubmitOutcome> {
    const startedAt = Date.now();
    const { lineItem, ...call } = options;
    const valid = validateScore(score);
    const spec: ValidLineItemSpec | undefined = lineItem === undefined ? undefined : validateLineItemSpec(lineItem);
    this.credential(); // LTIK_MISSING before anything else happens
    const draft: GradeDraft = { ltik: this.ltik, score: valid, ...(spec ? { lineItemSpec: spec } : {}) };
    return submitDraft(this.core, draft, call, startedAt);
  }
}
