// The submitGrade route handler: scores on the server, posts for the launch's user, answers JSON.
import Joi from 'joi';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { LtikError, OptionsError } from '../errors';
import { validateLineItemSpec } from '../grades/lineItemSchema';
import type { LineItemSpec, ScoreInput, SubmitOutcome } from '../types';
import { looksLikeRequest } from './middleware';
import type { LtiRequestContext } from './requestTypes';

/** Options of `submitGrade()`. */
export interface SubmitGradeOptions {
  /**
   * Computes the score on the server (never from the request body's claims), e.g. from
   * `res.locals` set by the tool's own scoring middleware. May be async.
   * `activityProgress` defaults to `Completed`, `gradingProgress` to `FullyGraded`.
   * @example score: (req, res) => ({ scoreGiven: res.locals.correct, scoreMaximum: 10 })
   */
  score: (req: Request, res: Response) => ScoreInput | Promise<ScoreInput>;
  /**
   * The grade-book column: a spec `{ resourceId, label, scoreMaximum, tag? }` or a function of
   * the request returning one. Found by `resourceId` (and `tag`) in the launch's context,
   * created bound to the launch's resource link when missing. Default: the launch's own line
   * item (`services.assignmentAndGrades.lineItemId`).
   */
  lineItem?: LineItemSpec | ((req: Request) => LineItemSpec | Promise<LineItemSpec>);
  /**
   * Take over the response. Default: 200 `{ status: "submitted", lineItemId, userId, scoreGiven,
   * scoreMaximum }` (202 `{ status: "queued", id }` when the outbox holds the grade). The
   * outcome is also left in `res.locals.grade`.
   */
  respond?: (req: Request, res: Response, outcome: SubmitOutcome) => void | Promise<void>;
}

const submitGradeSchema = Joi.object({
  score: Joi.function().required(),
  lineItem: Joi.alternatives(Joi.function(), Joi.object().unknown(true)),
  respond: Joi.function(),
});

/** The JSON the browser gets: the outcome without the timestamp or anything internal. */
function defaultAnswer(res: Response, outcome: SubmitOutcome): void {
  if (outcome.status === 'queued') {
    res.status(202).json({ status: 'queued', id: outcome.id });
    return;
  }
  res.status(200).json({
    status: 'submitted',
    lineItemId: outcome.lineItemId,
    userId: outcome.userId,
    scoreGiven: outcome.scoreGiven,
    scoreMaximum: outcome.scoreMaximum,
  });
}

export function createSubmitGrade(input: unknown, attach: (req: Request) => LtiRequestContext): RequestHandler {
  if (looksLikeRequest(input)) {
    throw new OptionsError('submitGrade is a factory: write app.post(path, grades.submitGrade({ score, lineItem })).');
  }
  const { value, error } = submitGradeSchema.validate(input);
  if (error) {
    throw new OptionsError(
      `submitGrade(): ${error.details[0]!.message}; pass { score: (req, res) => ({ scoreGiven, scoreMaximum }), lineItem?: { resourceId, label, scoreMaximum } }.`,
    );
  }
  const options = value as SubmitGradeOptions;
  // A fixed spec is checked now, at start-up, rather than on a student's submission.
  let fixedSpec: LineItemSpec | undefined;
  if (options.lineItem !== undefined && typeof options.lineItem !== 'function') {
    try {
      fixedSpec = validateLineItemSpec(options.lineItem);
    } catch (specError) {
      throw new OptionsError(`submitGrade(): option "lineItem" is invalid: ${(specError as Error).message}`);
    }
  }

  async function handle(req: Request, res: Response): Promise<void> {
    // Works even where the middleware was not mounted on this route.
    const lti = req.lti ?? (req.lti = attach(req));
    if (!lti.ltik) {
      throw LtikError.missing();
    }
    const score = await options.score(req, res);
    const lineItem = fixedSpec ?? (typeof options.lineItem === 'function' ? await options.lineItem(req) : undefined);
    const outcome = await lti.grades.submit(score, lineItem === undefined ? {} : { lineItem });
    res.locals.grade = outcome;
    if (options.respond) await options.respond(req, res, outcome);
    else defaultAnswer(res, outcome);
  }

  return function submitGradeHandler(req: Request, res: Response, next: NextFunction): void {
    // Express 4 does not pass a rejected promise to the error handler, so do it here for both.
    handle(req, res).catch(next);
  };
}
