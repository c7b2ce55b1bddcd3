/** The TFLM models in ../shared/tflite that exist in this clone, as bytes (fuzz seeds). */
import * as fs from 'node:fs';
import * as path from 'node:path';

export const SHARED_TFLITE_DIR = path.resolve(__dirname, '../../../shared/tflite');

export function sharedTfliteSeeds(): Uint8Array[] {
  return [
    'hello_world_int8.tflite',
    'micro_speech_quantized.tflite',
    'trained_lstm_int8.tflite',
    'keyword_scrambled.tflite',
    'person_detect_vela.tflite',
    'person_detect.tflite',
  ]
    .map((f) => path.join(SHARED_TFLITE_DIR, f))
    .filter((f) => fs.existsSync(f))
    .map((f) => new Uint8Array(fs.readFileSync(f)));
}
