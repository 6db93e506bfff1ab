// Finds or creates the grade-book column for an activity once per context, shared by every launch.
import { LruCache } from '../cache/lruCache';
import { isLtiaasGradesError } from '../errors';
import type { CallOptions } from '../client/transport';
import type { LineItem } from '../types';
import type { ValidLineItemSpec } from './lineItemSchema';
import type { LineItems } from './lineItems';

/** Picks the column for a spec among listed ones: same `resourceId`, same `tag` when one is given. */
export function matchLineItem(items: readonly LineItem[], spec: ValidLineItemSpec): LineItem | undefined {
  const sameResource = items.filter((item) => item.resourceId === spec.resourceId);
  if (spec.tag !== undefined) return sameResource.find((item) => item.tag === spec.tag);
  // Without a tag, an untagged column is the exact match; a tagged one is the next best.
  return sameResource.find((item) => item.tag === undefined || item.tag === '') ?? sameResource[0];
}

/**
 * Creating a column twice makes a duplicate in the grade book, so the resolution for one
 * (platform, context, resourceId, tag) is a single promise: every concurrent caller waits on
 * it, and later callers reuse its result until the cache entry ages out or is forgotten.
 */
export class LineItemResolver {
  private readonly resolved: LruCache<string, Promise<LineItem>>;

  constructor(cache: { max: number; ttlMs: number }) {
    this.resolved = new LruCache({ max: cache.max, ttlMs: cache.ttlMs });
  }

  private key(scope: string, spec: ValidLineItemSpec): string {
    return `${scope}\u0000${spec.resourceId}\u0000${spec.tag ?? ''}`;
  }

  /**
   * The line item for `spec` in `scope` (a string naming the platform and context).
   * `resourceLinkId` binds a created column to the launch's activity.
   */
  resolve(scope: string, spec: ValidLineItemSpec, lineItems: LineItems, resourceLinkId?: string, options?: CallOptions): Promise<LineItem> {
    const key = this.key(scope, spec);
    const cached = this.resolved.get(key);
    if (cached) return cached;
    const resolution = this.findOrCreate(spec, lineItems, resourceLinkId, options);
    this.resolved.set(key, resolution);
    // A failed resolution is not remembered: the next caller tries afresh.
    resolution.catch(() => this.resolved.deleteIf(key, resolution));
    return resolution;
  }

  /** Drops a cached id the LMS no longer knows (404: the column was deleted), unless already replaced. */
  async forget(scope: string, spec: ValidLineItemSpec, lineItemId: string): Promise<void> {
    const key = this.key(scope, spec);
    const cached = this.resolved.get(key);
    if (!cached) return;
    const item = await cached.catch(() => undefined);
    if (!item || item.id === lineItemId) this.resolved.deleteIf(key, cached);
  }

  private async findOrCreate(spec: ValidLineItemSpec, lineItems: LineItems, resourceLinkId?: string, options?: CallOptions): Promise<LineItem> {
    const find = async () =>
      matchLineItem(await lineItems.listAll({ resourceId: spec.resourceId, ...(spec.tag !== undefined ? { tag: spec.tag } : {}) }, options), spec);
    const found = await find();
    if (found) return found;
    const body = {
      label: spec.label,
      scoreMaximum: spec.scoreMaximum,
      resourceId: spec.resourceId,
      ...(spec.tag !== undefined ? { tag: spec.tag } : {}),
      ...(spec.resourceLinkId ?? resourceLinkId ? { resourceLinkId: spec.resourceLinkId ?? resourceLinkId } : {}),
      ...(spec.startDateTime !== undefined ? { startDateTime: spec.startDateTime } : {}),
      ...(spec.endDateTime !== undefined ? { endDateTime: spec.endDateTime } : {}),
      ...(spec.gradesReleased !== undefined ? { gradesReleased: spec.gradesReleased } : {}),
    };
    try {
      return await lineItems.create(body, options);
    } catch (error) {
      // The create may have happened even though its answer was lost: look before trying again,
      // so a lost answer never becomes a second column.
      if (isLtiaasGradesError(error) && error.retryable) {
        const createdAfterAll = await find().catch(() => undefined);
        if (createdAfterAll) return createdAfterAll;
      }
      throw error;
    }
  }
}
