// The log of every /api/* request the emulator received, with secrets masked when an entry is recorded.
import type { AuthScheme } from './auth';
import { pathMatches, type PathPattern } from './pathPattern';
import type { SecretMasker } from './secrets';

export interface RequestLogEntry {
  /** When the request arrived (ISO 8601). */
  at: string;
  method: string;
  /** The raw pathname as sent (percent-encoding kept), secrets masked. */
  path: string;
  /** Query parameters (first value of each), secrets masked; an `ltik` parameter is always masked. */
  query: Record<string, string>;
  authScheme: AuthScheme;
  /** null when the connection was dropped, the request hung, or the client went away before the answer. */
  status: number | null;
  fault?: 'status' | 'drop' | 'hang' | 'delay';
  durationMs: number;
  /** The parsed JSON body (or its text when it was not JSON), secrets masked; absent when empty. */
  body?: unknown;
}

export interface RequestLogFilter {
  method?: string;
  /** Same rule as FaultSpec.path, tested on the logged (masked) path. */
  path?: PathPattern;
  status?: number;
  authScheme?: string;
}

export class RequestLog {
  private entries: RequestLogEntry[] = [];

  constructor(private readonly capacity: number, private readonly masker: SecretMasker) {}

  record(entry: RequestLogEntry): void {
    const masked: RequestLogEntry = {
      ...entry,
      path: this.masker.maskText(entry.path),
      query: this.masker.maskDeep(entry.query) as Record<string, string>,
    };
    if (entry.body !== undefined) masked.body = this.masker.maskDeep(entry.body);
    this.entries.push(masked);
    if (this.entries.length > this.capacity) this.entries.splice(0, this.entries.length - this.capacity);
  }

  /** Copies, oldest first, so that callers cannot rewrite history. */
  all(): RequestLogEntry[] {
    return structuredClone(this.entries);
  }

  latest(count: number): RequestLogEntry[] {
    return structuredClone(this.entries.slice(-count));
  }

  clear(): void {
    this.entries = [];
  }

  count(filter: RequestLogFilter = {}): number {
    return this.entries.filter(
      (entry) =>
        (filter.method === undefined || entry.method === filter.method.toUpperCase()) &&
        (filter.path === undefined || pathMatches(filter.path, entry.path)) &&
        (filter.status === undefined || entry.status === filter.status) &&
        (filter.authScheme === undefined || entry.authScheme === filter.authScheme),
    ).length;
  }
}
