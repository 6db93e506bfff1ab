// The few Redis commands the coordination pieces use, and Lua scripts run by digest with a fallback to their source.
import { createHash } from 'node:crypto';

/**
 * The part of an ioredis client (`new Redis(url)`, v5 or v6) this package calls. Declared here
 * rather than imported from ioredis, so that neither the main entry nor this subpath loads
 * ioredis: the application creates its client and passes it in. Every write is a Lua script,
 * so each step that must be atomic is one round trip and one command on the server.
 */
export interface RedisClientLike {
  /** ioredis's connection state (`ready`, `reconnecting`, `end`, ...): nothing is sent while it says the server is out of reach. */
  readonly status?: string;
  get(key: string): Promise<string | null>;
  evalsha(sha1: string, numkeys: number, ...keysAndArgs: Array<string | number>): Promise<unknown>;
  eval(script: string, numkeys: number, ...keysAndArgs: Array<string | number>): Promise<unknown>;
}

/**
 * A Lua script sent once per server and then called by its SHA-1: EVALSHA, and EVAL when the
 * server does not know the script (first use, or after a restart or SCRIPT FLUSH). Unlike
 * ioredis's `defineCommand`, it adds nothing to the application's client.
 */
export class LuaScript {
  readonly sha1: string;

  constructor(readonly source: string) {
    this.sha1 = createHash('sha1').update(source).digest('hex');
  }

  async run(redis: RedisClientLike, keys: readonly string[], args: ReadonlyArray<string | number> = []): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha1, keys.length, ...keys, ...args);
    } catch (error) {
      if (!/NOSCRIPT/.test((error as Error | undefined)?.message ?? '')) throw error;
      return redis.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}

/** Deletes a key only while it still holds the value the caller read (or was given): a compare-and-delete. */
export const deleteIfEqual = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`);
