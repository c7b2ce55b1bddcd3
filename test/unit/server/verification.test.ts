/**
 * The verification a quick fix shows: the notification line is the lead sentence, the full report
 * starts with it, and a fix that changes what the model answers comes with the plain-words
 * warning (which the extension shows as a warning notification).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseModelBytes } from '../../../src/core/onnx/load';
import { DataType } from '../../../src/core/onnx/types';
import { verifyStates } from '../../../src/server/verification';
import { ModelBuilder } from '../../helpers/modelBuilder';

/** y = x·(sign·W): negating W turns every argmax into an argmin. */
function linear(sign: number) {
  const b = new ModelBuilder();
  const x = b.input('x', DataType.FLOAT, [1, 4]);
  const w = Array.from({ length: 16 }, (_, i) => sign * Math.sin(i + 1));
  b.node('MatMul', [x, b.initializer('w', DataType.FLOAT, [4, 4], w)], {}, { outputs: ['y'] });
  b.output('y', DataType.FLOAT, [1, 4]);
  return parseModelBytes(b.bytes());
}

describe('quick-fix verification', () => {
  it('leads with the SQNR and agreement sentence, and no warning for a faithful model', async () => {
    const r = await verifyStates(linear(1), linear(1));
    assert.equal(r.ok, true);
    assert.equal(r.warning, undefined);
    assert.equal(
      r.line,
      'output SQNR ∞ dB (identical outputs), top-1 agreement 100.0% on 8 random samples',
    );
    assert.equal(r.markdown.split('\n')[0], `**O${r.line.slice(1)}.**`);
  });

  it('warns, in the notification and at the top of the report, when the model answers otherwise', async () => {
    const r = await verifyStates(linear(1), linear(-1));
    assert.equal(r.ok, true, 'it ran; the warning says what is wrong');
    assert.match(
      r.warning ?? '',
      /^Warning: the compressed model now disagrees with the original on \d+\.\d% of inputs — it no longer behaves like the original\. Undo \(Ctrl\+Z\) or choose a milder setting\.$/,
    );
    const lines = r.markdown.split('\n');
    assert.match(
      lines[0],
      /^\*\*Output SQNR .* top-1 agreement \d+\.\d% on 8 random samples\.\*\*$/,
    );
    assert.equal(lines[2], `**${r.warning}**`);
  });
});
