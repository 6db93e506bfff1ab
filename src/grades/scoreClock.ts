// Stamps scores with timestamps that strictly increase per (line item, user) within this process.
import { LruCache } from '../cache/lruCache';

/**
 * The LMS keeps the score with the latest timestamp and ignores older ones, so two scores for
 * one student in the same millisecond must still be ordered: the second gets last + 1 ms.
 * Entries are only needed while the wall clock could still collide with them, so the map
 * is small and short-lived.
 */
export class ScoreClock {
  private readonly lastStamp = new LruCache<string, number>({ max: 100_000, ttlMs: 10 * 60 * 1000 });

  constructor(private readonly now: () => number = Date.now) {}

  /** The next timestamp for this (line item, user): ISO 8601 UTC with milliseconds. */
  stamp(lineItemId: string, userId: string): string {
    const key = `${lineItemId}\u0000${userId}`;
    const previous = this.lastStamp.get(key);
    const now = this.now();
    const next = previous !== undefined && now <= previous ? previous + 1 : now;
    this.lastStamp.set(key, next);
    return new Date(next).toISOString();
  }

  /**
   * A timestamp for a grade whose line item or user is not known yet (queued before the ID
   * token could be read): increasing across all such grades, so still ordered per user.
   */
  stampUnkeyed(): string {
    return this.stamp('', '');
  }

  /** Records a timestamp fixed elsewhere (a queued grade), so later stamps come after it. */
  observe(lineItemId: string, userId: string, timestamp: string): void {
    const key = `${lineItemId}\u0000${userId}`;
    const time = Date.parse(timestamp);
    const previous = this.lastStamp.get(key);
    if (!Number.isNaN(time) && (previous === undefined || time > previous)) this.lastStamp.set(key, time);
  }
}
