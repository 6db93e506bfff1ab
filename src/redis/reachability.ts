// Whether Redis answers, for the shared state: every command bounded by a deadline, none sent to a client known to be down, one probe at a time to notice Redis's return.
//
// Why a deadline of our own and the client's status, rather than ioredis's `commandTimeout`:
// the application creates the client (and often shares it with BullMQ, which needs
// `maxRetriesPerRequest: null`, so commands wait through a reconnect), and we must not change
// its settings. With ioredis's defaults a command to a Redis that went away waits in the
// offline queue through up to 20 reconnection attempts (many seconds), and one sent to a Redis
// that accepts connections but does not answer waits forever. So:
// - while the client says it is disconnected (`reconnecting`, `close`, `end`) nothing is sent:
//   the call fails at once;
// - otherwise the command races a deadline (`commandTimeoutMs`); past it we stop waiting (the
//   command itself may still run later: every script here is safe to run late);
// - after a failure the state is "not answering": callers use their in-process state without
//   calling Redis at all, and at most one probe (a small write) goes out per `probeIntervalMs`,
//   sent by a caller passing by (no timer of our own). When a probe succeeds, Redis is used again.
// Each change between answering and not answering is told to the listeners once, which is how
// every instance logs one warning per outage rather than one per call.
import { gradesError, storageCause, type ErrorOf } from '../errors';
import { LuaScript, type RedisClientLike } from './redisClient';

export interface ReachabilityOptions {
  /** How long one command may take before Redis counts as not answering. */
  commandTimeoutMs: number;
  /** While Redis does not answer, at most one probe per this many ms. */
  probeIntervalMs: number;
  /** The key the probe writes (with a short expiry). */
  probeKey: string;
  now?: () => number;
}

/** A change in whether Redis answers; `reason` says what failed (a kind or a Redis error word, never a message). */
export type ReachabilityChange = { answering: false; reason: string } | { answering: true };

/** Client states (ioredis's `status`) in which a command cannot reach the server now. */
const DISCONNECTED = new Set(['reconnecting', 'close', 'end']);

/** Errors that mean "Redis did not answer (usably)", to be met with the in-process state. */
const unreachableErrors = new WeakSet<object>();

/** Whether `error` came from a Redis that did not answer or refused to work, rather than from the work itself. */
export function isRedisUnreachable(error: unknown): boolean {
  return typeof error === 'object' && error !== null && unreachableErrors.has(error);
}

/** A write that needs a working, writable server with scripting: what the shared state needs of it. */
const probeScript = new LuaScript(`
redis.call('SET', KEYS[1], '1', 'PX', 60000)
return 1
`);

/** The reply "the server does not know this script" is part of running scripts (see LuaScript), not a failure. */
const isNoScript = (error: unknown) => /NOSCRIPT/.test((error as Error | undefined)?.message ?? '');

class DeadlinePassed extends Error {
  override readonly name = 'DeadlinePassed';
  constructor(ms: number) {
    super(`Redis did not answer within ${ms} ms`);
  }
}

/**
 * Sends one command unless the client says it is disconnected (then fails at once), and stops
 * waiting for it after `timeoutMs` (its late answer or failure is dropped).
 */
export async function withinDeadline<T>(redis: { readonly status?: string }, send: () => Promise<T>, timeoutMs: number): Promise<T> {
  const status = redis.status;
  if (status !== undefined && DISCONNECTED.has(status)) throw Object.assign(new Error('Connection is closed.'), { code: 'DISCONNECTED' });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    // A busy event loop runs due timers before it reads the sockets: an answer that came in time
    // may still be unread when the timer fires. setImmediate runs after that read, so only a
    // command that truly has no answer yet is given up.
    timer = setTimeout(() => setImmediate(() => reject(new DeadlinePassed(timeoutMs))), timeoutMs);
    timer.unref();
  });
  const sent = Promise.resolve().then(send);
  // Past the deadline nobody waits for it; its late failure must not become an unhandled rejection.
  sent.catch(() => undefined);
  try {
    return await Promise.race([sent, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** What went wrong, as a word safe to log: never a message (it could quote a key or a value). */
function reasonOf(error: unknown): string {
  if (error instanceof DeadlinePassed) return 'timeout';
  const message = (error as Error | undefined)?.message ?? '';
  // Redis's own error replies start with an upper-case word: LOADING, READONLY, OOM, MISCONF, BUSY...
  const word = /^([A-Z]{3,20})\b/.exec(message)?.[1];
  if (word && (error as Error).name === 'ReplyError') return word;
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && /^[A-Z_]{3,30}$/.test(code)) return code;
  return /closed|connection/i.test(message) ? 'disconnected' : 'error';
}

export class RedisReachability {
  private answering = true;
  private probing = false;
  private nextProbeAt = 0;
  private readonly listeners = new Set<(change: ReachabilityChange) => void>();
  private readonly now: () => number;
  /** The application's client as the shared state calls it: bounded, and failing fast while known to be down. */
  readonly client: RedisClientLike;

  constructor(
    private readonly redis: RedisClientLike,
    private readonly options: ReachabilityOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.client = {
      get: (key) => this.command('GET', () => redis.get(key)),
      evalsha: (sha1, numkeys, ...rest) => this.command('EVALSHA', () => redis.evalsha(sha1, numkeys, ...rest)),
      eval: (script, numkeys, ...rest) => this.command('EVAL', () => redis.eval(script, numkeys, ...rest)),
    };
  }

  /** Whether Redis answered the last command (or probe). */
  get isAnswering(): boolean {
    return this.answering;
  }

  /** Calls `listener` on each change; returns the function that stops it. */
  onChange(listener: (change: ReachabilityChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Whether to use Redis now. While it does not answer: false, and a probe goes out when one is
   * due, so that a later call uses Redis again once it answers.
   */
  usable(): boolean {
    if (this.answering) return true;
    this.probe();
    return false;
  }

  /** `shared()` while Redis answers; `local()` when it does not, or stops answering during `shared()`. Other failures are thrown. */
  async orLocal<T>(shared: () => Promise<T>, local: () => T | Promise<T>): Promise<T> {
    if (!this.usable()) return local();
    try {
      return await shared();
    } catch (error) {
      if (isRedisUnreachable(error)) return local();
      throw error;
    }
  }

  private async command<T>(name: string, send: () => Promise<T>): Promise<T> {
    try {
      return await this.bounded(send);
    } catch (error) {
      if (isNoScript(error)) throw error;
      throw this.failed(name, error);
    }
  }

  private bounded<T>(send: () => Promise<T>): Promise<T> {
    return withinDeadline(this.redis, send, this.options.commandTimeoutMs);
  }

  /** Marks Redis as not answering (telling the listeners on the change) and returns the error to throw. */
  private failed(name: string, error: unknown): ErrorOf<'COORDINATION_UNAVAILABLE'> {
    const reason = reasonOf(error);
    this.nextProbeAt = this.now() + this.options.probeIntervalMs;
    if (this.answering) {
      this.answering = false;
      this.tell({ answering: false, reason });
    }
    const unreachable = gradesError('COORDINATION_UNAVAILABLE', {
      message: `Redis did not answer ${name} (${reason}); the shared state is used again once it does.`,
      cause: storageCause(`redis ${name}`, error),
    });
    unreachableErrors.add(unreachable);
    return unreachable;
  }

  private probe(): void {
    if (this.probing || this.now() < this.nextProbeAt) return;
    const status = this.redis.status;
    if (status !== undefined && DISCONNECTED.has(status)) {
      // Still disconnected: the client reconnects by itself; look again later.
      this.nextProbeAt = this.now() + this.options.probeIntervalMs;
      return;
    }
    this.probing = true;
    probeScript
      .run(this.client, [this.options.probeKey])
      .then(
        () => {
          if (!this.answering) {
            this.answering = true;
            this.tell({ answering: true });
          }
        },
        // A failed probe went through command(), which set the next probe's time.
        () => undefined,
      )
      .finally(() => {
        this.probing = false;
      });
  }

  private tell(change: ReachabilityChange): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(change);
      } catch {
        // A listener (the app's logger) that throws must not fail a grade.
      }
    }
  }
}
