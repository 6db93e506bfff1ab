// Masking of the API key, ltiks and service keys in anything the emulator shows (request log, grade-book page).

export const MASK = '***';

// Values under these names are secrets even when the emulator never issued them (a wrong ltik is still someone's ltik).
const SECRET_FIELD_NAMES = new Set(['ltik', 'servicekey', 'apikey', 'authorization']);

export function isSecretFieldName(name: string): boolean {
  return SECRET_FIELD_NAMES.has(name.toLowerCase());
}

/**
 * Runs of the characters issued ltiks and service keys are made of (base64url and the dots of a
 * JWT). Every run is looked up in the set of issued secrets, so masking costs the same with ten
 * launches as with a hundred thousand.
 */
const TOKEN_RUN = /[A-Za-z0-9_\-.]{16,}/g;

export class SecretMasker {
  /**
   * @param fixedSecrets masked wherever they appear, also inside other text (the API key, in
   *   plain and percent-encoded form)
   * @param isIssuedSecret whether a token is an ltik or service key the emulator issued
   */
  constructor(
    private readonly fixedSecrets: readonly string[],
    private readonly isIssuedSecret: (token: string) => boolean,
  ) {}

  maskText(text: string): string {
    let masked = text;
    for (const secret of this.fixedSecrets) {
      if (secret === '') continue;
      for (const form of new Set([secret, encodeURIComponent(secret)])) {
        if (masked.includes(form)) masked = masked.split(form).join(MASK);
      }
    }
    return masked.replace(TOKEN_RUN, (run) => (this.isIssuedSecret(run) ? MASK : this.maskInsideRun(run)));
  }

  /** A secret glued to other token characters (rare: `x.<ltik>`); looked for only in long runs. */
  private maskInsideRun(run: string): string {
    if (run.length < 40) return run;
    for (const piece of run.split('.')) if (piece.length >= 16 && this.isIssuedSecret(piece)) return run.split(piece).join(MASK);
    return run;
  }

  /** A masked deep copy: secret values replaced inside every string, and whatever sits under a secret name. */
  maskDeep(value: unknown): unknown {
    if (typeof value === 'string') return this.maskText(value);
    if (Array.isArray(value)) return value.map((element) => this.maskDeep(element));
    if (typeof value === 'object' && value !== null) {
      const copy: Record<string, unknown> = {};
      for (const [key, element] of Object.entries(value)) {
        copy[this.maskText(key)] = isSecretFieldName(key) ? MASK : this.maskDeep(element);
      }
      return copy;
    }
    return value;
  }
}
