/** @module UTC days: the report period of RFC 8460 §4.1 (00:00 to 24:00 UTC), named YYYY-MM-DD. */

const DAY_MS = 86_400_000;

/** The UTC day `at` falls in. */
export function utcDay(at: Date): string {
  return at.toISOString().slice(0, 10);
}

/** A real calendar day written YYYY-MM-DD. */
export function isDay(text: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return false;
  const at = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(at.getTime()) && utcDay(at) === text;
}

export function addDays(day: string, n: number): string {
  return utcDay(new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS));
}

export interface DayRange {
  /** RFC 3339 `start-datetime`, e.g. 2024-05-01T00:00:00Z. */
  readonly startDatetime: string;
  /** RFC 3339 `end-datetime`: the day's last second, 2024-05-01T23:59:59Z. */
  readonly endDatetime: string;
  /** Seconds since the epoch of the start and the end (RFC 8460 §5.1 file name). */
  readonly beginTimestamp: number;
  readonly endTimestamp: number;
}

export function dayRange(day: string): DayRange {
  const begin = Date.parse(`${day}T00:00:00Z`) / 1000;
  return {
    startDatetime: `${day}T00:00:00Z`,
    endDatetime: `${day}T23:59:59Z`,
    beginTimestamp: begin,
    endTimestamp: begin + DAY_MS / 1000 - 1,
  };
}
