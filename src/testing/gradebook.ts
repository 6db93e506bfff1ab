// The LMS grade book: line items per course, the scores it accepted, the results it reports back, and their paging.
import type { CourseContext } from './contexts';
import { externalPlatformError } from './errors';
import { LmsUrls } from './lmsUrls';
import { paginate, parsePageUrl, parsePositiveInteger, type PageLinks, type PageRequest } from './paging';
import type { PlatformRegistry } from './platforms';
import { isoToEpochNanos } from './timestamps';
import type { LineItemFields, ScoreFields } from './validation';

/** A score as the LMS accepted it, plus when it arrived. */
export interface ReceivedScore extends ScoreFields {
  receivedAt: string;
}

/** A snapshot of one line item with its whole score history (oldest first). */
export interface EmulatedLineItem extends LineItemFields {
  id: string;
  contextId: string;
  platformId: string;
  scores: ReceivedScore[];
}

/** A line item as the API returns it. */
export interface LineItemJson extends LineItemFields {
  id: string;
}

/** A result as the API returns it: the LMS's view of one user's latest score. */
export interface ResultJson {
  id: string;
  userId: string;
  scoreOf: string;
  timestamp: string;
  resultScore?: number;
  resultMaximum?: number;
  comment?: string;
}

export type ScoreOutcome = 'stored' | 'ignored-older' | 'ignored-same';

interface StoredLineItem {
  id: string;
  number: number;
  context: CourseContext;
  fields: LineItemFields;
  /** Every accepted score, oldest first. */
  history: ReceivedScore[];
  /** Latest accepted score per user with its timestamp in ns; Map order = order users were first graded. */
  latest: Map<string, { score: ReceivedScore; timestampNanos: bigint }>;
}

// What the LMS (Moodle) answers for a user it will not grade: instructors, test students, users not enrolled.
export const LMS_REFUSED_SCORE_BODY = { message: 'Incorrect score received' } as const;
// What the LMS answers for a line item id it does not have in this course.
export const LMS_LINE_ITEM_NOT_FOUND_BODY = 'Not Found';

const LINE_ITEM_FILTERS = ['resource_link_id', 'resource_id', 'tag'] as const;
const RESULT_FILTERS = ['user_id'] as const;

export class Gradebook {
  // Map order is creation order, which is the order the LMS lists line items in.
  private readonly items = new Map<string, StoredLineItem>();
  private nextNumber = 1;

  constructor(private readonly platforms: PlatformRegistry, private readonly pageSize: number) {}

  create(context: CourseContext, fields: LineItemFields): StoredLineItem {
    const number = this.nextNumber++;
    const id = this.urlsFor(context).lineItemId(number);
    const item: StoredLineItem = { id, number, context, fields: { ...fields }, history: [], latest: new Map() };
    this.items.set(id, item);
    return item;
  }

  find(id: string): StoredLineItem | undefined {
    return this.items.get(id);
  }

  /** A line item of another course is as unknown to this credential as a deleted one. */
  findInContext(context: CourseContext, id: string): StoredLineItem {
    const item = this.items.get(id);
    if (!item || item.context !== context) {
      // LTIAAS would have asked the LMS, which said 404. The id itself is not echoed: it is whatever the client sent.
      throw externalPlatformError(404, LMS_LINE_ITEM_NOT_FOUND_BODY, this.urlsFor(context).lineItemsPageBase());
    }
    return item;
  }

  inContext(context: CourseContext): StoredLineItem[] {
    return [...this.items.values()].filter((item) => item.context === context);
  }

  all(): StoredLineItem[] {
    return [...this.items.values()];
  }

  /** PUT semantics: the new fields replace the old ones entirely; scores stay with the column. */
  replace(item: StoredLineItem, fields: LineItemFields): void {
    item.fields = { ...fields };
  }

  remove(item: StoredLineItem): void {
    this.items.delete(item.id);
  }

  /**
   * Applies the LMS rules for an incoming score: refuse users it will not grade (422 with the LMS's own body),
   * ignore a score older than the one held, treat the same timestamp as the same score.
   */
  recordScore(item: StoredLineItem, score: ScoreFields, receivedAtMs: number): ScoreOutcome {
    const member = item.context.roster.get(score.userId);
    if (!member || !member.gradable) {
      throw externalPlatformError(422, { ...LMS_REFUSED_SCORE_BODY }, this.urlsFor(item.context).scoresUrl(item.number));
    }
    const receivedAt = new Date(receivedAtMs).toISOString();
    // LTIAAS stamps a score that has no timestamp with the time it forwards it.
    const timestampNanos = isoToEpochNanos(score.timestamp ?? receivedAt);
    if (timestampNanos === undefined) throw new Error('score timestamp was not validated');
    const held = item.latest.get(score.userId);
    if (held && timestampNanos < held.timestampNanos) return 'ignored-older';
    if (held && timestampNanos === held.timestampNanos) return 'ignored-same';
    const received: ReceivedScore = { ...structuredClone(score), receivedAt };
    item.history.push(received);
    item.latest.set(score.userId, { score: received, timestampNanos });
    return 'stored';
  }

  toJson(item: StoredLineItem): LineItemJson {
    return { id: item.id, ...structuredClone(item.fields) };
  }

  snapshot(item: StoredLineItem): EmulatedLineItem {
    return {
      ...this.toJson(item),
      contextId: item.context.contextId,
      platformId: item.context.platformId,
      scores: structuredClone(item.history),
    };
  }

  latestScores(item: StoredLineItem): ReceivedScore[] {
    return [...item.latest.values()].map(({ score }) => structuredClone(score));
  }

  /** GET /api/lineitems: filters and limit from the query, or everything from `url` (other params ignored). */
  listLineItems(context: CourseContext, query: URLSearchParams): { lineItems: LineItemJson[] } & PageLinks {
    const base = this.urlsFor(context).lineItemsPageBase();
    const request = this.pageRequest(query, base, LINE_ITEM_FILTERS, {
      resource_link_id: query.get('resourceLinkId'),
      resource_id: query.get('resourceId'),
      tag: query.get('tag'),
    });
    const { resource_link_id: resourceLinkId, resource_id: resourceId, tag } = request.filters;
    const matching = this.inContext(context).filter(
      (item) =>
        (resourceLinkId === undefined || item.fields.resourceLinkId === resourceLinkId) &&
        (resourceId === undefined || item.fields.resourceId === resourceId) &&
        (tag === undefined || item.fields.tag === tag),
    );
    const page = paginate(matching, request, (n) => LmsUrls.page(base, n, request.limit, request.filters));
    return { lineItems: page.items.map((item) => this.toJson(item)), ...page.links };
  }

  /** GET /api/lineitems/:id/scores: one result per graded user, from the latest accepted score. */
  listResults(item: StoredLineItem, query: URLSearchParams): { scores: ResultJson[] } & PageLinks {
    const urls = this.urlsFor(item.context);
    const base = urls.resultsPageBase(item.number);
    const request = this.pageRequest(query, base, RESULT_FILTERS, { user_id: query.get('userId') });
    const userId = request.filters.user_id;
    const results = [...item.latest.values()]
      .map(({ score }) => score)
      .filter((score) => userId === undefined || score.userId === userId)
      .map((score): ResultJson => {
        const result: ResultJson = {
          id: urls.resultId(item.number, score.userId),
          userId: score.userId,
          scoreOf: item.id,
          timestamp: score.timestamp ?? score.receivedAt,
        };
        if (score.scoreGiven !== undefined) {
          result.resultScore = score.scoreGiven;
          result.resultMaximum = score.scoreMaximum ?? item.fields.scoreMaximum;
        }
        if (score.comment !== undefined) result.comment = score.comment;
        return result;
      });
    const page = paginate(results, request, (n) => LmsUrls.page(base, n, request.limit, request.filters));
    return { scores: page.items, ...page.links };
  }

  private pageRequest(
    query: URLSearchParams,
    base: string,
    filterNames: readonly string[],
    filtersFromQuery: Record<string, string | null>,
  ): PageRequest {
    const url = query.get('url');
    if (url !== null) return parsePageUrl(url, base, filterNames, this.pageSize);
    const limit = parsePositiveInteger(query.get('limit'), 'limit');
    const filters: Record<string, string | undefined> = {};
    // An empty filter (?tag=) filters nothing, as an unset form field would.
    for (const [name, value] of Object.entries(filtersFromQuery)) filters[name] = value === null || value === '' ? undefined : value;
    return { page: 1, limit: Math.min(limit ?? this.pageSize, this.pageSize), filters };
  }

  urlsFor(context: CourseContext): LmsUrls {
    return new LmsUrls(this.platformUrl(context), context);
  }

  private platformUrl(context: CourseContext): string {
    const platform = this.platforms.get(context.platformId);
    if (!platform) throw new Error(`unknown platform ${context.platformId}`);
    return platform.url;
  }
}

export type { StoredLineItem };
