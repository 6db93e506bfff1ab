// LTIAAS's reachability as this instance last saw it, kept from every call's attempts: for grades.status().
import type { AttemptReport, CallObserver, ObservedAttempt } from '../client/transport';

/** What the last LTIAAS calls came to. Times are ISO 8601. */
export interface LtiaasReachability {
  /** The last attempt LTIAAS answered (any status but 429 and 5xx: it is up, even when it refused). */
  lastSuccessAt?: string;
  /** The last attempt that failed in a way that may pass: no answer, a timeout, 429 or 5xx. */
  lastFailureAt?: string;
  /** That failure: the endpoint's template, the short reason (`timeout`, `ECONNREFUSED`, `"503"`) and the status when there was one. */
  lastFailure?: { endpoint: string; errorType: string; status?: number };
  /** Failed attempts since the last success (retries included); 0 when LTIAAS answers. */
  consecutiveFailures: number;
}

/** Whether an attempt's ending says LTIAAS is failing (rather than answering, even with a refusal). */
export const isFailingAttempt = (report: AttemptReport): boolean => report.status === undefined || report.status === 429 || report.status >= 500;

/** Records every attempt's ending; `observe` goes to the transport. */
export class ReachabilityRecord {
  private lastSuccess?: number;
  private lastFailure?: { at: number; endpoint: string; errorType: string; status?: number };
  private failuresInARow = 0;

  constructor(private readonly now: () => number = Date.now) {}

  readonly observe: CallObserver = (attempt: ObservedAttempt) => (report: AttemptReport) => this.record(attempt, report);

  private record(attempt: ObservedAttempt, report: AttemptReport): void {
    if (!isFailingAttempt(report)) {
      this.lastSuccess = this.now();
      this.failuresInARow = 0;
      return;
    }
    this.failuresInARow += 1;
    this.lastFailure = {
      at: this.now(),
      endpoint: attempt.endpoint,
      errorType: report.errorType ?? (report.status !== undefined ? String(report.status) : 'network'),
      ...(report.status !== undefined ? { status: report.status } : {}),
    };
  }

  snapshot(): LtiaasReachability {
    const failure = this.lastFailure;
    return {
      ...(this.lastSuccess !== undefined ? { lastSuccessAt: new Date(this.lastSuccess).toISOString() } : {}),
      ...(failure
        ? {
            lastFailureAt: new Date(failure.at).toISOString(),
            lastFailure: { endpoint: failure.endpoint, errorType: failure.errorType, ...(failure.status !== undefined ? { status: failure.status } : {}) },
          }
        : {}),
      consecutiveFailures: this.failuresInARow,
    };
  }
}
