/**
 * The verifier: runs an original and a compressed model in ONNX Runtime on the same inputs and
 * reports output SQNR, max abs error, cosine similarity, top-1 agreement and, with labels,
 * accuracy, recall, confusion and Cohen's kappa. Used by the compression engine's tests, the
 * CLI's `verify` and the editor.
 */
export {
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
  sqnrDb,
  type LabelledMetrics,
} from './metrics';
export { readNpy, VerifyError, writeNpy, type NpyArray, type NpyDtype } from './npy';
