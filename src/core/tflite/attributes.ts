/**
 * How a TFLite operator's options travel in the translated graph (translate.ts): as ONNX-style
 * attributes named after the schema's fields in snake_case (`stride_h`, `padding`,
 * `fused_activation_function`, …), on nodes of the domain below. The shape rules
 * (shapes/rules/tflite.ts), the cost table (opCosts.ts) and the weight table (weightSlots.ts)
 * read them back with the helpers here, so the names are written in one place.
 */
import { intAttr, intsAttr, stringAttr } from '../onnx/attributes';
import { AttributeType, type Attribute, type Node } from '../onnx/types';

/**
 * The domain of every translated TFLite operator. Not an ONNX domain: no ONNX rule, cost or
 * compression pass ever matches it by accident, and an op type is the schema's BuiltinOperator
 * name (`CONV_2D`) or, for a CUSTOM operator, its custom_code (`ethos-u`).
 */
export const TFLITE_DOMAIN = 'tflite';

/** Set (to the custom_code) on the nodes of CUSTOM operators, whose op type is that code. */
export const CUSTOM_CODE_ATTRIBUTE = 'custom_code';

const EMPTY = { floats: [], ints: [], strings: [], tensors: [], graphs: [], extra: [] } as const;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function intAttribute(name: string, value: number): Attribute {
  return { ...EMPTY, name, type: AttributeType.INT, i: value };
}

export function floatAttribute(name: string, value: number): Attribute {
  return { ...EMPTY, name, type: AttributeType.FLOAT, f: value };
}

export function stringAttribute(name: string, value: string): Attribute {
  return { ...EMPTY, name, type: AttributeType.STRING, s: encoder.encode(value) };
}

export function intsAttribute(name: string, values: readonly number[]): Attribute {
  return { ...EMPTY, name, type: AttributeType.INTS, ints: [...values] };
}

export function isTfliteNode(node: Node): boolean {
  return node.domain === TFLITE_DOMAIN;
}

/** The custom_code of a CUSTOM operator's node, or undefined for a builtin. */
export function customCode(node: Node): string | undefined {
  const a = node.attributes.find((x) => x.name === CUSTOM_CODE_ATTRIBUTE);
  return a?.s ? decoder.decode(a.s) : undefined;
}

/** Builtins that run another subgraph (or a delegate's kernel): their cost is elsewhere. */
export const SUBGRAPH_OPS: ReadonlySet<string> = new Set([
  'IF',
  'WHILE',
  'CALL',
  'CALL_ONCE',
  'DELEGATE',
  'STABLEHLO_COMPOSITE',
  'STABLEHLO_WHILE',
  'STABLEHLO_CASE',
]);

/**
 * Builtins with multiply-accumulates that the cost table (opCosts.ts) has no formula for yet:
 * reported as unknown rather than as 0.
 */
const UNCOSTED_LINEAR_OPS: ReadonlySet<string> = new Set([
  'BIDIRECTIONAL_SEQUENCE_LSTM',
  'BIDIRECTIONAL_SEQUENCE_RNN',
  'LSH_PROJECTION',
  'STABLEHLO_CONVOLUTION',
  'STABLEHLO_DOT_GENERAL',
  'STABLEHLO_REDUCE_WINDOW',
]);

/**
 * Ops whose computation Model Lens cannot know: a CUSTOM operator, a builtin newer than the
 * reader's table (`UNKNOWN_<code>`), one that runs another subgraph, or a linear one without a
 * formula yet. Their shapes come from the file and their MACs are reported as unknown, never 0.
 */
export function isOpaqueOp(node: Node): boolean {
  return (
    customCode(node) !== undefined ||
    node.opType.startsWith('UNKNOWN_') ||
    SUBGRAPH_OPS.has(node.opType) ||
    UNCOSTED_LINEAR_OPS.has(node.opType)
  );
}

export { intAttr, intsAttr, stringAttr };
