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
const MIN_SCOPE_LENGTH = 12;
/** A name up to this long after its new scope is short enough: picks the scope. */
const PICK_REST = 24;
/** A name up to this long after the scope in effect keeps it (fewer scope lines). */
const STAY_REST = 34;

/**
 * The module scope a node named by its module path prints in: the one in effect while the rest
 * of the name after it is short, else the shallowest module the name is short after
 * (`/features/features.1/features.1.0/block/block.0/block.0.0/Conv` →
 * `/features/features.1/features.1.0/block`, leaving `block.0/block.0.0/Conv`). A name that is
 * short anyway, or not a path, keeps the scope in effect (it then prints in full).
 */
export function moduleScope(nodeName: string, current: string): string {
  if (current && nodeName.startsWith(`${current}/`)) {
    if (nodeName.length - current.length - 1 <= STAY_REST) return current;
  }
  if (!nodeName.startsWith('/') || nodeName.length <= PICK_REST) return current;
  const parts = nodeName.split('/');
  let deepest = '';
  for (let j = 2; j < parts.length; j++) {
    const scope = parts.slice(0, j).join('/');
    if (scope.length < MIN_SCOPE_LENGTH || !ELIDED_REST.test(scope.slice(1))) continue;
    deepest = scope;
    if (nodeName.length - scope.length - 1 <= PICK_REST) return scope;
  }
  return deepest || current;
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
 * The mark of an output named after its node, as exporters name them: on the line of node
 * `/layer1/layer1.0/conv1/Conv`, the output `/layer1/layer1.0/conv1/Conv_output_0` shows as
 * `…_output_0`.
 */
export const OWN_OUTPUT = '…_';

/** What may follow `…_` (the suffix after the node's name, `output_0`). */
const OWN_SUFFIX = /^[A-Za-z0-9_.]+$/;

/** An output of node `nodeName` as `…_output_0`, or undefined when it isn't named after it. */
export function ownOutputName(output: string, nodeName: string): string | undefined {
  if (!nodeName || !output.startsWith(`${nodeName}_`)) return undefined;
  const rest = output.slice(nodeName.length + 1);
  return OWN_SUFFIX.test(rest) ? OWN_OUTPUT + rest : undefined;
}

/**
 * The tensor or node name under a column of a printed line, in full: a quoted name, a plain
 * identifier, `…/rest` expanded with the line's scope (TextLayout.scopes), or `…_output_0`
 * expanded with the line's node name. For go to
 * definition and anything else that reads a name off the text view.
 */
export function nameAtColumn(
  lineText: string,
  character: number,
  scope: string | undefined,
): { name: string; start: number; end: number } | undefined {
  const pattern =
    /"((?:[^"\\]|\\.)*)"|…\/[A-Za-z0-9_.\-/]+|…_[A-Za-z0-9_.]+|[A-Za-z_][A-Za-z0-9_]*/g;
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
    if (m[0].startsWith(OWN_OUTPUT)) {
      // The node's own name is the label at the start of the line.
      const label = /^\s*\[("(?:[^"\\]|\\.)*"|…\/[A-Za-z0-9_.\-/]+|[A-Za-z_][A-Za-z0-9_]*)\]/.exec(
        lineText,
      );
      const node = label && nameAtColumn(lineText, label.index + label[0].indexOf('[') + 1, scope);
      return node
        ? { name: `${node.name}_${m[0].slice(OWN_OUTPUT.length)}`, start, end }
        : undefined;
    }
    return { name: m[0], start, end };
  }
  return undefined;
}
