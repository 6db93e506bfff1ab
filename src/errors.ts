// The package's errors from one table (code → class, status, retryable, expose, default message) and the factory that builds them.
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
  | 'LTIAAS_UNAVAILABLE'
  | 'SERVICE_KEY_STORE_FAILED'
  | 'OUTBOX_UNAVAILABLE'
  | 'COORDINATION_UNAVAILABLE';

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

/** The LTIAAS call that failed: method, endpoint template, status and LTIAAS's code. Never a header, an id, a query or text from elsewhere. */
export interface UpstreamCause {
  kind: 'network' | 'timeout' | 'http';
  method: string;
  endpoint: string;
  status?: number;
  ltiaasCode?: string;
}

/** Storage that failed (the app's service key store, the outbox's files): the operation and the system's codes, never its message (it may quote a stored key). */
export interface StorageCause {
  kind: 'storage';
  /** What the package was doing, e.g. `serviceKeyStore.get` or `outbox.failed`. */
  operation: string;
  /** The system error code, e.g. `ENOSPC`. */
  errno?: string;
  /** The system call that failed, e.g. `open`. */
  syscall?: string;
  /** The error's class when it is not a plain Error, e.g. `TypeError`. */
  errorName?: string;
}

/**
 * The standard `cause` of the package's errors: a plain, frozen object made to be read by a
 * developer, never the HTTP client's or the store's own error (those hold headers and keys).
 */
export type ErrorCause = UpstreamCause | StorageCause;

export interface LtiaasGradesErrorInit {
  code: LtiaasGradesErrorCode;
  /** Default: the code's status in the table. */
  status?: number;
  /** Default: the code's message in the table. */
  message?: string;
  /** Default: the code's `expose` in the table. */
  expose?: boolean;
  /** Default: the code's `retryable` in the table. */
  retryable?: boolean;
  upstream?: UpstreamFailure;
  /** Default: the redacted `upstream` call, when there is one. */
  cause?: ErrorCause;
}

/** The shapes of system codes, system calls and class names: a key or an ltik (mixed case, long) fits none of them. */
const SAFE_ERRNO = /^[A-Z][A-Z0-9_]{0,39}$/;
const SAFE_SYSCALL = /^[a-z][a-z0-9_]{0,31}$/;
const SAFE_ERROR_NAME = /^[A-Z][A-Za-z0-9]{0,34}Error$/;

function upstreamCauseOf(upstream: UpstreamFailure): UpstreamCause {
  return {
    kind: upstream.kind,
    method: upstream.method,
    // A template (`/api/lineitems/:lineItemId`) has no query; anything after ? or # is cut all the same.
    endpoint: upstream.endpoint.split(/[?#]/)[0]!,
    ...(upstream.status !== undefined ? { status: upstream.status } : {}),
    ...(upstream.ltiaasCode !== undefined ? { ltiaasCode: upstream.ltiaasCode } : {}),
  };
}

/** A storage cause with only the fields, and values, of the safe shapes. */
function redactedStorageCause(cause: StorageCause): StorageCause {
  const pick = (value: unknown, shape: RegExp) => (typeof value === 'string' && shape.test(value) ? value : undefined);
  const errno = pick(cause.errno, SAFE_ERRNO);
  const syscall = pick(cause.syscall, SAFE_SYSCALL);
  const errorName = pick(cause.errorName, SAFE_ERROR_NAME);
  return {
    kind: 'storage',
    operation: String(cause.operation).replace(/[^A-Za-z0-9_.]/g, '').slice(0, 64),
    ...(errno ? { errno } : {}),
    ...(syscall ? { syscall } : {}),
    ...(errorName ? { errorName } : {}),
  };
}

/** Only fields of the known shapes, with values that cannot carry a secret; frozen. */
function redactedCause(cause: ErrorCause): ErrorCause {
  return Object.freeze(cause.kind === 'storage' ? redactedStorageCause(cause) : upstreamCauseOf(cause));
}

/**
 * Base class of every error the package raises. Passed to `next(err)`; `errorHandler()` answers
 * `{ error: { code, message } }` with `status`. Nothing secret is ever stored on it: the raw
 * HTTP client or store error is never attached (`cause` is a redacted plain object), so
 * logging or serialising it is safe.
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
  /** Whether trying again later may succeed (network, timeout, 429, 5xx, a failing store). */
  readonly retryable: boolean;
  /** The LTIAAS call that failed, when one did. */
  readonly upstream?: UpstreamFailure;
  /** What failed, for a developer: the LTIAAS call or the storage operation, redacted (see {@link ErrorCause}). */
  declare readonly cause?: ErrorCause;

  /** The LMS's own message when the LMS refused (e.g. Moodle's "Incorrect score received"). */
  get lmsMessage(): string | undefined {
    return this.upstream?.lmsMessage;
  }

  constructor(init: LtiaasGradesErrorInit) {
    // A code from another copy of the package may be missing from this table: fall back, never crash.
    const rule = (ERROR_TABLE as Partial<Record<string, ErrorRule>>)[init.code];
    const given = init.cause ?? (init.upstream ? upstreamCauseOf(init.upstream) : undefined);
    const cause = given ? redactedCause(given) : undefined;
    super(init.message ?? rule?.message ?? init.code, cause ? { cause } : undefined);
    this.name = new.target.name;
    this.status = init.status ?? rule?.status ?? 500;
    this.code = init.code;
    // Every message is written by this package and free of secrets, so it is safe to show.
    this.expose = init.expose ?? rule?.expose ?? true;
    this.retryable = init.retryable ?? rule?.retryable ?? false;
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
      ...(this.cause ? { cause: this.cause } : {}),
    };
  }

  [inspect.custom](): string {
    return `${this.stack ?? `${this.name}: ${this.message}`}\n  ${inspect(this.toJSON(), { breakLength: Infinity })}`;
  }
}

/** The factory was given options it cannot use. Thrown synchronously at start-up. */
export class OptionsError extends LtiaasGradesError {
  constructor(init: string | LtiaasGradesErrorInit) {
    super(typeof init === 'string' ? { code: 'OPTIONS_INVALID', message: init } : init);
  }
}

/** No ltik in the request (401), or LTIAAS refused it as invalid or expired (401). */
export class LtikError extends LtiaasGradesError {
  /** LTIK_MISSING: the one message for every place that finds no ltik. */
  static missing(): LtikError {
    return gradesError('LTIK_MISSING');
  }
}

/** A score or line item that breaks the rules; nothing was sent to LTIAAS (400). */
export class InvalidGradeError extends LtiaasGradesError {}

/** Grading is not possible for this launch: no grade service (403), or no line item to post to (a {@link LineItemUnavailableError}). */
export class GradesUnavailableError extends LtiaasGradesError {}

/** No line item to post to: no `lineItem` given and the launch has none of its own (409). A GradesUnavailableError, as it always was. */
export class LineItemUnavailableError extends GradesUnavailableError {}

/** LTIAAS or the LMS refused the request; retrying the same request will not help. */
export class LtiaasRejectedError extends LtiaasGradesError {}

/**
 * LTIAAS or the LMS could not be reached or failed (network, timeout, 429, 5xx, an answer the
 * package cannot use). Usually retryable; check `retryable`: it is false where repeating cannot
 * help or could do harm (an LMS whose paging never ends, an unreadable answer to a creation).
 */
export class LtiaasUnavailableError extends LtiaasGradesError {}

/** Storage the package relies on failed: the app's service key store or the outbox's storage (503); usually retryable. */
export class StorageUnavailableError extends LtiaasGradesError {}

type ErrorClass = new (init: LtiaasGradesErrorInit) => LtiaasGradesError;

/** What a code means, everywhere it is raised. */
interface ErrorRule {
  /** The class thrown for the code. */
  type: ErrorClass;
  /** The HTTP status. */
  status: number;
  /** Other statuses a throw site may give instead, each for a case the README names. */
  otherStatuses?: readonly number[];
  retryable: boolean;
  /** Whether a throw site may say otherwise than `retryable` (the class doc says when). */
  retryableVaries?: boolean;
  /** Whether the message may be shown to the browser. */
  expose: boolean;
  /** The message when the throw site has nothing more precise to say. */
  message: string;
}

/** The one table of the package's errors. A code missing here does not compile. */
export const ERROR_TABLE = {
  OPTIONS_INVALID: { type: OptionsError, status: 500, retryable: false, expose: false, message: 'The package was given options it cannot use.' },
  LTIK_MISSING: {
    type: LtikError,
    status: 401,
    retryable: false,
    expose: true,
    message:
      'No ltik in the request. LTIAAS adds ?ltik= to the launch URL; send it on with each request of the launch as ?ltik=, a body field "ltik" or "Authorization: Bearer <ltik>".',
  },
  LTIK_INVALID: {
    type: LtikError,
    status: 401,
    retryable: false,
    expose: true,
    message: 'LTIAAS rejected the ltik: it is invalid or expired (an ltik lasts 24 hours; launch the activity again from the LMS), or the API key is wrong.',
  },
  SCORE_INVALID: { type: InvalidGradeError, status: 400, retryable: false, expose: true, message: 'Invalid score.' },
  LINE_ITEM_INVALID: { type: InvalidGradeError, status: 400, retryable: false, expose: true, message: 'Invalid line item.' },
  GRADES_UNAVAILABLE: {
    type: GradesUnavailableError,
    status: 403,
    retryable: false,
    expose: true,
    message: 'Grades are not available for this launch: the LMS did not grant the grade service to this activity.',
  },
  LINE_ITEM_UNAVAILABLE: {
    type: LineItemUnavailableError,
    status: 409,
    retryable: false,
    expose: true,
    message:
      'This launch has no line item of its own (the LMS did not couple one to the link): pass a lineItem spec ({ resourceId, label, scoreMaximum }) so the package can find or create the column.',
  },
  // 401 when LTIAAS refused a service key or the API key on a service-key call.
  LTIAAS_REJECTED: { type: LtiaasRejectedError, status: 422, otherStatuses: [401], retryable: false, expose: true, message: 'LTIAAS or the LMS refused the request; repeating it will not help.' },
  // 503 unreachable or rate limited, 502 a 5xx or an answer the package cannot use, 504 a timeout.
  LTIAAS_UNAVAILABLE: {
    type: LtiaasUnavailableError,
    status: 503,
    otherStatuses: [502, 504],
    retryable: true,
    retryableVaries: true,
    expose: true,
    message: 'LTIAAS or the LMS could not be reached; try again later.',
  },
  SERVICE_KEY_STORE_FAILED: {
    type: StorageUnavailableError,
    status: 503,
    retryable: true,
    expose: true,
    message: 'The service key store failed, so no service key could be read for grading outside a launch; see the log, and try again later.',
  },
  // Not retryable once the outbox is closed: a closed outbox stays closed.
  OUTBOX_UNAVAILABLE: {
    type: StorageUnavailableError,
    status: 503,
    retryable: true,
    retryableVaries: true,
    expose: true,
    message: 'The outbox could not read or write its storage; try again later.',
  },
  COORDINATION_UNAVAILABLE: {
    type: StorageUnavailableError,
    status: 503,
    retryable: true,
    expose: true,
    message: 'The state shared by the tool instances (Redis) is busy or unreachable; the grade was not sent, try again later.',
  },
} as const satisfies Record<LtiaasGradesErrorCode, ErrorRule>;

type RuleOf<C extends LtiaasGradesErrorCode> = (typeof ERROR_TABLE)[C];

/** What a throw site may add to its code's table row: a precise message, the failed call, and only the overrides the row allows. */
export type ErrorDetails<C extends LtiaasGradesErrorCode> = {
  message?: string;
  upstream?: UpstreamFailure;
  cause?: ErrorCause;
} & (RuleOf<C> extends { otherStatuses: readonly (infer S)[] } ? { status?: RuleOf<C>['status'] | S } : { status?: never }) &
  (RuleOf<C> extends { retryableVaries: true } ? { retryable?: boolean } : { retryable?: never });

/** The error class of a code, as the table says. */
export type ErrorOf<C extends LtiaasGradesErrorCode> = InstanceType<RuleOf<C>['type']>;

/** The package's error for `code`, of the class, status, `retryable` and `expose` the table gives it. */
export function gradesError<C extends LtiaasGradesErrorCode>(code: C, details: ErrorDetails<C> = {} as ErrorDetails<C>): ErrorOf<C> {
  const Type: ErrorClass = ERROR_TABLE[code].type;
  const error = new Type({ ...(details as Omit<LtiaasGradesErrorInit, 'code'>), code });
  // The stack starts where the error was raised, not in this factory.
  Error.captureStackTrace?.(error, gradesError);
  return error as ErrorOf<C>;
}

/** What is safe to keep of a store's or the file system's error: its codes, of safe shapes, never its message. */
export function storageCause(operation: string, error: unknown): StorageCause {
  const failure = (typeof error === 'object' && error !== null ? error : {}) as { code?: unknown; syscall?: unknown; name?: unknown };
  return redactedStorageCause({
    kind: 'storage',
    operation,
    ...(typeof failure.code === 'string' ? { errno: failure.code } : {}),
    ...(typeof failure.syscall === 'string' ? { syscall: failure.syscall } : {}),
    ...(typeof failure.name === 'string' && failure.name !== 'Error' ? { errorName: failure.name } : {}),
  });
}

/**
 * A `.catch` handler for the outbox's public methods: the package's own errors pass as they are;
 * any other failure of its storage becomes OUTBOX_UNAVAILABLE saying what could not be done,
 * with the system's code (never the raw error, which may quote a stored ltik).
 */
export function outboxUnavailable(operation: string, couldNot: string): (error: unknown) => never {
  return (error) => {
    if (isLtiaasGradesError(error)) throw error;
    const cause = storageCause(`outbox.${operation}`, error);
    const errno = cause.errno ? ` (${cause.errno})` : '';
    throw gradesError('OUTBOX_UNAVAILABLE', { message: `The outbox could not ${couldNot}${errno}; check its storage, and try again later.`, cause });
  };
}

/** True for every error raised by this package, whichever installed copy of it raised it. */
export function isLtiaasGradesError(value: unknown): value is LtiaasGradesError {
  if (value instanceof LtiaasGradesError) return true;
  // Two versions of the package in one app have two classes; recognise the shape too.
  const candidate = value as { code?: unknown; status?: unknown } | null;
  return (
    value instanceof Error &&
    typeof candidate?.status === 'number' &&
    typeof candidate.code === 'string' &&
    Object.prototype.hasOwnProperty.call(ERROR_TABLE, candidate.code)
  );
}
