/** Durations as people type them (`90s`, `10m`, `1h30m`, `7d`) and read them (`2 min 30 s`). */
import { CliError, EXIT } from "./errors";

const UNITS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86400 };
const DURATION = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;

/**
 * `10m` → 600, `1h30m` → 5400, `45s` → 45, `7d` → 604800. A bare number is refused: minutes and
 * seconds are too easy to mix up. Throws a {@link CliError} naming `option` and what is valid.
 */
export function parseDuration(text: string, option: string): number {
  const m = DURATION.exec(text.trim());
  if (!m || text.trim() === "" || m.slice(1).every((g) => g === undefined)) {
    throw new CliError(`${option} '${text}' is not a duration: use a number with a unit, such as 90s, 10m, 1h30m or 7d`, EXIT.refused);
  }
  const [d, h, min, s] = m.slice(1).map((g) => Number(g ?? 0));
  return d * UNITS.d + h * UNITS.h + min * UNITS.m + s;
}

/** `45 s`, `2 min 30 s`, `1 h 5 min`, `3 d 4 h`. */
export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) {
    const m = Math.floor(s / 60);
    const rest = s % 60;
    return rest ? `${m} min ${rest} s` : `${m} min`;
  }
  if (s < 86400) {
    const h = Math.floor(s / 3600);
    const m = Math.round((s % 3600) / 60);
    return m ? `${h} h ${m} min` : `${h} h`;
  }
  const d = Math.floor(s / 86400);
  const h = Math.round((s % 86400) / 3600);
  return h ? `${d} d ${h} h` : `${d} d`;
}
