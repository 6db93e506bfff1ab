// The LTIAAS grade endpoints, one method each: paths, encoding, and checks on what comes back.
import type Joi from 'joi';
import type { IdToken, LineItem, ScorePayload, LineItemFilters, LineItemsPage, ResultFilters, ResultsPage } from '../types';
import {
  checkAnswer,
  createdLineItemAnswer,
  idTokenAnswer,
  lineItemAnswer,
  lineItemsPageAnswer,
  resultsPageAnswer,
} from './answerSchemas';
import type { Credential } from './credentials';
import type { CallOptions, HttpMethod, LtiaasResponse, LtiaasTransport } from './transport';
import { errorFromMalformedAnswer } from './upstreamErrors';

/** A line item id in a path: encoded exactly once, as ltiaas-api.md requires. */
const lineItemPath = (lineItemId: string) => `/api/lineitems/${encodeURIComponent(lineItemId)}`;

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null;

/**
 * The answer checked against its endpoint's schema. A 2xx answer the package cannot use is a
 * bad gateway (LTIAAS_UNAVAILABLE), never a success: retryable when repeating the call is safe.
 */
function readAnswer<T>(schema: Joi.Schema, response: LtiaasResponse<unknown>, method: HttpMethod, endpoint: string, retryable: boolean): T {
  const checked = checkAnswer<T>(schema, response.data);
  if ('problem' in checked) throw errorFromMalformedAnswer({ method, endpoint }, response.status, checked.problem, retryable);
  return checked.value;
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
    const response = await this.transport.send<unknown>(
      { method: 'GET', path: endpoint, endpoint, credential: { kind: 'ltik', ltik }, idempotent: true },
      options,
    );
    const token = readAnswer<IdToken>(idTokenAnswer, response, 'GET', endpoint, true);
    // Lenient where nothing depends on it: roles and launch details may be absent.
    return {
      ...token,
      user: { ...token.user, roles: Array.isArray(token.user.roles) ? token.user.roles : [] },
      launch: isObject(token.launch) ? token.launch : {},
    };
  }

  /** `GET /api/lineitems`: one page. */
  async listLineItems(credential: Credential, filters: LineItemFilters = {}, options?: CallOptions): Promise<LineItemsPage> {
    const endpoint = '/api/lineitems';
    const response = await this.transport.send<unknown>(
      { method: 'GET', path: endpoint, endpoint, query: pageQuery(filters), credential, idempotent: true },
      options,
    );
    return readAnswer<LineItemsPage>(lineItemsPageAnswer, response, 'GET', endpoint, true);
  }

  /** `GET /api/lineitems/:lineItemId`. */
  async getLineItem(credential: Credential, lineItemId: string, options?: CallOptions): Promise<LineItem> {
    const endpoint = '/api/lineitems/:lineItemId';
    const response = await this.transport.send<unknown>(
      { method: 'GET', path: lineItemPath(lineItemId), endpoint, credential, idempotent: true, meta: { lineItemId } },
      options,
    );
    return readAnswer<LineItem>(lineItemAnswer, response, 'GET', endpoint, true);
  }

  /**
   * `POST /api/lineitems`: not idempotent (a repeat makes a second column), so retried only when
   * nothing was sent. A 201 without a readable id is not retryable here: the column may exist,
   * and only a caller that searches first (the line item resolver) may try again.
   */
  async createLineItem(credential: Credential, body: Record<string, unknown>, options?: CallOptions): Promise<LineItem> {
    const endpoint = '/api/lineitems';
    const response = await this.transport.send<unknown>(
      { method: 'POST', path: endpoint, endpoint, body, credential, idempotent: false },
      options,
    );
    return readAnswer<LineItem>(createdLineItemAnswer, response, 'POST', endpoint, false);
  }

  /** `PUT /api/lineitems/:lineItemId`: replaces the whole line item. */
  async updateLineItem(credential: Credential, lineItemId: string, body: Record<string, unknown>, options?: CallOptions): Promise<LineItem> {
    const endpoint = '/api/lineitems/:lineItemId';
    const { data } = await this.transport.send<unknown>(
      { method: 'PUT', path: lineItemPath(lineItemId), endpoint, body, credential, idempotent: true, meta: { lineItemId } },
      options,
    );
    // Some deployments answer 204 or an empty body; the update was still applied. An answer
    // without a usable id (missing, not a string, blank) is not the column: the one named is.
    const answered = checkAnswer<LineItem>(createdLineItemAnswer, data);
    return 'value' in answered ? answered.value : ({ ...body, id: lineItemId } as LineItem);
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
    const response = await this.transport.send<unknown>(
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
    return readAnswer<ResultsPage>(resultsPageAnswer, response, 'GET', endpoint, true);
  }
}
