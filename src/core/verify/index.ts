/**
 * The verifier: runs an original and a compressed model in ONNX Runtime on the same inputs and
 * reports output SQNR, max abs error, cosine similarity, top-1 agreement and, with labels,
 * top-1 (and top-5) accuracy with McNemar's test of the change, recall, confusion and Cohen's
 * kappa; and warns when the compressed model no longer behaves like the original. Used by the compression engine's tests, the
 * CLI's `verify` and the editor.
 */
export {
  behaviourWarning,
  MAX_ACCURACY_DROP,
  MIN_TOP1_AGREEMENT,
  ModelRunner,
  runModel,
  verifyModels,
  type OutputTensor,
  type VerifyOptions,
  type VerifyResult,
} from './verify';
export {
  coerceInput,
  inputSpecs,
  inputsDirNotes,
  randomInputs,
  randomInputsFor,
  readInputsDir,
  readTensorFile,
  type FolderInputs,
  type InputSet,
  type InputSpec,
  type InputTensor,
  type RandomInputOptions,
  type TensorArray,
} from './inputs';
export {
  argmaxRows,
  cohenKappa,
  ErrorAccumulator,
  labelledMetrics,
  mcnemarExactP,
  SIGNIFICANCE_LEVEL,
  sqnrDb,
  TOP5_MIN_CLASSES,
  TOP_K,
  topKAccuracy,
  topKRows,
  type LabelledMetrics,
  type McNemarTest,
  type TopKPredictions,
} from './metrics';
export { readNpy, VerifyError, writeNpy, type NpyArray, type NpyDtype } from './npy';
