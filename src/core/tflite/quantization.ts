/**
 * The quantization parameters of translated TFLite constants. ONNX keeps scales and zero points
 * in tensors of their own (DequantizeLinear's inputs), which weightOrigin.ts counts; TFLite keeps
 * them in the weight tensor's own `quantization` table. The translation (translate.ts) remembers
 * them here against the initializer it makes, so the cost stages can ask about any Tensor
 * without knowing which format it came from: an ONNX tensor simply has none.
 */
import { DataType, type Tensor } from '../onnx/types';
import type { Quantization } from './types';

const byTensor = new WeakMap<Tensor, Quantization>();

export function rememberQuantization(tensor: Tensor, quantization: Quantization): void {
  byTensor.set(tensor, quantization);
}

export function quantizationOf(tensor: Tensor | undefined): Quantization | undefined {
  return tensor ? byTensor.get(tensor) : undefined;
}

/**
 * Bytes the quantization parameters of `tensor` take in the file: its scales as float32 and
 * zero points as int64, as schema.fbs stores them (QuantizationParameters `scale: [float]`,
 * `zero_point: [long]`); 0 for a tensor without any (every ONNX tensor).
 */
export function storedQuantParamBytes(tensor: Tensor | undefined): number {
  const q = quantizationOf(tensor);
  return q ? q.scale.length * 4 + q.zeroPoint.length * 8 : 0;
}

/**
 * True for integer weights quantized symmetrically (every zero point 0, scales positive), per
 * tensor or per channel along `channelAxis`: their stored integers are the real values divided
 * by one scale per channel, so the per-channel SQNR of a re-quantization, a ratio, is the same on
 * the integers as on the dequantized values. TFLite's int8 convolution and fully connected
 * weights are exactly this (quantization spec: weights symmetric, zero point 0).
 */
export function isSymmetricQuantized(tensor: Tensor | undefined, channelAxis: number): boolean {
  const q = quantizationOf(tensor);
  if (!q || q.scale.length === 0 || q.details) return false;
  // The signed widths forEachNumberChunk reads (TFLite's weights are int8, biases int32).
  if (![DataType.INT8, DataType.INT16, DataType.INT32].includes(tensor!.dataType)) return false;
  if (q.scale.length > 1 && q.quantizedDimension !== channelAxis) return false;
  return q.zeroPoint.every((z) => z === 0) && q.scale.every((s) => s > 0);
}
