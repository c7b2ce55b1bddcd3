/**
 * Weight quantization with error-compensating rounding (gptq.ts) from calibration data: the
 * same plans, formats and stored QDQ form as quantizeWeights, only the integers differ.
 *
 * Each weight gets its scales first (per channel, or one per tensor), chosen among shrunk
 * ranges by the output error each would cause with plain rounding, Σ H_jj (w − ŵ)² (the diagonal
 * of H weighs a column by its input's energy). A clipped range trades a few large weights'
 * error for a finer step on all the others, which at 2–4 bits is most of the error. Then GPTQ
 * rounds with those scales fixed.
 *
 * What it cannot compensate it rounds to nearest, and says so: grids (pow2/ternary/binary), a
 * weight several layers share (whose inputs differ), and a layer kind without a known input
 * patch (layerGeometry.ts).
 */
import { ExternalData } from '../onnx/externalData';
import type { LoadedModel } from '../onnx/load';
import { forEachFloatChunk, elementCount } from '../onnx/tensorData';
import { DataType } from '../onnx/types';
import {
  planQuantization,
  quantizeWeights,
  type QuantizeOptions,
  type WeightPlan,
} from '../compress/quantize';
import {
  channelIndexer,
  channelParams,
  containerType,
  packedLength,
  quantRange,
  quantizeValue,
  storeValue,
  type QuantizedWeight,
  type QuantScheme,
} from '../compress/quantizeMath';
import type { CompressionResult } from '../compress/summary';
import { gptqRound, type FactorCache, type RowQuantizer } from './gptq';
import type { MatMul } from '../numerics/linalg';
import { withOrtMatMul } from '../numerics/matmulEngine';
import {
  collectHessians,
  type HessianOptions,
  type HessianTarget,
  type LayerHessian,
} from './hessians';
import { storedGeometry, type LayerGeometry } from './layerGeometry';

export type Rounding = 'nearest' | 'gptq';

/** Range shrink factors tried for each channel's scale. */
const SHRINKS = Array.from({ length: 16 }, (_, i) => 1 - i * 0.03);

export async function quantizeCalibrated(
  loaded: LoadedModel,
  options: QuantizeOptions,
  calibration: HessianOptions,
): Promise<CompressionResult> {
  const ext = loaded.external ?? new ExternalData(undefined);
  const { plans } = planQuantization(loaded.model, options, ext);
  const targets: (HessianTarget & { plan: WeightPlan })[] = [];
  const nearest: string[] = [];
  for (const plan of plans) {
    const geometry =
      typeof plan.format === 'number' && plan.layers.length === 1
        ? storedGeometry(plan.node, plan.tensor.dims, plan.perm)
        : undefined;
    if (geometry) targets.push({ layer: plan.layers[0], geometry, plan });
    else nearest.push(...plan.layers);
  }
  const hessians =
    targets.length > 0
      ? await collectHessians(loaded, targets, calibration)
      : new Map<string, LayerHessian>();
  const samples = targets.length > 0 ? hessians.get(targets[0].layer)!.samples : 0;
  const rounded = new Map<string, QuantizedWeight>();
  await withOrtMatMul(async (engine) => {
    for (const target of targets) {
      calibration.signal?.throwIfAborted();
      const hessian = hessians.get(target.layer)!;
      // Each H is dropped once used: together they are the bulk of the memory (K² doubles).
      hessians.delete(target.layer);
      rounded.set(target.plan.source, await roundWeight(target.plan, hessian, ext, engine));
    }
  });
  const note =
    `error-compensating rounding (GPTQ) of ${targets.length} layer(s) on ${samples} calibration sample(s)` +
    (nearest.length > 0
      ? `; nearest rounding for ${nearest.length} (grid, shared or unsupported layer)`
      : '');
  return quantizeWeights(loaded.model, { ...options, rounded, roundingNote: note }, ext);
}

/** One stored weight: scales from H's diagonal, then GPTQ per group. */
export async function roundWeight(
  plan: WeightPlan,
  hessian: LayerHessian,
  ext: ExternalData,
  engine?: MatMul,
  factors?: FactorCache,
): Promise<QuantizedWeight> {
  const { geometry } = hessian;
  const values = readFloats(plan, ext);
  const channelOf = channelIndexer(plan.tensor.dims, plan.axis);
  const weightOfElement = columnEnergy(geometry, hessian, values.length);
  const { scales, zeroPoints } = chooseScales(
    values,
    plan.scheme,
    plan.axis === undefined ? 1 : plan.tensor.dims[plan.axis],
    channelOf,
    weightOfElement,
  );
  const range = quantRange(plan.scheme);
  const dataType = containerType(plan.scheme);
  const packed = dataType === DataType.INT4 || dataType === DataType.UINT4;
  const data = new Uint8Array(packedLength(dataType, values.length));
  let signal = 0;
  let noise = 0;
  const { groups, rows, columns } = geometry;
  for (let g = 0; g < groups; g++) {
    const w = new Float64Array(rows * columns);
    const rowChannel = new Int32Array(rows);
    for (let r = 0; r < rows; r++) {
      rowChannel[r] = channelOf(geometry.elementIndex(g, r, 0));
      for (let c = 0; c < columns; c++) w[r * columns + c] = values[geometry.elementIndex(g, r, c)];
    }
    const quantizer: RowQuantizer = {
      quantize: (r, v) => quantizeValue(v, scales[rowChannel[r]], zeroPoints[rowChannel[r]], range),
      dequantize: (r, q) => (q - zeroPoints[rowChannel[r]]) * scales[rowChannel[r]],
    };
    const { q } = await gptqRound(w, rows, columns, hessian.matrices[g], quantizer, {
      engine,
      factors,
    });
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < columns; c++) {
        const i = geometry.elementIndex(g, r, c);
        storeValue(data, packed, i, q[r * columns + c]);
        const e = values[i] - w[r * columns + c];
        signal += values[i] * values[i];
        noise += e * e;
      }
    }
  }
  return { dataType, data, scales, zeroPoints, axis: plan.axis, signal, noise };
}

function readFloats(plan: WeightPlan, ext: ExternalData): Float32Array {
  const out = new Float32Array(elementCount(plan.tensor.dims));
  forEachFloatChunk(plan.tensor, ext, (chunk, start) => out.set(chunk, start));
  return out;
}

/** H_jj of each weight element's column (its input's energy), as a weight for scale search. */
function columnEnergy(geometry: LayerGeometry, hessian: LayerHessian, size: number): Float64Array {
  const out = new Float64Array(size);
  const { groups, rows, columns } = geometry;
  for (let g = 0; g < groups; g++) {
    const h = hessian.matrices[g];
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < columns; c++) out[geometry.elementIndex(g, r, c)] = h[c * columns + c];
    }
  }
  return out;
}

/**
 * Per channel, the shrink of its [min, max] range whose nearest rounding gives the least
 * Σ energy·(w − ŵ)².
 */
function chooseScales(
  values: Float32Array,
  scheme: QuantScheme,
  channels: number,
  channelOf: (i: number) => number,
  energy: Float64Array,
): { scales: Float32Array; zeroPoints: Int32Array } {
  const min = new Float64Array(channels).fill(0);
  const max = new Float64Array(channels).fill(0);
  for (let i = 0; i < values.length; i++) {
    const c = channelOf(i);
    if (values[i] < min[c]) min[c] = values[i];
    if (values[i] > max[c]) max[c] = values[i];
  }
  const range = quantRange(scheme);
  const params = SHRINKS.map((s) =>
    Array.from({ length: channels }, (_, c) => channelParams(min[c] * s, max[c] * s, scheme)),
  );
  const errors = SHRINKS.map(() => new Float64Array(channels));
  for (let i = 0; i < values.length; i++) {
    const c = channelOf(i);
    const v = values[i];
    for (let k = 0; k < SHRINKS.length; k++) {
      const { scale, zeroPoint } = params[k][c];
      const e = v - (quantizeValue(v, scale, zeroPoint, range) - zeroPoint) * scale;
      errors[k][c] += energy[i] * e * e;
    }
  }
  const scales = new Float32Array(channels);
  const zeroPoints = new Int32Array(channels);
  for (let c = 0; c < channels; c++) {
    let best = 0;
    for (let k = 1; k < SHRINKS.length; k++) if (errors[k][c] < errors[best][c]) best = k;
    scales[c] = params[best][c].scale;
    zeroPoints[c] = params[best][c].zeroPoint;
  }
  return { scales, zeroPoints };
}
