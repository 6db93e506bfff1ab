// The line item registry of one instance over Redis: each column found or created once across every instance, and this process's registry while Redis does not answer.
import { gradesError } from '../errors';
import type { LineItemRegistry, ResolveHow } from '../state/lineItemRegistry';
import type { LineItem } from '../types';
import type { RedisColumnCache } from './columnCache';
import { isRedisUnreachable, type RedisReachability } from './reachability';

/** The cached line item: its JSON, so every instance answers `findOrCreateLineItem` with the whole column, not only its id. */
const encode = (item: LineItem): string => JSON.stringify(item);

function decode(stored: string): LineItem | undefined {
  try {
    const item = JSON.parse(stored) as LineItem | null;
    return typeof item === 'object' && item !== null && typeof item.id === 'string' && item.id !== '' ? item : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `resolve` goes through the column cache's `resolveOnce`: the id cached in Redis, else the
 * column's lock (SET NX PX with a token, released by a Lua compare-and-delete) and the
 * resolver's search-then-create under it; instances waiting on the lock get the stored column
 * without a create of their own, and one taking over from a holder that died searches first
 * (the resolver always does). The creations answered without a readable id are counted in Redis
 * too, under the same lock, so their bound (see lineItemResolver.ts) holds across all instances.
 *
 * This process's registry is kept in step with what Redis says, so that while Redis does not
 * answer the instance goes on with the columns the cluster uses, and resolves only new ones on
 * its own: searching first, and after creating one, listing again to converge on the first in
 * the LMS's order (as `convergeColumns` does), so that instances cut off from Redis at once
 * still end on one column. Its own count of unreadable creations then carries on from the last
 * count it saw.
 */
export class SharedLineItemRegistry implements LineItemRegistry {
  constructor(
    private readonly local: LineItemRegistry,
    private readonly columns: RedisColumnCache,
    private readonly reachability: RedisReachability,
  ) {}

  async resolve(key: string, findOrCreate: (how?: ResolveHow) => Promise<LineItem>): Promise<LineItem> {
    // Without Redis, this instance resolves alone: a column it creates is then converged (listed again, the first kept).
    const alone = () => findOrCreate({ alone: true });
    if (!this.reachability.usable()) return this.local.resolve(key, alone);
    let resolvedHere: LineItem | undefined;
    const findOrCreateHere = async (): Promise<string> => {
      resolvedHere = await findOrCreate();
      return encode(resolvedHere);
    };
    try {
      let stored = await this.columns.resolveOnce(key, findOrCreateHere);
      let item = decode(stored);
      if (!item) {
        // Not written by this package (or damaged): of no use to anyone, so gone, and resolved afresh.
        await this.columns.forget(key, stored);
        stored = await this.columns.resolveOnce(key, findOrCreateHere);
        item = decode(stored);
        if (!item) throw gradesError('COORDINATION_UNAVAILABLE', { message: 'The grade-book column kept in Redis could not be read, twice in a row (is another program writing under this prefix?); the grade was not sent, try again later.' });
      }
      await this.remember(key, item);
      return item;
    } catch (error) {
      if (isRedisUnreachable(error)) {
        // Redis stopped answering mid-way. A column found or created here is kept, not sought again.
        const found = resolvedHere;
        return this.local.resolve(key, found ? async () => found : alone);
      }
      throw error;
    }
  }

  async forget(key: string, lineItemId: string): Promise<void> {
    await this.local.forget(key, lineItemId);
    await this.reachability.orLocal(
      async () => {
        const stored = await this.columns.get(key);
        if (stored !== undefined && decode(stored)?.id === lineItemId) await this.columns.forget(key, stored);
      },
      () => undefined,
    );
  }

  unreadableCreations(key: string): Promise<number> {
    return this.reachability.orLocal(
      () => this.columns.unreadableCreations(key),
      () => this.local.unreadableCreations(key),
    );
  }

  async setUnreadableCreations(key: string, count: number): Promise<void> {
    await this.local.setUnreadableCreations(key, count);
    await this.reachability.orLocal(
      () => this.columns.setUnreadableCreations(key, count),
      () => undefined,
    );
  }

  async clearUnreadableCreations(key: string): Promise<void> {
    await this.local.clearUnreadableCreations(key);
    await this.reachability.orLocal(
      () => this.columns.clearUnreadableCreations(key),
      () => undefined,
    );
  }

  /** Keeps this process's registry on the column Redis gave, replacing one it resolved alone during an outage. */
  private async remember(key: string, item: LineItem): Promise<void> {
    const known = await this.local.resolve(key, async () => item);
    if (known.id === item.id) return;
    await this.local.forget(key, known.id);
    await this.local.resolve(key, async () => item);
  }
}
