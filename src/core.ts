// The state one grades instance shares across requests: client, caches, clock, events, outbox, key store.
import { createHash } from 'node:crypto';
import { LruCache } from './cache/lruCache';
import { LtiaasApi } from './client/ltiaasApi';
import { LtiaasTransport, type CallOptions } from './client/transport';
import { gradesError, isLtiaasGradesError, type LtiaasGradesError } from './errors';
import { GradeEvents } from './events';
import { deliverGrade, scoreKeysOf, type GradeDraft } from './grades/deliverGrade';
import { LineItemResolver } from './grades/lineItemResolver';
import { ScoreClock } from './grades/scoreClock';
import type { JobOutcome, GradeOutbox } from './outbox/gradeOutbox';
import type { StoredGradeJob } from './outbox/outboxTypes';
import type { ResolvedOptions } from './options';
import { redactSecrets } from './redact';
import { GuardedServiceKeyStore } from './serviceKeys/guardedServiceKeyStore';
import type { IdToken, QueuedGrade } from './types';

/** A short digest of a secret: cache keys stay small and the heap holds no usable ltik. */
export const digest = (secret: string) => createHash('sha256').update(secret).digest('base64url');

/** Past this age a queued grade is sent with the service key: the ltik lives 24 h. */
const LTIK_SAFE_AGE_MS = 23 * 60 * 60 * 1000;

export class GradesCore {
  readonly transport: LtiaasTransport;
  readonly api: LtiaasApi;
  readonly resolver: LineItemResolver;
  readonly clock = new ScoreClock();
  readonly events: GradeEvents;
  readonly outbox?: GradeOutbox;
  /** The app's service key store, called so that a careless one cannot crash the tool. */
  readonly serviceKeys?: GuardedServiceKeyStore;
  private readonly idTokens: LruCache<string, Promise<IdToken>>;

  constructor(readonly options: ResolvedOptions) {
    // Only the event's name and the error's message: a listener's message is the app's text, scrubbed all the same.
    this.events = new GradeEvents((error, event) =>
      options.logger.error({ event, error: redactSecrets(error instanceof Error ? error.message : String(error), [options.apiKey]) }, 'grade event listener failed'),
    );
    if (options.serviceKeyStore) this.serviceKeys = new GuardedServiceKeyStore(options.serviceKeyStore, options.logger, [options.apiKey]);
    this.transport = new LtiaasTransport({
      ltiaasUrl: options.ltiaasUrl,
      apiKey: options.apiKey,
      timeoutMs: options.timeoutMs,
      retry: options.retry,
      maxSockets: options.maxSockets,
      logger: options.logger,
      onRetry: (notice) => this.events.emit('retry', notice),
    });
    this.api = new LtiaasApi(this.transport);
    this.resolver = new LineItemResolver(options.cache.lineItems);
    this.idTokens = new LruCache(options.cache.idTokens);
    if (options.outbox) {
      this.outbox = options.outbox;
      this.outbox.connect({
        deliver: (job, persist) => this.deliverJob(job, persist),
        logger: options.logger,
        onDelivered: (job, submitted) => {
          options.logger.info({ id: job.id, lineItemId: submitted.lineItemId, userId: submitted.userId, attempts: job.attempts }, 'outbox: grade delivered');
          this.events.emit('submitted', {
            lineItemId: submitted.lineItemId,
            userId: submitted.userId,
            status: 'submitted',
            scoreGiven: submitted.scoreGiven,
            scoreMaximum: submitted.scoreMaximum,
            durationMs: Date.now() - Date.parse(job.createdAt),
            fromOutbox: true,
          });
        },
        onFailed: (job, error) => {
          options.logger.warn({ id: job.id, code: error.code, upstreamStatus: error.upstream?.status, lineItemId: job.draft.lineItemId, userId: job.draft.userId }, 'outbox: grade refused, moved to the dead-letter list');
          this.events.emit('rejected', {
            lineItemId: job.draft.lineItemId ?? job.draft.fixedLineItemId,
            userId: job.draft.userId,
            status: 'rejected',
            code: error.code,
            upstreamStatus: error.upstream?.status,
            message: error.message,
            durationMs: Date.now() - Date.parse(job.createdAt),
            fromOutbox: true,
          });
        },
      });
    }
  }

  /** The launch's ID token, fetched once per ltik: concurrent callers share one request. */
  idToken(ltik: string, options?: CallOptions): Promise<IdToken> {
    const key = digest(ltik);
    const cached = this.idTokens.get(key);
    if (cached) return cached;
    const fetching = this.api.idToken(ltik, options);
    this.idTokens.set(key, fetching);
    fetching.then(
      (token) => this.recordServiceKey(token),
      () => this.idTokens.deleteIf(key, fetching),
    );
    return fetching;
  }

  /** Keeps the launch's service key in the store, as LTIAAS advises, on each launch with grades. */
  private recordServiceKey(token: IdToken): void {
    const store = this.serviceKeys;
    const serviceKey = token.services.serviceKey;
    const contextId = token.launch.context?.id;
    const resourceLinkId = token.launch.resourceLink?.id;
    if (!store || !serviceKey || !token.services.assignmentAndGrades.available || !contextId || !resourceLinkId) return;
    // Never rejects (see GuardedServiceKeyStore): a failing store is logged, the page goes on.
    void store.save({
      platformId: token.platform.id,
      contextId,
      resourceLinkId,
      serviceKey,
      ...(token.services.assignmentAndGrades.lineItemId ? { lineItemId: token.services.assignmentAndGrades.lineItemId } : {}),
      ...(token.launch.context?.title ? { contextTitle: token.launch.context.title } : {}),
      ...(token.launch.resourceLink?.title ? { resourceLinkTitle: token.launch.resourceLink.title } : {}),
      updatedAt: new Date().toISOString(),
    });
  }

  /** Names the grade book a launch writes to, so launches in one context share resolved columns. */
  static scopeOf(token: IdToken): string {
    const context = token.launch.context?.id;
    const where = context ? `context:${context}` : `link:${token.launch.resourceLink?.id ?? ''}`;
    return `${token.platform.id}\u0000${where}`;
  }

  /** The grade book a service key writes to (one activity's context). */
  static scopeOfServiceKey(serviceKey: string): string {
    return `service-key:${digest(serviceKey)}`;
  }

  /** LTIAAS took a grade: anything the outbox holds can go now. */
  noteDelivered(): void {
    this.outbox?.wake();
  }

  /**
   * Hands a grade that failed in a way that may pass to the outbox. Resolves undefined without
   * an outbox; throws the original error if the outbox cannot store it (never lost silently).
   */
  async queueGrade(draft: GradeDraft, reason: LtiaasGradesError, startedAt: number): Promise<QueuedGrade | undefined> {
    if (!this.outbox) return undefined;
    // The time the student finished, fixed now so every later attempt repeats the same score.
    // Stamped under this student's own names (the launch, when the user is not known yet), so
    // an outage's backlog of other students' grades cannot push it ahead of the clock.
    draft.timestamp ??= this.clock.stampFor(scoreKeysOf(draft));
    let job: StoredGradeJob;
    try {
      job = await this.outbox.enqueue(draft, reason);
    } catch (error) {
      this.options.logger.error({ error: (error as Error).message, code: reason.code }, 'outbox: could not store a grade; answering that it was not delivered');
      throw reason;
    }
    const lineItemId = draft.lineItemId ?? draft.fixedLineItemId;
    this.options.logger.warn({ id: job.id, code: reason.code, upstreamStatus: reason.upstream?.status, lineItemId, userId: draft.userId }, 'grade queued in the outbox');
    this.events.emit('queued', {
      id: job.id,
      lineItemId,
      userId: draft.userId,
      status: 'queued',
      code: reason.code,
      upstreamStatus: reason.upstream?.status,
      durationMs: Date.now() - startedAt,
    });
    return {
      status: 'queued',
      id: job.id,
      ...(lineItemId ? { lineItemId } : {}),
      ...(draft.userId ? { userId: draft.userId } : {}),
      ...(draft.score.scoreGiven !== undefined ? { scoreGiven: draft.score.scoreGiven } : {}),
      ...(draft.score.scoreMaximum !== undefined ? { scoreMaximum: draft.score.scoreMaximum } : {}),
    };
  }

  /** One outbox delivery: the same path as a direct submission, with the service key once the ltik is old. */
  private async deliverJob(job: StoredGradeJob, persist: () => Promise<void>): Promise<JobOutcome> {
    const preferServiceKey = Date.now() - Date.parse(job.createdAt) > LTIK_SAFE_AGE_MS;
    try {
      const submitted = await deliverGrade(this, job.draft, { persist, preferServiceKey, serviceKeyAfterRefusedLtik: true });
      return { kind: 'delivered', submitted };
    } catch (error) {
      if (!isLtiaasGradesError(error)) {
        const unexpected = gradesError('LTIAAS_UNAVAILABLE', { message: 'The delivery failed unexpectedly; it will be retried.' });
        this.options.logger.error({ id: job.id, error: error instanceof Error ? error.message : String(error) }, 'outbox: unexpected delivery error');
        return { kind: 'retry', error: unexpected };
      }
      return error.retryable ? { kind: 'retry', error } : { kind: 'failed', error };
    }
  }

  async close(): Promise<void> {
    await this.outbox?.close();
    this.transport.close();
  }
}
