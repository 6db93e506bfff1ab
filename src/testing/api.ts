// The LTIAAS /api/* endpoints for grades and rosters: routing, authentication per endpoint, and the handlers.
import { authenticate, LTIK_OR_SERVICE_SCHEMES, LTIK_SCHEMES, type CredentialStore, type Grant, type ParsedAuthorization } from './auth';
import type { ContextRegistry, CourseContext } from './contexts';
import { LtiaasApiError, resourceLinkNotFoundError } from './errors';
import type { Gradebook } from './gradebook';
import type { LaunchRegistry } from './launches';
import { listMemberships } from './memberships';
import { validateLineItemBody, validateScoreBody, type LineItemFields } from './validation';

export interface ApiRequest {
  method: string;
  /** The pathname exactly as sent, percent-encoding kept. */
  rawPath: string;
  query: URLSearchParams;
  auth: ParsedAuthorization;
  /** Parsed JSON body; undefined when the request had none. */
  body: unknown;
}

export interface ApiReply {
  status: number;
  body?: unknown;
}

interface ApiDependencies {
  credentials: CredentialStore;
  launches: LaunchRegistry;
  contexts: ContextRegistry;
  gradebook: Gradebook;
  /** The LMS page size for the roster (line items and results take theirs from the grade book). */
  pageSize: number;
  /** Wall clock for when a score arrived (not the test clock, which may be frozen). */
  receivedAt: () => number;
}

type Route =
  | { endpoint: 'idtoken' }
  | { endpoint: 'memberships' }
  | { endpoint: 'lineItems' }
  | { endpoint: 'lineItem'; lineItemId: string }
  | { endpoint: 'scores'; lineItemId: string };

export class LtiaasApi {
  constructor(private readonly deps: ApiDependencies) {}

  /** Answers one request; every refusal comes back as an LTIAAS-shaped error reply, never as a throw. */
  handle(request: ApiRequest): ApiReply {
    try {
      return this.dispatch(request);
    } catch (error) {
      if (error instanceof LtiaasApiError) return { status: error.status, body: error.toBody() };
      throw error;
    }
  }

  private dispatch(request: ApiRequest): ApiReply {
    const route = matchRoute(request.rawPath);
    const method = request.method;
    if (route === undefined || !isAllowed(route, method)) {
      throw new LtiaasApiError(404, 'ROUTE_NOT_FOUND', 'No such LTIAAS API route for this method.');
    }
    if (route.endpoint === 'idtoken') {
      return this.idToken(authenticate(request.auth, LTIK_SCHEMES, this.deps.credentials), request.query);
    }
    if (route.endpoint === 'memberships') {
      const context = this.rosterContext(authenticate(request.auth, LTIK_OR_SERVICE_SCHEMES, this.deps.credentials));
      const { gradebook, pageSize } = this.deps;
      return { status: 200, body: listMemberships(context, request.query, gradebook.urlsFor(context), pageSize) };
    }
    const context = this.gradesContext(authenticate(request.auth, LTIK_OR_SERVICE_SCHEMES, this.deps.credentials));
    const { gradebook } = this.deps;

    if (route.endpoint === 'lineItems') {
      if (method === 'GET') return { status: 200, body: gradebook.listLineItems(context, request.query) };
      const fields = validateLineItemBody(request.body);
      this.requireResourceLink(context, fields);
      return { status: 201, body: gradebook.toJson(gradebook.create(context, fields)) };
    }
    if (route.endpoint === 'lineItem') {
      // LTIAAS validates the body itself before it asks the LMS about the line item.
      const fields = method === 'PUT' ? validateLineItemBody(request.body) : undefined;
      const item = gradebook.findInContext(context, route.lineItemId);
      if (method === 'GET') return { status: 200, body: gradebook.toJson(item) };
      if (method === 'DELETE') {
        gradebook.remove(item);
        return { status: 204 };
      }
      gradebook.replace(item, fields!);
      // Documented as 201 (not the AGS 200); a client should accept any 2xx.
      return { status: 201, body: gradebook.toJson(item) };
    }
    if (method === 'GET') {
      const item = gradebook.findInContext(context, route.lineItemId);
      return { status: 200, body: gradebook.listResults(item, request.query) };
    }
    const score = validateScoreBody(request.body);
    const item = gradebook.findInContext(context, route.lineItemId);
    // An ignored (older or same-timestamp) score is still a 204: the LMS does not tell the tool.
    gradebook.recordScore(item, score, this.deps.receivedAt());
    return { status: 204 };
  }

  /** The formatted ID token, or with `?raw=true` the claims as the LMS sent them. */
  private idToken(grant: Grant, query: URLSearchParams): ApiReply {
    const raw = query.get('raw');
    if (raw !== null && raw !== 'true' && raw !== 'false') {
      throw new LtiaasApiError(400, 'INVALID_QUERY_PARAMETERS', 'raw must be true or false.');
    }
    const { launches } = this.deps;
    const idToken = grant.ltik === undefined ? undefined : raw === 'true' ? launches.rawIdTokenFor(grant.ltik) : launches.idTokenFor(grant.ltik);
    if (!idToken) throw new Error('an ltik grant without its launch');
    return { status: 200, body: idToken };
  }

  /**
   * AGS: a line item may be bound only to a resource link of its own course; the LMS answers 404
   * otherwise, and LTIAAS passes that on. The id is not echoed: it is whatever the client sent.
   */
  private requireResourceLink(context: CourseContext, fields: LineItemFields): void {
    if (fields.resourceLinkId === undefined || context.resourceLinks.has(fields.resourceLinkId)) return;
    throw resourceLinkNotFoundError(this.deps.gradebook.urlsFor(context).lineItemsPageBase());
  }

  /** The course whose roster a call may read; 403 when the launch did not come with the roster service. */
  private rosterContext(grant: Grant): CourseContext {
    if (!grant.namesAndRolesAvailable) {
      throw new LtiaasApiError(
        403,
        'SERVICE_NOT_AVAILABLE_FOR_CONTEXT',
        'The Names and Roles Provisioning service is not available for this launch.',
      );
    }
    return this.deps.contexts.ensure(grant.platformId, grant.contextId);
  }

  /** The course a grades call may touch; 403 when the launch did not come with the grades service. */
  private gradesContext(grant: Grant): CourseContext {
    if (!grant.gradesAvailable) {
      throw new LtiaasApiError(
        403,
        'SERVICE_NOT_AVAILABLE_FOR_CONTEXT',
        'The Assignment and Grades service is not available for this launch.',
      );
    }
    return this.deps.contexts.ensure(grant.platformId, grant.contextId);
  }
}

const ALLOWED_METHODS: Record<Route['endpoint'], readonly string[]> = {
  idtoken: ['GET'],
  memberships: ['GET'],
  lineItems: ['GET', 'POST'],
  lineItem: ['GET', 'PUT', 'DELETE'],
  scores: ['GET', 'POST'],
};

function isAllowed(route: Route, method: string): boolean {
  return ALLOWED_METHODS[route.endpoint].includes(method);
}

const LINE_ITEM_PATH = /^\/api\/lineitems\/([^/]+)$/;
const SCORES_PATH = /^\/api\/lineitems\/([^/]+)\/scores$/;

/**
 * Routes on the raw path. The line item id is one path segment decoded exactly once, so an id sent
 * raw (its '/' split it into segments) or encoded twice (it decodes to '%2F'...) finds nothing: 404.
 */
function matchRoute(rawPath: string): Route | undefined {
  if (rawPath === '/api/idtoken') return { endpoint: 'idtoken' };
  if (rawPath === '/api/memberships') return { endpoint: 'memberships' };
  if (rawPath === '/api/lineitems') return { endpoint: 'lineItems' };
  const lineItem = LINE_ITEM_PATH.exec(rawPath);
  if (lineItem) return withDecodedId('lineItem', lineItem[1]!);
  const scores = SCORES_PATH.exec(rawPath);
  if (scores) return withDecodedId('scores', scores[1]!);
  return undefined;
}

function withDecodedId(endpoint: 'lineItem' | 'scores', segment: string): Route {
  let lineItemId: string;
  try {
    lineItemId = decodeURIComponent(segment);
  } catch {
    // Malformed percent-encoding cannot name any line item.
    lineItemId = '';
  }
  return { endpoint, lineItemId };
}
