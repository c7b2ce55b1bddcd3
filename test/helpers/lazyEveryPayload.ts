/** Imported first by a test file: every payload of every file opened after it stays in the file. */
import { setMinHoleBytes } from '../../src/core/onnx/lazyFile';

setMinHoleBytes(1);
