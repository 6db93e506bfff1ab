// Scripted faults: what the emulator does instead of (or before) answering the next matching /api/* calls.
import { pathMatches, type PathPattern } from './pathPattern';

export interface FaultSpec {
  /** e.g. 'POST' (case-insensitive); default any method. */
  method?: string;
  /**
   * Matched against the raw (still percent-encoded) pathname: a string matches exactly, or as a prefix
   * when it ends with '*' ('/api/lineitems/*'); a RegExp is tested on it. Default: any /api/* path.
   */
  path?: PathPattern;
  /** How many matching calls this fault applies to; default 1; Infinity allowed. */
  times?: number;
  /** Answer with this status instead of the real handler. */
  status?: number;
  /** With status: an object is sent as JSON, a string as text/plain; default an LTIAAS-shaped error body. */
  body?: unknown;
  /** With status: extra response headers, e.g. { 'Retry-After': '2' }. */
  headers?: Record<string, string>;
  /** Wait this long first; alone, the request then proceeds normally. */
  delayMs?: number;
  /** Destroy the socket without any response (the request is not acted on). */
  drop?: boolean;
  /**
   * Act on the request as usual, then destroy the socket instead of answering: the LMS did
   * the work but the client never hears so (a lost answer).
   */
  dropAnswer?: boolean;
  /** Never answer; the client must time out. The socket is destroyed on close(). */
  hang?: boolean;
}

interface QueuedFault {
  spec: FaultSpec;
  remaining: number;
}

export class FaultQueue {
  private queue: QueuedFault[] = [];

  add(spec: FaultSpec): void {
    validateFault(spec);
    this.queue.push({ spec: { ...spec }, remaining: spec.times ?? 1 });
  }

  clear(): void {
    this.queue = [];
  }

  /** The first queued fault that matches, consumed once; undefined when none matches. */
  take(method: string, rawPath: string): FaultSpec | undefined {
    const index = this.queue.findIndex(
      ({ spec }) =>
        (spec.method === undefined || spec.method.toUpperCase() === method.toUpperCase()) &&
        (spec.path === undefined || pathMatches(spec.path, rawPath)),
    );
    if (index === -1) return undefined;
    const queued = this.queue[index]!;
    queued.remaining -= 1;
    if (queued.remaining <= 0) this.queue.splice(index, 1);
    return queued.spec;
  }
}

// A fault script that cannot do what it says is a test bug: refuse it when it is written, not when it fires.
function validateFault(spec: FaultSpec): void {
  const problems: string[] = [];
  if (spec.times !== undefined && !(spec.times === Infinity || (Number.isInteger(spec.times) && spec.times >= 1))) {
    problems.push('times must be an integer >= 1 or Infinity');
  }
  if (spec.status !== undefined && !(Number.isInteger(spec.status) && spec.status >= 200 && spec.status <= 599)) {
    problems.push('status must be an integer from 200 to 599');
  }
  if (spec.delayMs !== undefined && !(Number.isFinite(spec.delayMs) && spec.delayMs >= 0)) {
    problems.push('delayMs must be a finite number >= 0');
  }
  const outcomes = [spec.status !== undefined, spec.drop === true, spec.hang === true, spec.dropAnswer === true].filter(Boolean).length;
  if (outcomes > 1) problems.push('give at most one of status, drop, dropAnswer, hang');
  if (outcomes === 0 && spec.delayMs === undefined) problems.push('give status, drop, dropAnswer, hang or delayMs');
  if ((spec.body !== undefined || spec.headers !== undefined) && spec.status === undefined) {
    problems.push('body and headers need a status');
  }
  if (spec.headers !== undefined && Object.values(spec.headers).some((value) => typeof value !== 'string')) {
    problems.push('header values must be strings');
  }
  if (problems.length > 0) throw new TypeError(`fail(): ${problems.join('; ')}`);
}
