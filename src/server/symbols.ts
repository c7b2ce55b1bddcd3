/**
 * The outline: the graph signature, the initializers, then the layers grouped by the first part
 * of their exporter names (`/layer1/layer1.0/conv1/Conv` goes under `layer1`). Names are the full
 * ones, also where the text view shortens them to their module scope (`[…/conv1/Conv]`), and the
 * initializers and weight-only nodes the view folds on open are listed like the rest.
 */
import { DocumentSymbol, SymbolKind, type Range } from 'vscode-languageserver/node';
import { tensorTypeText } from '../core/text/printer';
import type { OpenModel } from './modelStore';

function lineRange(line: number, length: number): Range {
  return { start: { line, character: 0 }, end: { line, character: Math.max(0, length) } };
}

export function documentSymbols(
  model: OpenModel,
  lineLength: (line: number) => number,
): DocumentSymbol[] {
  const layout = model.printed?.layout;
  const report = model.report;
  if (!layout) return [];
  const symbols: DocumentSymbol[] = [];
  const graph = lineRange(layout.graphLine, lineLength(layout.graphLine));
  symbols.push(
    DocumentSymbol.create('inputs and outputs', undefined, SymbolKind.Interface, graph, graph),
  );
  const initializers = model.loaded?.model.graph.initializers ?? [];
  const weights: DocumentSymbol[] = [];
  for (const t of initializers) {
    const line = layout.definitions.get(t.name);
    if (line === undefined) continue;
    const range = lineRange(line, lineLength(line));
    const type = tensorTypeText(t.dataType, t.dims);
    weights.push(DocumentSymbol.create(t.name, type, SymbolKind.Constant, range, range));
  }
  if (weights.length > 0) {
    const first = weights[0].range;
    const last = weights[weights.length - 1].range;
    const range = { start: first.start, end: last.end };
    symbols.push(
      DocumentSymbol.create(
        'initializers',
        `${weights.length}`,
        SymbolKind.Namespace,
        range,
        first,
        weights,
      ),
    );
  }
  const groups = new Map<string, DocumentSymbol>();
  const nodes = report?.nodes ?? [];
  for (const n of [...nodes].sort((a, b) => a.fileIndex - b.fileIndex)) {
    const line = layout.nodeLines[n.fileIndex];
    if (line === undefined) continue;
    const range = lineRange(line, lineLength(line));
    const detail = n.macs > 0 ? `${n.op} · ${Math.round(n.share.macs * 1000) / 10}% MACs` : n.op;
    const symbol = DocumentSymbol.create(
      n.name,
      detail,
      n.macs > 0 ? SymbolKind.Function : SymbolKind.Field,
      range,
      range,
    );
    const group = n.name.startsWith('/') ? n.name.split('/')[1] : undefined;
    if (!group || n.name.split('/').length <= 2) {
      symbols.push(symbol);
      continue;
    }
    let parent = groups.get(group);
    if (!parent) {
      parent = DocumentSymbol.create(group, undefined, SymbolKind.Module, range, range, []);
      groups.set(group, parent);
      symbols.push(parent);
    }
    parent.children!.push(symbol);
    parent.range = { start: parent.range.start, end: range.end };
  }
  return symbols;
}
