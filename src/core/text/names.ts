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
/** A scope line for a single node must save at least this much. */
const MIN_SINGLE_SCOPE_LENGTH = 16;
/** A name up to this long needs no scope. */
const SHORT_NAME = 24;
/** What a name may keep after its scope (longer, and a deeper scope is taken). */
const MAX_REST = 34;
/** How far ahead a scope's coverage is counted. */
const LOOKAHEAD = 64;

/** `name` is inside `scope` with a short enough rest. */
function fits(name: string, scope: string): boolean {
  return (
    name.startsWith(`${scope}/`) &&
    name.length - scope.length - 1 <= MAX_REST &&
    ELIDED_REST.test(name.slice(scope.length + 1))
  );
}

/**
 * The module scope each node of a node list prints in, from the nodes' names (module paths as
 * exporters write them). A scope stays while the names fit in it (the rest after it is short);
 * when a name doesn't, the next scope is the module of that name that the most of the following
 * nodes fit in, the deepest of those on a tie: `/layer1/layer1.0` for ResNet's blocks,
 * `/features/features.1/features.1.0/block` for EfficientNet's, `/features` for a flat
 * Sequential. A short name, or one that is not a path (`Identity_3`), keeps the scope in effect
 * (it prints in full); so does a name no module would save much on.
 */
export function moduleScopes(names: readonly string[]): string[] {
  const scopes: string[] = [];
  let current = '';
  names.forEach((name, i) => {
    if ((current && fits(name, current)) || !isPath(name) || name.length <= SHORT_NAME) {
      scopes.push(current);
      return;
    }
    const parts = name.split('/');
    let best = '';
    let bestCoverage = 0;
    // torch.onnx's paths start with '/', TensorFlow's (TFLite, tf2onnx) with the model's name.
    for (let j = name.startsWith('/') ? 2 : 1; j < parts.length; j++) {
      const scope = parts.slice(0, j).join('/');
      if (scope.length < MIN_SCOPE_LENGTH || !fits(name, scope)) continue;
      if (!ELIDED_REST.test(scope.replace(/^\//, ''))) continue;
      let coverage = 0;
      for (let k = i; k < names.length && k < i + LOOKAHEAD; k++) {
        if (!isPath(names[k])) continue;
        if (!fits(names[k], scope)) break;
        coverage++;
      }
      if (coverage >= bestCoverage) {
        best = scope;
        bestCoverage = coverage;
      }
    }
    if (best && (bestCoverage > 1 || best.length >= MIN_SINGLE_SCOPE_LENGTH)) current = best;
    scopes.push(current);
  });
  return scopes;
}

/** A module path as exporters write node names: `/layer1/conv1/Conv`, `model/conv2d/Relu6`. */
function isPath(name: string): boolean {
  return name.startsWith('/') || (name.includes('/') && !name.startsWith('…'));
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
