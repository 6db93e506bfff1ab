// Scrubs secrets (API key, ltik, service key) out of text that came from elsewhere before we keep it.

export const REDACTED = '[redacted]';

/** Replaces every occurrence of each secret (and its URL-encoded form) with `[redacted]`. */
export function redactSecrets(text: string, secrets: readonly (string | undefined)[]): string {
  let result = text;
  for (const secret of secrets) {
    // Short strings would match innocent text; real keys and ltiks are long.
    if (!secret || secret.length < 6) continue;
    result = result.split(secret).join(REDACTED);
    const encoded = encodeURIComponent(secret);
    if (encoded !== secret) result = result.split(encoded).join(REDACTED);
  }
  return result;
}
