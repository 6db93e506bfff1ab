// Finds the launch's ltik in a request: ?ltik=, a body field, Authorization: Bearer, or the app's own finder.
import type { Request } from 'express';
import type { LtikSource } from '../options';

export type LtikExtractor = (req: Request) => string | undefined;

/** An ltik is an opaque token: printable, no spaces, of sane length. Anything else is not one. */
const LTIK_SHAPE = /^[\x21-\x7e]{1,8192}$/;

const asLtik = (value: unknown): string | undefined =>
  typeof value === 'string' && LTIK_SHAPE.test(value) ? value : undefined;

const fromQuery: LtikExtractor = (req) => {
  // Looking at the raw URL first spares routes without an ltik the query parsing.
  if (!req.url.includes('ltik=')) return undefined;
  return asLtik((req.query as Record<string, unknown> | undefined)?.ltik);
};

const fromBody: LtikExtractor = (req) => {
  const body: unknown = req.body;
  return typeof body === 'object' && body !== null ? asLtik((body as Record<string, unknown>).ltik) : undefined;
};

const fromHeader: LtikExtractor = (req) => {
  const header = req.headers.authorization;
  if (!header || header.length < 8 || header.slice(0, 7).toLowerCase() !== 'bearer ') return undefined;
  return asLtik(header.slice(7).trim());
};

const BY_SOURCE: Record<LtikSource, LtikExtractor> = { query: fromQuery, body: fromBody, header: fromHeader };

/** One function trying the configured sources in order, then the app's own finder. */
export function createLtikExtractor(sources: readonly LtikSource[], custom?: (req: Request) => string | undefined | null): LtikExtractor {
  const extractors = sources.map((source) => BY_SOURCE[source]);
  if (custom) extractors.push((req) => asLtik(custom(req) ?? undefined));
  return (req) => {
    for (const extract of extractors) {
      const ltik = extract(req);
      if (ltik) return ltik;
    }
    return undefined;
  };
}
