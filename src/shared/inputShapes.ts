/**
 * Fixed input shapes for models with symbolic dimensions (`1×3×H×W`): parsing what the user
 * types, the `modelLens.inputShapes` setting's glob rules, which shape applies to a file, and the
 * words the status bar and hover use while symbolic dimensions still count as 1. Pure: the
 * extension (Set Input Shape) and the server (analysis) both use it.
 */

/** Whole shapes by graph input name, as the analysis takes them (the CLI's --input NAME=DIMS). */
export type InputShapes = Record<string, number[]>;

/** One rule of `modelLens.inputShapes`: files matching `glob` get these input shapes. */
export interface InputShapeRule {
  readonly glob: string;
  readonly shapes: InputShapes;
}

/** A declared dimension: a number, a symbolic name, or '' / null when unnamed and unknown. */
export type DeclaredDim = number | string | null;

/** `1x3xHxW`: a declared shape as the Set Input Shape box prefills it ('?' for an unnamed dim). */
export function formatShape(dims: readonly DeclaredDim[]): string {
  return dims.map((d) => (d === null || d === '' ? '?' : String(d))).join('x');
}

/**
 * What the user typed for an input's whole shape, checked against its declared shape: positive
 * integers separated by `x`, `×`, `,` or spaces (brackets allowed), as many as the declared rank,
 * equal to the declared numeric dims. Returns the dims, or a message saying what is wrong.
 */
export function parseShape(
  text: string,
  declared?: readonly DeclaredDim[],
): { dims: number[] } | { error: string } {
  const body = text
    .trim()
    .replace(/^\[(.*)\]$/, '$1')
    .trim();
  if (body === '') return { error: 'Type the shape, e.g. 1x3x224x224.' };
  const parts = body.split(/\s*[x×,]\s*|\s+/i);
  const bad = parts.filter(
    (p) => !/^\d+$/.test(p) || Number(p) <= 0 || !Number.isSafeInteger(Number(p)),
  );
  if (bad.length > 0) {
    const named = bad.filter((p) => /^[A-Za-z_]/.test(p));
    return {
      error:
        named.length > 0
          ? `Replace ${named.map((p) => `'${p}'`).join(', ')} with a number: every dimension must be a positive integer, e.g. 1x3x224x224.`
          : `Every dimension must be a positive integer (got ${bad.map((p) => `'${p}'`).join(', ')}), e.g. 1x3x224x224.`,
    };
  }
  const dims = parts.map(Number);
  if (declared) {
    if (dims.length !== declared.length) {
      return {
        error: `The input has ${declared.length} dimension${declared.length === 1 ? '' : 's'} (${formatShape(declared)}); got ${dims.length}.`,
      };
    }
    const clash = declared.findIndex((d, i) => typeof d === 'number' && d > 0 && d !== dims[i]);
    if (clash >= 0) {
      return {
        error: `Dimension ${clash + 1} is fixed at ${declared[clash]} in the model (${formatShape(declared)}); got ${dims[clash]}.`,
      };
    }
  }
  return { dims };
}

/** A value of InputShapes from a setting or storage: only well-formed entries are kept. */
export function shapesFrom(value: unknown): { shapes: InputShapes; problems: string[] } {
  const shapes: InputShapes = {};
  const problems: string[] = [];
  if (!isRecord(value)) return { shapes, problems: value === undefined ? [] : ['not an object'] };
  for (const [name, dims] of Object.entries(value)) {
    const list = typeof dims === 'string' ? parseShape(dims) : undefined;
    if (list && 'dims' in list) shapes[name] = list.dims;
    else if (Array.isArray(dims) && dims.length > 0 && dims.every(isPositiveInteger))
      shapes[name] = dims as number[];
    else problems.push(`input '${name}': expected positive integers such as [1, 3, 224, 224]`);
  }
  return { shapes, problems };
}

/**
 * The `modelLens.inputShapes` setting: `{ "GLOB": { "INPUT": [1, 3, 48, 320] } }`, or
 * `[{ "glob": "GLOB", "input": "INPUT", "shape": [1, 3, 48, 320] }]` (a shape may also be a string,
 * `"1x3x48x320"`). Malformed entries are skipped and named in `problems`.
 */
export function rulesFromSetting(value: unknown): { rules: InputShapeRule[]; problems: string[] } {
  const rules: InputShapeRule[] = [];
  const problems: string[] = [];
  if (value === undefined || value === null) return { rules, problems };
  if (Array.isArray(value)) {
    value.forEach((entry, i) => {
      const e = isRecord(entry) ? entry : {};
      const { shapes, problems: p } = shapesFrom(
        typeof e.input === 'string' ? { [e.input]: e.shape } : undefined,
      );
      if (typeof e.glob !== 'string' || typeof e.input !== 'string' || p.length > 0) {
        problems.push(
          `entry ${i + 1}: expected { "glob": "**/*.onnx", "input": "NAME", "shape": [1, 3, 224, 224] }`,
        );
      } else rules.push({ glob: e.glob, shapes });
    });
  } else if (isRecord(value)) {
    for (const [glob, entry] of Object.entries(value)) {
      const { shapes, problems: p } = shapesFrom(entry);
      problems.push(...p.map((m) => `${glob}: ${m}`));
      if (Object.keys(shapes).length > 0) rules.push({ glob, shapes });
    }
  } else problems.push('expected an object of glob → { input: shape } or an array');
  return { rules, problems };
}

/**
 * A glob as a regular expression over `/`-separated paths: `**` any number of folders, `*` and
 * `?` within a name, `{a,b}` alternatives, `[abc]` classes; as VS Code's `files.exclude`.
 */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  let braces = 0;
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') {
      if (glob[i + 1] === '*') {
        const slashAfter = glob[i + 2] === '/';
        const atSegmentStart = i === 0 || glob[i - 1] === '/';
        if (atSegmentStart && slashAfter) {
          re += '(?:[^/]*/)*';
          i += 2;
        } else {
          re += '.*';
          i += 1;
        }
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '{') {
      braces++;
      re += '(?:';
    } else if (c === '}' && braces > 0) {
      braces--;
      re += ')';
    } else if (c === ',' && braces > 0) re += '|';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        const body = glob
          .slice(i + 1, end)
          .replace(/^!/, '^')
          .replace(/\\/g, '\\\\');
        re += `[${body}]`;
        i = end;
      }
    } else re += c.replace(/[.+^$()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/**
 * Does `glob` match `file`? A glob is relative to a workspace folder (as in VS Code settings);
 * one starting with `/` is absolute, and one starting with `**` also matches outside any folder.
 */
export function globMatches(glob: string, file: string, folders: readonly string[]): boolean {
  const norm = (p: string): string => p.replace(/\\/g, '/');
  const abs = norm(file);
  const re = globToRegExp(norm(glob));
  if (glob.startsWith('/')) return re.test(abs);
  if (glob.startsWith('**') && re.test(abs.replace(/^\/+/, ''))) return true;
  return folders.some((folder) => {
    const f = norm(folder).replace(/\/+$/, '');
    return abs.startsWith(`${f}/`) && re.test(abs.slice(f.length + 1));
  });
}

/**
 * The input shapes the analysis of `file` uses: those of every matching rule (later rules win),
 * then the file's own, set by Set Input Shape, which win per input. Undefined when none applies.
 */
export function resolveInputShapes(
  file: string,
  rules: readonly InputShapeRule[],
  perFile: Readonly<Record<string, InputShapes>> | undefined,
  folders: readonly string[] = [],
): InputShapes | undefined {
  let shapes: InputShapes | undefined;
  for (const rule of rules) {
    if (globMatches(rule.glob, file, folders)) shapes = { ...shapes, ...rule.shapes };
  }
  const own = perFile?.[file];
  if (own && Object.keys(own).length > 0) shapes = { ...shapes, ...own };
  return shapes;
}

/** "H=W=1": the symbolic dimensions that still count as 1. */
export function assumedDims(symbolicDims: readonly string[]): string {
  return `${symbolicDims.join('=')}=1`;
}

/**
 * The status bar's verdict: `stm32h743: fits`, or while symbolic dims count as 1, `stm32h743:
 * fits at H=W=1?` — the figures assume the smallest possible input.
 */
export function verdictText(
  id: string,
  verdict: string,
  symbolicDims: readonly string[] | undefined,
): string {
  const base = `${id}: ${verdict}`;
  return symbolicDims && symbolicDims.length > 0
    ? `${base} at ${assumedDims(symbolicDims)}?`
    : base;
}

/** The hover's note while symbolic dims count as 1. */
export function assumedDimsNote(symbolicDims: readonly string[]): string {
  const dims = symbolicDims.join(', ');
  return `Figures assume ${assumedDims(symbolicDims)}: the symbolic input dimension${symbolicDims.length > 1 ? 's' : ''} ${dims} count${symbolicDims.length > 1 ? '' : 's'} as 1. Set the real shape with Model Lens: Set Input Shape (also Ctrl+. on the graph line, or the status bar).`;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function isPositiveInteger(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x > 0;
}
