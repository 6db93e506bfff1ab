// Names the grade book a launch or a service key writes to, so that grades of one course share resolved columns.
import { digest } from '../secretDigest';
import type { IdToken } from '../types';

/** The grade book of a launch: its platform and context (or, without a context, its resource link). */
export function scopeOf(token: IdToken): string {
  const context = token.launch.context?.id;
  const where = context ? `context:${context}` : `link:${token.launch.resourceLink?.id ?? ''}`;
  return `${token.platform.id}\u0000${where}`;
}

/** The grade book a service key writes to (one activity's context), named by the key's digest. */
export function scopeOfServiceKey(serviceKey: string): string {
  return `service-key:${digest(serviceKey)}`;
}
