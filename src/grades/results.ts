// Reads every result the LMS holds on a line item, following `next` pages.
import type { Credential } from '../client/credentials';
import type { LtiaasApi } from '../client/ltiaasApi';
import type { CallOptions } from '../client/transport';
import type { Result, ResultFilters } from '../types';
import { validateLineItemId, validateResultFilters } from './lineItemSchema';
import { followPages } from './pagination';

export async function listAllResults(
  api: LtiaasApi,
  credential: Credential,
  lineItemId: string,
  filters: ResultFilters = {},
  options?: CallOptions,
): Promise<Result[]> {
  const id = validateLineItemId(lineItemId);
  const valid = validateResultFilters(filters);
  const results: Result[] = [];
  const pages = followPages(
    () => api.listResults(credential, id, valid, options),
    (url) => api.listResults(credential, id, { url }, options),
  );
  for await (const page of pages) results.push(...page.scores);
  return results;
}
