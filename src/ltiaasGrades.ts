// The ltiaasGrades() factory: validates options once and hands out the middleware, handler and error handler.
import type { ErrorRequestHandler, Request, RequestHandler } from 'express';
import { createAdminRouter, type AdminRouterOptions } from './admin/adminRouter';
import { formKeyOf } from './admin/formGuard';
import type { GradeEventMap, GradeEventName } from './events';
import { createErrorHandler } from './express/errorHandler';
import { createLtikExtractor } from './express/extractLtik';
import { createMiddleware, looksLikeRequest, middlewareNotCalled } from './express/middleware';
import type { LtiRequestContext } from './express/requestTypes';
import { createSubmitGrade, type SubmitGradeOptions } from './express/submitGrade';
import type { LaunchGrades } from './grades/launchGrades';
import type { ServiceKeyGrades } from './grades/serviceKeyGrades';
import { clientOf } from './ltiaasClient';
import { resolveOptions, type LtiaasGradesOptions } from './options';
import type { GradesStatus } from './status/gradesStatus';
import { buildGrades } from './wiring';
import { OptionsError } from './errors';

/** What {@link ltiaasGrades} returns. */
export interface LtiaasGrades {
  /**
   * Finds the ltik (`?ltik=`, body field `ltik`, `Authorization: Bearer`, or your `extractLtik`)
   * and sets `req.lti = { ltik, grades }`. Makes no LTIAAS call: routes that do not grade pay nothing.
   * Mount body parsers before it if the ltik comes in the body.
   * @example app.use(grades.middleware());
   */
  middleware(): RequestHandler;
  /**
   * A route handler that posts the server-computed score for the launch's user.
   * @example
   * app.post('/quiz/:id/finish', scoreQuiz, grades.submitGrade({
   *   score: (req, res) => ({ scoreGiven: res.locals.score, scoreMaximum: 10 }),
   *   lineItem: (req) => ({ resourceId: `quiz-${req.params.id}`, label: 'Quiz', scoreMaximum: 10 }),
   * }));
   */
  submitGrade(options: SubmitGradeOptions): RequestHandler;
  /**
   * Answers the package's errors as `{ error: { code, message } }` with their status; passes others on.
   * @example app.use(grades.errorHandler());
   */
  errorHandler(): ErrorRequestHandler;
  /** Listens to `submitted`, `queued`, `retry` and `rejected` events (no secrets in any payload). */
  on<E extends GradeEventName>(event: E, listener: (payload: GradeEventMap[E]) => void): LtiaasGrades;
  /** Removes a listener added with `on`. */
  off<E extends GradeEventName>(event: E, listener: (payload: GradeEventMap[E]) => void): LtiaasGrades;
  /** The grade operations of the launch whose ltik this is, for code outside a request. */
  forLaunch(ltik: string): LaunchGrades;
  /** The grade operations of an activity by its service key, sharing this instance's caches and outbox. */
  withServiceKey(serviceKey: string): ServiceKeyGrades;
  /** Stops the outbox (pending grades stay stored) and closes kept-alive connections. */
  close(): Promise<void>;
  /**
   * The outbox's counts and LTIAAS's reachability as last seen, summed up in `state`: put it
   * behind your health endpoint, failing only on `unhealthy` (LTIAAS being down while the outbox
   * holds grades is `degraded`, and the tool is fine). Never rejects, holds no secret.
   * @example app.get('/healthz', async (req, res) => { const s = await grades.status(); res.status(s.state === 'unhealthy' ? 503 : 200).json(s); });
   */
  status(): Promise<GradesStatus>;
  /**
   * A handler to mount under a path of your own: a page (and `grades.json`) listing the grades
   * the outbox holds and those refused for good, with the LMS's message and buttons to re-queue
   * or discard them. Every request is answered 403 unless `authorize(req)` resolves `true`;
   * its forms are refused from other sites.
   * @example app.use('/admin/grades', grades.adminRouter({ authorize: (req) => req.session?.user?.isAdmin === true }));
   */
  adminRouter(options: AdminRouterOptions): RequestHandler;
}

/** The handler `app.use('/admin', grades.adminRouter)` (not called) would install: it says what to write instead. */
const adminRouterNotCalled: RequestHandler = (_req, _res, next) =>
  next(new OptionsError("grades.adminRouter is a factory: write app.use('/admin/grades', grades.adminRouter({ authorize })), with the options."));

/**
 * Creates the grade passback for one LTIAAS account. Options are validated here, once: an
 * unknown key or a bad value throws an error naming the option and the fix.
 * @example
 * const grades = ltiaasGrades({ ltiaasUrl: 'https://your.ltiaas.com', apiKey: process.env.LTIAAS_API_KEY! });
 * app.use(express.json());
 * app.use(grades.middleware());
 * app.post('/finish', grades.submitGrade({ score: (req, res) => ({ scoreGiven: res.locals.score, scoreMaximum: 10 }) }));
 * app.use(grades.errorHandler());
 */
export function ltiaasGrades(options: LtiaasGradesOptions): LtiaasGrades {
  const config = resolveOptions(options);
  const parts = buildGrades(config);
  const extractLtik = createLtikExtractor(config.ltikSources, config.extractLtik);
  const recordKeys = config.serviceKeyStore !== undefined;
  const attach = (req: Request): LtiRequestContext => {
    const ltik = extractLtik(req);
    // With a key store, each launch's ID token is read once, in the background, to record its
    // service key; the token is then cached for the grade submission that follows.
    if (ltik && recordKeys) parts.readIdToken(ltik).catch(() => undefined);
    return { ltik, grades: parts.forLaunch(ltik) };
  };

  const instance: LtiaasGrades = {
    ...clientOf<LtiaasGrades>(parts, () => instance),
    middleware(...args: unknown[]) {
      if (looksLikeRequest(args[0])) {
        // Called by Express as `app.use(grades.middleware)`: answer with the fix instead of hanging.
        (middlewareNotCalled as (...a: unknown[]) => void)(...args);
        return undefined as unknown as RequestHandler;
      }
      return createMiddleware(attach);
    },
    submitGrade: (submitOptions) => createSubmitGrade(submitOptions, attach),
    errorHandler: () => createErrorHandler(config.logger),
    adminRouter(...args: unknown[]) {
      if (looksLikeRequest(args[0])) {
        // Mounted as `app.use('/admin', grades.adminRouter)`: answer with the fix instead of hanging.
        (adminRouterNotCalled as (...a: unknown[]) => void)(...args);
        return undefined as unknown as RequestHandler;
      }
      const { outbox, logger, events } = parts;
      return createAdminRouter({ status: parts.status, logger, events, formKey: formKeyOf(config.apiKey), ...(outbox ? { outbox } : {}) }, args[0] as AdminRouterOptions);
    },
  };
  return instance;
}
