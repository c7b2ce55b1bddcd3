/**
 * An estimate of the persistent ("tail") part of TFLite Micro's arena: what stays allocated for
 * the interpreter's whole life, beside the non-persistent part the greedy planner packs.
 *
 * It depends on the kernels (CMSIS-NN, reference, a vendor's) and on the build, so it is an
 * estimate, labelled as one. The sizes are for a 32-bit Cortex-M with CMSIS-NN kernels and
 * TF_LITE_STATIC_MEMORY, from TFLM's structures (tensorflow/lite/micro/micro_allocator.cc,
 * micro_interpreter.cc, kernels/cmsis_nn/*.cc), and agree with the allocation table of TFLM's
 * generic benchmark on person_detect (tools/benchmarking/README.md: 12 bytes per TfLiteEvalTensor,
 * 32 per node and registration, 32 per persistent TfLiteTensor, 20 per per-tensor quantization).
 * Kernel allocations (AllocatePersistentBuffer) are padded to 16 bytes, the others to 4.
 *
 * Variable tensors are exact: TFLM puts each in the tail, padded to 16 bytes, unless an offline
 * plan places it in the arena.
 */
import type { AllocationInfo } from './arenaLifetimes';
import { alignSizeUp, TFLM_ARENA_ALIGNMENT } from './arenaPlanner';
import type { Operator, Subgraph, Tensor, TfliteModel } from './types';

export interface PersistentItem {
  readonly label: string;
  readonly bytes: number;
}

export interface PersistentEstimate {
  /** Sum of `items`: variable tensors (exact) plus runtime and kernel structures (estimated). */
  readonly bytes: number;
  readonly items: readonly PersistentItem[];
  /** Operators with no kernel-size entry here, counted at a default size. */
  readonly guessedOperators: readonly string[];
  readonly note: string;
}

export interface PersistentOptions {
  /**
   * Slots of a MicroResourceVariables table the application creates (0 unless it uses resource
   * variables; TFLM's generic benchmark creates 100).
   */
  readonly resourceVariableSlots?: number;
}

/** 32-bit sizes: TfLiteEvalTensor, TfLiteNode + registration pointer, TfLiteTensor. */
const EVAL_TENSOR_BYTES = 12;
const NODE_AND_REGISTRATION_BYTES = 32;
const PERSISTENT_TFLITE_TENSOR_BYTES = 32;
/** TfLiteAffineQuantization, then a TfLiteIntArray of zero points: 4 + 4 per channel. */
const AFFINE_QUANTIZATION_BYTES = 12;
/**
 * The allocator, planner and interpreter objects MicroAllocator::GetDefaultTailUsage lists
 * (SingleArenaBufferAllocator, MicroAllocator, MicroBuiltinDataAllocator, GreedyMemoryPlanner),
 * each padded to 16.
 */
const RUNTIME_OBJECTS_BYTES = 160;
/** SubgraphAllocations, one per subgraph, padded to 16. */
const SUBGRAPH_ALLOCATIONS_BYTES = 16;
/** MicroResourceVariables, then each MicroResourceVariable (container, name, buffer, size...). */
const RESOURCE_TABLE_BYTES = 16;
const RESOURCE_SLOT_BYTES = 20;
/** Kernel data of an operator this table does not know. */
const DEFAULT_KERNEL_BYTES = 32;

/** The op's parsed builtin options struct (TfLite*Params), allocated by the flatbuffer parser. */
const BUILTIN_PARAMS_BYTES: Readonly<Record<string, number>> = {
  CONV_2D: 28,
  DEPTHWISE_CONV_2D: 28,
  TRANSPOSE_CONV: 24,
  AVERAGE_POOL_2D: 40,
  MAX_POOL_2D: 40,
  FULLY_CONNECTED: 16,
  SOFTMAX: 4,
  RESHAPE: 36,
  SVDF: 12,
  ADD: 8,
  SUB: 8,
  MUL: 4,
  CONCATENATION: 8,
  UNIDIRECTIONAL_SEQUENCE_LSTM: 20,
};

/** Kernel allocations (OpData and its arrays) per operator, before padding to 16. */
type KernelSizes = (op: Operator, sg: Subgraph) => number[];

const tensorAt = (sg: Subgraph, index: number | undefined): Tensor | undefined =>
  index === undefined || index < 0 ? undefined : sg.tensors[index];

/** Per-channel output multiplier and shift (int32 each), for int8/int16 inputs. */
function perChannel(sg: Subgraph, op: Operator, channelAxis: number): number[] {
  const input = tensorAt(sg, op.inputs[0]);
  const filter = tensorAt(sg, op.inputs[1]);
  if (!input || !filter || (input.type !== 9 && input.type !== 7)) return [];
  const channels = filter.shape[channelAxis] ?? 0;
  return [4 * channels, 4 * channels];
}

const none: KernelSizes = () => [];
const fixed =
  (bytes: number): KernelSizes =>
  () => [bytes];

/** CMSIS-NN's OpData structs (reference OpData plus a scratch-buffer index) on 32 bits. */
const KERNEL_SIZES: Readonly<Record<string, KernelSizes>> = {
  CONV_2D: (op, sg) => [60, ...perChannel(sg, op, 0)],
  DEPTHWISE_CONV_2D: (op, sg) => [60, ...perChannel(sg, op, 3)],
  TRANSPOSE_CONV: (op, sg) => [80, ...perChannel(sg, op, 0)],
  FULLY_CONNECTED: (op, sg) => {
    const filter = tensorAt(sg, op.inputs[1]);
    const perAxis = (filter?.quantization?.scale.length ?? 0) > 1;
    return [48, ...(perAxis ? perChannel(sg, op, 0) : [])];
  },
  SVDF: fixed(48),
  AVERAGE_POOL_2D: fixed(36),
  MAX_POOL_2D: fixed(36),
  // int16 softmax adds two 513-entry int16 lookup tables.
  SOFTMAX: (op, sg) => (tensorAt(sg, op.inputs[0])?.type === 7 ? [56, 1026, 1026] : [56]),
  ADD: fixed(72),
  SUB: fixed(72),
  MUL: fixed(40),
  QUANTIZE: fixed(32),
  DEQUANTIZE: fixed(24),
  LOGISTIC: fixed(32),
  TANH: fixed(32),
  CONCATENATION: fixed(28),
  UNIDIRECTIONAL_SEQUENCE_LSTM: fixed(512),
  RESHAPE: none,
  SQUEEZE: none,
  EXPAND_DIMS: none,
};

/** Simulates the tail: each allocation moves its end down by its size, aligned down. */
class Tail {
  readonly items = new Map<string, number>();
  private used = 0;

  allocate(label: string, bytes: number, alignment: number): void {
    if (bytes <= 0) return;
    const before = this.used;
    this.used = alignSizeUp(this.used + bytes, alignment);
    this.items.set(label, (this.items.get(label) ?? 0) + this.used - before);
  }
}

export function estimatePersistent(
  model: TfliteModel,
  info: AllocationInfo,
  options: PersistentOptions = {},
): PersistentEstimate {
  const tail = new Tail();
  const guessed = new Set<string>();
  const runtime = 'Runtime objects (allocator, planner, interpreter)';
  tail.allocate(runtime, RUNTIME_OBJECTS_BYTES, TFLM_ARENA_ALIGNMENT);
  tail.allocate(runtime, SUBGRAPH_ALLOCATIONS_BYTES * model.subgraphs.length, TFLM_ARENA_ALIGNMENT);

  for (const sg of model.subgraphs) {
    tail.allocate('TfLiteEvalTensor structs', EVAL_TENSOR_BYTES * sg.tensors.length, 4);
    tail.allocate(
      'Node and registration structs',
      NODE_AND_REGISTRATION_BYTES * sg.operators.length,
      4,
    );
    for (const op of sg.operators) {
      const name = op.opcode.builtinName;
      tail.allocate('Parsed operator options', BUILTIN_PARAMS_BYTES[name] ?? 0, 4);
      const sizes = KERNEL_SIZES[name];
      if (sizes === undefined)
        guessed.add(name === 'CUSTOM' ? (op.opcode.customCode ?? name) : name);
      for (const bytes of sizes?.(op, sg) ?? [DEFAULT_KERNEL_BYTES]) {
        tail.allocate(
          'Kernel data (OpData, per-channel quantization)',
          bytes,
          TFLM_ARENA_ALIGNMENT,
        );
      }
    }
  }

  // In TFLM's order: variables when the plan is committed, then the interpreter's tensors.
  for (const t of info.tensors) {
    if (t.role === 'variable') tail.allocate('Variable tensors', t.bytes, TFLM_ARENA_ALIGNMENT);
  }

  // The interpreter keeps a TfLiteTensor, with its quantization, for each model input and output.
  const main = model.subgraphs[0];
  const ends = main ? [main.inputs, main.outputs] : [];
  for (const list of ends) {
    tail.allocate(runtime, 4 * list.length, TFLM_ARENA_ALIGNMENT);
    for (const t of list) {
      tail.allocate('TfLiteTensor structs (inputs, outputs)', PERSISTENT_TFLITE_TENSOR_BYTES, 4);
      const q = tensorAt(main, t)?.quantization;
      if (q && q.scale.length > 0 && q.zeroPoint.length > 0) {
        const bytes = AFFINE_QUANTIZATION_BYTES + 4 + 4 * q.scale.length;
        tail.allocate('TfLiteTensor structs (inputs, outputs)', bytes, 4);
      }
    }
  }

  const slots = options.resourceVariableSlots ?? 0;
  if (slots > 0) {
    const label = `Resource variable table (${slots} slots)`;
    tail.allocate(label, RESOURCE_TABLE_BYTES, TFLM_ARENA_ALIGNMENT);
    tail.allocate(label, RESOURCE_SLOT_BYTES * slots, TFLM_ARENA_ALIGNMENT);
  }

  const items = [...tail.items].map(([label, bytes]) => ({ label, bytes }));
  const guessedOperators = [...guessed].sort();
  return {
    bytes: items.reduce((sum, item) => sum + item.bytes, 0),
    items,
    guessedOperators,
    note: persistentNote(guessedOperators),
  };
}

function persistentNote(guessed: readonly string[]): string {
  const base =
    'Estimate: the persistent part depends on the kernels and the build; sized here for a 32-bit ' +
    'Cortex-M with CMSIS-NN kernels (per-operator data, per-channel quantization arrays, ' +
    'TfLiteEvalTensor and node structs). Variable tensors in it are exact. Kernel scratch buffers ' +
    'go in the non-persistent part and are not counted.';
  if (guessed.length === 0) return base;
  return `${base} No kernel size known for ${guessed.join(', ')}: ${DEFAULT_KERNEL_BYTES} bytes each assumed.`;
}
