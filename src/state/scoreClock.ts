// The score clock: timestamps that strictly increase per student and column, never far ahead of the wall clock.
import { LruCache } from '../cache/lruCache';

/**
 * One student's column, as far as it is known when a score is stamped. A score can carry
 * several names of the same student and column (the resolved column and user, the launch
 * and the column it asked for); the stamp comes after the last stamp under any of them.
 */
export type ScoreKey = string & { readonly __scoreKey: unique symbol };

export const scoreKeys = {
  /** The resolved column and the LMS user: the pair the LMS orders scores by. */
  column: (lineItemId: string, userId: string) => `column\u0000${lineItemId}\u0000${userId}` as ScoreKey,
  /**
   * A launch (by the digest of its ltik, never the ltik) and the column it asked for: names
   * the student before the ID token could be read.
   */
  launch: (ltikDigest: string, columnAsked: string) => `launch\u0000${ltikDigest}\u0000${columnAsked}` as ScoreKey,
  /** A known user in a known grade book and the column asked for, before the column is resolved. */
  user: (scope: string, userId: string, columnAsked: string) => `user\u0000${scope}\u0000${userId}\u0000${columnAsked}` as ScoreKey,
};

/**
 * Stamps scores and learns stamps fixed elsewhere. The LMS keeps the score with the latest
 * timestamp, so the stamps of one student's column must strictly increase across every
 * process that grades it: an implementation shared by several tool instances (in Redis, say)
 * answers asynchronously, so callers always await.
 */
export interface ScoreClock {
  /** The next timestamp after every stamp seen under any of `keys` (names of one student's column): ISO 8601 UTC with milliseconds. */
  stampFor(keys: readonly ScoreKey[]): string | Promise<string>;
  /** Records a timestamp fixed elsewhere (a queued grade) under every one of `keys`, so later stamps come after it. */
  observeFor(keys: readonly ScoreKey[], timestamp: string): void | Promise<void>;
}

/**
 * The in-process score clock. The LMS keeps the score with the latest timestamp and ignores
 * older ones, so two scores for one student in the same millisecond must still be ordered: the
 * second gets last + 1 ms.
 * There is no key shared between students: a stamp is max(now, last + 1) under the student's
 * own keys, so it runs ahead of real time by at most the number of scores that student got
 * on that column within the same milliseconds, however many other grades are stamped.
 * Entries are only needed while the wall clock could still collide with them, so the map
 * is small and short-lived.
 */
export class InProcessScoreClock implements ScoreClock {
  private readonly lastStamp: LruCache<string, number>;

  constructor(private readonly now: () => number = () => Date.now()) {
    this.lastStamp = new LruCache<string, number>({ max: 100_000, ttlMs: 10 * 60 * 1000, now });
  }

  /** The next timestamp for this (line item, user): ISO 8601 UTC with milliseconds. */
  stamp(lineItemId: string, userId: string): string {
    return this.stampFor([scoreKeys.column(lineItemId, userId)]);
  }

  /** The next timestamp after every stamp seen under any of `keys` (names of one student's column). */
  stampFor(keys: readonly ScoreKey[]): string {
    let next = this.now();
    for (const key of keys) {
      const previous = this.lastStamp.get(key);
      if (previous !== undefined && previous >= next) next = previous + 1;
    }
    for (const key of keys) this.lastStamp.set(key, next);
    return new Date(next).toISOString();
  }

  /** Records a timestamp fixed elsewhere (a queued grade), so later stamps come after it. */
  observe(lineItemId: string, userId: string, timestamp: string): void {
    this.observeFor([scoreKeys.column(lineItemId, userId)], timestamp);
  }

  /** Records a timestamp fixed elsewhere under every one of `keys`. */
  observeFor(keys: readonly ScoreKey[], timestamp: string): void {
    const time = Date.parse(timestamp);
    if (Number.isNaN(time)) return;
    for (const key of keys) {
      const previous = this.lastStamp.get(key);
      if (previous === undefined || time > previous) this.lastStamp.set(key, time);
    }
  }
}
