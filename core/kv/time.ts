// Time as etcd prints it. The store keeps time as ms since the epoch (fractions allowed); nothing here
// reads a clock, and Date is avoided so formatting is plain arithmetic on the number passed in.

/** A node with this expiry has no TTL (Go's zero time.Time). */
export const PERMANENT = 0;

/** etcd treats expiry times before 2000-01-01T00:00:00Z as "no TTL" when creating a node. */
export const MIN_EXPIRE_TIME_MS = 946_684_800_000;

/** Go's time.Duration spans ±2^63 ns. */
const MAX_DURATION_MS = 9_223_372_036_854.775;

/** Seconds left until `expireAtMs` at `nowMs`, as etcd computes it: ceiling for positive remainders,
 * truncation toward zero otherwise (so an overdue key shows 0, then -1 after a further second). */
export function ttlSecondsLeft(expireAtMs: number, nowMs: number): number {
  // Go's Time.Sub saturates at the limits of time.Duration (an expiry wrapped to the 1700s reads -9223372036).
  const leftMs = Math.max(-MAX_DURATION_MS, Math.min(MAX_DURATION_MS, expireAtMs - nowMs));
  const whole = Math.trunc(leftMs / 1000);
  if (leftMs - whole * 1000 > 0) return whole + 1;
  return whole === 0 ? 0 : whole; // never -0: it would encode differently
}

// Days since 1970-01-01 to a proleptic Gregorian civil date (the era-based algorithm).
function civilFromDays(days: number): [number, number, number] {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  return [year, month, day];
}

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

/** Go's time.RFC3339Nano in UTC, as encoding/json prints a time.Time: trailing zeros of the fraction
 * are dropped, and the fraction with them when it is zero. */
export function formatRfc3339Nano(ms: number): string {
  const wholeMs = Math.floor(ms);
  const nanosInMs = Math.round((ms - wholeMs) * 1e6);
  const days = Math.floor(wholeMs / 86_400_000);
  const msOfDay = wholeMs - days * 86_400_000;
  const [year, month, day] = civilFromDays(days);
  const hh = Math.floor(msOfDay / 3_600_000);
  const mm = Math.floor((msOfDay % 3_600_000) / 60_000);
  const ss = Math.floor((msOfDay % 60_000) / 1000);
  const nanos = (msOfDay % 1000) * 1_000_000 + nanosInMs;
  let text = `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}T${pad(hh, 2)}:${pad(mm, 2)}:${pad(ss, 2)}`;
  if (nanos > 0) text += '.' + pad(nanos, 9).replace(/0+$/, '');
  return text + 'Z';
}
