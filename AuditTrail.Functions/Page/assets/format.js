// @ts-check
// How the page writes times, counts and values: pure functions (no DOM), unit-tested under Node
// (AuditTrail.Tests/Page/js). Formats follow the viewer's locale and time zone.

// dateStyle and timeZoneName cannot be combined: the zone needs the fields spelled out.
export const timeFormat = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'short',
});
export const longTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'long' });
const dayFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeZone: 'UTC' });
const relativeFormat = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
const countFormat = new Intl.NumberFormat();

/** @type {[Intl.RelativeTimeFormatUnit, number][]} */
const UNITS = [['year', 31536000], ['month', 2592000], ['week', 604800], ['day', 86400], ['hour', 3600], ['minute', 60]];

/**
 * How far `date` is from `now`, in the largest unit it reaches (negative: in the past).
 * @param {Date} date
 * @param {number} now milliseconds since the epoch
 * @returns {[number, Intl.RelativeTimeFormatUnit]}
 */
export function relativeParts(date, now) {
  const seconds = (date.getTime() - now) / 1000;
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size) {
      return [Math.round(seconds / size), unit];
    }
  }
  return [Math.round(seconds), 'second'];
}

/**
 * "3 hours ago".
 * @param {Date} date
 * @param {number} [now]
 */
export function relative(date, now = Date.now()) {
  return relativeFormat.format(...relativeParts(date, now));
}

/**
 * "1 event", "1,234 events": the page's one way to count things in text.
 * @param {number} n
 * @param {string} one
 * @param {string} [many]
 */
export function counted(n, one, many = `${one}s`) {
  return `${countFormat.format(n)} ${n === 1 ? one : many}`;
}

/**
 * A datetime-local value (the viewer's local time) as the instant the API takes; anything that is
 * not a time is passed on as it is, for the API to refuse by name.
 * @param {string} localValue
 */
export function toIso(localValue) {
  const date = new Date(localValue);
  return Number.isNaN(date.getTime()) ? localValue : date.toISOString();
}

/**
 * An instant as a datetime-local value in the viewer's time zone, to the minute ('' if not a time).
 * @param {string} iso
 */
export function toLocalInput(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) {
    return '';
  }
  /** @param {number} n */
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/**
 * An instant as the page shows it, with its zone; text that is not a time is shown as it is.
 * @param {string} value
 */
export function shownTime(value) {
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? value : timeFormat.format(date);
}

/**
 * A UTC day of the activity chart ('2026-03-01') as the viewer's locale writes it.
 * @param {string} day
 */
export function dayLabel(day) {
  return dayFormat.format(new Date(`${day}T00:00:00Z`));
}

/**
 * Where the event came from, as the trail recorded it at ingestion; a reader must be able to tell
 * the trail's own records from events a producer sent.
 * @param {string | undefined} source
 * @returns {string | undefined}
 */
export function sourceText(source) {
  switch (source) {
    case 'trail': return 'trail (recorded by the audit trail itself)';
    case 'api': return 'api (posted to the HTTP API)';
    case 'hub': return 'hub (sent through Event Hubs)';
    default: return source;
  }
}

/**
 * JSON text indented for reading; text that is not JSON is shown as it came.
 * @param {string} raw
 */
export function pretty(raw) {
  try {
    return JSON.stringify(JSON.parse(raw), null, 2);
  } catch {
    return raw;
  }
}
