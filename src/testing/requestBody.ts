// Reading a request body and parsing it as JSON the way LTIAAS's body parser would.
import type { IncomingMessage } from 'node:http';
import { LtiaasApiError } from './errors';

const MAX_BODY_BYTES = 1024 * 1024;

export interface ReadBody {
  text: string;
  tooLarge: boolean;
}

/** Reads the whole body (draining the rest past the limit, so the keep-alive connection stays usable). */
export function readBody(request: IncomingMessage): Promise<ReadBody> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    request.on('end', () => resolve({ text: Buffer.concat(chunks).toString('utf8'), tooLarge }));
    // A client that goes away mid-body is noticed later through the destroyed socket.
    request.on('error', () => resolve({ text: Buffer.concat(chunks).toString('utf8'), tooLarge }));
  });
}

/** The JSON value of a body; undefined for an empty one. */
export function parseJsonBody(body: ReadBody, contentType: string | undefined): unknown {
  if (body.tooLarge) throw new LtiaasApiError(413, 'PAYLOAD_TOO_LARGE', 'The request body is larger than 1 MB.');
  if (body.text.trim() === '') return undefined;
  if (!isJsonContentType(contentType)) {
    throw new LtiaasApiError(400, 'INVALID_JSON_BODY', 'A request body must be JSON sent with Content-Type: application/json.');
  }
  try {
    return JSON.parse(body.text) as unknown;
  } catch {
    throw new LtiaasApiError(400, 'INVALID_JSON_BODY', 'The request body is not valid JSON.');
  }
}

function isJsonContentType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const mediaType = contentType.split(';')[0]!.trim().toLowerCase();
  return mediaType === 'application/json' || mediaType.endsWith('+json');
}
