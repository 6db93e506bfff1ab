// Spans and metrics of every grade and every LTIAAS call through @opentelemetry/api, when it is installed; a no-op otherwise.
import { performance } from 'node:perf_hooks';
import type { Attributes, BatchObservableCallback, Counter, Histogram, Link, Meter, Observable, Span, Tracer } from '@opentelemetry/api';
import type { AttemptReport, CallObserver, ObservedAttempt } from '../client/transport';
import { version as PACKAGE_VERSION } from '../../package.json';
import type { OutboxCounts } from '../status/outboxCounts';
import { openTelemetryApi, type OpenTelemetryApi } from './openTelemetryApi';
import { ATTRIBUTES, DURATION_BUCKETS_S, GRADE_SPAN, INSTRUMENTATION_SCOPE, METRICS, type GradeOutcomeName } from './telemetryNames';
import { linkContextOf, traceparentOf } from './traceparent';

/** What is known when a grade's span starts. */
export interface GradeSpanStart {
  /** An outbox job: its id, which attempt this is, and the traceparent of the request that queued it. */
  job?: { id: string; attempt: number; traceparent?: string };
}

/** What came of a grade, for its span and the `ltiaas.grades` counter. */
export interface GradeResult {
  outcome: GradeOutcomeName;
  /** The package's error code when the grade did not go now (why it was queued, refused, ...). */
  code?: string;
  upstreamStatus?: number;
  /** The outbox job that holds (or held) it. */
  jobId?: string;
  /** Span attributes only with `telemetry: { userIds: true }`. */
  userId?: string;
  lineItemId?: string;
}

/** One grade's span, handed to the code that delivers it. */
export interface GradeSpan {
  /** The W3C traceparent of this span, to keep with a queued grade; undefined when nothing records it. */
  traceparent(): string | undefined;
  /** Records the outcome on the span (once), and counts it in `ltiaas.grades` when `count` is true. */
  settle(result: GradeResult, count: boolean): void;
}

/** What the delivery, the transport and the outbox report to. */
export interface GradeTelemetry {
  /**
   * Runs `deliver` inside a `ltiaas.grade.submit` span, the current span while it runs, so the
   * spans of the LTIAAS calls it makes are its children. An outbox job's span starts a trace of
   * its own, linked to the span of the request that queued it. The span ends when `deliver` settles.
   */
  inGradeSpan<T>(start: GradeSpanStart, deliver: (span: GradeSpan) => Promise<T>): Promise<T>;
  /** Counts an outcome no span settles: an outbox job delivered or given up, as the outbox reports it. */
  count(result: Pick<GradeResult, 'outcome' | 'code'>, fromOutbox: boolean): void;
  /** The transport's observer: a client span and a duration per attempt. Undefined when nothing records. */
  readonly observeCall?: CallObserver;
  /** Reports the outbox gauges from `read` at every collection, until the returned function is called. */
  watchOutbox(read: () => Promise<OutboxCounts>): () => void;
}

export interface TelemetrySettings {
  /** Put user and column ids on spans (never on metrics). */
  userIds: boolean;
  /** Where LTIAAS is: `server.address` and `server.port`. */
  ltiaasUrl: string;
}

const NO_SPAN: GradeSpan = { traceparent: () => undefined, settle: () => undefined };

/** Without @opentelemetry/api: nothing is recorded, and nothing is done. */
export const NO_TELEMETRY: GradeTelemetry = {
  inGradeSpan: (_start, deliver) => deliver(NO_SPAN),
  count: () => undefined,
  watchOutbox: () => () => undefined,
};

/** `/api/lineitems/:lineItemId/scores` as the URL template convention writes it: `/api/lineitems/{id}/scores`. */
export const urlTemplateOf = (endpoint: string): string => endpoint.replace(/\/:\w+/g, '/{id}');

const FAILED_OUTCOMES: ReadonlySet<GradeOutcomeName> = new Set(['rejected', 'failed']);

class RecordedGradeSpan implements GradeSpan {
  private settled = false;

  constructor(
    private readonly span: Span,
    private readonly telemetry: OpenTelemetryGrades,
    private readonly fromOutbox: boolean,
  ) {}

  traceparent(): string | undefined {
    return traceparentOf(this.span.spanContext(), this.telemetry.api);
  }

  settle(result: GradeResult, count: boolean): void {
    if (this.settled) return;
    this.settled = true;
    const { span } = this;
    span.setAttribute(ATTRIBUTES.outcome, result.outcome);
    if (result.code !== undefined) span.setAttribute(ATTRIBUTES.errorType, result.code);
    if (result.upstreamStatus !== undefined) span.setAttribute(ATTRIBUTES.upstreamStatus, result.upstreamStatus);
    if (result.jobId !== undefined) span.setAttribute(ATTRIBUTES.jobId, result.jobId);
    if (this.telemetry.settings.userIds) {
      if (result.userId !== undefined) span.setAttribute(ATTRIBUTES.userId, result.userId);
      if (result.lineItemId !== undefined) span.setAttribute(ATTRIBUTES.lineItemId, result.lineItemId);
    }
    // Only the code: an error's message may quote the LMS, which is for people, not for traces.
    if (FAILED_OUTCOMES.has(result.outcome)) span.setStatus({ code: this.telemetry.api.SpanStatusCode.ERROR, ...(result.code ? { message: result.code } : {}) });
    if (count) this.telemetry.count(result, this.fromOutbox);
  }
}

class OpenTelemetryGrades implements GradeTelemetry {
  private readonly tracer: Tracer;
  private readonly meter: Meter;
  private readonly grades: Counter;
  private readonly duration: Histogram;
  private readonly gauges: { pending: Observable; failed: Observable; oldestAge: Observable };
  private readonly server: Attributes;

  constructor(
    readonly api: OpenTelemetryApi,
    readonly settings: TelemetrySettings,
  ) {
    this.tracer = api.trace.getTracer(INSTRUMENTATION_SCOPE, PACKAGE_VERSION);
    this.meter = api.metrics.getMeter(INSTRUMENTATION_SCOPE, PACKAGE_VERSION);
    this.grades = this.meter.createCounter(METRICS.grades, { description: 'Grades by outcome: submitted, queued, rejected or failed.', unit: '{grade}' });
    this.duration = this.meter.createHistogram(METRICS.requestDuration, {
      description: 'Duration of each HTTP attempt of an LTIAAS call.',
      unit: 's',
      advice: { explicitBucketBoundaries: DURATION_BUCKETS_S },
    });
    this.gauges = {
      pending: this.meter.createObservableGauge(METRICS.outboxPending, { description: 'Grades waiting in the outbox.', unit: '{grade}' }),
      failed: this.meter.createObservableGauge(METRICS.outboxFailed, { description: 'Grades refused for good, on the dead-letter list.', unit: '{grade}' }),
      oldestAge: this.meter.createObservableGauge(METRICS.outboxOldestPendingAge, { description: 'How long the oldest pending grade has waited.', unit: 's' }),
    };
    const url = new URL(settings.ltiaasUrl);
    this.server = {
      [ATTRIBUTES.serverAddress]: url.hostname.replace(/^\[|\]$/g, ''),
      [ATTRIBUTES.serverPort]: url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80,
    };
  }

  async inGradeSpan<T>(start: GradeSpanStart, deliver: (span: GradeSpan) => Promise<T>): Promise<T> {
    const { api } = this;
    const fromOutbox = start.job !== undefined;
    const linked = start.job?.traceparent !== undefined ? linkContextOf(start.job.traceparent, api) : undefined;
    const links: Link[] = linked ? [{ context: linked }] : [];
    const attributes: Attributes = {
      [ATTRIBUTES.fromOutbox]: fromOutbox,
      ...(start.job ? { [ATTRIBUTES.jobId]: start.job.id, [ATTRIBUTES.jobAttempt]: start.job.attempt } : {}),
    };
    // An outbox delivery is its own trace: whatever context its timer was armed in is not its parent.
    const span = this.tracer.startSpan(GRADE_SPAN, { kind: api.SpanKind.INTERNAL, attributes, links, root: fromOutbox });
    const grade = new RecordedGradeSpan(span, this, fromOutbox);
    try {
      return await api.context.with(api.trace.setSpan(api.context.active(), span), () => deliver(grade));
    } catch (error) {
      // A path that threw without saying what came of the grade: not delivered, not held.
      grade.settle({ outcome: 'failed', code: codeOf(error) }, true);
      throw error;
    } finally {
      span.end();
    }
  }

  count(result: Pick<GradeResult, 'outcome' | 'code'>, fromOutbox: boolean): void {
    this.grades.add(1, {
      [ATTRIBUTES.outcome]: result.outcome,
      [ATTRIBUTES.fromOutbox]: fromOutbox,
      ...(result.code !== undefined ? { [ATTRIBUTES.errorType]: result.code } : {}),
    });
  }

  readonly observeCall: CallObserver = (attempt: ObservedAttempt) => {
    const template = urlTemplateOf(attempt.endpoint);
    const common: Attributes = { [ATTRIBUTES.method]: attempt.method, [ATTRIBUTES.urlTemplate]: template, ...this.server };
    const ids: Attributes = this.settings.userIds
      ? {
          ...(attempt.meta?.userId !== undefined ? { [ATTRIBUTES.userId]: attempt.meta.userId } : {}),
          ...(attempt.meta?.lineItemId !== undefined ? { [ATTRIBUTES.lineItemId]: attempt.meta.lineItemId } : {}),
        }
      : {};
    const span = this.tracer.startSpan(`${attempt.method} ${template}`, {
      kind: this.api.SpanKind.CLIENT,
      attributes: { ...common, ...ids, ...(attempt.attempt > 0 ? { [ATTRIBUTES.resendCount]: attempt.attempt } : {}) },
    });
    const started = performance.now();
    return (report: AttemptReport) => {
      const seconds = (performance.now() - started) / 1000;
      const outcome: Attributes = {
        ...(report.status !== undefined ? { [ATTRIBUTES.statusCode]: report.status } : {}),
        ...(report.errorType !== undefined ? { [ATTRIBUTES.errorType]: report.errorType } : {}),
      };
      span.setAttributes(outcome);
      // The HTTP client convention: a 4xx or 5xx, or no answer, is an error of the client span.
      if (report.errorType !== undefined) span.setStatus({ code: this.api.SpanStatusCode.ERROR });
      span.end();
      this.duration.record(seconds, { ...common, ...outcome });
    };
  };

  watchOutbox(read: () => Promise<OutboxCounts>): () => void {
    const observables = [this.gauges.pending, this.gauges.failed, this.gauges.oldestAge];
    const report: BatchObservableCallback = async (result) => {
      let counts: OutboxCounts;
      try {
        counts = await read();
      } catch {
        // An outbox that cannot be read reports no value rather than a wrong one; grades.status() says why.
        return;
      }
      result.observe(this.gauges.pending, counts.pending);
      result.observe(this.gauges.failed, counts.failed);
      const waitedMs = counts.oldestPendingAt !== undefined ? Date.now() - Date.parse(counts.oldestPendingAt) : 0;
      result.observe(this.gauges.oldestAge, Math.max(0, waitedMs) / 1000);
    };
    this.meter.addBatchObservableCallback(report, observables);
    return () => this.meter.removeBatchObservableCallback(report, observables);
  }
}

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[A-Z][A-Z0-9_]{1,60}$/.test(code) ? code : 'UNEXPECTED';
}

/**
 * The telemetry of one grades instance: OpenTelemetry when @opentelemetry/api is installed
 * (recording only once an SDK is registered), else nothing at all.
 */
export function gradeTelemetry(settings: TelemetrySettings, api: OpenTelemetryApi | undefined = openTelemetryApi()): GradeTelemetry {
  return api ? new OpenTelemetryGrades(api, settings) : NO_TELEMETRY;
}
