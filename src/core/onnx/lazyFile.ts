/**
 * Opening an ONNX file without reading its weights.
 *
 * `readStructureImage` returns a buffer as long as the file, laid out exactly as the file, holding
 * every byte of the file except the large tensor payloads (`raw_data`, packed `float_data` and
 * `double_data` of at least `minHoleBytes`), which stay zero: the "holes". A zeroed allocation is
 * mapped lazily by the OS, so the holes cost no memory. The structure is found with positioned
 * reads through a small window, walking only the messages that can hold tensors (model → graph →
 * initializers, sparse initializers, nodes → attributes → tensors and sub-graphs, functions);
 * everything else is copied in at its own offset. `decodeModel` then runs on the image unchanged:
 * every view and every message's `raw` is in place, only the hole bytes are zeros.
 *
 * The image is registered here, so that whoever reads a payload (tensorData.ts, the save in
 * load.ts, encodeModel) can tell a view into a hole and read those bytes from the file instead,
 * into a fresh buffer that is not kept: memory does not grow with what has been read.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** A payload's bytes could not be read: the file was truncated, or changed since it was opened. */
export class PayloadUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PayloadUnavailableError';
  }
}

/** Payload fields at least this long are left in the file (64 KiB). */
export const DEFAULT_MIN_HOLE_BYTES = 1 << 16;

let minHoleBytes = DEFAULT_MIN_HOLE_BYTES;

/**
 * Changes the hole threshold for the files opened next (tests lower it to 1 so that every
 * payload of a small test model is read from the file); returns the previous value.
 */
export function setMinHoleBytes(bytes: number): number {
  const before = minHoleBytes;
  minHoleBytes = bytes;
  return before;
}

interface Hole {
  /** Offsets in the file (and the image, which starts at the same byte). */
  readonly start: number;
  readonly end: number;
  /** The tensor whose payload this is, for messages. */
  readonly tensor: string;
}

interface ImageInfo {
  readonly path: string;
  /**
   * The file, open for as long as the image lives: a save over the source renames a new file
   * into its place, and the payloads must still come from the file as it was opened.
   */
  readonly fd: number;
  readonly fileSize: number;
  /**
   * The file's modification time when it was opened. A tool that rewrites the file in place
   * (truncate and write, as `torch.onnx.export` does) changes the bytes under the open
   * descriptor; payloads read then would silently be the new model's, so every read checks it.
   */
  readonly mtimeMs: number;
  /** Sorted by start, disjoint. */
  readonly holes: readonly Hole[];
}

const images = new WeakMap<ArrayBufferLike, ImageInfo>();
const closeWhenCollected = new FinalizationRegistry<number>((fd) => {
  try {
    fs.closeSync(fd);
  } catch {
    // Already closed.
  }
});

/** A range of the source file, written by a streaming save instead of image bytes. */
export interface FileRange {
  readonly file: string;
  /** The open source file to read from. */
  readonly fd: number;
  readonly position: number;
  readonly length: number;
}

// --- Reading the structure ----------------------------------------------------------------------

const WINDOW_BYTES = 1 << 16;
const MAX_DECLARED_BYTES = 2 ** 31;

const enum Kind {
  Model,
  Graph,
  Node,
  Attribute,
  Function,
  Tensor,
  Sparse,
}

/** The sub-messages that can hold tensors, by parent kind and field number. */
function childKind(kind: Kind, field: number): Kind | undefined {
  switch (kind) {
    case Kind.Model:
      return field === 7 ? Kind.Graph : field === 25 ? Kind.Function : undefined;
    case Kind.Graph:
      return field === 1
        ? Kind.Node
        : field === 5
          ? Kind.Tensor
          : field === 15
            ? Kind.Sparse
            : undefined;
    case Kind.Node:
      return field === 5 ? Kind.Attribute : undefined;
    case Kind.Attribute:
      return field === 5 || field === 10
        ? Kind.Tensor
        : field === 6 || field === 11
          ? Kind.Graph
          : field === 22
            ? Kind.Sparse
            : undefined;
    case Kind.Function:
      return field === 7 ? Kind.Node : undefined;
    case Kind.Sparse:
      return field === 1 || field === 2 ? Kind.Tensor : undefined;
    default:
      return undefined;
  }
}

/** TensorProto fields decoded as views of the bytes (never parsed): raw_data, float_data, double_data. */
const PAYLOAD_FIELDS = new Set([4, 9, 10]);

class Walker {
  private readonly window = Buffer.allocUnsafe(WINDOW_BYTES);
  private windowStart = 0;
  private windowEnd = 0;
  readonly holes: Hole[] = [];
  /** The furthest byte a message or payload declares, past the file's end when it is truncated. */
  declaredEnd = 0;
  /** The first payload the file ends inside, if any. */
  truncated: Hole | undefined;

  constructor(
    private readonly fd: number,
    readonly size: number,
    private readonly image: Uint8Array | undefined,
    private readonly minHole: number,
  ) {}

  private byte(pos: number): number {
    if (pos < this.windowStart || pos >= this.windowEnd) {
      if (pos >= this.size) throw new StopWalk();
      const n = fs.readSync(this.fd, this.window, 0, WINDOW_BYTES, pos);
      this.windowStart = pos;
      this.windowEnd = pos + n;
      if (n === 0) throw new StopWalk();
    }
    return this.window[pos - this.windowStart];
  }

  /** A varint at `pos`: its value and the position after it. */
  private varint(pos: number): [number, number] {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      const b = this.byte(pos++);
      value += (b & 0x7f) * scale;
      if (b < 0x80) return [value, pos];
      scale *= 128;
    }
    throw new StopWalk();
  }

  /** Copies file bytes [start, end) into the image at the same offsets. */
  private copy(start: number, end: number): void {
    const image = this.image;
    end = Math.min(end, this.size);
    if (!image || end <= start) return;
    let pos = start;
    if (pos >= this.windowStart && pos < this.windowEnd) {
      const upto = Math.min(end, this.windowEnd);
      image.set(this.window.subarray(pos - this.windowStart, upto - this.windowStart), pos);
      pos = upto;
    }
    while (pos < end) {
      const n = fs.readSync(this.fd, image, pos, end - pos, pos);
      if (n === 0) break;
      pos += n;
    }
  }

  /** Walks the message in [start, end) of kind `kind`. */
  walk(kind: Kind, start: number, end: number, depth: number): void {
    this.declaredEnd = Math.max(this.declaredEnd, end);
    if (depth > 70) {
      this.copy(start, end);
      return;
    }
    const pending: Array<{ field: number; start: number; end: number; head: number }> = [];
    let tensorName = '';
    let pos = start;
    try {
      while (pos < end) {
        const fieldStart = pos;
        const [tag, p] = this.varint(pos);
        const field = Math.floor(tag / 8);
        switch (tag & 7) {
          case 0:
            pos = this.varint(p)[1];
            this.copy(fieldStart, pos);
            break;
          case 1:
            pos = p + 8;
            this.copy(fieldStart, pos);
            break;
          case 5:
            pos = p + 4;
            this.copy(fieldStart, pos);
            break;
          case 2: {
            const [length, bodyStart] = this.varint(p);
            const bodyEnd = bodyStart + length;
            pos = bodyEnd;
            const child = length >= this.minHole ? childKind(kind, field) : undefined;
            if (child !== undefined) {
              this.copy(fieldStart, bodyStart);
              this.walk(child, bodyStart, bodyEnd, depth + 1);
            } else if (
              kind === Kind.Tensor &&
              PAYLOAD_FIELDS.has(field) &&
              length >= this.minHole
            ) {
              this.copy(fieldStart, bodyStart);
              pending.push({ field, start: bodyStart, end: bodyEnd, head: fieldStart });
            } else {
              this.copy(fieldStart, bodyEnd);
              if (kind === Kind.Tensor && field === 8 && this.image && bodyEnd <= this.size) {
                tensorName = Buffer.from(this.image.subarray(bodyStart, bodyEnd)).toString('utf8');
              }
            }
            break;
          }
          default:
            // Groups and invalid wire types: copy the rest, and let the decoder judge it.
            this.copy(fieldStart, end);
            pos = end;
        }
        if (pos > this.size) break;
      }
    } catch (e) {
      if (!(e instanceof StopWalk)) throw e;
      // A malformed or truncated header: the decoder reports it from the bytes copied so far.
      this.copy(pos, end);
    }
    for (const f of pending) {
      // float_data / double_data given more than once are concatenated by the decoder (a copy),
      // so they must be real bytes: read those in.
      const repeated = f.field !== 9 && pending.filter((g) => g.field === f.field).length > 1;
      if (repeated) this.copy(f.start, f.end);
      else {
        const hole = { start: f.start, end: f.end, tensor: tensorName };
        this.holes.push(hole);
        if (f.end > this.size) this.truncated ??= hole;
      }
    }
  }
}

class StopWalk extends Error {}

/**
 * The structure image of an ONNX file (see the top of this file). Throws the file system's errors
 * as they are (load.ts words them).
 */
export function readStructureImage(file: string): Uint8Array {
  const full = path.resolve(file);
  const fd = fs.openSync(full, 'r');
  let keepOpen = false;
  try {
    const stat = fs.fstatSync(fd);
    const size = stat.size;
    const minHole = minHoleBytes;
    // A first walk without an image when the file may be truncated would double the reads; the
    // image is sized to the file, and walked again (rare) when a payload runs past its end.
    let image = new Uint8Array(size);
    let walker = new Walker(fd, size, image, minHole);
    walker.walk(Kind.Model, 0, size, 0);
    const cut = walker.truncated;
    if (cut) {
      // The file ends inside a payload. When the model declares nothing after it (the payload
      // is the file's last field), the structure is whole: walk again into an image as long as
      // the model says, and let whoever needs the payload fail. Otherwise the rest of the graph
      // is missing: refuse in one line. No valid model declares more than protobuf's 2 GiB.
      if (walker.declaredEnd > cut.end || walker.declaredEnd > MAX_DECLARED_BYTES) {
        throw new PayloadUnavailableError(
          `${path.basename(full)} ends inside the data of ${cut.tensor ? `tensor '${cut.tensor}'` : 'a tensor'} (the file has ${size} bytes, the model declares ${walker.declaredEnd}): the file is truncated`,
        );
      }
      image = new Uint8Array(walker.declaredEnd);
      walker = new Walker(fd, size, image, minHole);
      walker.walk(Kind.Model, 0, size, 0);
    }
    const holes = walker.holes.sort((a, b) => a.start - b.start);
    if (holes.length > 0) {
      images.set(image.buffer, { path: full, fd, fileSize: size, mtimeMs: stat.mtimeMs, holes });
      closeWhenCollected.register(image.buffer, fd);
      keepOpen = true;
    }
    return image;
  } finally {
    if (!keepOpen) fs.closeSync(fd);
  }
}

// --- Reading payloads ---------------------------------------------------------------------------

function findHole(info: ImageInfo, start: number, end: number): Hole | undefined {
  const holes = info.holes;
  let lo = 0;
  let hi = holes.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const h = holes[mid];
    if (h.end <= start) lo = mid + 1;
    else if (h.start >= end) hi = mid - 1;
    else return h;
  }
  return undefined;
}

/** Holes overlapping [start, end), in order. */
function holesIn(info: ImageInfo, start: number, end: number): Hole[] {
  const out: Hole[] = [];
  const holes = info.holes;
  let lo = 0;
  let hi = holes.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (holes[mid].end <= start) lo = mid + 1;
    else hi = mid;
  }
  for (let i = lo; i < holes.length && holes[i].start < end; i++) out.push(holes[i]);
  return out;
}

/**
 * Where `view`'s bytes lie in the source file, when it lies inside one payload hole of a
 * structure image; undefined for any other bytes (in memory as they are).
 */
export function payloadSource(view: Uint8Array):
  | {
      file: string;
      fd: number;
      position: number;
      length: number;
      tensor: string;
      fileSize: number;
      mtimeMs: number;
    }
  | undefined {
  const info = images.get(view.buffer);
  if (!info || view.length === 0) return undefined;
  const h = findHole(info, view.byteOffset, view.byteOffset + view.length);
  if (!h || view.byteOffset < h.start || view.byteOffset + view.length > h.end) return undefined;
  return {
    file: info.path,
    fd: info.fd,
    position: view.byteOffset,
    length: view.length,
    tensor: h.tensor,
    fileSize: info.fileSize,
    mtimeMs: info.mtimeMs,
  };
}

/** Throws when the open file is no longer the one the image was read from (see ImageInfo). */
function checkUnchanged(src: {
  file: string;
  fd: number;
  fileSize: number;
  mtimeMs: number;
}): void {
  const now = fs.fstatSync(src.fd);
  if (now.size !== src.fileSize || now.mtimeMs !== src.mtimeMs) {
    throw new PayloadUnavailableError(
      `${path.basename(src.file)} was rewritten in place since it was opened, so its weights are no longer the model's: open it again`,
    );
  }
}

/** True when any byte of `view` is a hole of a structure image. */
export function touchesHoles(view: Uint8Array): boolean {
  const info = images.get(view.buffer);
  return !!info && findHole(info, view.byteOffset, view.byteOffset + view.length) !== undefined;
}

function unavailable(
  file: string,
  tensor: string,
  fileSize: number,
  end: number,
): PayloadUnavailableError {
  return new PayloadUnavailableError(
    `tensor '${tensor}': ${path.basename(file)} ends at byte ${fileSize}, before the end of its data (byte ${end}): the file is truncated or changed since it was opened`,
  );
}

/**
 * Reads `length` bytes at `offset` within the payload `view` lies in, from the file, into `out`
 * (or a fresh buffer). Throws PayloadUnavailableError when the file no longer holds them.
 */
export function readPayload(
  view: Uint8Array,
  offset = 0,
  length = view.length - offset,
  out?: Uint8Array,
): Uint8Array {
  const src = payloadSource(view);
  if (!src) return view.subarray(offset, offset + length);
  checkUnchanged(src);
  const target = out ?? Buffer.allocUnsafe(length);
  const position = src.position + offset;
  if (position + length > src.fileSize) {
    throw unavailable(src.file, src.tensor, src.fileSize, src.position + src.length);
  }
  readRange(src.fd, position, target.subarray(0, length), () =>
    unavailable(src.file, src.tensor, src.fileSize, src.position + src.length),
  );
  return target.subarray(0, length);
}

/**
 * readPayload's asynchronous twin, for a caller that keeps several block reads in flight: the
 * copy from the page cache then runs on libuv's thread pool, beside the caller's own work.
 */
export async function readPayloadAsync(
  view: Uint8Array,
  offset: number,
  out: Uint8Array,
): Promise<void> {
  const src = payloadSource(view);
  if (!src) {
    out.set(view.subarray(offset, offset + out.length));
    return;
  }
  checkUnchanged(src);
  const short = () => unavailable(src.file, src.tensor, src.fileSize, src.position + src.length);
  const position = src.position + offset;
  if (position + out.length > src.fileSize) throw short();
  await readRangeAsync(src.fd, position, out, short);
}

/** readFileRange's asynchronous twin; the file must be open (`fd`). */
export function readFileRangeAsync(
  range: { file: string; fd: number; position: number; length: number },
  out: Uint8Array,
): Promise<void> {
  return readRangeAsync(
    range.fd,
    range.position,
    out,
    () =>
      new PayloadUnavailableError(
        `${path.basename(range.file)} ends before byte ${range.position + range.length}: it is truncated or changed since it was opened`,
      ),
  );
}

async function readRangeAsync(
  fd: number,
  position: number,
  out: Uint8Array,
  short: () => Error,
): Promise<void> {
  let done = 0;
  while (done < out.length) {
    const bytesRead = await new Promise<number>((resolve, reject) =>
      fs.read(fd, out, done, out.length - done, position + done, (e, n) =>
        e ? reject(e) : resolve(n),
      ),
    );
    if (bytesRead === 0) throw short();
    done += bytesRead;
  }
}

function readRange(fd: number, position: number, out: Uint8Array, short: () => Error): void {
  let done = 0;
  while (done < out.length) {
    const n = fs.readSync(fd, out, done, out.length - done, position + done);
    if (n === 0) throw short();
    done += n;
  }
}

/**
 * `parts` (encodeModelParts's output) with every hole of a structure image replaced by the file
 * range it stands for, for a streaming save; other bytes stay as they are (views, not copies).
 */
export function resolveParts(parts: readonly Uint8Array[]): Array<Uint8Array | FileRange> {
  const out: Array<Uint8Array | FileRange> = [];
  for (const p of parts) {
    const info = images.get(p.buffer);
    if (!info) {
      out.push(p);
      continue;
    }
    let pos = p.byteOffset;
    const end = p.byteOffset + p.length;
    const holes = holesIn(info, pos, end);
    if (holes.length > 0) checkUnchanged({ ...info, file: info.path });
    for (const h of holes) {
      const from = Math.max(h.start, pos);
      const to = Math.min(h.end, end);
      if (from > pos) out.push(new Uint8Array(p.buffer, pos, from - pos));
      if (to > info.fileSize) throw unavailable(info.path, h.tensor, info.fileSize, h.end);
      out.push({ file: info.path, fd: info.fd, position: from, length: to - from });
      pos = to;
    }
    if (pos < end) out.push(new Uint8Array(p.buffer, pos, end - pos));
  }
  return out;
}

/**
 * Reads a file range into `out` (a save's streaming copy), checking the file still holds it;
 * without an open `fd`, the file is opened for this read.
 */
export function readFileRange(
  range: { file: string; fd?: number; position: number; length: number },
  out: Uint8Array,
): void {
  const short = () =>
    new PayloadUnavailableError(
      `${path.basename(range.file)} ends before byte ${range.position + range.length}: it is truncated or changed since it was opened`,
    );
  if (range.fd !== undefined) return readRange(range.fd, range.position, out, short);
  const fd = fs.openSync(range.file, 'r');
  try {
    readRange(fd, range.position, out, short);
  } finally {
    fs.closeSync(fd);
  }
}

/** `bytes` with any hole bytes filled from the file: a copy when it touches a hole, else itself. */
export function materialize(bytes: Uint8Array): Uint8Array {
  if (!touchesHoles(bytes)) return bytes;
  const parts = resolveParts([bytes]);
  const out = new Uint8Array(bytes.length);
  let at = 0;
  for (const p of parts) {
    if (p instanceof Uint8Array) {
      out.set(p, at);
      at += p.length;
    } else {
      readFileRange(p, out.subarray(at, at + p.length));
      at += p.length;
    }
  }
  return out;
}
