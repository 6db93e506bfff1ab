// The middleware: finds the ltik and attaches req.lti = { ltik, grades }, calling nothing upstream.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { OptionsError } from '../errors';
import type { LtiRequestContext } from './requestTypes';

/** True when Express called a factory as if it were the middleware (`app.use(grades.middleware)`). */
export function looksLikeRequest(value: unknown): boolean {
  return typeof value === 'object' && value !== null && 'method' in value && 'headers' in value && 'url' in value;
}

/**
 * Builds the request handler. `attach` must stay cheap: it runs on every request, including
 * routes that never grade, and makes no LTIAAS call.
 */
export function createMiddleware(attach: (req: Request) => LtiRequestContext): RequestHandler {
  return function ltiaasGradesMiddleware(req: Request, _res: Response, next: NextFunction): void {
    req.lti = attach(req);
    next();
  };
}

/** The handler `app.use(grades.middleware)` (not called) would install: it says what to write instead. */
export const middlewareNotCalled: RequestHandler = (_req, _res, next) =>
  next(new OptionsError('grades.middleware is a factory: write app.use(grades.middleware()), with the parentheses.'));
