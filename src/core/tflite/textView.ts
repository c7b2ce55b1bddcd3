/**
 * What the text view adds for a TFLite model (text/modelView.ts): a preamble naming the format,
 * and each quantized tensor's parameters, compactly, beside its statistics:
 *
 *   q per-axis 0 ×8 · scale 0.00213…0.0107 · zp 0
 *   q scale 0.0039 · zp -128
 *
 * Graph inputs and outputs have no line of their own to annotate, so their quantization is in
 * the preamble, which a user reads first: what to feed the model, and how to read its output.
 */
import type { Tensor } from '../onnx/types';
import { quantizationOf } from './quantization';
import { sparseStorageOf, sparseStorageText } from './sparse';
import type { TfliteExtras } from './translate';
import type { Quantization } from './types';

export function quantizationText(q: Quantization): string | undefined {
  if (q.details?.kind === 'blockwise') return `q blockwise, blocks of ${q.details.blockSize}`;
  if (q.details) return `q ${q.details.kind}`;
  if (q.scale.length === 0) return undefined;
  const zp = range(q.zeroPoint.length > 0 ? q.zeroPoint : [0]);
  if (q.scale.length === 1) return `q scale ${range(q.scale)} · zp ${zp}`;
  return `q per-axis ${q.quantizedDimension} ×${q.scale.length} · scale ${range(q.scale)} · zp ${zp}`;
}

/** The quantization and sparse storage of a translated constant, for its summary comment. */
export function tensorQuantizationText(t: Tensor): string | undefined {
  const q = quantizationOf(t);
  const sparse = sparseStorageOf(t);
  const parts = [q && quantizationText(q), sparse && sparseStorageText(sparse)].filter(Boolean);
  return parts.length > 0 ? parts.join(' · ') : undefined;
}

/** `#` lines above the header: the format and the edge tensors' quantization. */
export function tflitePreamble(
  extras: TfliteExtras,
  inputs: readonly string[],
  outputs: readonly string[],
): string[] {
  const { model } = extras;
  const version = model.minRuntimeVersion
    ? `, min runtime ${oneLine(model.minRuntimeVersion)}`
    : '';
  const lines = [
    `# TensorFlow Lite model (schema ${model.version}${version}): one line per operator of subgraph ${extras.subgraph}, in execution order`,
  ];
  if (extras.otherSubgraphs > 0) {
    lines.push(`# ${extras.otherSubgraphs} more subgraph(s) (IF/WHILE bodies) are not shown`);
  }
  for (const [role, names] of [
    ['input', inputs],
    ['output', outputs],
  ] as const) {
    for (const name of names) {
      const q = extras.quantization.get(name);
      const text = q && quantizationText(q);
      if (text) lines.push(`# ${role} ${oneLine(name)}: ${text}`);
    }
  }
  return lines;
}

function range(values: readonly number[]): string {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  return lo === hi ? short(lo) : `${short(lo)}…${short(hi)}`;
}

function short(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(3)));
}

/** Names and descriptions come from the file: keep them on their `#` line. */
function oneLine(text: string): string {
  return text.replace(/[\r\n\u2028\u2029]+/g, ' ');
}
