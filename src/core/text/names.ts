/** Element type names as the ONNX textual syntax spells them (Syntax.md `prim-type`). */
import { dtypeName } from '../onnx/dtype';

const TEXT_NAMES: Record<string, string> = { float32: 'float', float64: 'double' };

export function textTypeName(dtype: number): string {
  const name = dtypeName(dtype);
  return TEXT_NAMES[name] ?? name;
}
