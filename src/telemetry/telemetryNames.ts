// The names the package records under in OpenTelemetry: its scope, spans, metrics and attributes (documented in the README's "Operating it").

/** The instrumentation scope of every span and metric. */
export const INSTRUMENTATION_SCOPE = 'express-ltiaas-grades';

/** One span per grade delivery: a submission, or one outbox attempt (which links to the span that queued it). */
export const GRADE_SPAN = 'ltiaas.grade.submit';

export const METRICS = {
  /** Counter: grades by outcome (`ltiaas.grade.outcome`), error code (`error.type`) and `ltiaas.grade.from_outbox`. */
  grades: 'ltiaas.grades',
  /** Histogram, seconds: each LTIAAS HTTP attempt, by method, `url.template`, status and `error.type`. */
  requestDuration: 'ltiaas.client.request.duration',
  /** Gauge: grades waiting in the outbox. */
  outboxPending: 'ltiaas.outbox.pending',
  /** Gauge: grades on the outbox's dead-letter list (refused for good, waiting for a person). */
  outboxFailed: 'ltiaas.outbox.failed',
  /** Gauge, seconds: how long the oldest pending grade has waited (0 when none). */
  outboxOldestPendingAge: 'ltiaas.outbox.oldest_pending_age',
} as const;

export const ATTRIBUTES = {
  outcome: 'ltiaas.grade.outcome',
  fromOutbox: 'ltiaas.grade.from_outbox',
  jobId: 'ltiaas.outbox.job.id',
  jobAttempt: 'ltiaas.outbox.job.attempt',
  upstreamStatus: 'ltiaas.upstream.status_code',
  errorType: 'error.type',
  // Only with `telemetry: { userIds: true }`, and never on metrics.
  userId: 'user.id',
  lineItemId: 'ltiaas.line_item.id',
  // The HTTP client semantic conventions, on each LTIAAS call's span.
  method: 'http.request.method',
  urlTemplate: 'url.template',
  statusCode: 'http.response.status_code',
  resendCount: 'http.request.resend_count',
  serverAddress: 'server.address',
  serverPort: 'server.port',
} as const;

/**
 * What happened to a grade: `submitted` (in the grade book), `queued` (held by the outbox),
 * `rejected` (refused for good), `failed` (not delivered and not held: the caller was told), and,
 * for an outbox attempt only, `pending` (it failed in a way that may pass and stays held).
 */
export type GradeOutcomeName = 'submitted' | 'queued' | 'rejected' | 'failed' | 'pending';

/** The bucket boundaries of the HTTP client duration convention, in seconds. */
export const DURATION_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
