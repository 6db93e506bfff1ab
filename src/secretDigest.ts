// A short one-way digest of a secret (an ltik, a service key), for keys of caches and clocks.
import { createHash } from 'node:crypto';

/** A short digest of a secret: cache keys stay small and the heap holds no usable ltik. */
export const digest = (secret: string) => createHash('sha256').update(secret).digest('base64url');
