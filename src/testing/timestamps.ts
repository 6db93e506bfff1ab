// ISO 8601 date-time checks and exact ordering of score timestamps.

// Full date-time with an explicit offset, as AGS requires; fractions of any length are allowed.
const ISO_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|([+-])(\d{2}):(\d{2}))$/;

/**
 * Nanoseconds since the epoch, or undefined when the value is not a valid ISO 8601 date-time.
 * Nanoseconds (not Date.parse milliseconds) so that two timestamps differing only in their
 * sub-millisecond digits are not taken as the same score.
 */
export function isoToEpochNanos(value: string): bigint | undefined {
  const match = ISO_DATE_TIME.exec(value);
  if (!match) return undefined;
  const [, year, month, day, hour, minute, second, fraction, , sign, offsetHours, offsetMinutes] = match;
  const fields = [year, month, day, hour, minute, second].map(Number) as [number, number, number, number, number, number];
  const [y, mo, d, h, mi, s] = fields;
  const epochMs = Date.UTC(y, mo - 1, d, h, mi, s);
  // Date.UTC rolls invalid fields over (Feb 30 -> Mar 2); a round trip catches them.
  const check = new Date(epochMs);
  if (
    check.getUTCFullYear() !== y || check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d ||
    check.getUTCHours() !== h || check.getUTCMinutes() !== mi || check.getUTCSeconds() !== s
  ) {
    return undefined;
  }
  let offsetMs = 0;
  if (sign !== undefined) {
    const oh = Number(offsetHours);
    const om = Number(offsetMinutes);
    if (oh > 23 || om > 59) return undefined;
    offsetMs = (sign === '+' ? 1 : -1) * (oh * 60 + om) * 60_000;
  }
  const fractionNanos = BigInt((fraction ?? '').padEnd(9, '0').slice(0, 9));
  return BigInt(epochMs - offsetMs) * 1_000_000n + fractionNanos;
}

export function isIsoDateTime(value: unknown): value is string {
  return typeof value === 'string' && isoToEpochNanos(value) !== undefined;
}
