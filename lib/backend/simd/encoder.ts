/**
 * A minimal WebAssembly encoder: just what MetaLab's SIMD kernels use. The kernels are a few
 * hundred bytes, so MetaLab writes them here as instruction lists and assembles the module at
 * run time: no toolchain, no binary file in the repository, and every instruction readable
 * next to the loop it implements. Opcodes are from the WebAssembly core and SIMD specs.
 * @module
 */

/** Unsigned LEB128. */
export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 (for i32.const). */
export function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

/** A vector: its length, then its items. */
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
/** A name: its UTF-8 bytes as a vector. */
const name = (s: string): number[] => vec([...new TextEncoder().encode(s)].map((b) => [b]));
/** A section: its id, its size, its body. */
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];

/** Value type i32 (the kernels' counters and byte offsets). */
export const I32 = 0x7f;
/** Value type v128 (four floats). */
export const V128 = 0x7b;

/** The instructions the kernels use. */
export const op = {
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  end: [0x0b],
  br: (depth: number) => [0x0c, ...uleb(depth)],
  brIf: (depth: number) => [0x0d, ...uleb(depth)],
  get: (i: number) => [0x20, ...uleb(i)],
  set: (i: number) => [0x21, ...uleb(i)],
  i32Const: (n: number) => [0x41, ...sleb(n)],
  i32Eqz: [0x45],
  i32Add: [0x6a],
  i32Mul: [0x6c],
  // memarg: alignment hint 2^2 (addresses are float-aligned), offset 0.
  v128Load: [0xfd, 0x00, 2, 0],
  v128Store: [0xfd, 0x0b, 2, 0],
  v128Const: (bytes: number[]) => [0xfd, 0x0c, ...bytes],
  /** i8x16.shuffle picking the four 32-bit lanes `lanes` (0–3: first operand, 4–7: second). */
  shuffle32: (
    lanes: number[],
  ) => [0xfd, 0x0d, ...lanes.flatMap((l) => [0, 1, 2, 3].map((b) => 4 * l + b))],
  f32x4Gt: [0xfd, 0x44],
  v128And: [0xfd, 0x4e],
  v128AndNot: [0xfd, 0x4f],
  v128Bitselect: [0xfd, 0x52],
  f32x4Add: [0xfd, ...uleb(0xe4)],
  f32x4Sub: [0xfd, ...uleb(0xe5)],
  f32x4Mul: [0xfd, ...uleb(0xe6)],
};

/** `local += amount` (`amount`: instructions that push one i32). */
export const addTo = (local: number, amount: number[]): number[] => [
  ...op.get(local),
  ...amount,
  ...op.i32Add,
  ...op.set(local),
];

/** `local += n`. */
export const bump = (local: number, n: number): number[] => addTo(local, op.i32Const(n));

/** `local = value` (`value`: instructions that push one value). */
export const assign = (local: number, value: number[]): number[] => [...value, ...op.set(local)];

/** `while (counter !== 0) { body; counter -= 1 }`. */
export function countDown(counter: number, body: number[]): number[] {
  return [
    ...op.block,
    ...op.loop,
    ...op.get(counter),
    ...op.i32Eqz,
    ...op.brIf(1),
    ...body,
    ...bump(counter, -1),
    ...op.br(0),
    ...op.end,
    ...op.end,
  ];
}

/**
 * `do { body; counter -= 1 } while (counter !== 0)`: one test a pass fewer than
 * {@linkcode countDown}, for counters known to start at 1 or more (channel groups).
 */
export function countDownFromOne(counter: number, body: number[]): number[] {
  return [...op.loop, ...body, ...bump(counter, -1), ...op.get(counter), ...op.brIf(0), ...op.end];
}

/**
 * `for (rows) { rowStart; for (groups of four channels) body; rowEnd }`, counting down the i32
 * locals `row` and `group` (both clobbered) from `rows` and `groups` (≥ 1); `body`, `rowStart`
 * and `rowEnd` advance their own pointers. The loop of every kernel over `[rows, C]` data.
 */
export function rowsByChannelGroups(
  locals: { rows: number; groups: number; row: number; group: number },
  body: number[],
  { rowStart = [], rowEnd = [] }: { rowStart?: number[]; rowEnd?: number[] } = {},
): number[] {
  return [
    ...assign(locals.row, op.get(locals.rows)),
    ...countDown(locals.row, [
      ...assign(locals.group, op.get(locals.groups)),
      ...rowStart,
      ...countDownFromOne(locals.group, body),
      ...rowEnd,
    ]),
  ];
}

/** One function of a module: all parameters i32 (byte offsets and counts), no results. */
export interface WasmFunction {
  /** The export name. */
  name: string;
  /** The number of i32 parameters (locals 0 … params − 1). */
  params: number;
  /** Further locals, numbered after the parameters: runs of `[count, type]`. */
  locals: Array<[number, number]>;
  /** The instructions, without the final `end`. */
  body: number[];
}

/**
 * The bytes of a module that imports `env.memory` (shared, as the threaded wasm build's is,
 * when `sharedMemory`) and exports `functions` under their names.
 */
export function encodeModule(functions: WasmFunction[], sharedMemory: boolean): Uint8Array {
  // One function type per parameter count, in order of first use.
  const arities = [...new Set(functions.map((f) => f.params))];
  const types = arities.map((n) => [0x60, ...vec(Array(n).fill([I32])), ...vec([])]);
  const limits = sharedMemory ? [0x03, ...uleb(0), ...uleb(65536)] : [0x00, ...uleb(0)];
  const code = functions.map((f) => {
    const entry = [...vec(f.locals.map(([n, type]) => [...uleb(n), type])), ...f.body, ...op.end];
    return [...uleb(entry.length), ...entry];
  });
  const bytes = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00], // magic, version 1
    ...section(1, vec(types)),
    ...section(2, vec([[...name("env"), ...name("memory"), 0x02, ...limits]])),
    ...section(3, vec(functions.map((f) => uleb(arities.indexOf(f.params))))),
    ...section(7, vec(functions.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]))),
    ...section(10, vec(code)),
  ];
  return new Uint8Array(bytes);
}
