/**
 * Protocol-buffers wire format, read and written by hand.
 *
 * Why not a protobuf library: Model Lens must (1) read tensors as views of the file bytes,
 * never copies, (2) re-save an unedited model byte for byte, and (3) keep fields that our
 * schema does not know, which newer ONNX IR versions add. `onnx-proto` (protobufjs) ships the
 * ONNX 1.10 schema and its decoder silently drops unknown fields; generic decoders also decode
 * packed `float_data` into JS number arrays and re-order fields on encode. The wire format is
 * five rules (https://protobuf.dev/programming-guides/encoding/), so a thin layer that records
 * the byte span of every field gives all three guarantees at once: an untouched message is
 * written back from its original bytes, and an edited one copies its unknown fields verbatim.
 */
import { materialize, touchesHoles } from './lazyFile';

export const enum WireType {
  Varint = 0,
  Fixed64 = 1,
  LengthDelimited = 2,
  StartGroup = 3,
  EndGroup = 4,
  Fixed32 = 5,
}

/** A malformed or truncated protobuf byte stream. The message names what was being read. */
export class ProtoError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtoError';
  }
}

const TWO_POW_32 = 4294967296;

/** A cursor over `buf[pos, end)`. Every read checks bounds, so a truncated file cannot overrun. */
export class WireReader {
  pos: number;
  /** Start of the field most recently returned by `nextTag`, tag included. */
  fieldStart = 0;
  /** Wire type of the field most recently returned by `nextTag`. */
  wireType: WireType = WireType.Varint;

  constructor(
    readonly buf: Uint8Array,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
  }

  done(): boolean {
    return this.pos >= this.end;
  }

  /**
   * Reads a varint as a JS number. int64 values are exact up to 2^53; negative int64 values
   * (ten-byte two's complement) come back negative. Larger magnitudes are rounded, which is
   * harmless for dims and attributes because we reject implausible sizes later.
   */
  varint(): number {
    const buf = this.buf;
    let pos = this.pos;
    let lo = 0;
    let shift = 0;
    let byte: number;
    // Low 28 bits without overflow of 32-bit bitwise math.
    do {
      if (pos >= this.end) throw new ProtoError('truncated varint');
      byte = buf[pos++];
      lo |= (byte & 0x7f) << shift;
      shift += 7;
    } while (byte & 0x80 && shift < 28);
    lo >>>= 0;
    if (!(byte & 0x80)) {
      this.pos = pos;
      return lo;
    }
    // Remaining bits: accumulate the high part as a float.
    let hi = 0;
    let hiShift = 0;
    let count = 4;
    do {
      if (pos >= this.end) throw new ProtoError('truncated varint');
      if (++count > 10) throw new ProtoError('varint longer than 10 bytes');
      byte = buf[pos++];
      hi += (byte & 0x7f) * 2 ** hiShift;
      hiShift += 7;
    } while (byte & 0x80);
    this.pos = pos;
    // hi holds bits 28 and up. A ten-byte varint with bit 63 set is a negative int64: take the
    // high part in two's complement first, so that small negatives stay exact.
    if (count === 10 && hi >= 2 ** 35) hi -= 2 ** 36;
    return hi * 2 ** 28 + lo;
  }

  fixed32(): number {
    if (this.pos + 4 > this.end) throw new ProtoError('truncated fixed32');
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 4;
    return (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0;
  }

  float32(): number {
    const bits = this.fixed32();
    scratchU32[0] = bits;
    return scratchF32[0];
  }

  fixed64(): number {
    const lo = this.fixed32();
    const hi = this.fixed32();
    return hi * TWO_POW_32 + lo;
  }

  float64(): number {
    if (this.pos + 8 > this.end) throw new ProtoError('truncated double');
    for (let i = 0; i < 8; i++) scratchU8[i] = this.buf[this.pos + i];
    this.pos += 8;
    return scratchF64[0];
  }

  /** A length-delimited payload as a view of the underlying bytes (no copy). */
  bytes(): Uint8Array {
    const len = this.varint();
    if (len < 0 || this.pos + len > this.end) {
      throw new ProtoError(`length ${len} runs past the end of its message`);
    }
    const start = this.pos;
    this.pos += len;
    return this.buf.subarray(start, start + len);
  }

  string(): string {
    return textDecoder.decode(this.bytes());
  }

  /** Reads the next tag and returns its field number; records the field start and wire type. */
  nextTag(): number {
    this.fieldStart = this.pos;
    const tag = this.varint();
    const wireType = tag & 7;
    const fieldNumber = Math.floor(tag / 8);
    if (fieldNumber < 1) throw new ProtoError(`invalid field number ${fieldNumber}`);
    if (wireType === 6 || wireType === 7) throw new ProtoError(`invalid wire type ${wireType}`);
    this.wireType = wireType as WireType;
    return fieldNumber;
  }

  /** Skips the value of the current field. Groups (deprecated) are skipped to their end tag. */
  skip(wireType: WireType = this.wireType): void {
    switch (wireType) {
      case WireType.Varint:
        this.varint();
        return;
      case WireType.Fixed64:
        this.advance(8);
        return;
      case WireType.LengthDelimited:
        this.bytes();
        return;
      case WireType.Fixed32:
        this.advance(4);
        return;
      case WireType.StartGroup: {
        for (let depth = 1; depth > 0;) {
          if (this.done()) throw new ProtoError('unterminated group');
          this.nextTag();
          if (this.wireType === WireType.StartGroup) depth++;
          else if (this.wireType === WireType.EndGroup) depth--;
          else this.skip();
        }
        return;
      }
      default:
        throw new ProtoError(`unexpected wire type ${wireType}`);
    }
  }

  /** The whole current field (tag included) as a view, after its value has been read or skipped. */
  fieldBytes(): Uint8Array {
    return this.buf.subarray(this.fieldStart, this.pos);
  }

  private advance(n: number): void {
    if (this.pos + n > this.end) throw new ProtoError('truncated fixed-size field');
    this.pos += n;
  }

  /** Asserts the current field has the expected wire type; a mismatch is a corrupt file. */
  expect(wireType: WireType, what: string): void {
    if (this.wireType !== wireType) {
      throw new ProtoError(`${what} has wire type ${this.wireType}, expected ${wireType}`);
    }
  }
}

const scratchBuf = new ArrayBuffer(8);
const scratchU8 = new Uint8Array(scratchBuf);
const scratchU32 = new Uint32Array(scratchBuf);
const scratchF32 = new Float32Array(scratchBuf);
const scratchF64 = new Float64Array(scratchBuf);
const textDecoder = new TextDecoder('utf-8', { fatal: false });
const textEncoder = new TextEncoder();

/**
 * Reads a packed or unpacked repeated scalar field value into `out`. Protobuf parsers must
 * accept both encodings for repeated scalars, whichever the writer chose.
 */
export function readRepeatedVarint(r: WireReader, out: number[]): void {
  if (r.wireType === WireType.LengthDelimited) {
    const payload = r.bytes();
    const inner = new WireReader(payload);
    while (!inner.done()) out.push(inner.varint());
  } else {
    r.expect(WireType.Varint, 'repeated integer');
    out.push(r.varint());
  }
}

export function readRepeatedFloat(r: WireReader, out: number[]): void {
  if (r.wireType === WireType.LengthDelimited) {
    const inner = new WireReader(r.bytes());
    while (!inner.done()) out.push(inner.float32());
  } else {
    r.expect(WireType.Fixed32, 'repeated float');
    out.push(r.float32());
  }
}

/** Growable byte sink for encoding. Chunks (e.g. tensor payloads) are referenced, not copied. */
export class WireWriter {
  private chunks: Uint8Array[] = [];
  private scratch = new Uint8Array(256);
  private used = 0;
  private total = 0;

  get length(): number {
    return this.total;
  }

  private flushScratch(): void {
    if (this.used > 0) {
      this.chunks.push(this.scratch.slice(0, this.used));
      this.used = 0;
    }
  }

  private ensure(n: number): void {
    if (this.used + n > this.scratch.length) {
      this.flushScratch();
      if (n > this.scratch.length) this.scratch = new Uint8Array(n);
    }
  }

  varint(value: number): void {
    this.ensure(10);
    let v = value;
    if (v < 0) {
      // int64 two's complement: ten bytes.
      let lo = (v % TWO_POW_32) >>> 0;
      let hi = Math.floor(v / TWO_POW_32) >>> 0;
      for (let i = 0; i < 9; i++) {
        this.scratch[this.used++] = (lo & 0x7f) | 0x80;
        lo = (lo >>> 7) | ((hi & 0x7f) << 25);
        hi >>>= 7;
      }
      this.scratch[this.used++] = lo & 0x01;
      this.total += 10;
      return;
    }
    const start = this.used;
    while (v >= 0x80) {
      this.scratch[this.used++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    this.scratch[this.used++] = v;
    this.total += this.used - start;
  }

  tag(fieldNumber: number, wireType: WireType): void {
    this.varint(fieldNumber * 8 + wireType);
  }

  fixed32(bits: number): void {
    this.ensure(4);
    const s = this.scratch;
    s[this.used++] = bits & 0xff;
    s[this.used++] = (bits >>> 8) & 0xff;
    s[this.used++] = (bits >>> 16) & 0xff;
    s[this.used++] = (bits >>> 24) & 0xff;
    this.total += 4;
  }

  float32(value: number): void {
    scratchF32[0] = value;
    this.fixed32(scratchU32[0]);
  }

  /** Appends bytes by reference: large payloads are never copied until `finish`. */
  raw(bytes: Uint8Array): void {
    // Bytes left in the file by a lazy load (lazyFile.ts) are kept as a reference too, so that the
    // save can stream them from the file.
    if (bytes.length <= 64 && !touchesHoles(bytes)) {
      this.ensure(bytes.length);
      this.scratch.set(bytes, this.used);
      this.used += bytes.length;
    } else {
      this.flushScratch();
      this.chunks.push(bytes);
    }
    this.total += bytes.length;
  }

  lengthDelimited(fieldNumber: number, payload: Uint8Array): void {
    this.tag(fieldNumber, WireType.LengthDelimited);
    this.varint(payload.length);
    this.raw(payload);
  }

  string(fieldNumber: number, value: string): void {
    this.lengthDelimited(fieldNumber, textEncoder.encode(value));
  }

  varintField(fieldNumber: number, value: number): void {
    this.tag(fieldNumber, WireType.Varint);
    this.varint(value);
  }

  /** Writes a nested message: the child is encoded into its own writer to learn its length. */
  message(fieldNumber: number, encodeChild: (w: WireWriter) => void): void {
    const child = new WireWriter();
    encodeChild(child);
    this.tag(fieldNumber, WireType.LengthDelimited);
    this.varint(child.length);
    this.flushScratch();
    for (const c of child.parts()) this.chunks.push(c);
    this.total += child.length;
  }

  /** The encoded chunks, in order, without concatenating them. */
  parts(): Uint8Array[] {
    this.flushScratch();
    return this.chunks;
  }

  finish(): Uint8Array {
    const parts = this.parts();
    if (parts.length === 1) return parts[0];
    const out = new Uint8Array(this.total);
    let offset = 0;
    for (const p of parts) {
      out.set(materialize(p), offset);
      offset += p.length;
    }
    return out;
  }
}

export function decodeUtf8(bytes: Uint8Array): string {
  return textDecoder.decode(bytes);
}

export function encodeUtf8(text: string): Uint8Array {
  return textEncoder.encode(text);
}
