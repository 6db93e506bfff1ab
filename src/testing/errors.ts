// LTIAAS-shaped error bodies ({status, error, details: {message, description, ...}}) and the error that carries them.
import { STATUS_CODES } from 'node:http';

export interface LtiaasErrorDetails {
  message: string;
  description: string;
  [detail: string]: unknown;
}

export interface LtiaasErrorBody {
  status: number;
  error: string;
  details: LtiaasErrorDetails;
}

/** The HTTP reason phrase LTIAAS puts in `error` (e.g. 401 -> 'Unauthorized'). */
export function reasonPhrase(status: number): string {
  return STATUS_CODES[status] ?? 'Error';
}

/**
 * Thrown by the API handlers and turned into a response by the server.
 * Descriptions are written by the emulator and never echo request values, so no secret a client
 * sent by mistake can come back in an error body.
 */
export class LtiaasApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly description: string,
    readonly extraDetails: Record<string, unknown> = {},
  ) {
    super(`${status} ${code}: ${description}`);
    this.name = 'LtiaasApiError';
  }

  toBody(): LtiaasErrorBody {
    return ltiaasErrorBody(this.status, this.code, this.description, this.extraDetails);
  }
}

export function ltiaasErrorBody(
  status: number,
  code: string,
  description: string,
  extraDetails: Record<string, unknown> = {},
): LtiaasErrorBody {
  return { status, error: reasonPhrase(status), details: { message: code, description, ...extraDetails } };
}

/**
 * The LMS refused or failed: LTIAAS passes the LMS status through and attaches what the LMS said,
 * which is how a client tells "the LMS said no" from "LTIAAS said no".
 */
export function externalPlatformError(status: number, bodyReceived: unknown, externalUrl: string): LtiaasApiError {
  return new LtiaasApiError(status, 'EXTERNAL_PLATFORM_ERROR', 'The LMS did not accept the request.', {
    externalError: true,
    externalUrl,
    bodyReceived,
  });
}

/** The LMS does not have this resource link in the course: 404, passed through as the LMS's refusal. */
export function resourceLinkNotFoundError(externalUrl: string): LtiaasApiError {
  return externalPlatformError(404, 'Not Found', externalUrl);
}

/** Body for a scripted fault that gave a status but no body; 401 uses the one documented LTIAAS body. */
export function scriptedFaultBody(status: number): LtiaasErrorBody {
  if (status === 401) {
    return ltiaasErrorBody(401, 'INVALID_LTIK_AUTH_AUTHORIZATION_HEADER', 'Invalid or expired ltik.');
  }
  const code = reasonPhrase(status).toUpperCase().replace(/[^A-Z0-9]+/g, '_').replace(/^_|_$/g, '') || 'ERROR';
  return ltiaasErrorBody(status, code, `${reasonPhrase(status)} (scripted with LtiaasEmulator.fail()).`);
}
