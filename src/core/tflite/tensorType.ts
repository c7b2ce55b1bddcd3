/**
 * TensorType names and storage widths (schema.fbs `enum TensorType`). INT4 and INT2 are packed
 * two and four to a byte in buffers; STRING, RESOURCE and VARIANT have no fixed width.
 */
import type { TensorType } from './types';

interface TensorTypeInfo {
  readonly name: string;
  /** Bits per element as stored, or undefined when the size is not per element. */
  readonly bits?: number;
}

const TENSOR_TYPES: readonly TensorTypeInfo[] = [
  { name: 'FLOAT32', bits: 32 },
  { name: 'FLOAT16', bits: 16 },
  { name: 'INT32', bits: 32 },
  { name: 'UINT8', bits: 8 },
  { name: 'INT64', bits: 64 },
  { name: 'STRING' },
  { name: 'BOOL', bits: 8 },
  { name: 'INT16', bits: 16 },
  { name: 'COMPLEX64', bits: 64 },
  { name: 'INT8', bits: 8 },
  { name: 'FLOAT64', bits: 64 },
  { name: 'COMPLEX128', bits: 128 },
  { name: 'UINT64', bits: 64 },
  { name: 'RESOURCE' },
  { name: 'VARIANT' },
  { name: 'UINT32', bits: 32 },
  { name: 'UINT16', bits: 16 },
  { name: 'INT4', bits: 4 },
  { name: 'BFLOAT16', bits: 16 },
  { name: 'INT2', bits: 2 },
];

/** `INT8`, or `UNKNOWN_<n>` for a type newer than this table. */
export function tensorTypeName(type: TensorType | number): string {
  return TENSOR_TYPES[type]?.name ?? `UNKNOWN_${type}`;
}

/** Bits per stored element, or undefined (STRING, RESOURCE, VARIANT, unknown types). */
export function tensorTypeBits(type: TensorType | number): number | undefined {
  return TENSOR_TYPES[type]?.bits;
}

/** Number of types this reader knows (the next schema's first new type has this number). */
export const KNOWN_TENSOR_TYPES = TENSOR_TYPES.length;
