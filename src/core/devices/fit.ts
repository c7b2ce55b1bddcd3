/**
 * Does a model fit a device? The fit rules of conventions.md ("Devices"), as diagnostics.
 *
 * Model rules compare weight bytes with flash and peak activation RAM with RAM: above 100% is an
 * error, above 75% a warning, since runtimes add scratch memory and persistent buffers on top.
 *
 * Layer rules, for layers with weights when the device has a separate on-chip memory
 * (`onChipBytes`), follow the three cases of the seed paper:
 *   1. feature maps fit on chip, filters stream in: good, each weight is read once (information);
 *   2. filters fit, feature maps stream through off-chip memory: acceptable (warning);
 *   3. neither fits: the layer needs multiple off-chip passes (warning).
 * A layer without weights (Relu, Add, …) has no filters to weigh against its maps, so the cases
 * don't apply to it.
 *
 * Precisions the device does not support are a warning (with the "quantize" quick fix), one per
 * model and width, attached to the first layer or tensor concerned and naming the others: weights
 * by layer, activations by run-time tensor. Tensors folded at analysis time (shape computations,
 * constants) are not run-time tensors, and layers that only compute them (`folded`) never run on
 * the device, so no layer rule applies to them. Channel counts that leave the device's vectors
 * partly empty are information.
 *
 * Messages never start with the layer's name: a diagnostic carries it in `node`, and every surface
 * shows it from there (the CLI and markdown report as a prefix, the editor as the line).
 */
import { formatBytes, formatPercent } from '../format';
import type { DeviceProfile } from './profiles';

export interface LayerFigures {
  name: string;
  op: string;
  macs: number;
  weightBytes: number;
  /** Non-constant inputs + outputs, as conventions.md defines a layer's activation bytes. */
  activationBytes: number;
  /** Undefined for layers without weights. */
  weightBits?: number;
  activationBits: number;
  inputChannels?: number;
  outputChannels?: number;
  /** Every output is folded at analysis time (a shape computation): the layer never runs. */
  folded?: boolean;
  /** Weights on a multiplier-free grid (pow2, ternary, binary): its MACs cost an add each. */
  weightGrid?: 'pow2' | 'ternary' | 'binary';
}

/** A tensor that exists while the model runs (not a weight, constant or folded shape). */
export interface ActivationFigures {
  name: string;
  /** Element type, e.g. 'int64'. */
  dtype: string;
  bits: number;
  /** The layer that makes it, or for a graph input the first layer that reads it. */
  node: string;
  /** True for floating-point types, which the "quantize" quick fix narrows. */
  float: boolean;
}

export interface ModelFigures {
  weightBytes: number;
  peakActivationBytes: number;
  layers: readonly LayerFigures[];
  /** The run-time tensors, for the activation precision rule (none when absent). */
  activations?: readonly ActivationFigures[];
}

export interface FitDiagnostic {
  severity: 'error' | 'warning' | 'info';
  /** The layer the diagnostic is about; undefined for the whole model. */
  node?: string;
  rule: FitRule;
  message: string;
}

export type FitRule =
  | 'weights-exceed-flash'
  | 'weights-near-flash'
  | 'activations-exceed-ram'
  | 'activations-near-ram'
  | 'filters-stream'
  | 'feature-maps-stream'
  | 'multiple-off-chip-passes'
  | 'unsupported-weight-precision'
  | 'unsupported-activation-precision'
  | 'channels-not-vector-multiple';

export interface FitResult {
  /** False iff there is an error diagnostic. */
  fits: boolean;
  weightBytesLimit: number;
  ramBytesLimit: number;
  /** Fractions of the limits: 1.4 means 140%. */
  weightUse: number;
  ramUse: number;
  diagnostics: FitDiagnostic[];
}

/** Above this share of a memory, warn: the runtime's own buffers need the rest. */
export const HEADROOM_WARNING_FRACTION = 0.75;

export function checkFit(device: DeviceProfile, model: ModelFigures): FitResult {
  const weightUse = model.weightBytes / device.flashBytes;
  const ramUse = model.peakActivationBytes / device.ramBytes;
  const diagnostics: FitDiagnostic[] = [
    ...memoryDiagnostics(device, 'weights', model.weightBytes, weightUse),
    ...memoryDiagnostics(device, 'activations', model.peakActivationBytes, ramUse),
  ];
  const running = model.layers.filter((layer) => !layer.folded);
  for (const layer of running) diagnostics.push(...onChipDiagnostics(device, layer));
  diagnostics.push(...weightPrecisionDiagnostics(device, running));
  diagnostics.push(...activationPrecisionDiagnostics(device, model.activations ?? []));
  for (const layer of running) diagnostics.push(...channelDiagnostics(device, layer));
  return {
    fits: !diagnostics.some((d) => d.severity === 'error'),
    weightBytesLimit: device.flashBytes,
    ramBytesLimit: device.ramBytes,
    weightUse,
    ramUse,
    diagnostics,
  };
}

function memoryDiagnostics(
  device: DeviceProfile,
  kind: 'weights' | 'activations',
  bytes: number,
  use: number,
): FitDiagnostic[] {
  const what = kind === 'weights' ? 'Weights need' : 'Peak activation RAM needs';
  const memory = kind === 'weights' ? 'flash' : 'RAM';
  const limit = kind === 'weights' ? device.flashBytes : device.ramBytes;
  const need = `${what} ${formatBytes(bytes)}`;
  if (use > 1) {
    return [
      {
        severity: 'error',
        rule: kind === 'weights' ? 'weights-exceed-flash' : 'activations-exceed-ram',
        message: `${need} but ${device.id} has ${formatBytes(limit)} of ${memory} (${formatPercent(use)})`,
      },
    ];
  }
  if (use > HEADROOM_WARNING_FRACTION) {
    return [
      {
        severity: 'warning',
        rule: kind === 'weights' ? 'weights-near-flash' : 'activations-near-ram',
        message:
          `${need}, ${formatPercent(use)} of the ${formatBytes(limit)} of ${memory} on ` +
          `${device.id}; the runtime's scratch and persistent buffers need room too ` +
          `(warning above ${formatPercent(HEADROOM_WARNING_FRACTION)})`,
      },
    ];
  }
  return [];
}

function onChipDiagnostics(device: DeviceProfile, layer: LayerFigures): FitDiagnostic[] {
  const onChip = device.onChipBytes;
  if (onChip === undefined || layer.weightBytes === 0) return [];
  const mapsFit = layer.activationBytes <= onChip;
  const filtersFit = layer.weightBytes <= onChip;
  if (mapsFit && filtersFit) return [];
  const maps = `feature maps (${formatBytes(layer.activationBytes)})`;
  const filters = `filters (${formatBytes(layer.weightBytes)})`;
  const chip = `the ${formatBytes(onChip)} on chip of ${device.id}`;
  if (mapsFit) {
    return [
      {
        severity: 'info',
        node: layer.name,
        rule: 'filters-stream',
        message: `${maps} fit in ${chip}; its ${filters} stream in from off-chip memory, each read once (good)`,
      },
    ];
  }
  if (filtersFit) {
    return [
      {
        severity: 'warning',
        node: layer.name,
        rule: 'feature-maps-stream',
        message: `${filters} fit in ${chip} but its ${maps} do not, so they stream through off-chip memory (acceptable; tiling the layer would keep them on chip)`,
      },
    ];
  }
  return [
    {
      severity: 'warning',
      node: layer.name,
      rule: 'multiple-off-chip-passes',
      message: `neither its ${maps} nor its ${filters} fit in ${chip}, so it needs multiple off-chip passes`,
    },
  ];
}

/** At most this many names are listed in one message; the count gives the rest. */
const MAX_NAMES = 12;

function weightPrecisionDiagnostics(
  device: DeviceProfile,
  layers: readonly LayerFigures[],
): FitDiagnostic[] {
  const byBits = groupBy(
    layers.filter(
      (l) => l.weightBits !== undefined && !device.supportedWeightBits.includes(l.weightBits),
    ),
    (l) => l.weightBits ?? 0,
  );
  return [...byBits].map(([bits, group]) => {
    const target = quantizeTarget(bits, device.supportedWeightBits);
    const others = group.slice(1).map((l) => l.name);
    const where =
      others.length === 0
        ? ''
        : `, here and in ${others.length} more layer${others.length > 1 ? 's' : ''}: ${nameList(others)}`;
    return {
      severity: 'warning',
      node: group[0].name,
      rule: 'unsupported-weight-precision',
      message: `${bits}-bit weights are not supported by ${device.id} (${bitList(device.supportedWeightBits)})${where}; quick fix "quantize" to ${target} bits`,
    };
  });
}

function activationPrecisionDiagnostics(
  device: DeviceProfile,
  tensors: readonly ActivationFigures[],
): FitDiagnostic[] {
  const byBits = groupBy(
    tensors.filter((t) => t.bits > 0 && !device.supportedActivationBits.includes(t.bits)),
    (t) => t.bits,
  );
  return [...byBits].map(([bits, group]) => {
    const target = quantizeTarget(bits, device.supportedActivationBits);
    const dtypes = [...new Set(group.map((t) => t.dtype))].join('/');
    const names = group.map((t) => t.name);
    const one = group.length === 1;
    const what = one
      ? `${dtypes} tensor '${names[0]}' is`
      : `${group.length} ${dtypes} tensors are`;
    const them = one ? 'it' : 'them';
    const fix = group.every((t) => t.float)
      ? `quick fix "quantize" activations to ${target} bits`
      : group.some((t) => t.float)
        ? `quantize the float ones to ${target} bits and store the others as int${target}`
        : `store ${them} as int${target} (a Cast where ${one ? 'it is' : 'they are'} made, or the exporter's index type)`;
    return {
      severity: 'warning',
      node: group[0].node || undefined,
      rule: 'unsupported-activation-precision',
      message: one
        ? `${what} not supported by ${device.id} (${bitList(device.supportedActivationBits)}); ${fix}`
        : `${what} not supported by ${device.id} (${bitList(device.supportedActivationBits)}): ${nameList(names)}; ${fix}`,
    };
  });
}

function groupBy<T>(items: readonly T[], key: (item: T) => number): Map<number, T[]> {
  const groups = new Map<number, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

/** `a, b, c`, or the first MAX_NAMES and how many more. */
function nameList(names: readonly string[]): string {
  if (names.length <= MAX_NAMES) return names.join(', ');
  return `${names.slice(0, MAX_NAMES).join(', ')} and ${names.length - MAX_NAMES} more`;
}

/** The widest supported width below the current one, which loses the least; else the narrowest. */
function quantizeTarget(bits: number, supported: readonly number[]): number {
  const below = supported.filter((b) => b < bits);
  return below.length > 0 ? Math.max(...below) : Math.min(...supported);
}

function bitList(bits: readonly number[]): string {
  return `supports ${[...bits].sort((a, b) => a - b).join('/')} bits`;
}

function channelDiagnostics(device: DeviceProfile, layer: LayerFigures): FitDiagnostic[] {
  const width = device.vectorWidth;
  if (width === undefined || width <= 1) return [];
  const ragged: string[] = [];
  if (layer.inputChannels !== undefined && layer.inputChannels % width !== 0) {
    ragged.push(`${layer.inputChannels} input channels`);
  }
  if (layer.outputChannels !== undefined && layer.outputChannels % width !== 0) {
    ragged.push(`${layer.outputChannels} output channels`);
  }
  if (ragged.length === 0) return [];
  return [
    {
      severity: 'info',
      node: layer.name,
      rule: 'channels-not-vector-multiple',
      message: `${ragged.join(' and ')} are not a multiple of ${width}, the vector width of ${device.id}, so the last vector of each pass is partly empty`,
    },
  ];
}
