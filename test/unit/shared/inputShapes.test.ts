/** Set Input Shape's pure parts: what the user types, the glob setting, which shape wins. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assumedDims,
  assumedDimsNote,
  formatShape,
  globMatches,
  parseShape,
  resolveInputShapes,
  rulesFromSetting,
  verdictText,
} from '../../../src/shared/inputShapes';

describe('parseShape', () => {
  const declared = [1, 3, 'H', 'W'];

  test('accepts x, ×, commas, spaces and brackets', () => {
    for (const text of [
      '1x3x224x224',
      '1×3×224×224',
      '1, 3, 224, 224',
      '[1,3,224,224]',
      ' 1 3 224 224 ',
      '1X3X224X224',
    ])
      assert.deepEqual(parseShape(text, declared), { dims: [1, 3, 224, 224] }, text);
  });

  test('names a symbolic dimension left in', () => {
    const r = parseShape('1x3xHx224', declared);
    assert.ok('error' in r);
    assert.match(r.error, /Replace 'H' with a number/);
  });

  test('refuses zero, negatives, fractions and an empty text', () => {
    for (const text of ['1x3x0x224', '1x3x-4x224', '1x3x2.5x224', '', '  '])
      assert.ok('error' in parseShape(text, declared), text);
    const r = parseShape('1x3x0x224', declared);
    assert.ok('error' in r && /positive integer.*'0'/.test(r.error), JSON.stringify(r));
  });

  test('checks the rank and the dims the model fixes', () => {
    const rank = parseShape('1x3x224', declared);
    assert.ok('error' in rank && /has 4 dimensions \(1x3xHxW\); got 3/.test(rank.error));
    const channels = parseShape('1x4x224x224', declared);
    assert.ok('error' in channels && /Dimension 2 is fixed at 3/.test(channels.error));
    // An unnamed dimension ('' or -1 as some exporters write) is free.
    assert.deepEqual(parseShape('2x8', ['', -1]), { dims: [2, 8] });
    // Without a declared shape, any rank goes.
    assert.deepEqual(parseShape('7'), { dims: [7] });
  });

  test('formatShape prefills the box', () => {
    assert.equal(formatShape([1, 3, 'H', 'W']), '1x3xHxW');
    assert.equal(formatShape(['batch', '', 10]), 'batchx?x10');
  });
});

describe('modelLens.inputShapes', () => {
  test('reads the object form and the array form, and names bad entries', () => {
    const object = rulesFromSetting({
      '**/ocr/*.onnx': { x: [1, 3, 48, 320] },
      'models/*.onnx': { input: '1x3x224x224' },
      'bad/*.onnx': { x: [1, 0] },
    });
    assert.deepEqual(object.rules, [
      { glob: '**/ocr/*.onnx', shapes: { x: [1, 3, 48, 320] } },
      { glob: 'models/*.onnx', shapes: { input: [1, 3, 224, 224] } },
    ]);
    assert.equal(object.problems.length, 1);
    assert.match(object.problems[0], /^bad\/\*\.onnx: input 'x'/);

    const array = rulesFromSetting([
      { glob: '**/ocr/*.onnx', input: 'x', shape: [1, 3, 48, 320] },
      { glob: '**/*.onnx', shape: [1] },
    ]);
    assert.deepEqual(array.rules, [{ glob: '**/ocr/*.onnx', shapes: { x: [1, 3, 48, 320] } }]);
    assert.match(array.problems[0], /^entry 2:/);
    assert.deepEqual(rulesFromSetting(undefined), { rules: [], problems: [] });
    assert.equal(rulesFromSetting(42).problems.length, 1);
  });

  test('globs are relative to a workspace folder, ** matches outside too', () => {
    const folders = ['/ws'];
    assert.ok(globMatches('**/ocr/*.onnx', '/ws/models/ocr/rec.onnx', folders));
    assert.ok(globMatches('**/ocr/*.onnx', '/elsewhere/ocr/rec.onnx', []));
    assert.ok(globMatches('ocr/*.onnx', '/ws/ocr/rec.onnx', folders));
    assert.ok(!globMatches('ocr/*.onnx', '/ws/models/ocr/rec.onnx', folders));
    assert.ok(!globMatches('**/ocr/*.onnx', '/ws/ocr/sub/rec.onnx', folders));
    assert.ok(globMatches('**/*.{onnx,ort}', '/ws/a/b.ort', folders));
    assert.ok(globMatches('/abs/m?.onnx', '/abs/m1.onnx', folders));
    assert.ok(!globMatches('**/ocr/*.onnx', '/ws/ocr.onnx', folders));
    assert.ok(globMatches('**/rec[0-9].onnx', '/ws/rec7.onnx', folders));
    assert.ok(globMatches('models/**', '/ws/models/a/b/c.onnx', folders));
    assert.ok(globMatches('**\\ocr\\*.onnx'.replace(/\\/g, '/'), 'C:\\ws\\ocr\\a.onnx', []));
  });

  test('the file\u2019s own shape wins over the globs, per input', () => {
    const rules = rulesFromSetting({
      '**/*.onnx': { x: [1, 3, 32, 32], y: [1, 10] },
      '**/ocr/*.onnx': { x: [1, 3, 48, 320] },
    }).rules;
    const file = '/ws/ocr/rec.onnx';
    assert.deepEqual(resolveInputShapes(file, rules, undefined, ['/ws']), {
      x: [1, 3, 48, 320],
      y: [1, 10],
    });
    assert.deepEqual(resolveInputShapes(file, rules, { [file]: { x: [1, 3, 64, 640] } }, ['/ws']), {
      x: [1, 3, 64, 640],
      y: [1, 10],
    });
    assert.equal(resolveInputShapes('/other/a.txt', [], { [file]: { x: [1] } }), undefined);
    assert.deepEqual(resolveInputShapes(file, [], { [file]: { x: [2] } }), { x: [2] });
  });
});

describe('what the status bar and hover say', () => {
  test('the verdict names the dims counted as 1', () => {
    assert.equal(assumedDims(['H', 'W']), 'H=W=1');
    assert.equal(verdictText('stm32h743', 'fits', ['H', 'W']), 'stm32h743: fits at H=W=1?');
    assert.equal(verdictText('stm32h743', 'fits', []), 'stm32h743: fits');
    assert.equal(verdictText('stm32h743', 'RAM 120%', undefined), 'stm32h743: RAM 120%');
    assert.match(
      assumedDimsNote(['batch']),
      /assume batch=1: the symbolic input dimension batch counts as 1/,
    );
    assert.match(assumedDimsNote(['H', 'W']), /dimensions H, W count as 1.*Set Input Shape/);
  });
});
