// Scrubs secrets (API key, ltik, service key) out of text that came from elsewhere before we keep it.

export const REDACTED = '[redacted]';

/**
 * Runs of 40+ token characters: ltiks, service keys and JWTs look like this, while the words,
 * URLs and UUIDs (36 characters) of an LMS message do not. Secrets we do not hold (the
 * launch's service key in an answer to an ltik call, say) are caught by their shape.
 */
const TOKEN_LIKE = /[A-Za-z0-9_\-.~+=]{40,}/g;

/** Replaces each known secret (and its URL-encoded form), then anything shaped like one, with `[redacted]`. */
export function redactSecrets(text: string, secrets: readonly (string | undefined)[]): string {
  let result = text;
  for (const secret of secrets) {
    // Short strings would match innocent text; real keys and ltiks are long.
    if (!secret || secret.length < 6) continue;
    result = result.split(secret).join(REDACTED);
    const encoded = encodeURIComponent(secret);
    if (encoded !== secret) result = result.split(encoded).join(REDACTED);
  }
  return result.replace(TOKEN_LIKE, REDACTED);
}
