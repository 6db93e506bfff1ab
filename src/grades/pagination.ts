// Follows the LMS's `next` links (sent back to LTIAAS as `?url=`) until the last page.
import { gradesError } from '../errors';

/** Safety stops: an LMS that loops its `next` link must not loop us. */
const MAX_PAGES = 10_000;

/** Yields every page, starting from `first()` and then `byUrl(next)` while a new `next` appears. */
export async function* followPages<P extends { next?: string }>(first: () => Promise<P>, byUrl: (url: string) => Promise<P>): AsyncGenerator<P> {
  let page = await first();
  const seen = new Set<string>();
  for (let count = 1; ; count++) {
    yield page;
    const next = page.next;
    if (!next) return;
    if (seen.has(next) || count >= MAX_PAGES) {
      // Not retryable: the same LMS loops the same way again, and each repeat could fetch up to MAX_PAGES pages.
      throw gradesError('LTIAAS_UNAVAILABLE', {
        status: 502,
        message: `The LMS's paging did not end (a next link repeated or over ${MAX_PAGES} pages).`,
        retryable: false,
      });
    }
    seen.add(next);
    page = await byUrl(next);
  }
}
