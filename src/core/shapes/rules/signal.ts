/**
 * Signal processing: DFT (opset 17 and 20 forms), STFT, window generators and MelWeightMatrix.
 * Sizes that come from scalar inputs are read when constant, else named symbols.
 */
import { DataType } from '../../onnx/types';
import { addDim, divDim, mulDim, normalizeAxis, subDim, tensorType } from '../dims';
import { ShapeError, type Dim, type InferContext, type ShapeRule } from '../types';
import { dtypeOf, requireRank, shapeOf } from './nnHelpers';
import { constIntegerScalar } from './constInputs';

/** floor(n/2) + 1: the non-redundant bins of a real-input DFT. */
function onesidedBins(n: Dim): Dim {
  return addDim(divDim(n, 2), 1);
}

/**
 * Opset 17: axis attribute (default 1); opset 20: axis input 2 (default -2). Undefined when the
 * axis is a runtime input.
 */
function dftAxis(ctx: InferContext, rank: number): number | undefined {
  const raw =
    ctx.opset >= 20 ? (ctx.hasInput(2) ? constIntegerScalar(ctx, 2) : -2) : ctx.attrInt('axis', 1);
  if (typeof raw !== 'number') return undefined;
  const axis = normalizeAxis(raw, rank, 'DFT axis');
  if (axis === rank - 1)
    throw new ShapeError('the last axis holds real/imaginary parts and cannot be transformed');
  return axis;
}

const dft: ShapeRule = (ctx) => {
  const dtype = dtypeOf(ctx, 0);
  const x = shapeOf(ctx, 0);
  if (!x) return { types: [tensorType(dtype)] };
  if (x.length < 2) throw new ShapeError(`input has rank ${x.length}; DFT needs [signal…, 1 or 2]`);
  const axis = dftAxis(ctx, x.length);
  const onesided = ctx.attrInt('onesided', 0) === 1;
  const inverse = ctx.attrInt('inverse', 0) === 1;
  const irfft = onesided && inverse;
  const out = [...x];
  out[x.length - 1] = irfft ? 1 : 2;
  if (axis === undefined) {
    // A runtime axis: only the rank and the complex dim are known.
    return {
      types: [
        tensorType(
          dtype,
          out.map((d, i) => (i < x.length - 1 ? ctx.newSymbol(`d${i}`) : d)),
        ),
      ],
    };
  }
  const given = ctx.hasInput(1) ? constIntegerScalar(ctx, 1) : undefined;
  const length =
    given ??
    (ctx.hasInput(1)
      ? ctx.newSymbol('dft_length')
      : irfft
        ? mulDim(2, subDim(x[axis], 1))
        : x[axis]);
  out[axis] = onesided && !inverse ? onesidedBins(length) : length;
  return { types: [tensorType(dtype, out)] };
};

/** STFT: [batch, frames, bins, 2], frames = (signal − frame_length) / frame_step + 1. */
const stft: ShapeRule = (ctx) => {
  const dtype = dtypeOf(ctx, 0);
  const signal = shapeOf(ctx, 0);
  if (signal) requireRank(signal, 3, 'signal');
  const step = constIntegerScalar(ctx, 1);
  const windowLength = shapeOf(ctx, 2)?.[0];
  const frameLength = constIntegerScalar(ctx, 3) ?? (ctx.hasInput(3) ? undefined : windowLength);
  const frames =
    signal && frameLength !== undefined && step !== undefined
      ? addDim(divDim(subDim(signal[1], frameLength), step), 1)
      : ctx.newSymbol('frames');
  const length = frameLength ?? ctx.newSymbol('frame_length');
  const bins = ctx.attrInt('onesided', 1) === 1 ? onesidedBins(length) : length;
  return { types: [tensorType(dtype, [signal?.[0] ?? ctx.newSymbol('batch'), frames, bins, 2])] };
};

/** Hann/Hamming/Blackman windows: [size] of output_datatype (default float). */
const windowOp: ShapeRule = (ctx) => {
  const size = constIntegerScalar(ctx, 0) ?? ctx.newSymbol('size');
  return {
    types: [tensorType(ctx.attrInt('output_datatype', DataType.FLOAT) as DataType, [size])],
  };
};

/** MelWeightMatrix: [floor(dft_length/2) + 1, num_mel_bins]. */
const melWeightMatrix: ShapeRule = (ctx) => {
  const melBins = constIntegerScalar(ctx, 0) ?? ctx.newSymbol('num_mel_bins');
  const dftLength = constIntegerScalar(ctx, 1);
  const rows = dftLength === undefined ? ctx.newSymbol('bins') : onesidedBins(dftLength);
  return {
    types: [
      tensorType(ctx.attrInt('output_datatype', DataType.FLOAT) as DataType, [rows, melBins]),
    ],
  };
};

export const signalRules: Record<string, ShapeRule> = {
  DFT: dft,
  STFT: stft,
  HannWindow: windowOp,
  HammingWindow: windowOp,
  BlackmanWindow: windowOp,
  MelWeightMatrix: melWeightMatrix,
};
