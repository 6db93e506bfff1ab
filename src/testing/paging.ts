// Paging of list endpoints the way LMSes do it: absolute page URLs in next/prev/first/last, read back through ?url=.
import { LtiaasApiError } from './errors';

export interface PageLinks {
  next?: string;
  prev?: string;
  first?: string;
  last?: string;
}

/** What one page request asks for, whether it came from the query string or from a page URL. */
export interface PageRequest {
  page: number;
  limit: number;
  filters: Record<string, string | undefined>;
}

export function paginate<T>(
  items: T[],
  request: PageRequest,
  pageUrl: (page: number) => string,
): { items: T[]; links: PageLinks } {
  const lastPage = Math.max(1, Math.ceil(items.length / request.limit));
  const start = (request.page - 1) * request.limit;
  const pageItems = items.slice(start, start + request.limit);
  // Links only when there is more than one page: not every LMS pages, and a single page has nowhere to go.
  if (lastPage === 1) return { items: pageItems, links: {} };
  const links: PageLinks = { first: pageUrl(1), last: pageUrl(lastPage) };
  if (request.page < lastPage) links.next = pageUrl(request.page + 1);
  if (request.page > 1) links.prev = pageUrl(Math.min(request.page - 1, lastPage));
  return { items: pageItems, links };
}

/** A positive integer from a query string ("3"), or undefined when absent; anything else is a 400. */
export function parsePositiveInteger(value: string | null, name: string): number | undefined {
  if (value === null) return undefined;
  if (!/^[0-9]+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
    throw new LtiaasApiError(400, 'INVALID_QUERY_PARAMETERS', `${name} must be an integer >= 1.`);
  }
  return Number(value);
}

/**
 * Reads a page URL the emulator handed out earlier. Anything that is not a page of `expectedBase`
 * (another course, another line item, another host, not a URL) is a 400: LTIAAS would be asked
 * to fetch a URL that is not this platform's.
 */
export function parsePageUrl(
  url: string,
  expectedBase: string,
  filterNames: readonly string[],
  maxLimit: number,
): PageRequest {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalidPageUrl();
  }
  if (`${parsed.origin}${parsed.pathname}` !== expectedBase) throw invalidPageUrl();
  let page: number | undefined;
  let limit: number | undefined;
  try {
    page = parsePositiveInteger(parsed.searchParams.get('page'), 'page');
    limit = parsePositiveInteger(parsed.searchParams.get('limit'), 'limit');
  } catch {
    throw invalidPageUrl();
  }
  const filters: Record<string, string | undefined> = {};
  for (const name of filterNames) filters[name] = parsed.searchParams.get(name) || undefined;
  return { page: page ?? 1, limit: Math.min(limit ?? maxLimit, maxLimit), filters };
}

function invalidPageUrl(): LtiaasApiError {
  return new LtiaasApiError(400, 'INVALID_PAGE_URL', 'url is not a page URL of this platform for this resource.');
}
