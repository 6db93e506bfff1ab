// grades.adminRouter({ authorize }): a mountable handler serving the held and refused grades as a page and as JSON, with re-queue and discard; closed unless authorize(req) resolves true.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import Joi from 'joi';
import { isLtiaasGradesError, OptionsError } from '../errors';
import type { GradeEvents } from '../events';
import type { ResolvedLogger } from '../logger';
import { redactSecrets } from '../redact';
import type { Outbox } from '../outbox/outbox';
import type { FailedGradeJobView, GradeJobView } from '../outbox/outboxTypes';
import type { GradesStatus } from '../status/gradesStatus';
import { renderAdminPage, renderMessagePage, STYLE_SOURCE, type RecentOutboxOutcome } from './adminPage';
import { crossSiteReason, FormGuard } from './formGuard';

/** Options of `grades.adminRouter()`. */
export interface AdminRouterOptions {
  /**
   * Who may see the held grades and re-queue or discard them. Called on every request the
   * router serves; only a result of exactly `true` (or a promise of it) lets the request in,
   * anything else, a throw or a rejection included, is answered 403. Required.
   * @example authorize: (req) => req.session?.user?.isAdmin === true
   */
  authorize: (req: Request) => boolean | Promise<boolean>;
}

/** What the router reads and acts on. */
export interface AdminParts {
  outbox?: Outbox;
  status(): Promise<GradesStatus>;
  logger: ResolvedLogger;
  events: GradeEvents;
  /** Signs the forms' tokens (see FormGuard). */
  formKey: Buffer;
}

const optionsSchema = Joi.object({ authorize: Joi.function().required() }).required();

/** How many outbox outcomes the page remembers. */
const RECENT_LIMIT = 20;

/** Job ids as the outboxes make them; anything else is not a grade of theirs. */
const ACTION_PATH = /^\/failed\/([A-Za-z0-9_-]{1,100})\/(requeue|discard)$/;

/** The largest form body read (a token and nothing else is expected). */
const MAX_FORM_BYTES = 4096;

const NOTICES: Record<string, string> = {
  requeued: 'The grade was re-queued: the outbox delivers it now.',
  discarded: 'The grade was discarded.',
};

type Route = { kind: 'page' } | { kind: 'json' } | { kind: 'action'; id: string; action: 'requeue' | 'discard' };

function routeOf(path: string): Route | undefined {
  if (path === '/' || path === '') return { kind: 'page' };
  if (path === '/grades.json') return { kind: 'json' };
  const match = ACTION_PATH.exec(path);
  return match ? { kind: 'action', id: match[1]!, action: match[2] as 'requeue' | 'discard' } : undefined;
}

/** Headers of every answer: nothing cached, framed, sniffed, referred, or loaded from elsewhere; no script at all. */
function setSecurityHeaders(res: Response): void {
  res.set({
    'Content-Security-Policy': `default-src 'none'; style-src ${STYLE_SOURCE}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Resource-Policy': 'same-origin',
  });
}

/** The form's fields: the app's body parser's result when one read the body, else the urlencoded body read here. */
async function formFields(req: Request): Promise<Record<string, unknown>> {
  // body-parser 1 (Express 4) marks a body it parsed with `_body`; body-parser 2 (Express 5) leaves the stream ended.
  if ((req as { _body?: unknown })._body === true || req.readableEnded) {
    return typeof req.body === 'object' && req.body !== null ? (req.body as Record<string, unknown>) : {};
  }
  if (!/^application\/x-www-form-urlencoded\b/i.test(req.headers['content-type'] ?? '')) return {};
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) return {};
    chunks.push(chunk);
  }
  return Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
}

/** Builds the router; `options` are checked here (OptionsError naming the fix). */
export function createAdminRouter(parts: AdminParts, options: AdminRouterOptions): RequestHandler {
  const { error, value } = optionsSchema.validate(options, { abortEarly: false });
  if (error) {
    const unknown = error.details.find((detail) => detail.type === 'object.unknown');
    const problem = unknown
      ? `unknown option "${unknown.path.join('.')}": the only option is authorize`
      : 'option "authorize" must be a function (req) => true for the people who may see and change held grades, e.g. your own admin check';
    throw new OptionsError(`grades.adminRouter(): ${problem}. It refuses every request it is not told to let in: write grades.adminRouter({ authorize: (req) => ... }).`);
  }
  const { authorize } = value as AdminRouterOptions;
  const { outbox, logger } = parts;
  const guard = new FormGuard(parts.formKey);

  // The outbox's outcomes since this instance started, newest first, for "delivered" after a re-queue.
  const recent: RecentOutboxOutcome[] = [];
  const remember = (entry: RecentOutboxOutcome) => {
    recent.unshift(entry);
    recent.length = Math.min(recent.length, RECENT_LIMIT);
  };
  parts.events.on('submitted', (event) => {
    if (event.fromOutbox) remember({ at: new Date().toISOString(), outcome: 'delivered', userId: event.userId, lineItemId: event.lineItemId, ...(event.scoreGiven !== undefined ? { scoreGiven: event.scoreGiven } : {}), ...(event.scoreMaximum !== undefined ? { scoreMaximum: event.scoreMaximum } : {}) });
  });
  parts.events.on('rejected', (event) => {
    if (event.fromOutbox) remember({ at: new Date().toISOString(), outcome: 'refused', ...(event.userId !== undefined ? { userId: event.userId } : {}), ...(event.lineItemId !== undefined ? { lineItemId: event.lineItemId } : {}), code: event.code });
  });

  /** Only `true` lets a request in; a throwing or rejecting authorize refuses it, and is logged. */
  async function isAuthorized(req: Request): Promise<boolean> {
    try {
      return (await authorize(req)) === true;
    } catch (thrown) {
      const message = redactSecrets(thrown instanceof Error ? thrown.message : String(thrown), []);
      logger.error({ error: message, path: req.path }, 'admin: authorize(req) failed; the request was refused');
      return false;
    }
  }

  async function lists(): Promise<{ pending: GradeJobView[]; failed: FailedGradeJobView[] }> {
    if (!outbox) return { pending: [], failed: [] };
    const [pending, failed] = await Promise.all([outbox.pending(), outbox.failed()]);
    return { pending, failed };
  }

  const refuse = (res: Response, status: number, heading: string, sentence: string, baseUrl?: string) =>
    res.status(status).type('html').send(renderMessagePage(heading, sentence, baseUrl));

  async function showPage(req: Request, res: Response): Promise<void> {
    const [status, held] = await Promise.all([parts.status(), lists()]);
    const done = typeof req.query.done === 'string' ? NOTICES[req.query.done] : undefined;
    const page = renderAdminPage({ status, hasOutbox: outbox !== undefined, ...held, recent, baseUrl: req.baseUrl, token: guard.pageToken(req, res), now: Date.now(), ...(done ? { notice: done } : {}) });
    res.status(200).type('html').send(page);
  }

  async function showJson(res: Response): Promise<void> {
    const [status, held] = await Promise.all([parts.status(), lists()]);
    res.status(200).json({ status, ...held, recent });
  }

  async function act(req: Request, res: Response, id: string, action: 'requeue' | 'discard'): Promise<void> {
    if (req.method !== 'POST') {
      res.set('Allow', 'POST');
      refuse(res, 405, 'Use the buttons', 'Grades are re-queued and discarded with the buttons of the grades page.', req.baseUrl);
      return;
    }
    const crossSite = crossSiteReason(req);
    const tokenProblem = crossSite ?? guard.tokenProblem(req, (await formFields(req)).token);
    if (tokenProblem) {
      logger.warn({ action, id, reason: tokenProblem }, 'admin: a form was refused; nothing was changed');
      refuse(res, 403, 'Refused', `Nothing was changed: ${tokenProblem}. Reload the grades page and use its buttons.`, req.baseUrl);
      return;
    }
    const changed = outbox ? await (action === 'requeue' ? outbox.requeue(id) : outbox.discard(id)) : false;
    if (!changed) {
      refuse(res, 404, 'No such refused grade', 'It is not on the list of refused grades (any more): it may have been re-queued or discarded already.', req.baseUrl);
      return;
    }
    logger.info({ id, action }, action === 'requeue' ? 'admin: refused grade re-queued' : 'admin: refused grade discarded');
    res.status(303).location(`${req.baseUrl}/?done=${action === 'requeue' ? 'requeued' : 'discarded'}`).end();
  }

  async function handle(route: Route, req: Request, res: Response): Promise<void> {
    setSecurityHeaders(res);
    if (!(await isAuthorized(req))) {
      refuse(res, 403, 'Forbidden', 'You are not allowed to see this page.');
      return;
    }
    if (route.kind === 'action') return act(req, res, route.id, route.action);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.set('Allow', 'GET, HEAD');
      refuse(res, 405, 'Method not allowed', 'This address is only read.', req.baseUrl);
      return;
    }
    return route.kind === 'page' ? showPage(req, res) : showJson(res);
  }

  return function ltiaasGradesAdmin(req: Request, res: Response, next: NextFunction): void {
    const route = routeOf(req.path);
    if (!route) {
      next();
      return;
    }
    // Express 4 does not forward a rejected promise: every failure goes to next() here.
    handle(route, req, res).catch((failure: unknown) => {
      if (isLtiaasGradesError(failure) && !res.headersSent) {
        refuse(res, failure.status, 'The outbox could not be read', failure.message, req.baseUrl);
        return;
      }
      next(failure);
    });
  };
}
