// Adds req.lti to Express's Request type for every app that imports the package.
import type { LaunchGrades } from '../grades/launchGrades';

/** What the middleware attaches to each request. */
export interface LtiRequestContext {
  /** The launch's ltik, when the request carried one. Secret: never log or send it to a browser other than the student's own. */
  ltik?: string;
  /** The grade operations of this launch (they fail with LTIK_MISSING when `ltik` is absent). */
  grades: LaunchGrades;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set by `ltiaasGrades(...).middleware()`. */
      lti?: LtiRequestContext;
    }
  }
}
