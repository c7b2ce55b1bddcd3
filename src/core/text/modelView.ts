/**
 * The text view of a model as every front end shows it: the printed model with each initializer
 * summarised by its statistics. The analyzer server shows this text (VS Code's `onnx-model:`
 * view, other editors' buffers) and `model-lens text` prints it, so positions in one are
 * positions in the other.
 */
import type { LoadedModel } from '../onnx/load';
import { printModel, type PrintedModel } from './printer';
import { summarizeTensor } from './summary';

export function printModelView(loaded: LoadedModel): PrintedModel {
  return printModel(loaded.model, (t) => summarizeTensor(t, loaded.external));
}
