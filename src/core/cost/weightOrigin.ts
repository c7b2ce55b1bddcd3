/**
 * Where a weight's bytes really live. Exporters feed weights through Identity (shared weights),
 * quantized models through DequantizeLinear, and some through Reshape/Transpose/Cast of a
 * constant. Following that chain back to the stored tensor lets us count a shared tensor once,
 * and count a quantized weight at its stored precision rather than as the float it becomes.
 * TFLite models (tflite/translate.ts) do the same with DEQUANTIZE (MediaPipe's fp16 weights,
 * int8 weights of hybrid models), and keep their scales and zero points in the stored tensor's
 * own quantization table rather than in tensors (tflite/quantization.ts).
 */
import type { GraphView } from '../graph/graph';
import type { ShapeInference } from '../shapes/infer';
import { allKnown } from '../shapes/dims';
import { storageBytes } from '../onnx/dtype';
import { elementCount } from '../onnx/tensorData';
import { DataType, type Tensor } from '../onnx/types';
import { TFLITE_DOMAIN } from '../tflite/attributes';
import { storedQuantParamBytes } from '../tflite/quantization';

export interface WeightOrigin {
  /** Name of the stored tensor (initializer, Constant output, or folded constant). */
  readonly source: string;
  /** The stored tensor, when it is an initializer or a Constant node's tensor. */
  readonly tensor?: Tensor;
  readonly dtype: DataType;
  readonly elements: number;
  /** Bytes of quantization parameters (scales, zero points) that travel with the weight. */
  readonly quantParamBytes: number;
  /** The name the consumer reads (after the chain), for reporting. */
  readonly consumedAs: string;
}

/** Ops that pass a constant through without making a new weight. */
const PASS_THROUGH = new Set([
  'Identity',
  'Reshape',
  'Transpose',
  'Squeeze',
  'Unsqueeze',
  'Flatten',
  'Cast',
]);

export function weightOrigin(
  name: string,
  view: GraphView,
  shapes: ShapeInference,
): WeightOrigin | undefined {
  if (!shapes.constants.has(name)) return undefined;
  let current = name;
  let quantParamBytes = 0;
  for (let hops = 0; hops < 16; hops++) {
    const info = shapes.constants.get(current);
    if (info?.tensor && (view.initializers.has(current) || !view.producer.has(current))) break;
    const producer = view.producer.get(current);
    if (!producer) break;
    if (producer.opType === 'DequantizeLinear') {
      for (const param of producer.inputs.slice(1)) {
        const t = param ? shapes.types.get(param) : undefined;
        if (t && allKnown(t.shape)) quantParamBytes += storageBytes(t.dtype, elementCount(t.shape));
      }
      current = producer.inputs[0];
      continue;
    }
    if (
      producer.domain === TFLITE_DOMAIN &&
      producer.opType === 'DEQUANTIZE' &&
      producer.inputs[0] &&
      shapes.constants.has(producer.inputs[0])
    ) {
      current = producer.inputs[0];
      continue;
    }
    if (
      PASS_THROUGH.has(producer.opType) &&
      producer.inputs[0] &&
      shapes.constants.has(producer.inputs[0])
    ) {
      current = producer.inputs[0];
      continue;
    }
    break;
  }
  const info = shapes.constants.get(current);
  const type = shapes.types.get(current);
  const tensor = info?.tensor;
  const dtype = tensor?.dataType ?? type?.dtype ?? DataType.UNDEFINED;
  const elements = tensor
    ? elementCount(tensor.dims)
    : type && allKnown(type.shape)
      ? elementCount(type.shape)
      : 0;
  return {
    source: info?.source ?? current,
    tensor,
    dtype,
    elements,
    quantParamBytes: quantParamBytes + storedQuantParamBytes(tensor),
    consumedAs: name,
  };
}
