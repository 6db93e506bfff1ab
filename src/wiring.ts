// Builds the parts of one grades instance from its resolved options and hands each part what it needs; only the two factories use it.
import { LtiaasApi } from './client/ltiaasApi';
import { LtiaasTransport } from './client/transport';
import { GradeDelivery } from './delivery/gradeDelivery';
import { GradeEvents } from './events';
import { IdTokenReader } from './grades/idTokenReader';
import { launchGrades, type LaunchGrades } from './grades/launchGrades';
import { serviceKeyGrades, type ServiceKeyGrades } from './grades/serviceKeyGrades';
import type { ResolvedOptions } from './options';
import { redactSecrets } from './redact';
import { GuardedServiceKeyStore } from './serviceKeys/guardedServiceKeyStore';
import type { LocalState, SharedState } from './state/coordination';
import { InProcessIdTokenCache } from './state/idTokenCache';
import { InProcessLineItemRegistry } from './state/lineItemRegistry';
import { InProcessScoreClock } from './state/scoreClock';
import { gradesStatus, type GradesStatus } from './status/gradesStatus';
import { ReachabilityRecord } from './status/ltiaasReachability';
import { readOutboxCounts } from './status/outboxCounts';
import { gradeTelemetry } from './telemetry/gradeTelemetry';
import type { IdToken } from './types';
import type { Outbox } from './outbox/outbox';
import type { ResolvedLogger } from './logger';

/** What the factories build their API from. */
export interface GradesParts {
  events: GradeEvents;
  /** The grade operations of a launch (every method fails with LTIK_MISSING without an ltik). */
  forLaunch(ltik: string | undefined): LaunchGrades;
  withServiceKey(serviceKey: string): ServiceKeyGrades;
  /** The launch's ID token, read once per ltik (which records its service key, with a store). */
  readIdToken(ltik: string): Promise<IdToken>;
  /** Stops the outbox (pending grades stay stored) and closes kept-alive connections. */
  close(): Promise<void>;
  /** The outbox and LTIAAS as last seen (never rejects). */
  status(): Promise<GradesStatus>;
  /** The app's outbox, for the admin page. */
  outbox?: Outbox;
  logger: ResolvedLogger;
}

/**
 * One grades instance: the shared state (ID token cache, line item registry, score clock) from
 * the app's coordination, or else their in-process defaults; the app's outbox and key store,
 * one LTIAAS client and one delivery.
 */
export function buildGrades(options: ResolvedOptions): GradesParts {
  const { logger } = options;
  // Only the event's name and the error's message: a listener's message is the app's text, scrubbed all the same.
  const events = new GradeEvents((error, event) =>
    logger.error({ event, error: redactSecrets(error instanceof Error ? error.message : String(error), [options.apiKey]) }, 'grade event listener failed'),
  );
  // Spans and metrics when @opentelemetry/api is installed (loaded here, never on import); the status report's view of LTIAAS.
  const telemetry = gradeTelemetry({ userIds: options.telemetry.userIds, ltiaasUrl: options.ltiaasUrl });
  const reachability = new ReachabilityRecord();
  const traceCall = telemetry.observeCall;
  const transport = new LtiaasTransport({
    ltiaasUrl: options.ltiaasUrl,
    apiKey: options.apiKey,
    timeoutMs: options.timeoutMs,
    retry: options.retry,
    maxSockets: options.maxSockets,
    logger,
    onRetry: (notice) => events.emit('retry', notice),
    observe: traceCall
      ? (attempt) => {
          const traced = traceCall(attempt);
          const seen = reachability.observe(attempt);
          return (report) => {
            traced?.(report);
            seen?.(report);
          };
        }
      : reachability.observe,
  });
  const api = new LtiaasApi(transport);
  // The app's service key store, called so that a careless one cannot crash the tool.
  const serviceKeys = options.serviceKeyStore ? new GuardedServiceKeyStore(options.serviceKeyStore, logger, [options.apiKey]) : undefined;
  const local: LocalState = {
    idTokens: new InProcessIdTokenCache(options.cache.idTokens),
    lineItems: new InProcessLineItemRegistry(options.cache.lineItems),
    clock: new InProcessScoreClock(),
  };
  // With a coordination, the instances share the state; the in-process defaults are its fallback.
  const shared: SharedState | undefined = options.coordination?.sharedState({ local, logger, idTokenTtlMs: options.cache.idTokens.ttlMs });
  const state: LocalState = shared ?? local;
  const idTokens = new IdTokenReader(api, state.idTokens, serviceKeys);
  const { lineItems, clock } = state;
  const { outbox } = options;
  const { convergeColumns } = options;
  const delivery = new GradeDelivery({ api, idTokens, lineItems, clock, events, logger, convergeColumns, telemetry, ...(outbox ? { outbox } : {}) });
  outbox?.connect(delivery.outboxWorker());
  const unwatchOutbox = outbox ? telemetry.watchOutbox(() => readOutboxCounts(outbox)) : undefined;

  // Made once: the middleware makes a launch's grade operations on every request.
  const callDefaults = { retry: options.retry, timeoutMs: options.timeoutMs };
  const launchParts = { api, idTokens, lineItems, delivery, callDefaults, convergeColumns };
  const serviceKeyParts = { api, lineItems, delivery, callDefaults, convergeColumns };
  return {
    events,
    forLaunch: (ltik) => launchGrades(launchParts, ltik),
    withServiceKey: (serviceKey) => serviceKeyGrades(serviceKeyParts, serviceKey),
    readIdToken: (ltik) => idTokens.read(ltik),
    close: async () => {
      unwatchOutbox?.();
      await outbox?.close();
      shared?.close();
      transport.close();
    },
    status: () => gradesStatus(outbox, reachability.snapshot()),
    ...(outbox ? { outbox } : {}),
    logger,
  };
}
