/** Facts about ONNX element types: names, bit widths, and which ones are floating point. */
import { DataType } from './types';

interface DTypeInfo {
  readonly name: string;
  /** Storage bits per element; 0 for variable-size (string) or unknown. */
  readonly bits: number;
  readonly float: boolean;
}

const INFO: Record<number, DTypeInfo> = {
  [DataType.UNDEFINED]: { name: 'undefined', bits: 0, float: false },
  [DataType.FLOAT]: { name: 'float32', bits: 32, float: true },
  [DataType.UINT8]: { name: 'uint8', bits: 8, float: false },
  [DataType.INT8]: { name: 'int8', bits: 8, float: false },
  [DataType.UINT16]: { name: 'uint16', bits: 16, float: false },
  [DataType.INT16]: { name: 'int16', bits: 16, float: false },
  [DataType.INT32]: { name: 'int32', bits: 32, float: false },
  [DataType.INT64]: { name: 'int64', bits: 64, float: false },
  [DataType.STRING]: { name: 'string', bits: 0, float: false },
  [DataType.BOOL]: { name: 'bool', bits: 8, float: false },
  [DataType.FLOAT16]: { name: 'float16', bits: 16, float: true },
  [DataType.DOUBLE]: { name: 'float64', bits: 64, float: true },
  [DataType.UINT32]: { name: 'uint32', bits: 32, float: false },
  [DataType.UINT64]: { name: 'uint64', bits: 64, float: false },
  [DataType.COMPLEX64]: { name: 'complex64', bits: 64, float: true },
  [DataType.COMPLEX128]: { name: 'complex128', bits: 128, float: true },
  [DataType.BFLOAT16]: { name: 'bfloat16', bits: 16, float: true },
  [DataType.FLOAT8E4M3FN]: { name: 'float8e4m3fn', bits: 8, float: true },
  [DataType.FLOAT8E4M3FNUZ]: { name: 'float8e4m3fnuz', bits: 8, float: true },
  [DataType.FLOAT8E5M2]: { name: 'float8e5m2', bits: 8, float: true },
  [DataType.FLOAT8E5M2FNUZ]: { name: 'float8e5m2fnuz', bits: 8, float: true },
  [DataType.UINT4]: { name: 'uint4', bits: 4, float: false },
  [DataType.INT4]: { name: 'int4', bits: 4, float: false },
  [DataType.FLOAT4E2M1]: { name: 'float4e2m1', bits: 4, float: true },
  [DataType.FLOAT8E8M0]: { name: 'float8e8m0', bits: 8, float: true },
  [DataType.UINT2]: { name: 'uint2', bits: 2, float: false },
  [DataType.INT2]: { name: 'int2', bits: 2, float: false },
};

export function dtypeName(dt: DataType): string {
  return INFO[dt]?.name ?? `dtype${dt}`;
}

/** Storage bits per element (sub-byte types are packed, so 4 for int4). */
export function dtypeBits(dt: DataType): number {
  return INFO[dt]?.bits ?? 0;
}

export function isFloatType(dt: DataType): boolean {
  return INFO[dt]?.float ?? false;
}

export function isKnownType(dt: DataType): boolean {
  return dt in INFO && dt !== DataType.UNDEFINED;
}

/** Bytes needed to store `elements` values of type `dt`, sub-byte types rounded up. */
export function storageBytes(dt: DataType, elements: number): number {
  return Math.ceil((elements * dtypeBits(dt)) / 8);
}

export function dtypeFromName(name: string): DataType | undefined {
  for (const [k, v] of Object.entries(INFO)) if (v.name === name) return Number(k) as DataType;
  return undefined;
}
