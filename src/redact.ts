// Scrubs secrets (API key, ltik, service key) out of text that came from elsewhere before we keep it.

export const REDACTED = '[redacted]';

/**
 * Runs of 40+ token characters: ltiks, service keys and JWTs look like this, while the words,
 * URLs and UUIDs (36 characters) of an LMS message do not. Secrets we do not hold (the
 * launch's service key in an answer to an ltik call, say) are caught by their shape.
 */
const TOKEN_LIKE = /[A-Za-z0-9_\-.~+=]{40,}/g;

/**
 * Replaces each known secret (and its URL-encoded form), then anything shaped like one, with
 * `[redacted]`. Every secret given is replaced, however short: a short one may also blank out
 * innocent text, which is the safe way to be wrong (the API key is at least 16 characters, and
 * ltiks and service keys are long, so in practice this does not happen).
 */
export function redactSecrets(text: string, secrets: readonly (string | undefined)[]): string {
  let result = text;
  // Longest first, so a secret inside another one cannot leave the rest of the longer one behind.
  const nonEmpty = secrets.filter((secret): secret is string => Boolean(secret)).sort((a, b) => b.length - a.length);
  for (const secret of nonEmpty) {
    result = result.split(secret).join(REDACTED);
    const encoded = encodeURIComponent(secret);
    if (encoded !== secret) result = result.split(encoded).join(REDACTED);
  }
  return result.replace(TOKEN_LIKE, REDACTED);
}
