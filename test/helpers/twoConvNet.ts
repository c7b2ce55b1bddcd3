/**
 * The small CNN the other-formats tests (hover, graph side panel) measure: input [1, 3, 16, 16]
 * → /stem/Conv (16 filters) → Relu → a second Conv named `secondConv` (32 filters) → classifier,
 * saved as `net.onnx` in `dir`; returns its path.
 */
import * as path from 'node:path';
import { saveModelFile } from '../../src/core/onnx/load';
import { DataType } from '../../src/core/onnx/types';
import { ModelBuilder } from './modelBuilder';

export function writeTwoConvNet(dir: string, secondConv = '/block/Conv'): string {
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('input', DataType.FLOAT, [1, 3, 16, 16]);
  const [c1] = b.node(
    'Conv',
    [x, b.weight('w1', [16, 3, 3, 3])],
    { pads: [1, 1, 1, 1] },
    { name: '/stem/Conv', outputs: ['/stem/Conv_output_0'] },
  );
  const [r] = b.node('Relu', [c1], {}, { name: '/stem/Relu', outputs: ['/stem/Relu_output_0'] });
  const [c2] = b.node(
    'Conv',
    [r, b.weight('w2', [32, 16, 3, 3])],
    { pads: [1, 1, 1, 1] },
    { name: secondConv, outputs: ['/block/Conv_output_0'] },
  );
  b.classifierHead(c2, 32);
  const file = path.join(dir, 'net.onnx');
  saveModelFile(b.build(), file);
  return file;
}
