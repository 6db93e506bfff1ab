// Wraps an ioredis client as the package sees it (RedisClientLike) and counts the scripts it runs, so a test can wait for "n attempts made" instead of sleeping.
import type Redis from 'ioredis';
import type { RedisClientLike } from '../../src/redis/redisClient';

export interface CountingClient extends RedisClientLike {
  /** Scripts run (EVALSHA or EVAL) so far. */
  readonly scripts: number;
  /** Resolves once `count` scripts in all have been run. */
  reached(count: number): Promise<void>;
}

export function countingClient(redis: Redis): CountingClient {
  let scripts = 0;
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  const counted = () => {
    scripts += 1;
    for (const waiter of waiters.filter((w) => scripts >= w.count)) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  };
  return {
    get scripts() {
      return scripts;
    },
    reached: (count) => (scripts >= count ? Promise.resolve() : new Promise((resolve) => waiters.push({ count, resolve }))),
    get: (key) => redis.get(key),
    evalsha: (sha1, numkeys, ...rest) => {
      counted();
      return redis.evalsha(sha1, numkeys, ...rest);
    },
    eval: (script, numkeys, ...rest) => {
      counted();
      return redis.eval(script, numkeys, ...rest);
    },
  };
}
