// Masking of the API key, ltiks and service keys in anything the emulator shows (request log, grade-book page).

export const MASK = '***';

// Values under these names are secrets even when the emulator never issued them (a wrong ltik is still someone's ltik).
const SECRET_FIELD_NAMES = new Set(['ltik', 'servicekey', 'apikey', 'authorization']);

export function isSecretFieldName(name: string): boolean {
  return SECRET_FIELD_NAMES.has(name.toLowerCase());
}

export class SecretMasker {
  constructor(private readonly knownSecrets: () => Iterable<string>) {}

  maskText(text: string): string {
    let masked = text;
    for (const form of this.secretForms()) {
      if (masked.includes(form)) masked = masked.split(form).join(MASK);
    }
    return masked;
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

  // Longest first, so that a secret containing another is masked whole; the percent-encoded
  // form too, because secrets reach paths and query strings encoded.
  private secretForms(): string[] {
    const forms = new Set<string>();
    for (const secret of this.knownSecrets()) {
      if (secret === '') continue;
      forms.add(secret);
      forms.add(encodeURIComponent(secret));
    }
    return [...forms].sort((a, b) => b.length - a.length);
  }
}
