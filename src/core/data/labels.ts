/**
 * The label files of a data folder: `labels.json` (a JSON array of class ids) or `labels.txt`
 * (ids separated by white space), one per row of the model's first output; and `classes.txt`,
 * one class folder name per line, the line's index being the class id.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { VerifyError } from '../verify/npy';

export interface LabelFile {
  readonly values: number[];
  /** labels.json or labels.txt, with its folder, for messages. */
  readonly file: string;
}

export function readLabelFile(dir: string): LabelFile | undefined {
  const json = path.join(dir, 'labels.json');
  const txt = path.join(dir, 'labels.txt');
  let values: unknown[];
  let file: string;
  if (fs.existsSync(json)) {
    file = json;
    try {
      const parsed: unknown = JSON.parse(fs.readFileSync(json, 'utf8'));
      if (!Array.isArray(parsed)) throw new Error('not an array');
      values = parsed;
    } catch (e) {
      throw new VerifyError(
        `${json}: expected a JSON array of class indices (${(e as Error).message})`,
      );
    }
  } else if (fs.existsSync(txt)) {
    file = txt;
    values = fs
      .readFileSync(txt, 'utf8')
      .split(/\s+/)
      .filter((s) => s !== '')
      .map(Number);
  } else {
    return undefined;
  }
  if (!values.every((v) => typeof v === 'number' && Number.isInteger(v) && v >= 0)) {
    throw new VerifyError(`${file}: labels must be non-negative integers (class indices)`);
  }
  return { values: values as number[], file };
}

export const CLASSES_FILE = 'classes.txt';

/** DIR/classes.txt as a list of names (index = class id), or undefined when there is none. */
export function readClassesFile(dir: string): { names: string[]; file: string } | undefined {
  const file = path.join(dir, CLASSES_FILE);
  if (!fs.existsSync(file)) return undefined;
  const lines = fs.readFileSync(file, 'utf8').split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1].trim() === '') lines.pop();
  const names = lines.map((l) => l.trim());
  const seen = new Map<string, number>();
  names.forEach((name, i) => {
    // A blank line would silently shift every id after it.
    if (name === '') throw new VerifyError(`${file}, line ${i + 1}: empty (one class per line)`);
    const before = seen.get(name);
    if (before !== undefined) {
      throw new VerifyError(`${file}, line ${i + 1}: "${name}" is also on line ${before + 1}`);
    }
    seen.set(name, i);
  });
  if (names.length === 0) throw new VerifyError(`${file}: no classes (one class per line)`);
  return { names, file };
}
