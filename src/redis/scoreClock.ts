// Score timestamps that strictly increase per student and column across every instance: one atomic Lua script in Redis.
//
// Interface (what the wiring adapts to):
//   new RedisScoreClock(redis: RedisClientLike, options?: { prefix?: string; ttlMs?: number; now?: () => number })
//   clock.stamp(keys: readonly string[], notBefore?: number): Promise<string>   ISO 8601 UTC with ms: max(now, notBefore, last under any key + 1), stored under every key
//   clock.observe(keys: readonly string[], timestamp: string): Promise<void>   raises every key to at least `timestamp` (a grade queued elsewhere)
// `keys` are the names of one student's column (see scoreKeys in src/grades/scoreClock.ts): the
// stamp comes after the last stamp under any of them. Keys of different students are disjoint,
// so a stamp runs ahead of real time by at most that student's own count of scores in that
// column within the same milliseconds, however many instances and students stamp at once.
// `now` is the calling instance's clock, as in the in-process clock; instances' clocks that
// disagree still give increasing stamps (the script takes the later of now and last + 1).
import { LuaScript, type RedisClientLike } from './redisClient';

export interface RedisScoreClockOptions {
  /** Prepended to every key; default `ltiaas-grades:`. */
  prefix?: string;
  /** How long a last stamp is kept: only while the wall clock could still collide with it. Default 10 min. */
  ttlMs?: number;
  now?: () => number;
}

export const DEFAULT_SCORE_CLOCK_TTL_MS = 10 * 60 * 1000;

// Stamps are epoch milliseconds (about 1.7e12): exact in Lua's doubles; '%.0f' writes them without an exponent.
const nextStamp = new LuaScript(`
local next = tonumber(ARGV[1])
for _, key in ipairs(KEYS) do
  local last = tonumber(redis.call('GET', key))
  if last and last >= next then next = last + 1 end
end
local stamp = string.format('%.0f', next)
for _, key in ipairs(KEYS) do
  redis.call('SET', key, stamp, 'PX', ARGV[2])
end
return stamp
`);

const raiseTo = new LuaScript(`
local time = tonumber(ARGV[1])
for _, key in ipairs(KEYS) do
  local last = tonumber(redis.call('GET', key))
  if not last or last < time then
    redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
  end
end
return 1
`);

export class RedisScoreClock {
  private readonly prefix: string;
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(
    private readonly redis: RedisClientLike,
    options: RedisScoreClockOptions = {},
  ) {
    this.prefix = options.prefix ?? 'ltiaas-grades:';
    this.ttlMs = options.ttlMs ?? DEFAULT_SCORE_CLOCK_TTL_MS;
    this.now = options.now ?? Date.now;
  }

  keyOf(name: string): string {
    return `${this.prefix}score-clock:${name}`;
  }

  /**
   * The next timestamp after every stamp seen under any of `keys`, on any instance. `notBefore`
   * (epoch ms) is a floor the caller knows of, e.g. the last stamp it gave this student while
   * Redis did not answer: the stamp is max(now, notBefore, last + 1).
   */
  async stamp(keys: readonly string[], notBefore?: number): Promise<string> {
    if (keys.length === 0) throw new TypeError('RedisScoreClock.stamp(keys): name the student and column with at least one key.');
    const now = Math.floor(this.now());
    const floor = notBefore !== undefined && Number.isFinite(notBefore) ? Math.max(now, Math.floor(notBefore)) : now;
    const stamp = await nextStamp.run(
      this.redis,
      keys.map((key) => this.keyOf(key)),
      [floor, this.ttlMs],
    );
    return new Date(Number(stamp)).toISOString();
  }

  /** Records a timestamp fixed elsewhere (a queued grade) under every one of `keys`, so later stamps come after it. */
  async observe(keys: readonly string[], timestamp: string): Promise<void> {
    const time = Date.parse(timestamp);
    if (Number.isNaN(time) || keys.length === 0) return;
    await raiseTo.run(
      this.redis,
      keys.map((key) => this.keyOf(key)),
      [time, this.ttlMs],
    );
  }
}
