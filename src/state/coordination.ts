// The `coordination` option: state that several tool instances share (what redisCoordination() returns), and how the wiring uses it.
import type { ResolvedLogger } from '../logger';
import type { IdTokenCache } from './idTokenCache';
import type { LineItemRegistry } from './lineItemRegistry';
import type { ScoreClock } from './scoreClock';

/**
 * State shared by several instances of one tool: the ID tokens of launches, the grade-book
 * columns resolved so far and the score clock. Made by `redisCoordination({ redis })` from
 * `express-ltiaas-grades/redis`; pass it as `ltiaasGrades({ coordination })`.
 * @example coordination: redisCoordination({ redis: new Redis(process.env.REDIS_URL) })
 */
export interface Coordination {
  /** What the instances share their state through, for messages, e.g. `'redis'`. */
  readonly sharedThrough: string;
}

/** One instance's own state (the in-process defaults): what a coordination falls back on while its store does not answer. */
export interface LocalState {
  idTokens: IdTokenCache;
  lineItems: LineItemRegistry;
  clock: ScoreClock;
}

/** The state one grades instance works with, shared with the other instances. */
export interface SharedState extends LocalState {
  /** Lets go of what this instance attached to the shared store (listeners); never closes the application's client. */
  close(): void;
}

/** What a grades instance tells its coordination when it attaches. */
export interface CoordinatedInstance {
  /** The in-process defaults, built from the instance's `cache` options. */
  local: LocalState;
  /** The instance's logger: where a coordination says, once, that its store stopped answering. */
  logger: ResolvedLogger;
  /** How long an ID token is kept (the `cache.idTokens.ttlMs` option). */
  idTokenTtlMs: number;
}

/**
 * A coordination as the wiring uses it. Not part of the public types: the package's own
 * coordinations implement it, and the option is checked for it by shape.
 */
export interface CoordinationProvider extends Coordination {
  /** Called once by each `ltiaasGrades()` / `ltiaasClient()` given this coordination. */
  sharedState(instance: CoordinatedInstance): SharedState;
}

/** Whether `value` has what the wiring calls, checked by shape (a coordination may come from another copy of the package). */
export function isCoordinationProvider(value: unknown): value is CoordinationProvider {
  // An object that throws when looked at is no coordination; what it threw is never quoted.
  try {
    const candidate = value as Partial<CoordinationProvider> | null;
    return typeof candidate === 'object' && candidate !== null && typeof candidate.sharedThrough === 'string' && typeof candidate.sharedState === 'function';
  } catch {
    return false;
  }
}

/** Whether `value` looks like a Redis client itself (ioredis or node-redis), passed where its coordination belongs. */
export function looksLikeRedisClient(value: unknown): boolean {
  try {
    const candidate = value as Record<string, unknown> | null;
    return typeof candidate === 'object' && candidate !== null && ['get', 'set'].every((method) => typeof candidate[method] === 'function') && (typeof candidate.evalsha === 'function' || typeof candidate.sendCommand === 'function');
  } catch {
    return false;
  }
}
