// requireLti(req): the launch of a request as a non-optional type, for strict TypeScript without `!`.
// (A request type with a required `lti` would not help handlers: Express's route typings reject a
// handler whose `req` parameter is narrower than their own Request.)
import { LtikError, OptionsError } from '../errors';
import type { LtiRequestContext } from './requestTypes';

/** The launch of a request that carried an ltik: `ltik` is always set. */
export interface LtiLaunchContext extends LtiRequestContext {
  ltik: string;
}

/**
 * Returns `req.lti` typed as present, with its `ltik`. Throws `LtikError` (`LTIK_MISSING`, 401)
 * when the request carried no ltik, and `OptionsError` (`OPTIONS_INVALID`, 500) when
 * `grades.middleware()` did not run for this request: a set-up mistake, not the student's.
 * @example
 * app.get('/me', async (req, res, next) => {
 *   try {
 *     const { grades } = requireLti(req);
 *     res.json({ user: (await grades.idToken()).user.id });
 *   } catch (error) {
 *     next(error);
 *   }
 * });
 */
// Typed by the one field it reads, so a request of any route's generics (Express 4 or 5) fits.
export function requireLti(req: { lti?: LtiRequestContext | undefined }): LtiLaunchContext {
  const lti = req.lti;
  if (lti === undefined) {
    throw new OptionsError('requireLti(req): grades.middleware() did not run for this request; mount app.use(grades.middleware()) before this route.');
  }
  const { ltik } = lti;
  if (ltik === undefined) throw LtikError.missing();
  return { ...lti, ltik };
}
