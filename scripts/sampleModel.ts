/**
 * A small CNN (convs, residual add, pooling, classifier) for `npm start` and demos, built with
 * the same encoder the product saves with. Run directly to write it: `tsx scripts/sampleModel.ts OUT`.
 */
import { saveModelFile } from '../src/core/onnx/load';
import { DataType, type Model } from '../src/core/onnx/types';
import { ModelBuilder } from '../test/helpers/modelBuilder';

export function sampleCnn(): Model {
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('input', DataType.FLOAT, ['batch', 3, 64, 64]);
  const conv = (name: string, input: string, cin: number, cout: number, stride = 1): string => {
    const w = b.weight(`${name}.weight`, [cout, cin, 3, 3]);
    const bias = b.weight(`${name}.bias`, [cout]);
    const [y] = b.node(
      'Conv',
      [input, w, bias],
      { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [stride, stride] },
      { name: `/${name}/Conv` },
    );
    return b.node('Relu', [y], {}, { name: `/${name}/Relu` })[0];
  };
  const c1 = conv('stem', x, 3, 16, 2);
  const c2 = conv('block/conv1', c1, 16, 16);
  const c3 = conv('block/conv2', c2, 16, 16);
  const [sum] = b.node('Add', [c1, c3], {}, { name: '/block/Add' });
  const c4 = conv('down', sum, 16, 32, 2);
  const [pooled] = b.node('GlobalAveragePool', [c4], {}, { name: '/pool/GlobalAveragePool' });
  const [flat] = b.node('Flatten', [pooled], { axis: 1 }, { name: '/flatten/Flatten' });
  const fc = b.weight('fc.weight', [10, 32]);
  const fcb = b.weight('fc.bias', [10]);
  const [logits] = b.node(
    'Gemm',
    [flat, fc, fcb],
    { transB: 1 },
    { name: '/fc/Gemm', outputs: ['logits'] },
  );
  b.output(logits, DataType.FLOAT, ['batch', 10]);
  return b.build();
}

if (require.main === module) saveModelFile(sampleCnn(), process.argv[2] ?? 'sample-cnn.onnx');
