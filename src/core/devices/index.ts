export { BUILTIN_DEVICES } from './profiles';
export type { DeviceProfile, Precision } from './profiles';
export {
  DeviceProfileError,
  findDevice,
  loadDeviceProfiles,
  parseSize,
  readDeviceProfiles,
} from './userProfiles';
export type { LoadedProfiles } from './userProfiles';
export { checkFit, HEADROOM_WARNING_FRACTION } from './fit';
export type { FitDiagnostic, FitResult, FitRule, LayerFigures, ModelFigures } from './fit';
export { estimateLayer, estimateModel, integerMacPicojoules } from './estimates';
export type { LayerEstimate, ModelEstimate } from './estimates';
