// A bounded least-recently-used cache whose entries also expire after a time to live.

export interface LruCacheOptions {
  /** Most entries kept; the least recently used is evicted first. */
  max: number;
  /** Milliseconds an entry lives after it is set. */
  ttlMs: number;
  /** Clock, replaceable in tests. */
  now?: () => number;
}

interface Entry<V> {
  value: V;
  expiresAt: number;
}

/**
 * A Map keeps insertion order, so re-inserting on read makes the first key the least
 * recently used one: eviction is O(1) and memory stays flat however many keys pass through.
 */
export class LruCache<K, V> {
  private readonly entries = new Map<K, Entry<V>>();
  private readonly max: number;
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(options: LruCacheOptions) {
    this.max = options.max;
    this.ttlMs = options.ttlMs;
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: K): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  /** Stores `value`; `ttlMs` may shorten (never lengthen) the cache's own time to live. */
  set(key: K, value: V, ttlMs?: number): void {
    const lifetime = ttlMs === undefined ? this.ttlMs : Math.min(ttlMs, this.ttlMs);
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt: this.now() + lifetime });
    while (this.entries.size > this.max) {
      const oldest = this.entries.keys().next().value as K;
      this.entries.delete(oldest);
    }
  }

  delete(key: K): void {
    this.entries.delete(key);
  }

  /** Deletes `key` only while it still holds `value` (a newer value set meanwhile is kept). */
  deleteIf(key: K, value: V): void {
    if (this.entries.get(key)?.value === value) this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}
