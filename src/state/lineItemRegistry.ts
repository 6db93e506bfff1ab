// The grade-book columns resolved so far, one per (platform, context, resourceId, tag): the interface and its in-process default.
import { LruCache } from '../cache/lruCache';
import type { LineItem } from '../types';

/** How a registry has a column found or created. */
export interface ResolveHow {
  /** The resolution is single-flight in this process only: other instances may be resolving the same column. */
  alone?: boolean;
}

/**
 * Remembers which column each activity's grades go to, so the column is found or created once
 * per grade book and then reused. Keys name the platform, the context, the `resourceId` and
 * the `tag` (see lineItemResolver.ts). A registry shared by several tool instances must keep
 * `resolve` single-flight across all of them: creating a column twice is a duplicate column.
 */
export interface LineItemRegistry {
  /**
   * The column kept under `key`, or the one `findOrCreate` gives. Concurrent callers for one key
   * share one `findOrCreate`; a failed one is not remembered (the next caller tries afresh). A
   * shared registry that cannot keep the resolution single-flight across instances right now
   * (its store does not answer) calls `findOrCreate({ alone: true })`: a column created then is
   * converged (see lineItemResolver.ts), as instances without shared state do.
   */
  resolve(key: string, findOrCreate: (how?: ResolveHow) => Promise<LineItem>): Promise<LineItem>;
  /** Drops the column kept under `key` if it is still `lineItemId` (the LMS answered 404: it was deleted). */
  forget(key: string, lineItemId: string): Promise<void>;
  /** Creations of the column under `key` that LTIAAS answered without a readable id, since it was last found. */
  unreadableCreations(key: string): number | Promise<number>;
  /** Sets that count (one more creation answered without a readable id). */
  setUnreadableCreations(key: string, count: number): void | Promise<void>;
  /** The column was found or created with a readable id: earlier unreadable creations no longer count. */
  clearUnreadableCreations(key: string): void | Promise<void>;
}

/** The registry in this process's memory: LRU caches, each entry expiring after `ttlMs`. */
export class InProcessLineItemRegistry implements LineItemRegistry {
  private readonly resolved: LruCache<string, Promise<LineItem>>;
  /** Per column key: creations LTIAAS answered 2xx without a readable id, since the column was last found. */
  private readonly unreadable: LruCache<string, number>;

  constructor(cache: { max: number; ttlMs: number }) {
    this.resolved = new LruCache({ max: cache.max, ttlMs: cache.ttlMs });
    this.unreadable = new LruCache({ max: cache.max, ttlMs: cache.ttlMs });
  }

  resolve(key: string, findOrCreate: (how?: ResolveHow) => Promise<LineItem>): Promise<LineItem> {
    const cached = this.resolved.get(key);
    if (cached) return cached;
    const resolution = findOrCreate();
    this.resolved.set(key, resolution);
    // A failed resolution is not remembered: the next caller tries afresh.
    resolution.catch(() => this.resolved.deleteIf(key, resolution));
    return resolution;
  }

  async forget(key: string, lineItemId: string): Promise<void> {
    const cached = this.resolved.get(key);
    if (!cached) return;
    const item = await cached.catch(() => undefined);
    if (!item || item.id === lineItemId) this.resolved.deleteIf(key, cached);
  }

  unreadableCreations(key: string): number {
    return this.unreadable.get(key) ?? 0;
  }

  setUnreadableCreations(key: string, count: number): void {
    this.unreadable.set(key, count);
  }

  clearUnreadableCreations(key: string): void {
    this.unreadable.delete(key);
  }
}
