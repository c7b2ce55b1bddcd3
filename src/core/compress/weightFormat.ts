/**
 * One layer's weight format, as a per-layer choice (issue 15): an integer width (quantize.ts,
 * 2..8 bits, symmetric per channel) or a multiplier-free grid (lowBitGrids.ts) with its bits.
 * Shared by the compressor (quantizeWeights' `formatPerLayer`), the sensitivity measurement
 * (`grids`) and the fit-to-device plan, so that what is measured, planned and written is named
 * and counted the same way everywhere.
 */
import { WEIGHT_GRIDS, type WeightGrid } from '../numerics/gridLevels';
import { CompressionRefusal } from './summary';

/** A grid and its bits: pow2 needs its N (3..8); ternary is 2 bits and binary 1 by definition. */
export type GridFormat =
  { readonly grid: 'pow2'; readonly bits: number } | { readonly grid: 'ternary' | 'binary' };

/** An integer width (2..8) or a grid. */
export type WeightFormat = number | GridFormat;

/** The bits the conventions count per weight: the width, or the grid's logical width. */
export function formatBits(f: WeightFormat): number {
  if (typeof f === 'number') return f;
  return f.grid === 'pow2' ? f.bits : f.grid === 'ternary' ? 2 : 1;
}

/**
 * A short name, also the key of measured grid SQNRs (sensitivity.ts `gridOutputSqnrDb`):
 * `int4`, `int6` (stored in int8), `pow2-4`, `ternary`, `binary`.
 */
export function formatName(f: WeightFormat): string {
  if (typeof f === 'number') return `int${f}`;
  return f.grid === 'pow2' ? `pow2-${f.bits}` : f.grid;
}

/** The inverse of formatName for grids (`pow2-4`, `ternary`, `binary`); undefined otherwise. */
export function gridFormatOf(name: string): GridFormat | undefined {
  if (name === 'ternary' || name === 'binary') return { grid: name };
  const m = /^pow2-(\d+)$/.exec(name);
  return m ? { grid: 'pow2', bits: Number(m[1]) } : undefined;
}

/**
 * Refuses a format quantizeWeights can't write. `where` starts the message: "quantize", "pow2",
 * "layer 'fc1' pow2" ("pow2: 2 bits is out of range …").
 */
export function checkFormat(f: WeightFormat, where: string): void {
  if (typeof f === 'number') {
    if (!Number.isInteger(f) || f < 2 || f > 8) {
      throw new CompressionRefusal(`${where}: ${f} bits is out of range (2 to 8)`);
    }
    return;
  }
  if (!(WEIGHT_GRIDS as readonly string[]).includes(f.grid)) {
    throw new CompressionRefusal(
      `${where}: unknown grid '${String(f.grid)}' (${WEIGHT_GRIDS.join(', ')})`,
    );
  }
  if (f.grid === 'pow2' && !(Number.isInteger(f.bits) && f.bits >= 3 && f.bits <= 8)) {
    throw new CompressionRefusal(
      `${where}: ${f.bits} bits is out of range (3 to 8: sign, zero and at least ±1, ±2)`,
    );
  }
}

/**
 * The grids a device can hold, by the widths it supports: ternary where 2 is one, binary where 1
 * is, pow2-N for each supported N among `pow2Bits` (the integer widths measured alongside, so a
 * pow2 option is only weighed against an int option of the same width that exists too).
 */
export function gridFormatsFor(
  supportedWeightBits: readonly number[],
  pow2Bits: readonly number[],
): GridFormat[] {
  const supported = new Set(supportedWeightBits);
  const out: GridFormat[] = [];
  for (const n of pow2Bits)
    if (n >= 3 && n <= 8 && supported.has(n)) out.push({ grid: 'pow2', bits: n });
  if (supported.has(2)) out.push({ grid: 'ternary' });
  if (supported.has(1)) out.push({ grid: 'binary' });
  return out;
}

/**
 * "3 ternary, 5 int4, 1 pow2-4": how many layers take each format, widest first (ties by name),
 * for descriptions of a mixed quantization.
 */
export function formatCounts(formats: Iterable<WeightFormat>): string {
  const counts = new Map<string, { n: number; bits: number }>();
  for (const f of formats) {
    const name = formatName(f);
    const c = counts.get(name) ?? { n: 0, bits: formatBits(f) };
    c.n++;
    counts.set(name, c);
  }
  return [...counts]
    .sort(([a, x], [b, y]) => y.bits - x.bits || a.localeCompare(b))
    .map(([name, c]) => `${c.n} ${name}`)
    .join(', ');
}

export type { WeightGrid };
