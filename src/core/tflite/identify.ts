/**
 * Telling a TFLite file from an ONNX one by content: a TFLite flatbuffer carries the file
 * identifier `TFL3` at bytes 4–8 (schema.fbs `file_identifier "TFL3"`), right after the root
 * table's offset. An ONNX protobuf starts with its ir_version field, so never matches.
 */
const IDENTIFIER = [0x54, 0x46, 0x4c, 0x33]; // "TFL3"

export function isTfliteBytes(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && IDENTIFIER.every((b, i) => bytes[4 + i] === b);
}

/** True for a `.tflite` file name (a file without the identifier is still read as TFLite). */
export function hasTfliteExtension(file: string | undefined): boolean {
  return file !== undefined && /\.tflite$/i.test(file);
}
