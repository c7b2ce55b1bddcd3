/**
 * A model file whose last bytes are one initializer's payload (the graph is the model's last
 * field, that initializer the graph's last), so that cutting the file short truncates that
 * payload and nothing else: the structure still opens (onnx/lazyFile.ts). Nodes keep only their
 * names, ops and wiring; inputs and outputs only their names.
 */
import { WireWriter } from '../../src/core/onnx/wire';
import type { Model } from '../../src/core/onnx/types';

export function payloadLastModel(model: Model, last: string): Uint8Array {
  const g = model.graph;
  const initializers = [
    ...g.initializers.filter((i) => i.name !== last),
    ...g.initializers.filter((i) => i.name === last),
  ];
  const w = new WireWriter();
  w.varintField(1, model.irVersion);
  for (const o of model.opsetImport) {
    w.message(8, (m) => {
      m.varintField(2, o.version);
    });
  }
  w.message(7, (gw) => {
    for (const n of g.nodes) gw.lengthDelimited(1, encodeNode(n));
    for (const v of g.inputs) gw.lengthDelimited(11, v.raw ?? encodeValueInfoName(v.name));
    for (const v of g.outputs) gw.lengthDelimited(12, v.raw ?? encodeValueInfoName(v.name));
    for (const i of initializers) {
      gw.message(5, (tw) => {
        for (const d of i.dims) tw.varintField(1, d);
        tw.varintField(2, i.dataType);
        tw.string(8, i.name);
        tw.lengthDelimited(9, i.rawData!);
      });
    }
  });
  return w.finish();
}

function encodeNode(n: Model['graph']['nodes'][number]): Uint8Array {
  const w = new WireWriter();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, n.name);
  w.string(4, n.opType);
  return w.finish();
}

function encodeValueInfoName(name: string): Uint8Array {
  const w = new WireWriter();
  w.string(1, name);
  return w.finish();
}
