/** Element type names as the ONNX textual syntax spells them (Syntax.md `prim-type`). */
import { dtypeName } from '../onnx/dtype';

const TEXT_NAMES: Record<string, string> = { float32: 'float', float64: 'double' };

export function textTypeName(dtype: number): string {
  const name = dtypeName(dtype);
  return TEXT_NAMES[name] ?? name;
}

/**
 * The elision mark of the text view. A scope line `…/ = "/layer1/layer1.0"` sets the module
 * scope of the node lines below it; there `…/conv1/Conv` stands for `/layer1/layer1.0/conv1/Conv`.
 * `…` (U+2026) can't start a name of the ONNX text syntax, so the form is unambiguous: a real
 * name starting with it prints quoted.
 */
export const ELISION = '…/';

/** What may follow `…/` unquoted (exporters' module paths: `block.0.0/Conv_output_0`). */
const ELIDED_REST = /^[A-Za-z0-9_.\-/]+$/;

/** Modules shorter than this are not worth a scope line. */
const MIN_SCOPE_LENGTH = 8;

/**
 * The module enclosing a node named by its module path: the path without the node's own module
 * and op (`/layer1/layer1.0/conv1/Conv` → `/layer1/layer1.0`), or '' when the name is not such a
 * path or the module is too short to be worth shortening.
 */
export function enclosingModule(nodeName: string): string {
  if (!nodeName.startsWith('/')) return '';
  const parts = nodeName.split('/');
  // ['', module…, own module, op]
  if (parts.length < 4) return '';
  const scope = parts.slice(0, -2).join('/');
  return scope.length >= MIN_SCOPE_LENGTH && ELIDED_REST.test(scope.slice(1)) ? scope : '';
}

/** `name` as shown in `scope` (`…/conv1/Conv`), or undefined when it prints in full. */
export function displayName(name: string, scope: string): string | undefined {
  if (!scope || !name.startsWith(`${scope}/`)) return undefined;
  const rest = name.slice(scope.length + 1);
  return ELIDED_REST.test(rest) ? ELISION + rest : undefined;
}

/** The full name a displayed `…/rest` stands for in `scope`. */
export function expandName(displayed: string, scope: string): string {
  return displayed.startsWith(ELISION) ? `${scope}/${displayed.slice(ELISION.length)}` : displayed;
}

/**
 * The tensor or node name under a column of a printed line, in full: a quoted name, a plain
 * identifier, or `…/rest` expanded with the line's scope (TextLayout.scopes). For go to
 * definition and anything else that reads a name off the text view.
 */
export function nameAtColumn(
  lineText: string,
  character: number,
  scope: string | undefined,
): { name: string; start: number; end: number } | undefined {
  const pattern = /"((?:[^"\\]|\\.)*)"|…\/[A-Za-z0-9_.\-/]+|[A-Za-z_][A-Za-z0-9_]*/g;
  for (let m = pattern.exec(lineText); m; m = pattern.exec(lineText)) {
    const start = m.index;
    const end = m.index + m[0].length;
    if (character < start || character > end) continue;
    if (m[1] !== undefined) {
      const name = m[1].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
      return { name, start, end };
    }
    if (m[0].startsWith(ELISION)) {
      return scope ? { name: expandName(m[0], scope), start, end } : undefined;
    }
    return { name: m[0], start, end };
  }
  return undefined;
}
