// ltiaasClient(): grading outside Express and outside a launch, with a service key or a stored ltik.
import { OptionsError } from './errors';
import type { GradeEventMap, GradeEventName } from './events';
import type { LaunchGrades } from './grades/launchGrades';
import type { ServiceKeyGrades } from './grades/serviceKeyGrades';
import { resolveOptions, type LtiaasClientOptions } from './options';
import type { GradesStatus } from './status/gradesStatus';
import { buildGrades, type GradesParts } from './wiring';

/** What {@link ltiaasClient} returns. */
export interface LtiaasClient {
  /**
   * The grade operations of the activity this service key belongs to (it does not expire).
   * @example await client.withServiceKey(record.serviceKey).submitScore(lineItemId, { userId, scoreGiven: 9, scoreMaximum: 10 });
   */
  withServiceKey(serviceKey: string): ServiceKeyGrades;
  /** The grade operations of a launch, by its ltik (valid 24 h). */
  forLaunch(ltik: string): LaunchGrades;
  /** Listens to `submitted`, `queued`, `retry` and `rejected` events. */
  on<E extends GradeEventName>(event: E, listener: (payload: GradeEventMap[E]) => void): LtiaasClient;
  off<E extends GradeEventName>(event: E, listener: (payload: GradeEventMap[E]) => void): LtiaasClient;
  /** Stops the outbox (pending grades stay stored) and closes kept-alive connections. */
  close(): Promise<void>;
  /** The outbox's counts and LTIAAS's reachability as last seen (see `ltiaasGrades().status()`). Never rejects. */
  status(): Promise<GradesStatus>;
}

/** Builds the client half shared by ltiaasClient() and ltiaasGrades(). */
export function clientOf<T>(parts: GradesParts, self: () => T) {
  return {
    withServiceKey(serviceKey: string): ServiceKeyGrades {
      if (typeof serviceKey !== 'string' || serviceKey.trim() === '') {
        throw new OptionsError('withServiceKey(serviceKey): pass the service key from a launch\'s ID token (idtoken.services.serviceKey) or your serviceKeyStore.');
      }
      return parts.withServiceKey(serviceKey);
    },
    forLaunch: (ltik: string) => parts.forLaunch(ltik),
    on<E extends GradeEventName>(event: E, listener: (payload: GradeEventMap[E]) => void): T {
      parts.events.on(event, listener);
      return self();
    },
    off<E extends GradeEventName>(event: E, listener: (payload: GradeEventMap[E]) => void): T {
      parts.events.off(event, listener);
      return self();
    },
    close: () => parts.close(),
    status: () => parts.status(),
  };
}

/**
 * A grades client for code that runs outside a request: cron jobs, queue workers, webhooks,
 * instructor regrades. Same options as `ltiaasGrades()` (validated the same way), without the
 * request-related ones.
 * @example
 * const client = ltiaasClient({ ltiaasUrl: 'https://your.ltiaas.com', apiKey: process.env.LTIAAS_API_KEY! });
 * const outcomes = await client.withServiceKey(serviceKey).submitMany(scores, { lineItem: { resourceId: 'lab-3', label: 'Lab 3', scoreMaximum: 10 } });
 */
export function ltiaasClient(options: LtiaasClientOptions): LtiaasClient {
  const parts = buildGrades(resolveOptions(options, 'ltiaasClient'));
  const client: LtiaasClient = clientOf<LtiaasClient>(parts, () => client);
  return client;
}
