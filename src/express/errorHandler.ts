// The error handler: answers the package's errors as JSON { error: { code, message } } with their status.
import type { ErrorRequestHandler } from 'express';
import { isLtiaasGradesError } from '../errors';
import type { ResolvedLogger } from '../logger';

/**
 * Answers errors raised by this package; passes any other error on to the app's handlers.
 * Messages are the package's own and hold no secret; an option error (a bug in the set-up)
 * is answered with a generic message and logged.
 */
export function createErrorHandler(logger: ResolvedLogger): ErrorRequestHandler {
  return function ltiaasGradesErrorHandler(err, _req, res, next) {
    if (!isLtiaasGradesError(err) || res.headersSent) {
      next(err);
      return;
    }
    if (err.status >= 500) logger.error({ code: err.code, status: err.status, upstream: err.upstream }, err.message);
    const retryAfterMs = err.upstream?.retryAfterMs;
    if (err.retryable && retryAfterMs !== undefined) res.setHeader('Retry-After', String(Math.ceil(retryAfterMs / 1000)));
    res.status(err.status).json({
      error: {
        code: err.code,
        message: err.expose ? err.message : 'The grade service is not set up correctly; the error was logged.',
      },
    });
  };
}
