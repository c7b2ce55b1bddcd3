/**
 * First-order latency and energy of layers on a device (conventions.md, "Estimates").
 *
 * Latency = MACs / MAC rate at the layer's precision. Only the MACs of linear layers are counted,
 * so elementwise layers estimate at 0 s of compute; memory stalls are not modelled.
 *
 * Energy uses the 45 nm figures of M. Horowitz, "Computing's energy problem (and what we can do
 * about it)", ISSCC 2014, Figure 1.1.9 (pJ):
 *
 *            add     mult
 *   int8     0.03    0.2
 *   int32    0.1     3.1
 *   fp16     0.4     1.1
 *   fp32     0.9     3.7
 *   32-bit read: SRAM (8 KB) 5, DRAM 640
 *
 * A MAC costs one multiply and one add at the layer's precision; with weights on a multiplier-free
 * grid (power-of-two: the multiply is a shift; ternary/binary: a sign) it costs the add only.
 * For integer widths not in the table, the multiplier scales with bits² and the adder with bits
 * from int8 (which predicts 3.2 pJ for an int32 multiply against the table's 3.1). Memory costs scale with bits: a weight
 * or feature-map bit costs 1/32 of a 32-bit read. Each weight is read once and each feature-map
 * byte (inputs + outputs) moved once, from SRAM when it fits on chip and DRAM otherwise: a lower
 * bound on the traffic of real kernels. A device with no `onChipBytes` (an MCU) keeps everything on
 * chip; its flash reads are costed as SRAM, as the table has no flash figure. A layer folded at
 * analysis time (`folded`: a shape computation) never runs, so it costs nothing.
 *
 * A layer whose MACs are unknown (`macsUnknown`: a custom operator such as Vela's `ethos-u`) has
 * no compute estimate: its latency is no count (0 as a placeholder) and its energy only the
 * memory traffic, both marked `lowerBound`; a model total that includes one is a lower bound.
 */
import type { DeviceProfile, Precision } from './profiles';
import type { LayerFigures } from './fit';

export interface LayerEstimate {
  latencySeconds: number;
  energyJoules: number;
  /** The precision the MAC rate and MAC energy were taken at. */
  precision: Precision;
  /** Latency × the device's watts, a second estimate when the device lists its power. */
  energyJoulesFromPower?: number;
  /** Why the precision differs from the layer's own, when it does. */
  note?: string;
  /**
   * Set when the layer's MACs are unknown: why. Its latency (0) and energy (memory traffic
   * only) are then lower bounds, never an estimate of the whole layer.
   */
  lowerBound?: string;
}

export interface ModelEstimate {
  latencySeconds: number;
  energyJoules: number;
  energyJoulesFromPower?: number;
  layers: LayerEstimate[];
  /** The layers of unknown cost (LayerEstimate.lowerBound): the totals are lower bounds. */
  lowerBoundLayers?: string[];
}

/** A layer's figures, with why its MACs are unknown when they are (NodeReport.macsUnknown). */
export type EstimatedLayer = LayerFigures & { readonly macsUnknown?: string };

const PICOJOULE = 1e-12;
const SRAM_PJ_PER_BIT = 5 / 32;
const DRAM_PJ_PER_BIT = 640 / 32;

/** Multiply + add energy in pJ, from the Horowitz table. */
const MAC_PICOJOULES: Record<Precision, number> = {
  fp32: 3.7 + 0.9,
  fp16: 1.1 + 0.4,
  int8: 0.2 + 0.03,
  int4: integerMacPicojoules(4),
};

/** Add energy in pJ, for multiplier-free layers (int4: the int8 adder scaled with bits). */
const ADD_PICOJOULES: Record<Precision, number> = {
  fp32: 0.9,
  fp16: 0.4,
  int8: 0.03,
  int4: 0.03 * (4 / 8),
};

/** Widest last: where a device lacks a rate, the next wider precision runs the layer. */
const BY_WIDTH: readonly Precision[] = ['int4', 'int8', 'fp16', 'fp32'];
const BITS: Record<Precision, number> = { int4: 4, int8: 8, fp16: 16, fp32: 32 };

/** An integer MAC scaled from int8: multiplier with bits², adder with bits. */
export function integerMacPicojoules(bits: number): number {
  const ratio = bits / 8;
  return 0.2 * ratio * ratio + 0.03 * ratio;
}

export function estimateLayer(device: DeviceProfile, layer: EstimatedLayer): LayerEstimate {
  const { precision, note } = precisionFor(device, layer);
  if (layer.folded) {
    return {
      latencySeconds: 0,
      energyJoules: 0,
      precision,
      ...(device.watts !== undefined ? { energyJoulesFromPower: 0 } : {}),
      note: 'folded at analysis time: the layer does not run',
    };
  }
  const rate = device.macsPerSecond[precision] ?? Number.NaN;
  const latencySeconds = layer.macs === 0 || layer.macsUnknown ? 0 : layer.macs / rate;
  const onChip = device.onChipBytes ?? Number.POSITIVE_INFINITY;
  const weightPerBit = layer.weightBytes <= onChip ? SRAM_PJ_PER_BIT : DRAM_PJ_PER_BIT;
  const mapPerBit = layer.activationBytes <= onChip ? SRAM_PJ_PER_BIT : DRAM_PJ_PER_BIT;
  const macs = layer.macsUnknown ? 0 : layer.macs;
  const picojoules =
    macs * (layer.weightGrid ? ADD_PICOJOULES : MAC_PICOJOULES)[precision] +
    layer.weightBytes * 8 * weightPerBit +
    layer.activationBytes * 8 * mapPerBit;

  const estimate: LayerEstimate = {
    latencySeconds,
    energyJoules: picojoules * PICOJOULE,
    precision,
  };
  if (device.watts !== undefined) estimate.energyJoulesFromPower = latencySeconds * device.watts;
  if (note !== undefined) estimate.note = note;
  if (layer.macsUnknown) {
    estimate.lowerBound = `MACs unknown (${layer.macsUnknown}): latency not counted, energy of its memory traffic only`;
  }
  return estimate;
}

export function estimateModel(
  device: DeviceProfile,
  layers: readonly EstimatedLayer[],
): ModelEstimate {
  const estimates = layers.map((layer) => estimateLayer(device, layer));
  const total: ModelEstimate = {
    latencySeconds: estimates.reduce((sum, e) => sum + e.latencySeconds, 0),
    energyJoules: estimates.reduce((sum, e) => sum + e.energyJoules, 0),
    layers: estimates,
  };
  if (device.watts !== undefined) total.energyJoulesFromPower = total.latencySeconds * device.watts;
  const unknown = layers.filter((l, i) => estimates[i].lowerBound).map((l) => l.name);
  if (unknown.length > 0) total.lowerBoundLayers = unknown;
  return total;
}

/**
 * The layer's precision is set by its wider operand (4-bit weights with 8-bit activations run on
 * int8 units); 16 bits means fp16 and more than 16 fp32, as ONNX models store them. When the
 * device has no rate there, take the next wider one it has, else the widest narrower one, which
 * assumes the layer gets quantized to run at all.
 */
function precisionFor(
  device: DeviceProfile,
  layer: LayerFigures,
): { precision: Precision; note?: string } {
  const bits = Math.max(layer.weightBits ?? 0, layer.activationBits);
  const wanted = BY_WIDTH.find((p) => bits <= BITS[p]) ?? 'fp32';
  const available = BY_WIDTH.filter((p) => device.macsPerSecond[p] !== undefined);
  if (available.length === 0) {
    return { precision: wanted, note: `${device.id} lists no MAC rate, so latency is unknown` };
  }
  if (available.includes(wanted)) return { precision: wanted };
  const wider = available.find((p) => BITS[p] > BITS[wanted]);
  if (wider !== undefined) {
    return { precision: wider, note: `${device.id} has no ${wanted} rate; estimated at ${wider}` };
  }
  const narrower = available[available.length - 1];
  return {
    precision: narrower,
    note: `${device.id} has no ${wanted} or wider rate; estimated at ${narrower}, as if quantized`,
  };
}
