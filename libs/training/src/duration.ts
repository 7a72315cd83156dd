/*
 * One unit rule for every duration option of train, coordinator, worker and node
 * (--request-timeout, --reconnect-timeout, --join-timeout): a number with a unit suffix, ms, s, m
 * or h, or several of them in a row (Go's time.ParseDuration style: 1m30s). A bare number, without
 * a unit, is read in the unit that option always had (milliseconds for --request-timeout, seconds
 * for --reconnect-timeout and --join-timeout), so that existing scripts keep their meaning; the
 * help of each option says which.
 */

/** The units a duration may carry, and their length in milliseconds. */
export const DURATION_UNITS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;
export type DurationUnit = keyof typeof DURATION_UNITS;

/**
 * The longest duration accepted: Node's timers hold a signed 32-bit count of milliseconds (about
 * 24.8 days); a longer one fires at once.
 */
export const MAX_DURATION_MS = 2 ** 31 - 1;

/** How help texts state the rule (append the option's bare-number unit). */
export const DURATION_RULE = 'a duration: 500ms, 30s, 2m, 1h or 1m30s';

const UNIT_NAMES: Record<DurationUnit, string> = { ms: 'milliseconds', s: 'seconds', m: 'minutes', h: 'hours' };

/** The help text's sentence for an option whose bare numbers are `bareUnit`. */
export function durationHelp(bareUnit: DurationUnit): string {
  return `${DURATION_RULE}; a bare number is ${UNIT_NAMES[bareUnit]}`;
}

const NUMBER = String.raw`(?:\d+(?:\.\d*)?|\.\d+)`;
const BARE = new RegExp(`^${NUMBER}$`);
const TERM = new RegExp(`(${NUMBER})(ms|s|m|h)`, 'y');

/**
 * Milliseconds of a duration text: `500ms`, `30s`, `2m`, `1h`, `1m30s`, `1.5s`; a bare number is
 * read in `bareUnit`. Rounded to whole milliseconds.
 * @throws Error (its message names the text and the rule, for a command-line error) when the text
 *   is not a duration, is under 1 ms, or exceeds MAX_DURATION_MS
 */
export function parseDuration(text: string, bareUnit: DurationUnit): number {
  const t = text.trim();
  const notDuration = (): Error => new Error(`'${text}' is not a duration (${durationHelp(bareUnit)})`);
  let ms = 0;
  if (BARE.test(t)) {
    ms = Number(t) * DURATION_UNITS[bareUnit];
  } else {
    if (t === '') throw notDuration();
    for (let at = 0; at < t.length; ) {
      TERM.lastIndex = at;
      const m = TERM.exec(t);
      if (m === null) throw notDuration();
      ms += Number(m[1]) * DURATION_UNITS[m[2] as DurationUnit];
      at = TERM.lastIndex;
    }
  }
  const rounded = Math.round(ms);
  if (!(rounded >= 1)) throw new Error(`'${text}' is shorter than 1 ms: give a positive duration (${durationHelp(bareUnit)})`);
  if (rounded > MAX_DURATION_MS) {
    throw new Error(`'${text}' is longer than ${formatDuration(MAX_DURATION_MS)} (${MAX_DURATION_MS} ms), the longest timer Node.js keeps`);
  }
  return rounded;
}

/**
 * A duration in the largest units that state it exactly: 120000 -> '2m', 90000 -> '1m30s',
 * 1500 -> '1s500ms' (parseDuration reads every output back to the same milliseconds).
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return `${ms}ms`;
  let left = Math.round(ms);
  if (left === 0) return '0ms';
  const parts: string[] = [];
  for (const unit of ['h', 'm', 's', 'ms'] as const) {
    const size = DURATION_UNITS[unit];
    const n = Math.floor(left / size);
    if (n > 0) parts.push(`${n}${unit}`);
    left -= n * size;
  }
  return parts.join('');
}
