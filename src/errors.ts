// The package's error classes: one base with status, a stable code and expose, and an `is` guard.
import { inspect } from 'node:util';

/** Every error code the package raises. Codes are stable: tools can switch on them. */
export type LtiaasGradesErrorCode =
  | 'OPTIONS_INVALID'
  | 'LTIK_MISSING'
  | 'LTIK_INVALID'
  | 'SCORE_INVALID'
  | 'LINE_ITEM_INVALID'
  | 'GRADES_UNAVAILABLE'
  | 'LINE_ITEM_UNAVAILABLE'
  | 'LTIAAS_REJECTED'
  | 'LTIAAS_UNAVAILABLE';

/** Where an upstream failure came from, without any secret (no header, no ltik, no key). */
export interface UpstreamFailure {
  /** HTTP method of the LTIAAS call. */
  method: string;
  /** The LTIAAS endpoint as a template, e.g. `/api/lineitems/:lineItemId/scores`. */
  endpoint: string;
  /** LTIAAS's HTTP status, absent for network errors and timeouts. */
  status?: number;
  /** LTIAAS's own error code, e.g. `INVALID_LTIK_AUTH_AUTHORIZATION_HEADER`. */
  ltiaasCode?: string;
  /** The LMS's own message when the LMS refused, e.g. Moodle's "Incorrect score received". */
  lmsMessage?: string;
  /** `network`, `timeout` or `http`. */
  kind: 'network' | 'timeout' | 'http';
  /** Milliseconds the server asked us to wait (Retry-After), when it said so. */
  retryAfterMs?: number;
}

export interface LtiaasGradesErrorInit {
  status: number;
  code: LtiaasGradesErrorCode;
  message: string;
  expose?: boolean;
  retryable?: boolean;
  upstream?: UpstreamFailure;
}

/**
 * Base class of every error the package raises. Passed to `next(err)`; `errorHandler()` answers
 * `{ error: { code, message } }` with `status`. Nothing secret is ever stored on it, and the raw
 * HTTP client error is never attached, so logging or serialising it is safe.
 */
export class LtiaasGradesError extends Error {
  /** HTTP status the tool should answer with. */
  readonly status: number;
  /** Alias of `status`, for error handlers written for http-errors. */
  get statusCode(): number {
    return this.status;
  }
  /** Stable machine-readable code. */
  readonly code: LtiaasGradesErrorCode;
  /** Whether `message` is safe to show the browser (true except for start-up option errors). */
  readonly expose: boolean;
  /** Whether trying again later may succeed (network, timeout, 429, 5xx). */
  readonly retryable: boolean;
  /** The LTIAAS call that failed, when one did. */
  readonly upstream?: UpstreamFailure;

  /** The LMS's own message when the LMS refused (e.g. Moodle's "Incorrect score received"). */
  get lmsMessage(): string | undefined {
    return this.upstream?.lmsMessage;
  }

  constructor(init: LtiaasGradesErrorInit) {
    super(init.message);
    this.name = new.target.name;
    this.status = init.status;
    this.code = init.code;
    // Every message is written by this package and free of secrets, so it is safe to show.
    this.expose = init.expose ?? true;
    this.retryable = init.retryable ?? false;
    if (init.upstream) this.upstream = init.upstream;
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      status: this.status,
      message: this.message,
      retryable: this.retryable,
      ...(this.upstream ? { upstream: this.upstream } : {}),
    };
  }

  [inspect.custom](): string {
    return `${this.stack ?? `${this.name}: ${this.message}`}\n  ${inspect(this.toJSON(), { breakLength: Infinity })}`;
  }
}

/** The factory was given options it cannot use. Thrown synchronously at start-up. */
export class OptionsError extends LtiaasGradesError {
  constructor(message: string) {
    super({ status: 500, code: 'OPTIONS_INVALID', message, expose: false });
  }
}

/** No ltik in the request (401), or LTIAAS refused it as invalid or expired (401). */
export class LtikError extends LtiaasGradesError {
  /** LTIK_MISSING: the one message for every place that finds no ltik. */
  static missing(): LtikError {
    return new LtikError({
      status: 401,
      code: 'LTIK_MISSING',
      message:
        'No ltik in the request. LTIAAS adds ?ltik= to the launch URL; send it on with each request of the launch as ?ltik=, a body field "ltik" or "Authorization: Bearer <ltik>".',
    });
  }
}

/** A score or line item that breaks the rules; nothing was sent to LTIAAS (400). */
export class InvalidGradeError extends LtiaasGradesError {}

/** Grading is not possible for this launch: no grade service, or no line item to post to. */
export class GradesUnavailableError extends LtiaasGradesError {}

/** LTIAAS or the LMS refused the request; retrying the same request will not help. */
export class LtiaasRejectedError extends LtiaasGradesError {}

/** LTIAAS or the LMS could not be reached or failed (network, timeout, 429, 5xx); retryable. */
export class LtiaasUnavailableError extends LtiaasGradesError {}

/** True for every error raised by this package, whichever installed copy of it raised it. */
export function isLtiaasGradesError(value: unknown): value is LtiaasGradesError {
  if (value instanceof LtiaasGradesError) return true;
  // Two versions of the package in one app have two classes; recognise the shape too.
  const candidate = value as { code?: unknown; status?: unknown } | null;
  return (
    value instanceof Error &&
    typeof candidate?.status === 'number' &&
    typeof candidate.code === 'string' &&
    KNOWN_CODES.has(candidate.code)
  );
}

const KNOWN_CODES: ReadonlySet<string> = new Set<LtiaasGradesErrorCode>([
  'OPTIONS_INVALID',
  'LTIK_MISSING',
  'LTIK_INVALID',
  'SCORE_INVALID',
  'LINE_ITEM_INVALID',
  'GRADES_UNAVAILABLE',
  'LINE_ITEM_UNAVAILABLE',
  'LTIAAS_REJECTED',
  'LTIAAS_UNAVAILABLE',
]);
