// What an outbox holds, read through its optional stats() or else counted from its lists: for grades.status() and the outbox gauges.
import type { Outbox, OutboxStats } from '../outbox/outbox';

/**
 * The outbox's counts. `paused`, `pausedUntil` and `consecutiveFailures` come only from an
 * outbox with `stats()`: one without it does not say, and they are then absent.
 */
export interface OutboxCounts {
  pending: number;
  failed: number;
  oldestPendingAt?: string;
  paused?: boolean;
  pausedUntil?: string;
  consecutiveFailures?: number;
}

const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
const isInstant = (value: unknown): value is string => typeof value === 'string' && !Number.isNaN(Date.parse(value));

/** The fields of a stats() answer that hold what they should; an answer without sound counts is an error, never a guess. */
function checkedStats(stats: OutboxStats | undefined): OutboxCounts {
  const value = (typeof stats === 'object' && stats !== null ? stats : {}) as Partial<Record<keyof OutboxStats, unknown>>;
  if (!isCount(value.pending) || !isCount(value.failed)) {
    throw new TypeError('outbox.stats() must resolve { pending, failed } as whole numbers');
  }
  return {
    pending: value.pending,
    failed: value.failed,
    ...(isInstant(value.oldestPendingAt) ? { oldestPendingAt: value.oldestPendingAt } : {}),
    ...(typeof value.paused === 'boolean' ? { paused: value.paused } : {}),
    ...(isInstant(value.pausedUntil) ? { pausedUntil: value.pausedUntil } : {}),
    ...(isCount(value.consecutiveFailures) ? { consecutiveFailures: value.consecutiveFailures } : {}),
  };
}

/** The counts of any {@link Outbox}: its `stats()` when it has one, else its `pending()` and `failed()` lists. Rejects when the outbox cannot be read. */
export async function readOutboxCounts(outbox: Outbox): Promise<OutboxCounts> {
  if (typeof outbox.stats === 'function') return checkedStats(await outbox.stats());
  const [pending, failed] = await Promise.all([outbox.pending(), outbox.failed()]);
  let oldest: string | undefined;
  for (const job of pending) if (isInstant(job.createdAt) && (oldest === undefined || Date.parse(job.createdAt) < Date.parse(oldest))) oldest = job.createdAt;
  return { pending: pending.length, failed: failed.length, ...(oldest !== undefined ? { oldestPendingAt: oldest } : {}) };
}
