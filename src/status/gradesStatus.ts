// grades.status(): what the outbox holds and how LTIAAS answered lately, summed up in one state for a health check.
import { isLtiaasGradesError } from '../errors';
import type { Outbox } from '../outbox/outbox';
import type { LtiaasReachability } from './ltiaasReachability';
import { readOutboxCounts } from './outboxCounts';

/**
 * `ok`: nothing to do. `degraded`: LTIAAS or the LMS is failing, or grades wait for a person,
 * while the tool itself works (the outbox holds what cannot go now): alert, do not restart.
 * `unhealthy`: this instance cannot keep grades (its outbox cannot be read): the one state a
 * health check should fail on.
 */
export type GradesState = 'ok' | 'degraded' | 'unhealthy';

/** One finding behind a state other than `ok`. */
export interface StatusProblem {
  code: 'LTIAAS_FAILING' | 'OUTBOX_PAUSED' | 'GRADES_REFUSED' | 'OUTBOX_UNREADABLE';
  message: string;
}

/**
 * The outbox part of {@link GradesStatus}: its counts, or `error` (and no counts) when it could
 * not be read. `paused`, `pausedUntil` and `consecutiveFailures` come from an outbox with
 * `stats()` only (the file outbox has it); others do not say.
 */
export interface OutboxStatus {
  /** Grades waiting for delivery. */
  pending?: number;
  /** Grades refused for good, waiting for a person (re-queue or discard). */
  failed?: number;
  /** When the oldest pending grade was accepted (ISO 8601). */
  oldestPendingAt?: string;
  /** How long the oldest pending grade has waited, in ms. */
  oldestPendingAgeMs?: number;
  /** True while delivery is held back after failures (one probe per backoff). */
  paused?: boolean;
  /** When the next attempt is due while paused (ISO 8601). */
  pausedUntil?: string;
  /** Delivery attempts that failed in a row in a way that may pass. */
  consecutiveFailures?: number;
  error?: { code: string; message: string };
}

/** What `grades.status()` resolves: never rejects, never holds a secret. */
export interface GradesStatus {
  state: GradesState;
  /** Empty when `state` is `ok`. */
  problems: StatusProblem[];
  /** When this report was made (ISO 8601). */
  checkedAt: string;
  ltiaas: LtiaasReachability;
  /** Absent without an outbox. */
  outbox?: OutboxStatus;
}

/** The outbox's counts, or why they could not be read (the package's own message, or a fixed one: a foreign error's text is not repeated). */
async function outboxStatus(outbox: Outbox, now: number): Promise<OutboxStatus> {
  try {
    const counts = await readOutboxCounts(outbox);
    return {
      ...counts,
      ...(counts.oldestPendingAt !== undefined ? { oldestPendingAgeMs: Math.max(0, now - Date.parse(counts.oldestPendingAt)) } : {}),
    };
  } catch (error) {
    return {
      error: isLtiaasGradesError(error)
        ? { code: error.code, message: error.message }
        : { code: 'OUTBOX_UNAVAILABLE', message: 'The outbox could not be read: its stats(), pending() or failed() threw or answered something else than counts.' },
    };
  }
}

function problemsOf(ltiaas: LtiaasReachability, outbox: OutboxStatus | undefined, hasOutbox: boolean): StatusProblem[] {
  const problems: StatusProblem[] = [];
  if (outbox?.error) problems.push({ code: 'OUTBOX_UNREADABLE', message: `${outbox.error.message} Grades that cannot be delivered now cannot be held.` });
  if (ltiaas.consecutiveFailures > 0 && ltiaas.lastFailure) {
    const { endpoint, errorType } = ltiaas.lastFailure;
    const meanwhile = hasOutbox ? 'the outbox holds grades until it answers' : 'without an outbox, grades are answered as not delivered (503)';
    problems.push({ code: 'LTIAAS_FAILING', message: `LTIAAS or the LMS failed the last ${ltiaas.consecutiveFailures} attempts (last: ${errorType} on ${endpoint} at ${ltiaas.lastFailureAt}); ${meanwhile}.` });
  }
  if (outbox?.paused) {
    const failures = outbox.consecutiveFailures === undefined ? 'several failures' : `${outbox.consecutiveFailures} failure${outbox.consecutiveFailures === 1 ? '' : 's'}`;
    problems.push({ code: 'OUTBOX_PAUSED', message: `The outbox holds deliveries back${outbox.pausedUntil ? ` until ${outbox.pausedUntil}` : ''} after ${failures} in a row, then tries one grade.` });
  }
  if (outbox?.failed) {
    problems.push({ code: 'GRADES_REFUSED', message: `${outbox.failed} grade${outbox.failed === 1 ? ' was' : 's were'} refused for good: fix the cause, then re-queue or discard each (the admin page, or outbox.requeue(id) and outbox.discard(id)).` });
  }
  return problems;
}

/** The status of one grades instance. Never rejects: an outbox that cannot be read is reported as such. */
export async function gradesStatus(outbox: Outbox | undefined, ltiaas: LtiaasReachability, now: () => number = Date.now): Promise<GradesStatus> {
  const outboxReport = outbox ? await outboxStatus(outbox, now()) : undefined;
  const problems = problemsOf(ltiaas, outboxReport, outbox !== undefined);
  const state: GradesState = problems.some((problem) => problem.code === 'OUTBOX_UNREADABLE') ? 'unhealthy' : problems.length > 0 ? 'degraded' : 'ok';
  return { state, problems, checkedAt: new Date(now()).toISOString(), ltiaas, ...(outboxReport ? { outbox: outboxReport } : {}) };
}
