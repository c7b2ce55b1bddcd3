/**
 * A verifying FlatBuffers reader: every read is checked against the file before it happens.
 *
 * Why not the `flatbuffers` npm runtime: its JavaScript ByteBuffer reads without bounds checks
 * (an offset past the end yields `undefined`, silently 0) and it has no verifier, unlike the C++
 * runtime; a TFLite model is user input, so a reader over it must check each offset and length,
 * and give one clear line when one is wrong. Generated accessors would also have to be committed
 * from flatc's output for the whole schema. The binary format itself is small
 * (https://flatbuffers.dev/internals/): a table is an int32 offset back to its vtable, a vtable is
 * uint16 [vtable bytes, table bytes, field offsets...], and strings, vectors and child tables are
 * uint32 offsets forward from where they are stored. So this file checks the same things the C++
 * Verifier does (vtable and table inside the file, each field inside its table, each vector's
 * elements inside the file) while reading. Tests still build their files with the npm package's
 * Builder, which keeps this reader honest against the reference writer.
 *
 * Offsets to child objects are unsigned and point forward, so the object graph has no cycles;
 * but several offsets may point at one object, so a crafted file could make a naive reader
 * decode one huge vector thousands of times. A budget, proportional to the file's size, caps the
 * total number of tables and vector elements decoded: a real file never comes close to it.
 */

/** A malformed flatbuffer. The message names the table and field being read. */
export class FlatBufferError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FlatBufferError';
  }
}

/** A table type: its name (for messages) and its fields in schema order (= field ids). */
export interface TableType<F extends string> {
  readonly name: string;
  readonly fieldIds: ReadonlyMap<F, number>;
}

/**
 * Declares a table type. List every field of the schema in order, deprecated ones included; a
 * union field `x` takes two ids, `x_type` then `x`.
 */
export function tableType<const F extends string>(
  name: string,
  fields: readonly F[],
): TableType<F> {
  return { name, fieldIds: new Map(fields.map((f, i) => [f, i])) };
}

/** The field names of a table type. */
export type FieldsOf<T> = T extends TableType<infer F> ? F : never;

const textDecoder = new TextDecoder('utf-8', { fatal: false });

export class FlatBuffer {
  readonly view: DataView;
  /** Tables and vector elements still allowed to be decoded; see the module comment. */
  private budget: number;

  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.budget = 2 * bytes.length + 65536;
  }

  get length(): number {
    return this.bytes.length;
  }

  /** The four-character file identifier after the root offset ('' when the file is shorter). */
  identifier(): string {
    if (this.bytes.length < 8) return '';
    return String.fromCharCode(...this.bytes.subarray(4, 8));
  }

  root<F extends string>(type: TableType<F>): Table<F> {
    if (this.bytes.length < 8)
      throw new FlatBufferError('the file is too short to be a flatbuffer');
    return this.table(this.u32(0, 'the root offset'), type);
  }

  /** The table at `pos`, with its vtable checked. */
  table<F extends string>(pos: number, type: TableType<F>): Table<F> {
    this.charge(1, type.name);
    const where = `${type.name} table at ${pos}`;
    const vtable = pos - this.i32(pos, where);
    const vtableBytes = this.u16(vtable, `${where}: its vtable`);
    const tableBytes = this.u16(vtable + 2, `${where}: its vtable`);
    if (vtableBytes < 4 || vtableBytes % 2 !== 0 || vtable + vtableBytes > this.length) {
      throw new FlatBufferError(`${where}: vtable of ${vtableBytes} bytes is malformed`);
    }
    if (tableBytes < 4 || pos + tableBytes > this.length) {
      throw new FlatBufferError(`${where}: its ${tableBytes} bytes run past the end of the file`);
    }
    return new Table(this, type, pos, vtable, vtableBytes, tableBytes);
  }

  /** Counts `n` decoded items against the budget. */
  charge(n: number, what: string): void {
    this.budget -= n;
    if (this.budget < 0) {
      throw new FlatBufferError(`${what}: the file refers to the same data too many times`);
    }
  }

  check(pos: number, size: number, what: string): void {
    if (!(pos >= 0 && pos + size <= this.length)) {
      throw new FlatBufferError(`${what} lies outside the file (offset ${pos})`);
    }
  }

  u8(pos: number, what: string): number {
    this.check(pos, 1, what);
    return this.bytes[pos];
  }

  u16(pos: number, what: string): number {
    this.check(pos, 2, what);
    return this.view.getUint16(pos, true);
  }

  i32(pos: number, what: string): number {
    this.check(pos, 4, what);
    return this.view.getInt32(pos, true);
  }

  u32(pos: number, what: string): number {
    this.check(pos, 4, what);
    return this.view.getUint32(pos, true);
  }

  /** An int64 as a JS number: exact up to 2^53, which covers every offset and size in a file. */
  i64(pos: number, what: string): number {
    this.check(pos, 8, what);
    return this.view.getInt32(pos + 4, true) * 2 ** 32 + this.view.getUint32(pos, true);
  }

  u64(pos: number, what: string): number {
    this.check(pos, 8, what);
    return this.view.getUint32(pos + 4, true) * 2 ** 32 + this.view.getUint32(pos, true);
  }
}

/** Where a vector's elements start and how many there are, checked against the file. */
interface VectorSpan {
  readonly start: number;
  readonly length: number;
}

export class Table<F extends string> {
  constructor(
    readonly fb: FlatBuffer,
    readonly type: TableType<F>,
    /** Byte offset of the table in the file. */
    readonly pos: number,
    private readonly vtable: number,
    private readonly vtableBytes: number,
    private readonly tableBytes: number,
  ) {}

  has(field: F): boolean {
    return this.fieldOffset(field) !== 0;
  }

  bool(field: F, fallback = false): boolean {
    const at = this.scalarAt(field, 1);
    return at === undefined ? fallback : this.fb.bytes[at] !== 0;
  }

  int8(field: F, fallback = 0): number {
    const at = this.scalarAt(field, 1);
    return at === undefined ? fallback : this.fb.view.getInt8(at);
  }

  uint8(field: F, fallback = 0): number {
    const at = this.scalarAt(field, 1);
    return at === undefined ? fallback : this.fb.bytes[at];
  }

  int32(field: F, fallback = 0): number {
    const at = this.scalarAt(field, 4);
    return at === undefined ? fallback : this.fb.view.getInt32(at, true);
  }

  uint32(field: F, fallback = 0): number {
    const at = this.scalarAt(field, 4);
    return at === undefined ? fallback : this.fb.view.getUint32(at, true);
  }

  float32(field: F, fallback = 0): number {
    const at = this.scalarAt(field, 4);
    return at === undefined ? fallback : this.fb.view.getFloat32(at, true);
  }

  int64(field: F, fallback = 0): number {
    const at = this.scalarAt(field, 8);
    return at === undefined ? fallback : this.fb.i64(at, this.name(field));
  }

  uint64(field: F, fallback = 0): number {
    const at = this.scalarAt(field, 8);
    return at === undefined ? fallback : this.fb.u64(at, this.name(field));
  }

  string(field: F): string | undefined {
    const bytes = this.uint8Vector(field);
    if (bytes === undefined) return undefined;
    this.fb.charge(Math.ceil(bytes.length / 4), this.name(field));
    return textDecoder.decode(bytes);
  }

  table<G extends string>(field: F, type: TableType<G>): Table<G> | undefined {
    const target = this.offsetTarget(field);
    return target === undefined ? undefined : this.fb.table(target, type);
  }

  /** A [ubyte] vector (or a string's bytes) as a view of the file. */
  uint8Vector(field: F): Uint8Array | undefined {
    const span = this.vector(field, 1, false);
    return span && this.fb.bytes.subarray(span.start, span.start + span.length);
  }

  int32Vector(field: F): number[] | undefined {
    const span = this.vector(field, 4, true);
    if (!span) return undefined;
    const out = new Array<number>(span.length);
    for (let i = 0; i < span.length; i++) out[i] = this.fb.view.getInt32(span.start + 4 * i, true);
    return out;
  }

  uint16Vector(field: F): number[] | undefined {
    const span = this.vector(field, 2, true);
    if (!span) return undefined;
    const out = new Array<number>(span.length);
    for (let i = 0; i < span.length; i++) out[i] = this.fb.view.getUint16(span.start + 2 * i, true);
    return out;
  }

  /** A [ubyte] vector read as numbers (for index arrays, not payloads). */
  uint8Numbers(field: F): number[] | undefined {
    const span = this.vector(field, 1, true);
    return span && Array.from(this.fb.bytes.subarray(span.start, span.start + span.length));
  }

  boolVector(field: F): boolean[] | undefined {
    const span = this.vector(field, 1, true);
    if (!span) return undefined;
    const out = new Array<boolean>(span.length);
    for (let i = 0; i < span.length; i++) out[i] = this.fb.bytes[span.start + i] !== 0;
    return out;
  }

  float32Vector(field: F): number[] | undefined {
    const span = this.vector(field, 4, true);
    if (!span) return undefined;
    const out = new Array<number>(span.length);
    for (let i = 0; i < span.length; i++) {
      out[i] = this.fb.view.getFloat32(span.start + 4 * i, true);
    }
    return out;
  }

  int64Vector(field: F): number[] | undefined {
    const span = this.vector(field, 8, true);
    if (!span) return undefined;
    const out = new Array<number>(span.length);
    const what = this.name(field);
    for (let i = 0; i < span.length; i++) out[i] = this.fb.i64(span.start + 8 * i, what);
    return out;
  }

  /** A vector of tables; each element is an offset forward from where it is stored. */
  tableVector<G extends string>(field: F, type: TableType<G>): Table<G>[] | undefined {
    const span = this.vector(field, 4, true);
    if (!span) return undefined;
    const out: Table<G>[] = [];
    for (let i = 0; i < span.length; i++) {
      const at = span.start + 4 * i;
      out.push(this.fb.table(at + this.fb.view.getUint32(at, true), type));
    }
    return out;
  }

  /** Where a field's value is stored, or 0 when the table leaves it out (default value). */
  private fieldOffset(field: F): number {
    const id = this.type.fieldIds.get(field);
    if (id === undefined) throw new Error(`${this.type.name} has no field ${field}`);
    const slot = 4 + 2 * id;
    if (slot + 2 > this.vtableBytes) return 0;
    return this.fb.view.getUint16(this.vtable + slot, true);
  }

  private scalarAt(field: F, size: number): number | undefined {
    const offset = this.fieldOffset(field);
    if (offset === 0) return undefined;
    if (offset + size > this.tableBytes) {
      throw new FlatBufferError(`${this.name(field)} lies outside its table`);
    }
    return this.pos + offset;
  }

  private offsetTarget(field: F): number | undefined {
    const at = this.scalarAt(field, 4);
    if (at === undefined) return undefined;
    const target = at + this.fb.view.getUint32(at, true);
    this.fb.check(target, 4, this.name(field));
    return target;
  }

  private vector(field: F, elementBytes: number, charged: boolean): VectorSpan | undefined {
    const target = this.offsetTarget(field);
    if (target === undefined) return undefined;
    const length = this.fb.view.getUint32(target, true);
    const start = target + 4;
    if (start + length * elementBytes > this.fb.length) {
      throw new FlatBufferError(
        `${this.name(field)} claims ${length} elements, more than the file holds`,
      );
    }
    if (charged) this.fb.charge(length, this.name(field));
    return { start, length };
  }

  private name(field: F): string {
    return `${this.type.name}.${field}`;
  }
}
