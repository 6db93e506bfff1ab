// The score clock of one instance over Redis: one atomic script orders a student's stamps across instances; this process's clock alone while Redis does not answer.
import type { ScoreClock, ScoreKey } from '../state/scoreClock';
import type { RedisReachability } from './reachability';
import type { RedisScoreClock } from './scoreClock';

/**
 * Every stamp is taken from this process's clock first and then, while Redis answers, from
 * Redis with that stamp as a floor; the Redis stamp is then recorded here too. So the stamps of
 * one student's column strictly increase across all instances while Redis answers, on this
 * instance also across an outage and back (its own clock carries on from the last Redis stamp
 * it saw, and Redis afterwards from the last stamp it made alone), and each stays ahead of real
 * time by at most that student's own count of stamps in that column (both clocks take
 * max(now, last + 1) under that student's keys only).
 * During an outage, two instances stamping the same student in the same millisecond can give
 * equal stamps, as without Redis.
 */
export class SharedScoreClock implements ScoreClock {
  constructor(
    private readonly local: ScoreClock,
    private readonly shared: RedisScoreClock,
    private readonly reachability: RedisReachability,
  ) {}

  async stampFor(keys: readonly ScoreKey[]): Promise<string> {
    const ownStamp = await this.local.stampFor(keys);
    return this.reachability.orLocal(
      async () => {
        const stamp = await this.shared.stamp(keys, Date.parse(ownStamp));
        await this.local.observeFor(keys, stamp);
        return stamp;
      },
      () => ownStamp,
    );
  }

  async observeFor(keys: readonly ScoreKey[], timestamp: string): Promise<void> {
    await this.local.observeFor(keys, timestamp);
    await this.reachability.orLocal(
      () => this.shared.observe(keys, timestamp),
      () => undefined,
    );
  }
}
