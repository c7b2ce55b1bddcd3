/**
 * The tables of schema.fbs the reader decodes, each with its fields in schema order (the order
 * gives the field ids, so deprecated fields are listed too, and a union `x` is `x_type`, `x`).
 * Source: LiteRT tflite/converter/schema/schema.fbs, revision 3d.
 */
import { tableType } from './flatbuffer';

export const ModelTable = tableType('Model', [
  'version',
  'operator_codes',
  'subgraphs',
  'description',
  'buffers',
  'metadata_buffer',
  'metadata',
  'signature_defs',
  'external_buffer_groups',
  'external_buffers',
]);

export const OperatorCodeTable = tableType('OperatorCode', [
  'deprecated_builtin_code',
  'custom_code',
  'version',
  'builtin_code',
]);

export const SubGraphTable = tableType('SubGraph', [
  'tensors',
  'inputs',
  'outputs',
  'operators',
  'name',
  'debug_metadata_index',
]);

export const TensorTable = tableType('Tensor', [
  'shape',
  'type',
  'buffer',
  'name',
  'quantization',
  'is_variable',
  'sparsity',
  'shape_signature',
  'has_rank',
  'variant_tensors',
  'external_buffer',
]);

export const QuantizationTable = tableType('QuantizationParameters', [
  'min',
  'max',
  'scale',
  'zero_point',
  'details_type',
  'details',
  'quantized_dimension',
]);

/** QuantizationDetails union members. */
export const enum QuantizationDetailsType {
  CustomQuantization = 1,
  BlockwiseQuantization = 2,
}

export const CustomQuantizationTable = tableType('CustomQuantization', ['custom']);

export const BlockwiseQuantizationTable = tableType('BlockwiseQuantization', [
  'scales',
  'zero_points',
  'block_size',
]);

export const SparsityTable = tableType('SparsityParameters', [
  'traversal_order',
  'block_map',
  'dim_metadata',
]);

export const DimensionMetadataTable = tableType('DimensionMetadata', [
  'format',
  'dense_size',
  'array_segments_type',
  'array_segments',
  'array_indices_type',
  'array_indices',
]);

/** SparseIndexVector union members; each is a table with one `values` vector. */
export const enum SparseIndexVectorType {
  Int32Vector = 1,
  Uint16Vector = 2,
  Uint8Vector = 3,
}

export const IndexVectorTable = tableType('SparseIndexVector', ['values']);

export const OperatorTable = tableType('Operator', [
  'opcode_index',
  'inputs',
  'outputs',
  'builtin_options_type',
  'builtin_options',
  'custom_options',
  'custom_options_format',
  'mutating_variable_inputs',
  'intermediates',
  'large_custom_options_offset',
  'large_custom_options_size',
  'builtin_options_2_type',
  'builtin_options_2',
  'debug_metadata_index',
]);

export const BufferTable = tableType('Buffer', ['data', 'offset', 'size']);

export const MetadataTable = tableType('Metadata', ['name', 'buffer']);

export const TensorMapTable = tableType('TensorMap', ['name', 'tensor_index']);

export const SignatureDefTable = tableType('SignatureDef', [
  'inputs',
  'outputs',
  'signature_key',
  'deprecated_tag',
  'subgraph_index',
]);

export const ExternalBufferGroupTable = tableType('ExternalBufferGroup', ['name']);

export const ExternalBufferTable = tableType('ExternalBuffer', [
  'id',
  'group',
  'offset',
  'length',
  'packing',
]);

// Builtin options tables whose fields the analysis reads.

export const Conv2DOptionsTable = tableType('Conv2DOptions', [
  'padding',
  'stride_w',
  'stride_h',
  'fused_activation_function',
  'dilation_w_factor',
  'dilation_h_factor',
  'quantized_bias_type',
]);

export const DepthwiseConv2DOptionsTable = tableType('DepthwiseConv2DOptions', [
  'padding',
  'stride_w',
  'stride_h',
  'depth_multiplier',
  'fused_activation_function',
  'dilation_w_factor',
  'dilation_h_factor',
]);

export const Conv3DOptionsTable = tableType('Conv3DOptions', [
  'padding',
  'stride_d',
  'stride_w',
  'stride_h',
  'fused_activation_function',
  'dilation_d_factor',
  'dilation_w_factor',
  'dilation_h_factor',
]);

export const Pool2DOptionsTable = tableType('Pool2DOptions', [
  'padding',
  'stride_w',
  'stride_h',
  'filter_width',
  'filter_height',
  'fused_activation_function',
]);

export const FullyConnectedOptionsTable = tableType('FullyConnectedOptions', [
  'fused_activation_function',
  'weights_format',
  'keep_num_dims',
  'asymmetric_quantize_inputs',
  'quantized_bias_type',
]);

export const TransposeConvOptionsTable = tableType('TransposeConvOptions', [
  'padding',
  'stride_w',
  'stride_h',
  'fused_activation_function',
  'quantized_bias_type',
]);

export const BatchMatMulOptionsTable = tableType('BatchMatMulOptions', [
  'adj_x',
  'adj_y',
  'asymmetric_quantize_inputs',
]);

export const SvdfOptionsTable = tableType('SVDFOptions', [
  'rank',
  'fused_activation_function',
  'asymmetric_quantize_inputs',
]);

export const SequenceRnnOptionsTable = tableType('SequenceRNNOptions', [
  'time_major',
  'fused_activation_function',
  'asymmetric_quantize_inputs',
]);

export const UnidirectionalSequenceLstmOptionsTable = tableType(
  'UnidirectionalSequenceLSTMOptions',
  [
    'fused_activation_function',
    'cell_clip',
    'proj_clip',
    'time_major',
    'asymmetric_quantize_inputs',
    'diagonal_recurrent_tensors',
  ],
);

export const ReshapeOptionsTable = tableType('ReshapeOptions', ['new_shape']);

export const SoftmaxOptionsTable = tableType('SoftmaxOptions', ['beta']);

export const ConcatenationOptionsTable = tableType('ConcatenationOptions', [
  'axis',
  'fused_activation_function',
]);

/** AddOptions, SubOptions, MulOptions, DivOptions all start with the fused activation. */
export const ActivationOptionsTable = tableType('ArithmeticOptions', ['fused_activation_function']);

/** Any other options table: only its position is kept. */
export const OpaqueTable = tableType('Options', []);
