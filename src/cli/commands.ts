/**
 * compress and verify: the commands that rewrite models and run them in ONNX Runtime, bundled
 * on their own as dist/cli-commands.js and loaded only when one of them runs (deferred.ts).
 * Bundled into the CLI they more than doubled what every other command compiles at start-up
 * (0.96 MB instead of 0.4 MB: compression, calibration, data folders, image decoders).
 */
export { compressCommand } from './compressCommand';
export { verifyCommand } from './verifyCommand';
