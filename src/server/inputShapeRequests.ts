/**
 * The server's side of Set Input Shape: a model's inputs for the command, the quick fix on the
 * symbolic-dimension diagnostic, and that diagnostic's wording in the editor.
 */
import type { CodeAction, CodeActionContext, Diagnostic } from 'vscode-languageserver/node';
import type { AnalysisReport } from '../core/analyze';
import { assumedDims } from '../shared/inputShapes';
import type { InputShapesResult } from '../shared/protocol';
import type { OpenModel } from './modelStore';

/** The core's note (analyze.ts): "symbolic input dimensions 'H', 'W' counted as 1; fix with …". */
const SYMBOLIC = /^symbolic input dimensions? .* counted as 1/;

/** The client command the quick fix and the status bar run (src/extension/inputShapes.ts). */
export const SET_INPUT_SHAPE_COMMAND = 'modelLens.setInputShape';

/** The symbolic-dimension note as the editor shows it: what is assumed, and the command. */
export function symbolicMessage(message: string, report: AnalysisReport): string {
  if (!SYMBOLIC.test(message) || report.symbolicDims.length === 0) return message;
  const dims = report.symbolicDims;
  const plural = dims.length > 1;
  return `symbolic input dimension${plural ? 's' : ''} ${dims.map((d) => `'${d}'`).join(', ')} counted as 1: every figure assumes ${assumedDims(dims)}. Set the real shape with Model Lens: Set Input Shape (Ctrl+. here).`;
}

/** The graph inputs a user feeds (not initializers), as declared, and the shape set for each. */
export function inputShapesOf(model: OpenModel): InputShapesResult {
  const graph = model.loaded?.model.graph;
  const initializers = new Set(graph?.initializers.map((t) => t.name) ?? []);
  const inputs = (graph?.inputs ?? [])
    .filter((i) => !initializers.has(i.name))
    .map((i) => {
      const shape = i.type?.kind === 'tensor' ? i.type.shape : undefined;
      const set = model.inputShapes?.[i.name];
      return { name: i.name, declared: shape ? [...shape] : null, ...(set ? { set } : {}) };
    });
  return { path: model.path, inputs, symbolicDims: model.report?.symbolicDims ?? [] };
}

/**
 * "Set input shape…" on the symbolic-dimension diagnostic, or anywhere on the graph signature
 * line, while a dimension counts as 1 or a shape is set (to change it).
 */
export function inputShapeAction(
  model: OpenModel,
  uri: string,
  line: number,
  context: CodeActionContext,
): CodeAction | undefined {
  const dims = model.report?.symbolicDims ?? [];
  const set = model.inputShapes;
  if (dims.length === 0 && !set) return undefined;
  const diagnostics: Diagnostic[] = context.diagnostics.filter(
    (d) => typeof d.message === 'string' && SYMBOLIC.test(d.message),
  );
  if (diagnostics.length === 0 && line !== model.printed?.layout.graphLine) return undefined;
  const title =
    dims.length > 0
      ? `Set input shape (${dims.join(', ')} count as 1 now)…`
      : `Change input shape (${Object.entries(set ?? {})
          .map(([name, shape]) => `${name}=${shape.join('x')}`)
          .join(', ')})…`;
  return {
    title,
    kind: 'quickfix',
    diagnostics,
    isPreferred: diagnostics.length > 0,
    command: { title, command: SET_INPUT_SHAPE_COMMAND, arguments: [uri] },
  };
}
