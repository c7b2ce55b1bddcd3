/**
 * The real-architecture models in ../shared/models (torchvision exports, random weights). A
 * user's clone has no ../shared, so tests that use them skip cleanly when it is absent.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export const SHARED_MODELS_DIR = path.resolve(__dirname, '../../../shared/models');

export interface SharedModelReference {
  readonly file: string;
  readonly float_initializer_elements: number;
  readonly macs: number;
}

/** The reference table, or undefined (with the reason) when ../shared is not there. */
export function sharedModels():
  { models: Record<string, SharedModelReference> } | { skip: string } {
  const reference = path.join(SHARED_MODELS_DIR, 'reference.json');
  if (!fs.existsSync(reference)) return { skip: 'no ../shared/models in this clone' };
  return {
    models: JSON.parse(fs.readFileSync(reference, 'utf8')) as Record<string, SharedModelReference>,
  };
}
