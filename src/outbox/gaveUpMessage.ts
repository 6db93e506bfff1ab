// The dead-letter message of a grade an outbox gave up on after its maxAgeMs: one wording for the file and BullMQ outboxes.

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;

/** A duration as an operator reads it in a dead-letter message: "7 days", "36 h", "20 min", "1 s". */
export function humanDuration(ms: number): string {
  if (ms >= 2 * DAY_MS && ms % DAY_MS === 0) return `${ms / DAY_MS} days`;
  if (ms >= HOUR_MS) return `${Math.round(ms / HOUR_MS)} h`;
  if (ms >= MINUTE_MS) return `${Math.round(ms / MINUTE_MS)} min`;
  return `${Math.round(ms / 1000)} s`;
}

/** `Gave up after 7 days: <why the last attempt failed>`, for a grade still undeliverable after `maxAgeMs`. */
export function gaveUpMessage(maxAgeMs: number, lastFailure: string): string {
  return `Gave up after ${humanDuration(maxAgeMs)}: ${lastFailure}`;
}
