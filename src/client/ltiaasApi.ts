// The LTIAAS grade endpoints, one method each: paths, encoding, and checks on what comes back.
import { LtiaasUnavailableError } from '../errors';
import type { IdToken, LineItem, ScorePayload, LineItemFilters, LineItemsPage, Result, ResultFilters, ResultsPage } from '../types';
import type { Credential } from './credentials';
import type { CallOptions, HttpMethod, LtiaasTransport } from './transport';

/** A line item id in a path: encoded exactly once, as ltiaas-api.md requires. */
const lineItemPath = (lineItemId: string) => `/api/lineitems/${encodeURIComponent(lineItemId)}`;

/** LTIAAS answered 2xx with something we cannot use: treat as a bad gateway, not as success. */
function malformed(method: HttpMethod, endpoint: string, what: string): LtiaasUnavailableError {
  return new LtiaasUnavailableError({
    status: 502,
    code: 'LTIAAS_UNAVAILABLE',
    message: `LTIAAS answered ${method} ${endpoint} with ${what}.`,
    retryable: true,
    upstream: { method, endpoint, kind: 'http' },
  });
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null;

function asLineItem(data: unknown, method: HttpMethod, endpoint: string): LineItem {
  if (!isObject(data) || typeof data.id !== 'string') throw malformed(method, endpoint, 'no line item id');
  return data as LineItem;
}

/** A `url` filter replaces all others (LTIAAS ignores them), so only it is sent. */
function pageQuery<F extends { url?: string }>(filters: F): Record<string, string | number | undefined> {
  return filters.url ? { url: filters.url } : (filters as Record<string, string | number | undefined>);
}

export class LtiaasApi {
  constructor(private readonly transport: LtiaasTransport) {}

  /** `GET /api/idtoken`: ltik only. */
  async idToken(ltik: string, options?: CallOptions): Promise<IdToken> {
    const endpoint = '/api/idtoken';
    const { data } = await this.transport.send<unknown>(
      { method: 'GET', path: endpoint, endpoint, credential: { kind: 'ltik', ltik }, idempotent: true },
      options,
    );
    const token = data as IdToken;
    if (!isObject(data) || !isObject(token.user) || typeof token.user.id !== 'string' || token.user.id === '') {
      throw malformed('GET', endpoint, 'an ID token without user.id');
    }
    // Lenient: a token without the services block means no grade service.
    const services = isObject(token.services) ? token.services : ({} as IdToken['services']);
    const grades = isObject(services.assignmentAndGrades) ? services.assignmentAndGrades : { available: false };
    return {
      ...token,
      user: { ...token.user, roles: Array.isArray(token.user.roles) ? token.user.roles : [] },
      platform: isObject(token.platform) ? token.platform : ({ id: '' } as IdToken['platform']),
      launch: isObject(token.launch) ? token.launch : {},
      services: { ...services, assignmentAndGrades: { ...grades, available: grades.available === true } },
    };
  }

  /** `GET /api/lineitems`: one page. */
  async listLineItems(credential: Credential, filters: LineItemFilters = {}, options?: CallOptions): Promise<LineItemsPage> {
    const endpoint = '/api/lineitems';
    const { data } = await this.transport.send<unknown>(
      { method: 'GET', path: endpoint, endpoint, query: pageQuery(filters), credential, idempotent: true },
      options,
    );
    if (!isObject(data) || !Array.isArray(data.lineItems)) throw malformed('GET', endpoint, 'no lineItems list');
    return data as unknown as LineItemsPage;
  }

  /** `GET /api/lineitems/:lineItemId`. */
  async getLineItem(credential: Credential, lineItemId: string, options?: CallOptions): Promise<LineItem> {
    const endpoint = '/api/lineitems/:lineItemId';
    const { data } = await this.transport.send<unknown>(
      { method: 'GET', path: lineItemPath(lineItemId), endpoint, credential, idempotent: true, meta: { lineItemId } },
      options,
    );
    return asLineItem(data, 'GET', endpoint);
  }

  /** `POST /api/lineitems`: not idempotent (a repeat makes a second column), so retried only when nothing was sent. */
  async createLineItem(credential: Credential, body: Record<string, unknown>, options?: CallOptions): Promise<LineItem> {
    const endpoint = '/api/lineitems';
    const { data } = await this.transport.send<unknown>(
      { method: 'POST', path: endpoint, endpoint, body, credential, idempotent: false },
      options,
    );
    return asLineItem(data, 'POST', endpoint);
  }

  /** `PUT /api/lineitems/:lineItemId`: replaces the whole line item. */
  async updateLineItem(credential: Credential, lineItemId: string, body: Record<string, unknown>, options?: CallOptions): Promise<LineItem> {
    const endpoint = '/api/lineitems/:lineItemId';
    const { data } = await this.transport.send<unknown>(
      { method: 'PUT', path: lineItemPath(lineItemId), endpoint, body, credential, idempotent: true, meta: { lineItemId } },
      options,
    );
    // Some deployments answer 204 or an empty body; the update was still applied.
    return isObject(data) && typeof data.id === 'string' ? (data as LineItem) : ({ ...body, id: lineItemId } as LineItem);
  }

  /** `DELETE /api/lineitems/:lineItemId`. */
  async deleteLineItem(credential: Credential, lineItemId: string, options?: CallOptions): Promise<void> {
    const endpoint = '/api/lineitems/:lineItemId';
    await this.transport.send<unknown>(
      { method: 'DELETE', path: lineItemPath(lineItemId), endpoint, credential, idempotent: true, meta: { lineItemId } },
      options,
    );
  }

  /** `POST /api/lineitems/:lineItemId/scores`: any 2xx is success (204 now, 200 in older LTIAAS). */
  async postScore(credential: Credential, lineItemId: string, payload: ScorePayload, options?: CallOptions): Promise<void> {
    const endpoint = '/api/lineitems/:lineItemId/scores';
    await this.transport.send<unknown>(
      {
        method: 'POST',
        path: `${lineItemPath(lineItemId)}/scores`,
        endpoint,
        body: payload,
        credential,
        // The payload's timestamp is fixed before the first attempt, so a repeat is the same score.
        idempotent: true,
        meta: { lineItemId, userId: payload.userId },
      },
      options,
    );
  }

  /** `GET /api/lineitems/:lineItemId/scores`: one page of results. */
  async listResults(credential: Credential, lineItemId: string, filters: ResultFilters = {}, options?: CallOptions): Promise<ResultsPage> {
    const endpoint = '/api/lineitems/:lineItemId/scores';
    const { data } = await this.transport.send<unknown>(
      {
        method: 'GET',
        path: `${lineItemPath(lineItemId)}/scores`,
        endpoint,
        query: pageQuery(filters),
        credential,
        idempotent: true,
        meta: { lineItemId },
      },
      options,
    );
    if (!isObject(data) || !Array.isArray(data.scores)) throw malformed('GET', endpoint, 'no scores list');
    return { ...(data as unknown as ResultsPage), scores: data.scores as Result[] };
  }
}
