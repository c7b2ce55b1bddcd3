/**
 * Does a model fit a device? The fit rules of conventions.md ("Devices"), as diagnostics.
 *
 * Model rules compare weight bytes with flash and peak activation RAM with RAM: above 100% is an
 * error, above 75% a warning, since runtimes add scratch memory and persistent buffers on top.
 *
 * Layer rules, when the device has a separate on-chip memory (`onChipBytes`), follow the three
 * cases of the seed paper:
 *   1. feature maps fit on chip, filters stream in: good, each weight is read once (information);
 *   2. filters fit, feature maps stream through off-chip memory: acceptable (warning);
 *   3. neither fits: the layer needs multiple off-chip passes (warning).
 * Then precisions the device does not support (warning, with the "quantize" quick fix) and channel
 * counts that leave the device's vectors partly empty (information).
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
}

export interface ModelFigures {
  weightBytes: number;
  peakActivationBytes: number;
  layers: readonly LayerFigures[];
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
  for (const layer of model.layers) {
    diagnostics.push(...onChipDiagnostics(device, layer));
    diagnostics.push(...precisionDiagnostics(device, layer));
    diagnostics.push(...channelDiagnostics(device, layer));
  }
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
  if (onChip === undefined) return [];
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
        message: `${layer.name}: ${maps} fit in ${chip}; its ${filters} stream in from off-chip memory, each read once (good)`,
      },
    ];
  }
  if (filtersFit) {
    return [
      {
        severity: 'warning',
        node: layer.name,
        rule: 'feature-maps-stream',
        message: `${layer.name}: ${filters} fit in ${chip} but its ${maps} do not, so they stream through off-chip memory (acceptable; tiling the layer would keep them on chip)`,
      },
    ];
  }
  return [
    {
      severity: 'warning',
      node: layer.name,
      rule: 'multiple-off-chip-passes',
      message: `${layer.name}: neither its ${maps} nor its ${filters} fit in ${chip}, so it needs multiple off-chip passes`,
    },
  ];
}

function precisionDiagnostics(device: DeviceProfile, layer: LayerFigures): FitDiagnostic[] {
  const diagnostics: FitDiagnostic[] = [];
  const weightBits = layer.weightBits;
  if (weightBits !== undefined && !device.supportedWeightBits.includes(weightBits)) {
    const target = quantizeTarget(weightBits, device.supportedWeightBits);
    diagnostics.push({
      severity: 'warning',
      node: layer.name,
      rule: 'unsupported-weight-precision',
      message: `${layer.name}: ${weightBits}-bit weights are not supported by ${device.id} (${bitList(device.supportedWeightBits)}); quick fix "quantize" to ${target} bits`,
    });
  }
  if (!device.supportedActivationBits.includes(layer.activationBits)) {
    const target = quantizeTarget(layer.activationBits, device.supportedActivationBits);
    diagnostics.push({
      severity: 'warning',
      node: layer.name,
      rule: 'unsupported-activation-precision',
      message: `${layer.name}: ${layer.activationBits}-bit activations are not supported by ${device.id} (${bitList(device.supportedActivationBits)}); quick fix "quantize" activations to ${target} bits`,
    });
  }
  return diagnostics;
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
      message: `${layer.name}: ${ragged.join(' and ')} are not a multiple of ${width}, the vector width of ${device.id}, so the last vector of each pass is partly empty`,
    },
  ];
}
