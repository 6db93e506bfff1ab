// Turns what LTIAAS answered (or did not) into the package's own errors, classified and scrubbed.
import {
  gradesError,
  LtiaasGradesError,
  LtiaasUnavailableError,
  type UpstreamFailure,
} from '../errors';
import { redactSecrets } from '../redact';
import type { AnswerProblem } from './answerSchemas';
import type { Credential } from './credentials';

/** What we say about the failed call: method and endpoint template, never ids or secrets. */
export interface CallDescription {
  method: string;
  endpoint: string;
  credential: Credential;
}

interface LtiaasErrorBody {
  status?: number;
  error?: string;
  details?: {
    message?: string;
    description?: string;
    code?: string;
    bodyReceived?: unknown;
    externalError?: boolean;
  };
}

const MAX_MESSAGE = 300;

/** LTIAAS codes meaning the grade service is off for this launch or context. */
const SERVICE_OFF_CODES = new Set(['SERVICE_NOT_AVAILABLE_FOR_CONTEXT', 'INACTIVE_SERVICE']);

function isLtiaasErrorBody(data: unknown): data is LtiaasErrorBody {
  return typeof data === 'object' && data !== null && typeof (data as LtiaasErrorBody).details === 'object';
}

function clip(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > MAX_MESSAGE ? `${oneLine.slice(0, MAX_MESSAGE)}...` : oneLine;
}

/** The LMS's own words from `details.bodyReceived`, in the shapes LMSes use. */
function lmsMessageOf(bodyReceived: unknown): string | undefined {
  if (typeof bodyReceived === 'string') {
    try {
      return lmsMessageOf(JSON.parse(bodyReceived));
    } catch {
      return bodyReceived.trim() ? bodyReceived : undefined;
    }
  }
  if (typeof bodyReceived !== 'object' || bodyReceived === null) return undefined;
  const body = bodyReceived as Record<string, unknown>;
  for (const key of ['message', 'error_description', 'error', 'detail', 'title']) {
    if (typeof body[key] === 'string' && body[key]) return body[key] as string;
  }
  const errors = body.errors;
  if (Array.isArray(errors) && errors.length > 0) {
    const first = errors[0] as unknown;
    if (typeof first === 'string') return first;
    if (typeof first === 'object' && first !== null && typeof (first as { message?: unknown }).message === 'string') {
      return (first as { message: string }).message;
    }
  }
  if (typeof errors === 'object' && errors !== null && typeof (errors as { message?: unknown }).message === 'string') {
    return (errors as { message: string }).message;
  }
  return undefined;
}

/** An error for a non-2xx answer. `secrets` are scrubbed from anything upstream wrote. */
export function errorFromResponse(
  call: CallDescription,
  status: number,
  data: unknown,
  retryAfterMs: number | undefined,
  secrets: readonly string[],
): LtiaasGradesError {
  const scrub = (text: string | undefined) => (text === undefined ? undefined : clip(redactSecrets(text, secrets)));
  const fromLtiaas = isLtiaasErrorBody(data);
  const details = fromLtiaas ? data.details ?? {} : {};
  const ltiaasCode = scrub(details.code ?? (/^[A-Z0-9_]+$/.test(details.message ?? '') ? details.message : undefined));
  const description = scrub(details.description ?? (ltiaasCode ? undefined : details.message));
  const lmsMessage = scrub(lmsMessageOf(details.bodyReceived));
  const upstream: UpstreamFailure = {
    method: call.method,
    endpoint: call.endpoint,
    kind: 'http',
    status,
    ...(ltiaasCode ? { ltiaasCode } : {}),
    ...(lmsMessage ? { lmsMessage } : {}),
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
  };
  const where = `${call.method} ${call.endpoint}`;
  const said = lmsMessage ? `: "${lmsMessage}"` : description ? `: ${description.replace(/[.\s]+$/, '')}` : ltiaasCode ? `: ${ltiaasCode}` : '';
  const origin = fromLtiaas ? '' : ' (the body is not an LTIAAS error: it came from a proxy or the LMS)';

  if (status === 401) {
    if (call.credential.kind === 'ltik') {
      return gradesError('LTIK_INVALID', {
        message: `LTIAAS rejected the ltik on ${where}: it is invalid or expired (an ltik lasts 24 hours; launch the activity again from the LMS), or the API key is wrong.`,
        upstream,
      });
    }
    return gradesError('LTIAAS_REJECTED', {
      status: 401,
      message: `LTIAAS rejected the service key or the API key on ${where}${said}.`,
      upstream,
    });
  }
  if ((status === 403 || status === 400) && ltiaasCode && SERVICE_OFF_CODES.has(ltiaasCode)) {
    return gradesError('GRADES_UNAVAILABLE', {
      message: `Grades are not available for this launch (LTIAAS ${status} ${ltiaasCode} on ${where}).`,
      upstream,
    });
  }
  if (status === 408 || status === 429 || status >= 500 || status < 200 || (status >= 300 && status < 400)) {
    const answer = status === 429 ? 503 : status === 503 || status === 504 ? status : status === 408 ? 504 : 502;
    const why = status === 429 ? ' (rate limited)' : status >= 300 && status < 400 ? ' (an unexpected redirect)' : '';
    return gradesError('LTIAAS_UNAVAILABLE', {
      status: answer,
      message: `LTIAAS answered ${status}${why} to ${where}${said}${origin}; try again later.`,
      upstream,
    });
  }
  const whoRefused = lmsMessage || details.externalError ? 'The LMS refused' : 'LTIAAS refused';
  return gradesError('LTIAAS_REJECTED', {
    message: `${whoRefused} ${where} (${status})${said}${origin}.`,
    upstream,
  });
}

/** An error for a call that got no answer: refused, reset, timed out. */
export function errorFromTransport(
  call: CallDescription,
  kind: 'network' | 'timeout',
  timeoutMs: number,
  systemCode: string | undefined,
): LtiaasUnavailableError {
  const where = `${call.method} ${call.endpoint}`;
  const safeCode = systemCode && /^[A-Z_]+$/.test(systemCode) ? systemCode : undefined;
  const message =
    kind === 'timeout'
      ? `LTIAAS did not answer ${where} within ${timeoutMs} ms; try again later.`
      : `Could not reach LTIAAS for ${where}${safeCode ? ` (${safeCode})` : ''}; try again later.`;
  return gradesError('LTIAAS_UNAVAILABLE', {
    status: kind === 'timeout' ? 504 : 503,
    message,
    upstream: { method: call.method, endpoint: call.endpoint, kind },
  });
}

/**
 * An error for a 2xx answer the package cannot use (a field it relies on is missing or of the
 * wrong type): a bad gateway, never a success. The message names the endpoint and the field,
 * never a value. `retryable` only where repeating the call is safe.
 */
export function errorFromMalformedAnswer(
  call: Pick<CallDescription, 'method' | 'endpoint'>,
  status: number,
  fault: AnswerProblem,
  retryable: boolean,
): LtiaasUnavailableError {
  const where = `${call.method} ${call.endpoint}`;
  const what = fault.field === 'body' ? `its body ${fault.problem}` : `${fault.field} ${fault.problem}`;
  const advice = retryable
    ? 'try again later'
    : 'the call may have been acted on, so look before repeating it (a repeated creation makes a second column)';
  return gradesError('LTIAAS_UNAVAILABLE', {
    status: 502,
    message: `LTIAAS answered ${where} with ${status} but an answer the package cannot use: ${what}; ${advice}.`,
    retryable,
    upstream: { method: call.method, endpoint: call.endpoint, kind: 'http', status },
  });
}

/** True for a line item creation that LTIAAS answered 2xx with a body the package cannot read: the column may exist. */
export function isUnreadableCreation(error: unknown): error is LtiaasUnavailableError {
  if (!(error instanceof LtiaasGradesError) || error.code !== 'LTIAAS_UNAVAILABLE') return false;
  const upstream = error.upstream;
  return upstream?.method === 'POST' && upstream.endpoint === '/api/lineitems' && upstream.status !== undefined && upstream.status >= 200 && upstream.status < 300;
}
