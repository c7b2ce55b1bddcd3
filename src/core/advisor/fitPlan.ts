/**
 * "Fit to device" (conventions.md "Suggested bit-widths"): choose a weight width per layer, from
 * the widths measured by measureSensitivity and supported by the device, so that the weight bytes
 * fit in flash with the least summed measured error. The caller then verifies the whole plan
 * (quantizeWeights with `bitsPerLayer`, then verifyModels).
 *
 * Error model. A layer quantized at k bits adds output noise of power N_i relative to the output
 * signal S: N_i / S = 10^(−SQNR_i(k)/10), measured with only that layer quantized. To first order
 * (small, independent perturbations) the noise powers of several quantized layers add, so the
 * plan minimises Σ 10^(−SQNR_i/10) and predicts the whole model's SQNR as
 * −10·log10(Σ 10^(−SQNR_i/10)). Cross terms and the non-linear interplay of large errors are
 * ignored, which is why the plan must be verified. With a data folder the errors are the
 * measured effects instead (`effects`, measuredEffect.ts: the KL divergence of the class
 * distribution, or the output noise power, with the layer rounded as the compression rounds it),
 * which add up for the same first-order reason.
 *
 * Bytes. The model's weight bytes come from analyze totals; the plan changes only each planned
 * layer's main weight, which at k bits takes ceil(elements·k/8) plus one float32 scale per output
 * channel (symmetric, so no zero points), bias and other weights unchanged: quantizedWeightBytes,
 * the same function the analysis uses for weight bytes at the suggested width. Widths other than 4 and 8
 * are stored in an 8-bit container (quantize.ts), so the file, and analyze of the quantized model,
 * show 8 bits for them; the plan counts k bits, as the conventions ask for memory figures.
 *
 * Grids (issue 15). Where the sensitivity table measured them (`gridOutputSqnrDb`), ternary,
 * binary and pow2-N are options like any width, admitted when the device supports their logical
 * width (2, 1, N) and counted at it with per-channel scales, exactly as the analysis counts a
 * weight carrying the grid marker (nodeFigures: ceil(elements·bits/8) + scales); the DP weighs
 * them by measured error only (a pow2 layer's saved multiplies are not part of the objective).
 * The plan names each layer's format in `formatPerLayer`; quantizeOptionsFor turns it into the
 * quantizeWeights call that writes exactly that.
 *
 * Search. Layers that share one stored weight form one group (quantizeWeights needs them at the
 * same format). Each group has a few options (every allowed width or grid, plus "keep as stored"
 * when the device supports the stored precision). The choice is a multiple-choice knapsack,
 * solved exactly by a Pareto dynamic programme over (bytes, error) (knapsack.ts).
 */
import { quantizedWeightBytes } from '../cost/nodeFigures';
import { analyzeLoaded } from '../analyze';
import { mainWeight } from '../cost/weights';
import { weightOrigin } from '../cost/weightOrigin';
import type { DeviceProfile } from '../devices';
import { buildGraphView, nodeLabel } from '../graph/graph';
import { dtypeBits, storageBytes } from '../onnx/dtype';
import type { LoadedModel } from '../onnx/load';
import { opsetVersions } from '../onnx/opsets';
import { inferShapes } from '../shapes/infer';
import type { QuantizeOptions } from '../compress/quantize';
import {
  formatBits,
  formatCounts,
  formatName,
  gridFormatOf,
  gridFormatsFor,
  type GridFormat,
  type WeightFormat,
} from '../compress/weightFormat';
import { DEFAULT_SENSITIVITY_BITS, type LayerSensitivity } from './sensitivity';
import type { EffectTable } from './measuredEffect';
import { leastErrorWithin } from './knapsack';

export interface FitPlanOptions {
  device: DeviceProfile;
  /** Output SQNR per layer and width on random inputs (sensitivity.ts); or give `effects`. */
  sensitivity?: readonly LayerSensitivity[];
  /**
   * Measured effects on data (measuredEffect.ts), instead of `sensitivity`: the plan minimises
   * their sum (KL or noise power, see there). A weight several layers share was measured with
   * all of them changed at once, so its effect counts once for the group.
   */
  effects?: EffectTable;
  /** Restricts the widths further (default: every measured width); grids by their logical width. */
  allowedBits?: readonly number[];
}

export interface FitPlan {
  /**
   * Quantized layers and the bits each weight counts (a grid's logical width: ternary 2, binary
   * 1, pow2-N N); planned layers not listed keep their stored weights. To apply the plan use
   * `formatPerLayer` (quantizeOptionsFor), which says which of them are grids.
   */
  bitsPerLayer: Map<string, number>;
  /** The same layers with their exact format: an integer width, or a grid (`{grid: 'ternary'}`). */
  formatPerLayer: Map<string, WeightFormat>;
  /** Model weight bytes under the plan (k bits per element, see the file comment). */
  weightBytes: number;
  /** Weight bytes ≤ flash and peak activation RAM ≤ RAM. */
  fits: boolean;
  /**
   * Predicted output SQNR of the whole plan, −10·log10(Σ 10^(−SQNR_i/10)); Infinity if nothing
   * is quantized. From `effects`, the same formula of the summed effect (a KL is no SQNR: read
   * `predictedError`).
   */
  predictedErrorDb: number;
  /** The summed error the plan minimised: Σ 10^(−SQNR_i/10), or Σ measured effect. */
  predictedError: number;
  /** Why it does not fit. */
  reason?: string;
  /** Layers of the sensitivity table the plan could not use, and why. */
  notes?: string[];
}

interface Option {
  /** Width or grid, or undefined for "keep as stored". */
  readonly format: WeightFormat | undefined;
  /** Bytes of the group's main weight with this option. */
  readonly bytes: number;
  /** Σ over the group's layers of 10^(−SQNR/10). */
  readonly error: number;
}

interface Group {
  readonly layers: string[];
  /** Bytes of the main weight as stored now, as analyze counts it. */
  readonly storedBytes: number;
  readonly options: Option[];
}

/** Noise power relative to signal for an SQNR in dB; 0 for Infinity (exact). */
export function noiseFraction(sqnrDb: number): number {
  return 10 ** (-sqnrDb / 10);
}

export function planBitsForDevice(loaded: LoadedModel, options: FitPlanOptions): FitPlan {
  const { device } = options;
  const report = analyzeLoaded(loaded, { skipBitHints: true });
  const notes: string[] = [];
  const groups = buildGroups(loaded, options, notes);
  const mainBytes = groups.reduce((s, g) => s + g.storedBytes, 0);
  // Bytes outside the planned main weights (biases, unplanned layers) don't change.
  const fixed = report.totals.weightBytes - mainBytes;
  const flash = device.flashBytes;

  const minBytes = (g: Group): number => Math.min(...g.options.map((o) => o.bytes));
  const smallest = fixed + groups.reduce((s, g) => s + minBytes(g), 0);
  let choice: number[];
  let reason: string | undefined;
  if (smallest > flash) {
    // Nothing fits: report the smallest plan (least error among equally small options).
    choice = groups.map((g) => {
      const m = minBytes(g);
      let best = -1;
      g.options.forEach((o, i) => {
        if (o.bytes === m && (best < 0 || o.error < g.options[best].error)) best = i;
      });
      return best;
    });
    reason = `weights need at least ${smallest} bytes at the lowest supported widths (${supportedText(options)}); flash holds ${flash}`;
  } else {
    const options = groups.map((g) => g.options.map((o) => ({ cost: o.bytes, error: o.error })));
    choice = leastErrorWithin(options, flash - fixed)!;
  }

  const bitsPerLayer = new Map<string, number>();
  const formatPerLayer = new Map<string, WeightFormat>();
  let weightBytes = fixed;
  let error = 0;
  groups.forEach((g, i) => {
    const o = g.options[choice[i]];
    weightBytes += o.bytes;
    error += o.error;
    if (o.format === undefined) return;
    for (const l of g.layers) {
      bitsPerLayer.set(l, formatBits(o.format));
      formatPerLayer.set(l, o.format);
    }
  });

  const ram = report.totals.peakActivationBytes;
  if (ram > device.ramBytes) {
    const ramReason = `peak activation RAM ${ram} bytes exceeds the device's ${device.ramBytes}: weight widths can't change that (quantize activations or shrink the input)`;
    reason = reason ? `${reason}; ${ramReason}` : ramReason;
  }
  return {
    bitsPerLayer,
    formatPerLayer,
    weightBytes,
    fits: reason === undefined,
    predictedErrorDb: error === 0 ? Infinity : -10 * Math.log10(error),
    predictedError: error,
    ...(reason !== undefined ? { reason } : {}),
    ...(notes.length > 0 ? { notes } : {}),
  };
}

/**
 * The widest pow2 grid a fit measures. The plan weighs error only, and above 4 bits an int grid
 * has far more levels than pow2 at the same bytes (int8 255, pow2-8 15): on fmnist_vgg every
 * layer's pow2-8 measured 21–34 dB below its int8, so measuring it would cost one ORT session per
 * layer for an option never chosen. At 4 bits (15 levels against 7) they come within a few dB.
 */
const POW2_FIT_MAX_BITS = 4;

/**
 * The grids to measure (sensitivity.ts `grids`) before fitting to `device`: ternary where it
 * takes 2-bit weights, binary where 1, pow2-N for the default measured widths N ≤ 4 it takes.
 */
export function fitGridsFor(device: DeviceProfile): GridFormat[] {
  return gridFormatsFor(
    device.supportedWeightBits,
    DEFAULT_SENSITIVITY_BITS.filter((b) => b <= POW2_FIT_MAX_BITS),
  );
}

/** "6 layers (3 int8, 2 int4, 1 ternary)": what the plan quantizes, by format. */
export function planFormatsText(plan: FitPlan): string {
  const n = plan.formatPerLayer.size;
  return `${n} layer${n === 1 ? '' : 's'} (${formatCounts(plan.formatPerLayer.values())})`;
}

/** The quantizeWeights options that write the plan: each planned layer on its format. */
export function quantizeOptionsFor(plan: FitPlan): QuantizeOptions {
  return {
    bits: 8,
    formatPerLayer: plan.formatPerLayer,
    layers: [...plan.formatPerLayer.keys()],
  };
}

function supportedText(options: FitPlanOptions): string {
  return `device supports ${options.device.supportedWeightBits.join('/')} bits`;
}

/** One layer's measured error per format (formatName → format and error), from either table. */
interface MeasuredLayer {
  readonly layer: string;
  readonly errors: Map<string, { format: WeightFormat; error: number }>;
  readonly skipped?: string;
}

/** The layers of the table the plan is given, with their errors per format. */
function measuredLayers(options: FitPlanOptions): MeasuredLayer[] {
  if (options.effects) {
    // A weight's effect, measured with all its layers changed, split evenly among them so that
    // the group's sum (buildGroups) is the effect once.
    return options.effects.layers.flatMap((u) =>
      u.layers.map((layer) => ({
        layer,
        errors: new Map(
          Object.entries(u.bits).map(([b, e]) => [
            b,
            { format: Number(b), error: e.value / u.layers.length },
          ]),
        ),
        ...(u.skipped ? { skipped: u.skipped } : {}),
      })),
    );
  }
  if (!options.sensitivity) throw new Error('planBitsForDevice needs sensitivity or effects');
  return options.sensitivity.map((entry) => {
    const errors = new Map<string, { format: WeightFormat; error: number }>();
    for (const [b, db] of Object.entries(entry.outputSqnrDb)) {
      errors.set(b, { format: Number(b), error: noiseFraction(db) });
    }
    for (const [name, db] of Object.entries(entry.gridOutputSqnrDb ?? {})) {
      const grid = gridFormatOf(name);
      if (grid) errors.set(name, { format: grid, error: noiseFraction(db) });
    }
    return { layer: entry.layer, errors, ...(entry.skipped ? { skipped: entry.skipped } : {}) };
  });
}

/**
 * The formats a layer may take, each with its measured error: integer widths 2..8 and grids,
 * both measured, allowed and supported by the device at the bits they count (formatBits).
 */
function formatsFor(
  entry: MeasuredLayer,
  options: FitPlanOptions,
): Map<string, { format: WeightFormat; error: number }> {
  const supported = new Set(options.device.supportedWeightBits);
  const allowed = options.allowedBits ? new Set(options.allowedBits) : undefined;
  const out = new Map<string, { format: WeightFormat; error: number }>();
  for (const { format, error } of entry.errors.values()) {
    const b = formatBits(format);
    const width = typeof format !== 'number' || (b >= 2 && b <= 8);
    if (width && supported.has(b) && (allowed?.has(b) ?? true) && !Number.isNaN(error)) {
      out.set(formatName(format), { format, error });
    }
  }
  return out;
}

/** Groups the sensitivity table's layers by stored main weight, with their options. */
function buildGroups(loaded: LoadedModel, options: FitPlanOptions, notes: string[]): Group[] {
  const { model, external } = loaded;
  const view = buildGraphView(model.graph);
  const shapes = inferShapes(view, { opsets: opsetVersions(model), external });
  const byLabel = new Map(view.order.map((n, i) => [nodeLabel(n, i), n]));
  const bySource = new Map<
    string,
    { layers: MeasuredLayer[]; elements: number; channels: number; bytes: number; bits: number }
  >();
  for (const entry of measuredLayers(options)) {
    const node = byLabel.get(entry.layer);
    if (!node) {
      notes.push(`'${entry.layer}': no such layer in the model`);
      continue;
    }
    const main = mainWeight(node, (i) => shapes.types.get(node.inputs[i] ?? '')?.shape?.length);
    const origin = main ? weightOrigin(node.inputs[main.input], view, shapes) : undefined;
    if (!main || !origin) {
      notes.push(`'${entry.layer}': no constant main weight, left as it is`);
      continue;
    }
    const group = bySource.get(origin.source);
    if (group) {
      group.layers.push(entry);
      continue;
    }
    bySource.set(origin.source, {
      layers: [entry],
      elements: origin.elements,
      channels: origin.tensor?.dims[main.channelAxis] ?? 1,
      // As analyze counts the stored weight (nodeFigures: storageBytes + quantization params).
      bytes: storageBytes(origin.dtype, origin.elements) + origin.quantParamBytes,
      bits: dtypeBits(origin.dtype),
    });
  }

  const groups: Group[] = [];
  for (const g of bySource.values()) {
    const keep: Option = { format: undefined, bytes: g.bytes, error: 0 };
    // Formats every layer of the group was measured at (they must share one).
    const measured = g.layers.map((l) => formatsFor(l, options));
    const widths = [...measured[0].values()].filter(({ format }) =>
      measured.every((m) => m.has(formatName(format))),
    );
    const opts: Option[] = widths
      .filter(({ format }) => formatBits(format) < g.bits)
      .map(({ format }) => ({
        format,
        bytes: quantizedWeightBytes(g.elements, g.channels, formatBits(format)),
        error: measured.reduce((s, m) => s + m.get(formatName(format))!.error, 0),
      }));
    const names = g.layers.map((l) => l.layer);
    // "Keep" is a choice only where the device runs the stored precision; with no usable width
    // the layer stays as it is regardless (nothing else can be done to it here).
    if (options.device.supportedWeightBits.includes(g.bits) || opts.length === 0) {
      opts.unshift(keep);
      if (widths.length === 0) {
        const why = g.layers.find((l) => l.skipped)?.skipped;
        notes.push(
          `${names.join(', ')}: ${why ?? 'no measured width the device supports'}; kept as stored`,
        );
      }
    }
    groups.push({ layers: names, storedBytes: g.bytes, options: opts });
  }
  return groups;
}
