// The bounded cache: evicts the least recently used, expires entries, never grows past max.
import { LruCache } from '../src/cache/lruCache';

describe('LruCache', () => {
  it('evicts the least recently used entry past max', () => {
    const cache = new LruCache<string, number>({ max: 2, ttlMs: 1000 });
    cache.set('a', 1);
    cache.set('b', 2);
    expect(cache.get('a')).toBe(1); // a is now the most recent
    cache.set('c', 3);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe(1);
    expect(cache.get('c')).toBe(3);
  });

  it('expires entries after their time to live', () => {
    let now = 0;
    const cache = new LruCache<string, number>({ max: 10, ttlMs: 100, now: () => now });
    cache.set('a', 1);
    cache.set('b', 2, 20);
    now = 50;
    expect(cache.get('a')).toBe(1);
    expect(cache.get('b')).toBeUndefined();
    now = 100;
    expect(cache.get('a')).toBeUndefined();
  });

  it('stays at max however many keys pass through', () => {
    const cache = new LruCache<number, number>({ max: 1000, ttlMs: 60_000 });
    for (let i = 0; i < 100_000; i++) cache.set(i, i);
    expect(cache.size).toBe(1000);
    expect(cache.get(99_999)).toBe(99_999);
    expect(cache.get(0)).toBeUndefined();
  });

  it('deleteIf keeps a value replaced meanwhile', () => {
    const cache = new LruCache<string, string>({ max: 10, ttlMs: 1000 });
    cache.set('k', 'old');
    cache.set('k', 'new');
    cache.deleteIf('k', 'old');
    expect(cache.get('k')).toBe('new');
    cache.deleteIf('k', 'new');
    expect(cache.get('k')).toBeUndefined();
  });
});
