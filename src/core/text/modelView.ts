/**
 * The text view of a model as every front end shows it: the printed model with each initializer
 * summarised by its statistics. The analyzer server shows this text (VS Code's `onnx-model:`
 * view, other editors' buffers) and `model-lens text` prints it, so positions in one are
 * positions in the other.
 */
import type { LoadedModel } from '../onnx/load';
import { printModel, type PrintedModel } from './printer';
import { summarizeTensor } from './summary';
import { tensorQuantizationText, tflitePreamble } from '../tflite/textView';

export function printModelView(loaded: LoadedModel): PrintedModel {
  const extras = loaded.tflite;
  if (!extras) return printModel(loaded.model, (t) => summarizeTensor(t, loaded.external));
  // TFLite: quantization beside each constant's statistics, and a preamble (tflite/textView.ts).
  const { graph } = loaded.model;
  return printModel(
    loaded.model,
    (t) =>
      [tensorQuantizationText(t), summarizeTensor(t, loaded.external)].filter(Boolean).join(' · '),
    tflitePreamble(
      extras,
      graph.inputs.map((i) => i.name),
      graph.outputs.map((o) => o.name),
    ),
  );
}
