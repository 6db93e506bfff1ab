// The line item operations of one credential (req.lti.grades.lineItems and the service-key client's): interface and implementation.
import type { CallOptions } from '../client/transport';
import type { Credential } from '../client/credentials';
import type { LtiaasApi } from '../client/ltiaasApi';
import type { LineItem, LineItemFilters, LineItemInput, LineItemsPage } from '../types';
import { validateLineItemFilters, validateLineItemId, validateLineItemInput } from './lineItemSchema';
import { followPages } from './pagination';

/**
 * List, read, create, update and delete grade-book columns (`req.lti.grades.lineItems`, and
 * `lineItems` of `withServiceKey(key)`). Inputs are validated (and the validated copy sent);
 * line item ids are URL-encoded exactly once.
 */
export interface LineItems {
  /** One page of line items. Pass `{ url: page.next }` for the following page. */
  list(filters?: LineItemFilters, options?: CallOptions): Promise<LineItemsPage>;
  /** Every page, one at a time, following `next` to the end. */
  pages(filters?: LineItemFilters, options?: CallOptions): AsyncGenerator<LineItemsPage>;
  /** Every line item matching the filters, following `next` pages to the end. */
  listAll(filters?: LineItemFilters, options?: CallOptions): Promise<LineItem[]>;
  get(lineItemId: string, options?: CallOptions): Promise<LineItem>;
  /**
   * Creates a column. To avoid duplicate columns, prefer `findOrCreateLineItem`. A 201 whose body
   * has no readable id throws LTIAAS_UNAVAILABLE with `retryable: false`: the column may exist, so
   * list by `resourceId` before creating it again.
   */
  create(lineItem: LineItemInput, options?: CallOptions): Promise<LineItem>;
  /** Replaces the whole line item (fields left out are deleted by the LMS). */
  update(lineItemId: string, lineItem: LineItemInput, options?: CallOptions): Promise<LineItem>;
  delete(lineItemId: string, options?: CallOptions): Promise<void>;
}

/** What the column resolver needs beyond {@link LineItems}: whether a column holds any score (internal, not exported). */
export interface ColumnOperations extends LineItems {
  /** True when the LMS reports at least one result on the column. */
  holdsScores(lineItemId: string, options?: CallOptions): Promise<boolean>;
}

/** The line item operations made with one credential (an ltik or a service key). */
export class LineItemsOfCredential implements ColumnOperations {
  constructor(
    private readonly api: LtiaasApi,
    private readonly credential: () => Credential,
  ) {}

  /** One page of line items. Pass `{ url: page.next }` for the following page. */
  async list(filters: LineItemFilters = {}, options?: CallOptions): Promise<LineItemsPage> {
    const valid = validateLineItemFilters(filters);
    return this.api.listLineItems(this.credential(), valid, options);
  }

  /** Every page, one at a time, following `next` to the end. */
  async *pages(filters: LineItemFilters = {}, options?: CallOptions): AsyncGenerator<LineItemsPage> {
    const valid = validateLineItemFilters(filters);
    const credential = this.credential();
    yield* followPages(
      () => this.api.listLineItems(credential, valid, options),
      (url) => this.api.listLineItems(credential, { url }, options),
    );
  }

  /** Every line item matching the filters, following `next` pages to the end. */
  async listAll(filters: LineItemFilters = {}, options?: CallOptions): Promise<LineItem[]> {
    const all: LineItem[] = [];
    for await (const page of this.pages(filters, options)) all.push(...page.lineItems);
    return all;
  }

  async get(lineItemId: string, options?: CallOptions): Promise<LineItem> {
    return this.api.getLineItem(this.credential(), validateLineItemId(lineItemId), options);
  }

  /**
   * Creates a column. To avoid duplicate columns, prefer `findOrCreateLineItem`. A 201 whose body
   * has no readable id throws LTIAAS_UNAVAILABLE with `retryable: false`: the column may exist, so
   * list by `resourceId` before creating it again.
   */
  async create(lineItem: LineItemInput, options?: CallOptions): Promise<LineItem> {
    return this.api.createLineItem(this.credential(), { ...validateLineItemInput(lineItem) }, options);
  }

  /** Replaces the whole line item (fields left out are deleted by the LMS). */
  async update(lineItemId: string, lineItem: LineItemInput, options?: CallOptions): Promise<LineItem> {
    const id = validateLineItemId(lineItemId);
    return this.api.updateLineItem(this.credential(), id, { ...validateLineItemInput(lineItem) }, options);
  }

  async delete(lineItemId: string, options?: CallOptions): Promise<void> {
    return this.api.deleteLineItem(this.credential(), validateLineItemId(lineItemId), options);
  }

  /** One result is enough to know: the first page, one entry long (a `next` link also means there are some). */
  async holdsScores(lineItemId: string, options?: CallOptions): Promise<boolean> {
    const page = await this.api.listResults(this.credential(), validateLineItemId(lineItemId), { limit: 1 }, options);
    return page.scores.length > 0 || page.next !== undefined;
  }
}
