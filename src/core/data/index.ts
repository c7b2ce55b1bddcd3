/**
 * Data folders of images: decoding, preprocessing (preprocess.json or the model's input shape),
 * the ImageFolder layout and its labels, and the seeded calibration/evaluation split. The one
 * entry point that reads a folder stays readInputsDir (src/core/verify/inputs.ts), which hands
 * image folders to this module.
 */
export { decodeImage, IMAGE_FILE, type DecodedImage } from './decode';
export {
  imageFolderPipeline,
  listImageFolder,
  readImageFolder,
  type ImageFolderInputs,
  type ImageListing,
} from './imageFolder';
export { CLASSES_FILE, readClassesFile, readLabelFile, type LabelFile } from './labels';
export { imagePipeline, preprocessImage, type ImagePipeline } from './preprocess';
export {
  parsePreprocessConfig,
  PREPROCESS_FILE,
  readPreprocessConfig,
  type ColorMode,
  type Layout,
  type PreprocessConfig,
  type Size,
} from './preprocessConfig';
export { splitFolderInputs, splitSamples, type SampleSplit, type SplitOptions } from './split';
