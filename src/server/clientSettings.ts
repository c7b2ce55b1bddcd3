/**
 * Settings from editors other than VS Code. The VS Code extension sends the analyzer's settings
 * itself (SettingsNotification); any other LSP client gives the `modelLens` section the way LSP
 * does: as `initializationOptions.modelLens`, in `workspace/didChangeConfiguration`, or as the
 * answer to `workspace/configuration`. The section has the names of the VS Code settings
 * (package.json): `{ device, devices, bitErrorTargetDb, countBiasFlops, convention, inputShapes,
 * dataFolder, annotations: { macs, weights, activations, bits } }`; anything missing or of the wrong type keeps its default
 * (`inputShapes` is checked where it is used, which names a malformed entry).
 */
import { isConvention } from '../core/cost/conventions';
import type { AnalyzerSettings } from '../shared/protocol';
import { DEFAULT_SETTINGS } from './modelStore';

export const SETTINGS_SECTION = 'modelLens';

/** The `modelLens` section of an options or settings object, or undefined when it has none. */
export function settingsSection(options: unknown): unknown {
  return isRecord(options) && SETTINGS_SECTION in options ? options[SETTINGS_SECTION] : undefined;
}

export function settingsFromSection(section: unknown): AnalyzerSettings {
  const s = isRecord(section) ? section : {};
  const a = isRecord(s.annotations) ? s.annotations : {};
  const d = DEFAULT_SETTINGS;
  return {
    device: typeof s.device === 'string' ? s.device : d.device,
    devices: Array.isArray(s.devices) ? s.devices : d.devices,
    errorTargetDb: finite(s.bitErrorTargetDb) ?? d.errorTargetDb,
    countBiasFlops: typeof s.countBiasFlops === 'boolean' ? s.countBiasFlops : d.countBiasFlops,
    ...(isConvention(s.convention) ? { convention: s.convention } : {}),
    ...(s.inputShapes !== undefined ? { inputShapes: s.inputShapes } : {}),
    ...(typeof s.dataFolder === 'string' && s.dataFolder !== ''
      ? { dataFolder: s.dataFolder }
      : {}),
    annotations: {
      macs: typeof a.macs === 'boolean' ? a.macs : d.annotations.macs,
      weights: typeof a.weights === 'boolean' ? a.weights : d.annotations.weights,
      activations: typeof a.activations === 'boolean' ? a.activations : d.annotations.activations,
      bits: typeof a.bits === 'boolean' ? a.bits : d.annotations.bits,
    },
  };
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function finite(x: unknown): number | undefined {
  return typeof x === 'number' && Number.isFinite(x) && x >= 0 ? x : undefined;
}
