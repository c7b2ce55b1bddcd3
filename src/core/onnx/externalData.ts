/**
 * External tensor data (`data_location = EXTERNAL`): tensors stored in side files next to the
 * model, which is how models over the 2 GB protobuf limit are saved.
 *
 * Each side file is read once, on first use, and every tensor in it is a view of that buffer.
 * A file over MAX_WHOLE_FILE_BYTES is instead read per tensor, since one Node buffer cannot hold it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ExternalDataRef } from './types';

/** Bad external data references: a missing file, a path escaping the model folder, a bad range. */
export class ExternalDataError extends Error {
  /**
   * @param short true when the side file exists but holds less than the tensor says: reported
   *   when the payload is needed (a read-only analysis says so as a diagnostic), not at load.
   */
  constructor(
    message: string,
    readonly short = false,
  ) {
    super(message);
    this.name = 'ExternalDataError';
  }
}

const MAX_WHOLE_FILE_BYTES = 2 ** 31 - 1;

export class ExternalData {
  private readonly files = new Map<string, { size: number; bytes?: Uint8Array }>();
  private allowedDirs: string[] | undefined;

  /**
   * @param baseDir the model's folder; locations are relative to it (ONNX external data spec).
   * @param maxWholeFileBytes side files above this are read per tensor (lowered in tests).
   * @param modelFile the model's path: when it is itself a link (a Hugging Face cache snapshot
   *   links every file into `blobs/`), side files may also lie in its real folder.
   */
  constructor(
    readonly baseDir: string | undefined,
    private readonly maxWholeFileBytes = MAX_WHOLE_FILE_BYTES,
    private readonly modelFile?: string,
  ) {}

  /** Checks that the reference names an existing file and a range inside it, without reading. */
  check(ref: ExternalDataRef, tensorName: string, expectedBytes?: number): void {
    const file = this.stat(ref, tensorName);
    const length = ref.length ?? file.size - ref.offset;
    if (ref.offset + length > file.size || length < 0) {
      throw new ExternalDataError(
        `tensor '${tensorName}': external data range ${ref.offset}+${length} runs past the end of '${ref.location}' (${file.size} bytes)`,
        true,
      );
    }
    if (expectedBytes !== undefined && length < expectedBytes) {
      throw new ExternalDataError(
        `tensor '${tensorName}': external data holds ${length} bytes, its shape needs ${expectedBytes}`,
        true,
      );
    }
  }

  /** The tensor's bytes: a view of the cached side file, or a per-tensor read of a huge one. */
  read(ref: ExternalDataRef, tensorName: string): Uint8Array {
    const file = this.stat(ref, tensorName);
    const length = ref.length ?? file.size - ref.offset;
    this.check(ref, tensorName);
    const full = this.resolve(ref, tensorName);
    if (file.size <= this.maxWholeFileBytes) {
      file.bytes ??= readWholeFile(full);
      return file.bytes.subarray(ref.offset, ref.offset + length);
    }
    const out = Buffer.allocUnsafe(length);
    const fd = fs.openSync(full, 'r');
    try {
      readFully(fd, out, ref.offset);
    } finally {
      fs.closeSync(fd);
    }
    return out;
  }

  /**
   * Where the tensor's bytes lie, checked as `read` checks them, without reading them: for
   * callers that read a large payload a block at a time.
   */
  locate(
    ref: ExternalDataRef,
    tensorName: string,
  ): { file: string; position: number; length: number } {
    const file = this.stat(ref, tensorName);
    const length = ref.length ?? file.size - ref.offset;
    this.check(ref, tensorName);
    return { file: this.resolve(ref, tensorName), position: ref.offset, length };
  }

  /**
   * The side file's path, checked to stay inside the model's folder: the location must be
   * relative without `..` leaving the folder, and its real path (symlinks followed) must still be
   * inside the folder's real path. A crafted model could otherwise read any file the user can
   * (`side.bin -> /etc/passwd`, the class of ONNX's CVE-2024-27318 / CVE-2024-5187).
   */
  private resolve(ref: ExternalDataRef, tensorName: string): string {
    if (this.baseDir === undefined) {
      throw new ExternalDataError(
        `tensor '${tensorName}' uses external data, but the model was not loaded from a file`,
      );
    }
    if (path.isAbsolute(ref.location) || ref.location.includes('\0')) {
      throw new ExternalDataError(
        `tensor '${tensorName}': external data location '${ref.location}' must be relative to the model`,
      );
    }
    const full = path.resolve(this.baseDir, ref.location);
    if (!isInside(this.baseDir, full)) {
      throw new ExternalDataError(
        `tensor '${tensorName}': external data location '${ref.location}' points outside the model's folder`,
      );
    }
    let real: string;
    try {
      real = fs.realpathSync(full);
    } catch {
      // A missing file (or a dangling link) is reported by stat() with the usual message.
      return full;
    }
    this.allowedDirs ??= [
      realPathOr(this.baseDir),
      ...(this.modelFile ? [path.dirname(realPathOr(this.modelFile))] : []),
    ];
    if (!this.allowedDirs.some((dir) => isInside(dir, real))) {
      throw new ExternalDataError(
        `tensor '${tensorName}': external data file '${ref.location}' is a link to a file outside the model's folder; refused`,
      );
    }
    return real;
  }

  private stat(ref: ExternalDataRef, tensorName: string): { size: number; bytes?: Uint8Array } {
    const full = this.resolve(ref, tensorName);
    let file = this.files.get(full);
    if (!file) {
      let size: number;
      try {
        const st = fs.statSync(full);
        if (!st.isFile()) throw new Error('not a file');
        size = st.size;
      } catch {
        throw new ExternalDataError(
          `tensor '${tensorName}': external data file '${ref.location}' not found next to the model`,
        );
      }
      file = { size };
      this.files.set(full, file);
    }
    return file;
  }
}

function isInside(dir: string, file: string): boolean {
  const rel = path.relative(dir, file);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel);
}

function realPathOr(file: string): string {
  try {
    return fs.realpathSync(file);
  } catch {
    return path.resolve(file);
  }
}

/** Reads a whole file into one buffer; unlike fs.readFileSync this works past 2 GiB. */
export function readWholeFile(file: string): Uint8Array {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const out = Buffer.allocUnsafe(size);
    readFully(fd, out, 0);
    return out;
  } finally {
    fs.closeSync(fd);
  }
}

function readFully(fd: number, out: Uint8Array, position: number): void {
  const CHUNK = 1 << 30;
  let done = 0;
  while (done < out.length) {
    const n = fs.readSync(fd, out, done, Math.min(CHUNK, out.length - done), position + done);
    if (n === 0) throw new ExternalDataError('the file ended before its expected size');
    done += n;
  }
}
