/**
 * Human units for every figure the user sees: hovers, diagnostics, CLI and webview all call these,
 * so "44.6 MiB" reads the same everywhere.
 *
 * Bytes use binary units (KiB = 1024 B), because memory sizes on datasheets are powers of two.
 * Counts (MACs, parameters) use decimal SI prefixes (k = 1000), as papers quote them.
 */

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
const COUNT_UNITS = ['', 'k', 'M', 'G', 'T', 'P'];

/** `formatBytes(1572864)` → "1.5 MiB"; `formatBytes(512)` → "512 B". */
export function formatBytes(bytes: number): string {
  return withUnit(bytes, 1024, BYTE_UNITS, ' ');
}

/** `formatCount(1.8e9)` → "1.8 G"; `formatCount(950)` → "950". */
export function formatCount(count: number): string {
  return withUnit(count, 1000, COUNT_UNITS, ' ').trimEnd();
}

/**
 * A fraction as a percentage: `formatPercent(22.3)` → "2230%", `formatPercent(0.0456)` → "4.6%".
 * One decimal below 10%, where it still tells things apart; whole percent above.
 */
export function formatPercent(fraction: number): string {
  if (!Number.isFinite(fraction)) return '?%';
  const percent = fraction * 100;
  return `${trimmed(percent, Math.abs(percent) < 10 ? 1 : 0)}%`;
}

/**
 * Three significant figures: two decimals below 10 of a unit, one below 100, none above, and a value that
 * rounds up to the next unit (1023.96 KiB) moves to it (1 MiB).
 */
function withUnit(value: number, base: number, units: readonly string[], gap: string): string {
  if (!Number.isFinite(value)) return '?';
  const sign = value < 0 ? '-' : '';
  let magnitude = Math.abs(value);
  let unit = 0;
  while (unit < units.length - 1 && roundFor(magnitude) >= base) {
    magnitude /= base;
    unit++;
  }
  const decimals = unit === 0 || magnitude >= 100 ? 0 : magnitude >= 10 ? 1 : 2;
  return `${sign}${trimmed(magnitude, decimals)}${gap}${units[unit]}`;
}

function roundFor(magnitude: number): number {
  if (magnitude >= 100) return Math.round(magnitude);
  return magnitude >= 10 ? Math.round(magnitude * 10) / 10 : Math.round(magnitude * 100) / 100;
}

/** Fixed decimals without a trailing ".0". */
function trimmed(value: number, decimals: number): string {
  const text = value.toFixed(decimals);
  return decimals > 0 ? text.replace(/\.?0+$/, '') : text;
}
export function formatSeconds(s: number): string {
  if (s >= 1) return `${s.toFixed(2)} s`;
  if (s >= 1e-3) return `${(s * 1e3).toFixed(2)} ms`;
  return `${(s * 1e6).toFixed(1)} µs`;
}

export function formatJoules(j: number): string {
  if (j >= 1) return `${j.toFixed(2)} J`;
  if (j >= 1e-3) return `${(j * 1e3).toFixed(2)} mJ`;
  return `${(j * 1e6).toFixed(1)} µJ`;
}
