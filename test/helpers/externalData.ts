/**
 * Saves a test model the way torch.onnx.export does for large models: every initializer's
 * payload in one side file next to it (`model.onnx` + `model.onnx.data`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { saveModelFile } from '../../src/core/onnx/load';
import { rawBytes } from '../../src/core/onnx/tensorData';
import type { Model, Tensor } from '../../src/core/onnx/types';

export function saveWithSideFile(
  model: Model,
  file: string,
  sideName = `${path.basename(file)}.data`,
): void {
  const chunks: Uint8Array[] = [];
  let offset = 0;
  const initializers = model.graph.initializers.map((t): Tensor => {
    // rawBytes, not t.rawData: a large payload of a file opened lazily is a hole until read.
    const bytes = t.rawData && rawBytes(t, undefined);
    if (!bytes) return t;
    chunks.push(bytes);
    const entry = (key: string, value: string) => ({ extra: [], key, value });
    const { raw: _raw, rawData: _data, ...rest } = t;
    const moved: Tensor = {
      ...rest,
      externalEntries: [
        entry('location', sideName),
        entry('offset', String(offset)),
        entry('length', String(bytes.length)),
      ],
      dataLocation: 1,
    };
    offset += bytes.length;
    return moved;
  });
  fs.writeFileSync(path.join(path.dirname(file), sideName), Buffer.concat(chunks));
  const { raw: _graphRaw, ...graph } = model.graph;
  const { raw: _modelRaw, ...rest } = model;
  saveModelFile({ ...rest, graph: { ...graph, initializers } }, file);
}
