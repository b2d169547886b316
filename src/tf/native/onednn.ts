// oneDNN (the library TensorFlow's own CPU build runs its convolutions on), called through the koffi FFI
// for the wasm backend's convolutions, matrix products, pooling and batch normalisation (see
// wasm/onednn-kernels.ts). Its JIT kernels use the CPU's widest vector units (AVX-512 where there is one)
// and layouts tuned per shape.
//
// Optional on both ends, like OpenBLAS (blas.ts): koffi must load, and so must the system library, the
// oneDNN 2.x runtime (Debian/Ubuntu: apt-get install libdnnl2; 3.x has another C API). When either is missing, or
// PIPE_ONEDNN=off, loadOneDnn() says why and the kernels fall back to OpenBLAS, then XNNPACK.
// PIPE_ONEDNN=<path> picks a library file.
//
// It runs in place on the wasm heap: every call passes addresses into it (the heap may move when it grows,
// so callers take addresses after their last allocation). Primitives are created once per shape and kept,
// with memory objects whose data handles are set on every call.
import { limitThreads, loadLibrary, type Koffi, type Library } from './ffi.js';

/** A convolution over NHWC data with [kh,kw,Cin,Cout] (hwio) filters, as tfjs describes it. */
export interface ConvShape {
  n: number;
  h: number;
  w: number;
  cin: number;
  ho: number;
  wo: number;
  cout: number;
  kh: number;
  kw: number;
  strides: [number, number];
  /** tfjs dilations (1 = dense); oneDNN counts the gaps (0 = dense). */
  dilations: [number, number];
  /** Top, left. */
  padBefore: [number, number];
  /** Bottom, right. */
  padAfter: [number, number];
}

/** A batch of matrix products dst[b] = op(a[b])·op(w[b]); a batch of 1 on either side is broadcast. */
export interface MatMulShape {
  batchA: number;
  batchB: number;
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
}

/** Batch normalisation over NHWC data: one mean and variance per channel, over n·h·w values each. */
export interface BatchNormShape {
  n: number;
  h: number;
  w: number;
  c: number;
  epsilon: number;
}

/** A 2-D pooling window over NHWC data (no dilation), as tfjs describes it. */
export interface PoolShape {
  n: number;
  h: number;
  w: number;
  c: number;
  ho: number;
  wo: number;
  kh: number;
  kw: number;
  strides: [number, number];
  /** Top, left. */
  padBefore: [number, number];
  /** Bottom, right. */
  padAfter: [number, number];
}

/** Max pooling, or the mean over each window counting only the cells inside the input, or all of them. */
export type PoolAlgorithm = 'max' | 'avg-exclude-padding' | 'avg-include-padding';

export interface OneDnn {
  /** The library, its version and the instruction set its kernels use, e.g. "libdnnl.so.2 (oneDNN 2.6.3, avx512_core_bf16)". */
  readonly name: string;
  /** The instruction set its kernels use, as oneDNN names it (dnnl_get_effective_cpu_isa), e.g. "avx512_core_bf16". */
  readonly isa: string;
  /**
   * Whether that instruction set multiplies bf16 natively (avx512_core_bf16 or above). Elsewhere oneDNN's bf16
   * convolutions fall back to reference kernels 20–90× slower than fp32, so setOneDnnPrecision refuses bf16.
   */
  readonly bf16: boolean;
  /**
   * y = conv(x, w) (+ bias) (then relu); addresses into the heap. Given the filter's bytes too (inference, where
   * they repeat from call to call), the filter is not reordered into the primitive's layout again while they
   * are the same as last time.
   */
  convForward(shape: ConvShape, x: bigint, w: bigint, y: bigint, fused?: { bias?: bigint; relu?: boolean; filterBytes?: Uint8Array }): void;
  /** dx from dy and w. */
  convBackwardData(shape: ConvShape, dy: bigint, w: bigint, dx: bigint): void;
  /** dw from x and dy. */
  convBackwardWeights(shape: ConvShape, x: bigint, dy: bigint, dw: bigint): void;
  /** out = op(a)·op(b) (+ bias, one value per output column) (then relu); addresses into the heap. */
  matmul(shape: MatMulShape, a: bigint, b: bigint, out: bigint, fused?: { bias?: bigint; relu?: boolean }): void;
  /** y = γ·(x − μ)/√(σ² + ε) + β with the batch's own statistics, which it writes to mean and variance (biased). */
  batchNormTraining(shape: BatchNormShape, x: bigint, gamma: bigint, beta: bigint, y: bigint, mean: bigint, variance: bigint): void;
  /** The same with given statistics; γ and β are optional (1 and 0 when absent). */
  batchNormInference(shape: BatchNormShape, x: bigint, mean: bigint, variance: bigint, gamma: bigint | undefined, beta: bigint | undefined, y: bigint): void;
  /** dx, dγ, dβ of batchNormTraining from dy, its x, the batch statistics it wrote and γ. */
  batchNormBackward(shape: BatchNormShape, x: bigint, dy: bigint, mean: bigint, variance: bigint, gamma: bigint, dx: bigint, dGamma: bigint, dBeta: bigint): void;
  poolForward(shape: PoolShape, algorithm: PoolAlgorithm, x: bigint, y: bigint): void;
  /** dx from dy; max pooling also needs the forward's x (the windows' maxima are found again). */
  poolBackward(shape: PoolShape, algorithm: PoolAlgorithm, x: bigint, dy: bigint, dx: bigint): void;
  /** Threads the calling thread's oneDNN calls use (OpenMP: per calling thread). */
  setThreads(n: number): void;
  threads(): number;
  /** Which implementation oneDNN picked for each primitive made so far, by shape (for benchmarks and diagnostics). */
  implementations(): Map<string, string>;
}

export type OneDnnLoad = { onednn: OneDnn } | { unavailable: string };

/**
 * What the convolutions' and matrix products' multiplied inputs are rounded to: fp32, or bf16 (8-bit mantissa)
 * with fp32 accumulation and fp32 outputs, about 1.8× as fast where the CPU multiplies bf16 natively (bench:ops).
 */
export type OneDnnPrecision = 'fp32' | 'bf16';

const LIBRARY_NAMES: Record<string, string[]> = {
  linux: ['libdnnl.so.2', 'libdnnl.so.3', 'libdnnl.so'],
  darwin: ['libdnnl.2.dylib', 'libdnnl.dylib'],
  win32: ['dnnl.dll'],
};

// From oneapi/dnnl/dnnl_types.h (oneDNN 2.x C API; checked against its headers).
const BF16 = 2;
const F32 = 3;
const TAG_ANY = 1;
const TAG_X = 2;
const TAG_ABC = 4;
const TAG_ACB = 17;
const TAG_NHWC = 20;
const TAG_HWIO = 30;
const FORWARD_TRAINING = 64;
const FORWARD_INFERENCE = 96;
const BACKWARD = 128;
const CONVOLUTION_DIRECT = 1;
const ELTWISE_RELU = 31;
const POOLING: Record<PoolAlgorithm, number> = { max: 0x1ff, 'avg-include-padding': 0x2ff, 'avg-exclude-padding': 0x3ff };
/** dnnl_normalization_flags_t. */
const USE_GLOBAL_STATS = 0x1;
const USE_SCALE = 0x8;
const USE_SHIFT = 0x10;
const QUERY_IMPL_INFO_STR = 8;
const QUERY_EXEC_ARG_MD = 255;
/** DNNL_MEMORY_ALLOCATE: the library allocates the memory's buffer. */
const MEMORY_ALLOCATE = 0xffffffffffffffffn;
const ARG_FROM = 1;
const ARG_TO = 17;
const CPU_ENGINE = 1;
const STREAM_DEFAULT = 1;
const ARG_SRC = 1;
const ARG_DST = 17;
const ARG_WEIGHTS = 33;
const ARG_BIAS = 41;
const ARG_MEAN = 49;
const ARG_VARIANCE = 50;
const ARG_SCALE = 51;
const ARG_SHIFT = 52;
const ARG_WORKSPACE = 64;
const ARG_DIFF_SRC = 129;
const ARG_DIFF_DST = 145;
const ARG_DIFF_WEIGHTS = 161;
const ARG_DIFF_SCALE = 255;
const ARG_DIFF_SHIFT = 256;
/** Bytes of a dnnl_memory_desc_t, an op descriptor, a dims array; generous: oneDNN 2.6 needs 696, 5976 and 96. */
const MEMORY_DESC_BYTES = 1024;
const OP_DESC_BYTES = 8192;
const DIMS = 12;
const STATUS_NAMES = ['success', 'out_of_memory', 'invalid_arguments', 'unimplemented', 'iterator_ends', 'runtime_error', 'not_required'];
const ISA_NAMES: Record<number, string> = {
  0x1: 'sse41', 0x3: 'avx', 0x7: 'avx2', 0x27: 'avx512_core', 0x67: 'avx512_core_vnni', 0xe7: 'avx512_core_bf16', 0x3e7: 'avx512_core_amx', 0x407: 'avx2_vnni',
};
/** dnnl_cpu_isa_t values are bit sets, each holding the bits of the sets it extends: these are avx512_core_bf16's. */
const ISA_BF16 = 0xe7;

type Fn = (...args: unknown[]) => unknown;

let loaded: OneDnnLoad | undefined;
/** The precision this thread's convolutions and matrix products run in (see setOneDnnPrecision). */
let precision: OneDnnPrecision = 'fp32';

/**
 * Which layouts oneDNN may pick for itself (reordered from and to ours): none, the filters', or all. Measured
 * on the paper CNN's convolutions (AVX-512, one thread), all three directions together: plain nhwc/hwio runs
 * its im2col GEMM (1957 ms), blocked filters its direct JIT kernels on nhwc data (1479 ms), all blocked the
 * same kernels plus reorders of every activation (2081 ms, 826 of them reorders).
 */
const LAYOUTS: 'plain' | 'weights' | 'any' = 'weights';

/** Loads oneDNN once per thread; later calls return the same result. */
export function loadOneDnn(): OneDnnLoad {
  loaded ??= tryLoad();
  return loaded;
}

/**
 * Limits the calling thread's oneDNN calls to `threads` until the returned function restores the count. A
 * data-parallel replica's thread calls it once: the replicas are the parallelism. A no-op when oneDNN is not loaded.
 */
export function limitOneDnnThreads(threads: number): () => void {
  return limitThreads(loaded && 'onednn' in loaded ? loaded.onednn : undefined, threads);
}

/**
 * Whether this thread's oneDNN can run bf16 kernels natively: loaded, with an instruction set of
 * avx512_core_bf16 or above (as the library reports it: detected, never guessed); else why not.
 */
export function oneDnnBf16(): { available: true } | { available: false; reason: string } {
  const found = loadOneDnn();
  if ('unavailable' in found) return { available: false, reason: `oneDNN is not available: ${found.unavailable}` };
  if (!found.onednn.bf16) return { available: false, reason: `oneDNN's instruction set is ${found.onednn.isa}, without native bf16 (avx512_core_bf16 or above)` };
  return { available: true };
}

/**
 * The one switch of precision: this thread's convolutions (forward, both gradients) and matrix products run in
 * `p` from now until the returned function puts back the one before. fp32 is the default; bf16 throws where
 * oneDnnBf16() says it is not available. Batch norm and pooling stay fp32 either way.
 */
export function setOneDnnPrecision(p: OneDnnPrecision): () => void {
  if (p === 'bf16') {
    const bf16 = oneDnnBf16();
    if (!bf16.available) throw new Error(`bf16 is not available: ${bf16.reason}`);
  }
  const before = precision;
  precision = p;
  return () => {
    precision = before;
  };
}

/** The precision this thread's convolutions and matrix products run in now. */
export function oneDnnPrecision(): OneDnnPrecision {
  return precision;
}

function tryLoad(): OneDnnLoad {
  // OpenMP reads its settings once, when it loads (with oneDNN, here). Its threads sleep between calls instead
  // of spinning: in between, the step's other kernels run on this thread, and spinning threads would take
  // cores from it (and from the other replicas'). Set for the load only: child processes (a benchmark's
  // PyTorch) keep their own default.
  const policy = process.env.OMP_WAIT_POLICY;
  process.env.OMP_WAIT_POLICY ??= 'PASSIVE';
  const hint = process.platform === 'linux' ? 'apt-get install libdnnl2 (the oneDNN 2.x runtime)' : 'install the oneDNN 2.x runtime';
  let found;
  try {
    found = loadLibrary({ label: 'oneDNN', variable: 'PIPE_ONEDNN', files: LIBRARY_NAMES, hint, notIt: 'does not work as oneDNN 2.x' }, bind);
  } finally {
    if (policy === undefined) delete process.env.OMP_WAIT_POLICY;
  }
  return 'library' in found ? { onednn: found.library } : found;
}

/** A primitive ready to execute: its dnnl_exec_arg_t[] ({int arg; dnnl_memory_t memory}, 16 bytes each). */
interface Executable {
  handle: bigint;
  args: BigInt64Array;
  argsAddress: bigint;
  count: number;
}

interface Primitive extends Executable {
  /** The memory object each call's address goes to, in the order of the arguments given to makePrimitive. */
  memories: bigint[];
  /** Reorders from our plain layouts into the ones the primitive picked (inputs), run before it. */
  before: Array<{ reorder: Executable; input: number }>;
  /** A copy of the last bytes reordered for an input whose bytes a call hands over (see run), by input. */
  reordered: Map<number, Buffer>;
  /** Reorders back into our plain layouts (outputs), run after it. */
  after: Executable[];
  /** The memory of each argument that no call passes (see HeldArg), by DNNL_ARG_*. */
  held: Map<number, bigint>;
}

/** One argument of a primitive: its DNNL_ARG_*, our plain layout's descriptor, and whether the primitive writes it. */
type ArgSpec = [arg: number, plain: bigint, output: boolean];
/**
 * An argument that stays with the primitive instead of coming from the heap on each call (a workspace, an
 * output nobody reads): the memory given, or one the library allocates in the layout the primitive picked.
 */
type HeldArg = [arg: number, memory?: bigint];
/** Which of a convolution's src, weights and dst (or their gradients) its op takes in bf16. */
interface ConvBf16 {
  src: boolean;
  weights: boolean;
  dst: boolean;
}
const NO_BF16: ConvBf16 = { src: false, weights: false, dst: false };
/** The forward in bf16: src and weights multiplied in bf16, dst accumulated and written in fp32. */
const FORWARD_BF16: ConvBf16 = { src: true, weights: true, dst: false };

function bind(koffi: Koffi, lib: Library, file: string): OneDnn {
  const P = 'intptr_t';
  const f = (name: string, result: string, args: string[]) => lib.func(name, result, args);
  const engineCreate = f('dnnl_engine_create', 'int', [P, 'int', 'size_t']);
  const streamCreate = f('dnnl_stream_create', 'int', [P, P, 'unsigned int']);
  const mdInitByTag = f('dnnl_memory_desc_init_by_tag', 'int', [P, 'int', P, 'int', 'int']);
  const convForwardInit = f('dnnl_dilated_convolution_forward_desc_init', 'int', [P, 'int', 'int', P, P, P, P, P, P, P, P]);
  const convBackwardDataInit = f('dnnl_dilated_convolution_backward_data_desc_init', 'int', [P, 'int', P, P, P, P, P, P, P]);
  const convBackwardWeightsInit = f('dnnl_dilated_convolution_backward_weights_desc_init', 'int', [P, 'int', P, P, P, P, P, P, P, P]);
  const matmulInit = f('dnnl_matmul_desc_init', 'int', [P, P, P, P, P]);
  const batchNormForwardInit = f('dnnl_batch_normalization_forward_desc_init', 'int', [P, 'int', P, 'float', 'unsigned int']);
  const batchNormBackwardInit = f('dnnl_batch_normalization_backward_desc_init', 'int', [P, 'int', P, P, 'float', 'unsigned int']);
  const poolForwardInit = f('dnnl_pooling_forward_desc_init', 'int', [P, 'int', 'int', P, P, P, P, P, P]);
  const poolBackwardInit = f('dnnl_pooling_backward_desc_init', 'int', [P, 'int', P, P, P, P, P, P]);
  const pdCreate = f('dnnl_primitive_desc_create', 'int', [P, P, P, P, P]);
  const pdQuery = f('dnnl_primitive_desc_query', 'int', [P, 'int', 'int', P]);
  const pdDestroy = f('dnnl_primitive_desc_destroy', 'int', [P]);
  const primitiveCreate = f('dnnl_primitive_create', 'int', [P, P]);
  const memoryCreate = f('dnnl_memory_create', 'int', [P, P, P, P]);
  const setHandle = f('dnnl_memory_set_data_handle', 'int', [P, P]);
  const execute = f('dnnl_primitive_execute', 'int', [P, P, 'int', P]);
  const queryMd = f('dnnl_primitive_desc_query_md', P, [P, 'int', 'int']);
  const mdEqual = f('dnnl_memory_desc_equal', 'int', [P, P]);
  const reorderPdCreate = f('dnnl_reorder_primitive_desc_create', 'int', [P, P, P, P, P, P]);
  const streamWait = f('dnnl_stream_wait', 'int', [P]);
  const attrCreate = f('dnnl_primitive_attr_create', 'int', [P]);
  const attrDestroy = f('dnnl_primitive_attr_destroy', 'int', [P]);
  const attrSetPostOps = f('dnnl_primitive_attr_set_post_ops', 'int', [P, P]);
  const postOpsCreate = f('dnnl_post_ops_create', 'int', [P]);
  const postOpsDestroy = f('dnnl_post_ops_destroy', 'int', [P]);
  const postOpsAppendEltwise = f('dnnl_post_ops_append_eltwise', 'int', [P, 'float', 'int', 'float', 'float']);
  const effectiveIsa = f('dnnl_get_effective_cpu_isa', 'int', []);
  const version = f('dnnl_version', P, []);

  // OpenMP builds (Debian's) take their thread count from the calling thread's OpenMP setting.
  let ompSet: Fn | undefined;
  let ompGet: Fn | undefined;
  try {
    const gomp = koffi.load(process.platform === 'darwin' ? 'libomp.dylib' : 'libgomp.so.1');
    ompSet = gomp.func('omp_set_num_threads', 'void', ['int']);
    ompGet = gomp.func('omp_get_max_threads', 'int', []);
  } catch {
    // Another threading runtime: oneDNN picks its own count.
  }

  const addressOf = (view: ArrayBufferView) => BigInt(koffi.address(view));
  const check = (what: string, status: unknown) => {
    if (status !== 0) throw new Error(`oneDNN ${what} failed: ${STATUS_NAMES[status as number] ?? `status ${String(status)}`}`);
  };
  /** A fresh pointer-sized output slot and its address. */
  const slot = () => {
    const out = new BigInt64Array(1);
    return { out, at: addressOf(out) };
  };
  /** Arrays whose addresses oneDNN is given while a primitive is made (kept alive until it is). */
  const keep: unknown[] = [];
  const dims = (values: number[]) => {
    const a = new BigInt64Array(DIMS);
    values.forEach((v, i) => (a[i] = BigInt(v)));
    keep.push(a);
    return a;
  };
  /** A memory descriptor with these dims, layout tag and data type (f32 unless told); the buffer must outlive its use. */
  const md = (shape: number[], tag: number, type = F32) => {
    const buffer = new Uint8Array(MEMORY_DESC_BYTES);
    const d = dims(shape);
    check('memory_desc_init_by_tag', mdInitByTag(addressOf(buffer), shape.length, addressOf(d), type, tag));
    keep.push(buffer);
    return addressOf(buffer);
  };

  const engineSlot = slot();
  check('engine_create', engineCreate(engineSlot.at, CPU_ENGINE, 0));
  const engine = engineSlot.out[0];
  const streamSlot = slot();
  check('stream_create', streamCreate(streamSlot.at, engine, STREAM_DEFAULT));
  const stream = streamSlot.out[0];
  // dnnl_version_t starts with three ints: major, minor, patch.
  const v = BigInt(version() as bigint);
  const [major, minor, patch] = [0, 4, 8].map((offset) => readInt(koffi, v, offset));
  if (major !== 2) throw new Error(`oneDNN ${major}.${minor} has another C API than the 2.x one this build speaks`);
  const isaValue = effectiveIsa() as number;
  const isa = ISA_NAMES[isaValue] ?? `isa 0x${isaValue.toString(16)}`;

  const cache = new Map<string, Primitive>();
  const impls = new Map<string, string>();

  const executable = (pd: bigint, args: Array<[number, bigint]>): Executable => {
    const primSlot = slot();
    check('primitive_create', primitiveCreate(primSlot.at, pd));
    const execArgs = new BigInt64Array(args.length * 2);
    args.forEach(([arg, memory], i) => {
      execArgs[2 * i] = BigInt(arg);
      execArgs[2 * i + 1] = memory;
    });
    return { handle: primSlot.out[0], args: execArgs, argsAddress: addressOf(execArgs), count: args.length };
  };
  const memory = (desc: bigint, handle: bigint) => {
    const m = slot();
    check('memory_create', memoryCreate(m.at, desc, engine, handle));
    return m.out[0];
  };
  const reorder = (from: bigint, fromDesc: bigint, to: bigint, toDesc: bigint): Executable => {
    const pdSlot = slot();
    check('reorder_primitive_desc_create', reorderPdCreate(pdSlot.at, fromDesc, engine, toDesc, engine, 0n));
    try {
      return executable(pdSlot.out[0], [[ARG_FROM, from], [ARG_TO, to]]);
    } finally {
      pdDestroy(pdSlot.out[0]);
    }
  };

  /** What the precision adds to a convolution's or matrix product's cache key (nothing in fp32). */
  const precisionKey = () => (precision === 'bf16' ? ' bf16' : '');
  /** What a fused bias and relu add to a primitive's cache key. */
  const fusedKey = (bias: bigint | undefined, relu: boolean) => `${bias !== undefined ? ' bias' : ''}${relu ? ' relu' : ''}`;
  /** Calls make with primitive attributes that apply relu to the result (none when relu is false), freed after. */
  const withReluAttr = <T>(relu: boolean, make: (attr: bigint) => T): T => {
    if (!relu) return make(0n);
    let attr = 0n;
    let postOps = 0n;
    try {
      const a = slot();
      check('primitive_attr_create', attrCreate(a.at));
      attr = a.out[0];
      const po = slot();
      check('post_ops_create', postOpsCreate(po.at));
      postOps = po.out[0];
      check('post_ops_append_eltwise', postOpsAppendEltwise(postOps, 1, ELTWISE_RELU, 0, 0));
      check('primitive_attr_set_post_ops', attrSetPostOps(attr, postOps));
      return make(attr);
    } finally {
      if (postOps) postOpsDestroy(postOps);
      if (attr) attrDestroy(attr);
    }
  };
  /**
   * Primitive desc → primitive. Where it picked another layout for an argument than our plain one (the op
   * desc said "any"), the argument gets a memory of its own and a reorder to or from ours.
   */
  const makePrimitive = (key: string, opDesc: bigint, attr: bigint, hint: bigint, args: ArgSpec[], heldArgs: HeldArg[] = []): Primitive => {
    const pdSlot = slot();
    check(`primitive_desc_create (${key})`, pdCreate(pdSlot.at, opDesc, attr, engine, hint));
    const pd = pdSlot.out[0];
    try {
      const infoSlot = slot();
      if (pdQuery(pd, QUERY_IMPL_INFO_STR, 0, infoSlot.at) === 0) impls.set(key, readCString(koffi, infoSlot.at));
      const before: Primitive['before'] = [];
      const after: Executable[] = [];
      const memories: bigint[] = [];
      const execArgs = args.map(([arg, plain, output], input): [number, bigint] => {
        const user = memory(plain, 0n);
        memories.push(user);
        const picked = BigInt(queryMd(pd, QUERY_EXEC_ARG_MD, arg) as bigint);
        if (picked === 0n || mdEqual(picked, plain) === 1) return [arg, user];
        const own = memory(picked, MEMORY_ALLOCATE);
        if (output) after.push(reorder(own, picked, user, plain));
        else before.push({ reorder: reorder(user, plain, own, picked), input });
        return [arg, own];
      });
      const held = new Map<number, bigint>();
      for (const [arg, given] of heldArgs) {
        const m = given ?? memory(BigInt(queryMd(pd, QUERY_EXEC_ARG_MD, arg) as bigint), MEMORY_ALLOCATE);
        held.set(arg, m);
        execArgs.push([arg, m]);
      }
      const layouts = before.length + after.length;
      if (layouts) impls.set(key, `${impls.get(key) ?? ''} (+${layouts} reorder${layouts > 1 ? 's' : ''})`);
      return { ...executable(pd, execArgs), memories, before, reordered: new Map(), after, held };
    } finally {
      pdDestroy(pd);
    }
  };

  const exec = (e: Executable) => check('primitive_execute', execute(e.handle, stream, e.count, e.argsAddress));
  /**
   * Runs a primitive on these addresses (in the order of its arguments), with its reorders. `steady` hands over
   * the bytes of an input that usually repeats (inference weights): its reorder is skipped while they do.
   */
  const run = (p: Primitive, addresses: bigint[], steady?: { input: number; bytes: Uint8Array }) => {
    addresses.forEach((a, i) => check('memory_set_data_handle', setHandle(p.memories[i], a)));
    for (const { reorder: r, input } of p.before) {
      if (steady?.input === input) {
        const last = p.reordered.get(input);
        if (last?.equals(steady.bytes)) continue;
        p.reordered.set(input, Buffer.from(steady.bytes));
      }
      exec(r);
    }
    exec(p);
    p.after.forEach(exec);
    check('stream_wait', streamWait(stream));
  };

  /**
   * Descriptors shared by the three convolution directions: our plain layouts (nhwc data, hwio filters) and
   * what the op desc is given, "any" where oneDNN may pick a layout of its own (see LAYOUTS).
   */
  const convDescs = (s: ConvShape, bf16: ConvBf16 = NO_BF16) => {
    const src = md([s.n, s.cin, s.h, s.w], TAG_NHWC);
    const weights = md([s.cout, s.cin, s.kh, s.kw], TAG_HWIO);
    const dst = md([s.n, s.cout, s.ho, s.wo], TAG_NHWC);
    const anyData = LAYOUTS === 'any';
    const anyWeights = LAYOUTS !== 'plain';
    // In bf16 the multiplied arguments are bf16 memories of the op's own, reordered (converted) from ours.
    const op = (plain: bigint, shape: number[], tag: number, anyTag: boolean, isBf16: boolean) =>
      anyTag || isBf16 ? md(shape, anyTag ? TAG_ANY : tag, isBf16 ? BF16 : F32) : plain;
    return {
      src,
      weights,
      dst,
      srcOp: op(src, [s.n, s.cin, s.h, s.w], TAG_NHWC, anyData, bf16.src),
      weightsOp: op(weights, [s.cout, s.cin, s.kh, s.kw], TAG_HWIO, anyWeights, bf16.weights),
      dstOp: op(dst, [s.n, s.cout, s.ho, s.wo], TAG_NHWC, anyData, bf16.dst),
      strides: addressOf(dims(s.strides)),
      dilates: addressOf(dims([s.dilations[0] - 1, s.dilations[1] - 1])),
      padL: addressOf(dims(s.padBefore)),
      padR: addressOf(dims(s.padAfter)),
    };
  };
  const convKey = (s: ConvShape) =>
    `${s.n}x${s.h}x${s.w}x${s.cin}>${s.ho}x${s.wo}x${s.cout} k${s.kh}x${s.kw} s${s.strides} d${s.dilations} p${s.padBefore},${s.padAfter}${precisionKey()}`;

  /** A fresh op descriptor's buffer (kept alive while the primitive is made) and its address. */
  const opDesc = () => {
    const op = new Uint8Array(OP_DESC_BYTES);
    keep.push(op);
    return addressOf(op);
  };

  const forwardOpDesc = (d: ReturnType<typeof convDescs>, prop: number, bias: bigint) => {
    const op = opDesc();
    check('convolution_forward_desc_init', convForwardInit(op, prop, CONVOLUTION_DIRECT, d.srcOp, d.weightsOp, bias, d.dstOp, d.strides, d.dilates, d.padL, d.padR));
    return op;
  };

  /** The primitive made for `key` before, or made now by `build`. */
  const primitive = (key: string, build: () => Primitive): Primitive => {
    let p = cache.get(key);
    if (!p) {
      try {
        p = build();
      } finally {
        keep.length = 0;
      }
      cache.set(key, p);
    }
    return p;
  };

  /** A backward primitive, made with the primitive desc of the forward op `forwardOp` as the hint oneDNN wants. */
  const withForwardHint = (forwardOp: bigint, make: (hint: bigint) => Primitive): Primitive => {
    const pdSlot = slot();
    check('primitive_desc_create (forward hint)', pdCreate(pdSlot.at, forwardOp, 0n, engine, 0n));
    try {
      return make(pdSlot.out[0]);
    } finally {
      pdDestroy(pdSlot.out[0]);
    }
  };

  /** A backward convolution: its op desc (from `init`) and the forward primitive desc oneDNN wants as a hint. */
  const convBackward = (
    kind: string,
    s: ConvShape,
    bf16: ConvBf16,
    init: (op: bigint, d: ReturnType<typeof convDescs>) => unknown,
    args: (d: ReturnType<typeof convDescs>) => ArgSpec[],
  ) => {
    const key = `${kind} ${convKey(s)}`;
    return primitive(key, () => {
      const d = convDescs(s, bf16);
      // The hint is the forward as convForward makes it in the same precision.
      const forward = bf16 === NO_BF16 ? d : convDescs(s, FORWARD_BF16);
      return withForwardHint(forwardOpDesc(forward, FORWARD_TRAINING, 0n), (hint) => {
        const op = opDesc();
        check(`convolution ${kind} desc init`, init(op, d));
        return makePrimitive(key, op, 0n, hint, args(d));
      });
    });
  };

  /** Batch normalisation's data (nhwc) and per-channel (mean, variance, γ, β) descriptors. */
  const batchNormDescs = (s: BatchNormShape) => ({ data: md([s.n, s.c, s.h, s.w], TAG_NHWC), channel: md([s.c], TAG_X) });
  const batchNormKey = (s: BatchNormShape) => `${s.n}x${s.h}x${s.w}x${s.c} eps${s.epsilon}`;
  const batchNormForwardOp = (data: bigint, prop: number, flags: number, epsilon: number) => {
    const op = opDesc();
    check('batch_normalization_forward_desc_init', batchNormForwardInit(op, prop, data, epsilon, flags));
    return op;
  };

  const poolDescs = (s: PoolShape) => ({
    src: md([s.n, s.c, s.h, s.w], TAG_NHWC),
    dst: md([s.n, s.c, s.ho, s.wo], TAG_NHWC),
    strides: addressOf(dims(s.strides)),
    kernel: addressOf(dims([s.kh, s.kw])),
    padL: addressOf(dims(s.padBefore)),
    padR: addressOf(dims(s.padAfter)),
  });
  const poolKey = (s: PoolShape, algorithm: PoolAlgorithm) =>
    `${algorithm} pool ${s.n}x${s.h}x${s.w}x${s.c}>${s.ho}x${s.wo} k${s.kh}x${s.kw} s${s.strides} p${s.padBefore},${s.padAfter}`;
  const poolForwardOp = (d: ReturnType<typeof poolDescs>, prop: number, algorithm: PoolAlgorithm) => {
    const op = opDesc();
    check('pooling_forward_desc_init', poolForwardInit(op, prop, POOLING[algorithm], d.src, d.dst, d.strides, d.kernel, d.padL, d.padR));
    return op;
  };

  const onednn: OneDnn = {
    name: `${file} (oneDNN ${major}.${minor}.${patch}, ${isa})`,
    isa,
    bf16: (isaValue & ISA_BF16) === ISA_BF16,
    convForward(s, x, w, y, { bias, relu = false, filterBytes } = {}) {
      const key = `forward ${convKey(s)}${fusedKey(bias, relu)}`;
      const p = primitive(key, () => {
        const d = convDescs(s, precision === 'bf16' ? FORWARD_BF16 : NO_BF16);
        const biasDesc = bias !== undefined ? md([s.cout], TAG_X) : 0n;
        // Fused means inference; the training forward keeps what the backward pass may need.
        const op = forwardOpDesc(d, bias !== undefined || relu ? FORWARD_INFERENCE : FORWARD_TRAINING, biasDesc);
        const args: ArgSpec[] = [[ARG_SRC, d.src, false], [ARG_WEIGHTS, d.weights, false], [ARG_DST, d.dst, true]];
        if (bias !== undefined) args.push([ARG_BIAS, biasDesc, false]);
        return withReluAttr(relu, (attr) => makePrimitive(key, op, attr, 0n, args));
      });
      run(p, bias !== undefined ? [x, w, y, bias] : [x, w, y], filterBytes && { input: 1, bytes: filterBytes });
    },
    convBackwardData(s, dy, w, dx) {
      const p = convBackward(
        'backward-data',
        s,
        precision === 'bf16' ? { src: false, weights: true, dst: true } : NO_BF16,
        (op, d) => convBackwardDataInit(op, CONVOLUTION_DIRECT, d.srcOp, d.weightsOp, d.dstOp, d.strides, d.dilates, d.padL, d.padR),
        (d) => [[ARG_DIFF_DST, d.dst, false], [ARG_WEIGHTS, d.weights, false], [ARG_DIFF_SRC, d.src, true]],
      );
      run(p, [dy, w, dx]);
    },
    convBackwardWeights(s, x, dy, dw) {
      const p = convBackward(
        'backward-weights',
        s,
        precision === 'bf16' ? { src: true, weights: false, dst: true } : NO_BF16,
        (op, d) => convBackwardWeightsInit(op, CONVOLUTION_DIRECT, d.srcOp, d.weightsOp, 0n, d.dstOp, d.strides, d.dilates, d.padL, d.padR),
        (d) => [[ARG_SRC, d.src, false], [ARG_DIFF_DST, d.dst, false], [ARG_DIFF_WEIGHTS, d.weights, true]],
      );
      run(p, [x, dy, dw]);
    },
    matmul(s, a, b, out, { bias, relu = false } = {}) {
      const key = `matmul ${s.batchA}/${s.batchB}x${s.m}x${s.n}x${s.k} ${s.transA ? 'T' : 'N'}${s.transB ? 'T' : 'N'}${fusedKey(bias, relu)}${precisionKey()}`;
      const p = primitive(key, () => {
        const batch = Math.max(s.batchA, s.batchB);
        // A transposed operand is the same logical [batch, rows, cols] matrix stored with its last two axes swapped.
        const srcShape = [s.batchA, s.m, s.k];
        const weightsShape = [s.batchB, s.k, s.n];
        const src = md(srcShape, s.transA ? TAG_ACB : TAG_ABC);
        const weights = md(weightsShape, s.transB ? TAG_ACB : TAG_ABC);
        const dst = md([batch, s.m, s.n], TAG_ABC);
        // One bias per column, broadcast over the batch and the rows.
        const biasDesc = bias !== undefined ? md([1, 1, s.n], TAG_ABC) : 0n;
        // In bf16 both operands are converted into bf16 memories of the primitive's own, in the same layouts.
        const bf16 = precision === 'bf16';
        const srcOp = bf16 ? md(srcShape, s.transA ? TAG_ACB : TAG_ABC, BF16) : src;
        const weightsOp = bf16 ? md(weightsShape, s.transB ? TAG_ACB : TAG_ABC, BF16) : weights;
        const op = opDesc();
        check('matmul_desc_init', matmulInit(op, srcOp, weightsOp, biasDesc, dst));
        const args: ArgSpec[] = [[ARG_SRC, src, false], [ARG_WEIGHTS, weights, false], [ARG_DST, dst, true]];
        if (bias !== undefined) args.push([ARG_BIAS, biasDesc, false]);
        return withReluAttr(relu, (attr) => makePrimitive(key, op, attr, 0n, args));
      });
      run(p, bias !== undefined ? [a, b, out, bias] : [a, b, out]);
    },
    batchNormTraining(s, x, gamma, beta, y, mean, variance) {
      const key = `batch-norm training ${batchNormKey(s)}`;
      const p = primitive(key, () => {
        const d = batchNormDescs(s);
        const op = batchNormForwardOp(d.data, FORWARD_TRAINING, USE_SCALE | USE_SHIFT, s.epsilon);
        return makePrimitive(key, op, 0n, 0n, [
          [ARG_SRC, d.data, false],
          [ARG_SCALE, d.channel, false],
          [ARG_SHIFT, d.channel, false],
          [ARG_DST, d.data, true],
          [ARG_MEAN, d.channel, true],
          [ARG_VARIANCE, d.channel, true],
        ]);
      });
      run(p, [x, gamma, beta, y, mean, variance]);
    },
    batchNormInference(s, x, mean, variance, gamma, beta, y) {
      const flags = USE_GLOBAL_STATS | (gamma !== undefined ? USE_SCALE : 0) | (beta !== undefined ? USE_SHIFT : 0);
      const key = `batch-norm inference ${batchNormKey(s)} flags ${flags}`;
      const p = primitive(key, () => {
        const d = batchNormDescs(s);
        const args: ArgSpec[] = [[ARG_SRC, d.data, false], [ARG_MEAN, d.channel, false], [ARG_VARIANCE, d.channel, false]];
        if (gamma !== undefined) args.push([ARG_SCALE, d.channel, false]);
        if (beta !== undefined) args.push([ARG_SHIFT, d.channel, false]);
        args.push([ARG_DST, d.data, true]);
        return makePrimitive(key, batchNormForwardOp(d.data, FORWARD_INFERENCE, flags, s.epsilon), 0n, 0n, args);
      });
      run(p, [x, mean, variance, ...(gamma !== undefined ? [gamma] : []), ...(beta !== undefined ? [beta] : []), y]);
    },
    batchNormBackward(s, x, dy, mean, variance, gamma, dx, dGamma, dBeta) {
      const key = `batch-norm backward ${batchNormKey(s)}`;
      const flags = USE_SCALE | USE_SHIFT;
      const p = primitive(key, () => {
        const d = batchNormDescs(s);
        return withForwardHint(batchNormForwardOp(d.data, FORWARD_TRAINING, flags, s.epsilon), (hint) => {
          const op = opDesc();
          check('batch_normalization_backward_desc_init', batchNormBackwardInit(op, BACKWARD, d.data, d.data, s.epsilon, flags));
          return makePrimitive(key, op, 0n, hint, [
            [ARG_SRC, d.data, false],
            [ARG_MEAN, d.channel, false],
            [ARG_VARIANCE, d.channel, false],
            [ARG_DIFF_DST, d.data, false],
            [ARG_SCALE, d.channel, false],
            [ARG_SHIFT, d.channel, false],
            [ARG_DIFF_SRC, d.data, true],
            [ARG_DIFF_SCALE, d.channel, true],
            [ARG_DIFF_SHIFT, d.channel, true],
          ]);
        });
      });
      // oneDNN 2.x counts β among the backward's inputs, though no gradient depends on it: any [C] will do.
      run(p, [x, mean, variance, dy, gamma, gamma, dx, dGamma, dBeta]);
    },
    poolForward(s, algorithm, x, y) {
      const key = `forward ${poolKey(s, algorithm)}`;
      const p = primitive(key, () => {
        const d = poolDescs(s);
        return makePrimitive(key, poolForwardOp(d, FORWARD_INFERENCE, algorithm), 0n, 0n, [[ARG_SRC, d.src, false], [ARG_DST, d.dst, true]]);
      });
      run(p, [x, y]);
    },
    poolBackward(s, algorithm, x, dy, dx) {
      const held: HeldArg[] = [];
      if (algorithm === 'max') {
        // Max pooling's backward routes dy through the workspace its training forward wrote (where each window's
        // maximum is). tfjs gives MaxPoolGrad x, dy and y but no workspace, and a forward cannot know whether a
        // gradient will follow; so the training forward runs again here, into a y and a workspace kept with the
        // primitive. That is one more pass over x, little next to the convolutions, and no state per tensor.
        const forwardKey = `forward-training ${poolKey(s, algorithm)}`;
        const forward = primitive(forwardKey, () => {
          const d = poolDescs(s);
          return makePrimitive(forwardKey, poolForwardOp(d, FORWARD_TRAINING, algorithm), 0n, 0n, [[ARG_SRC, d.src, false]], [[ARG_DST], [ARG_WORKSPACE]]);
        });
        run(forward, [x]);
        held.push([ARG_WORKSPACE, forward.held.get(ARG_WORKSPACE)]);
      }
      const key = `backward ${poolKey(s, algorithm)}`;
      const p = primitive(key, () => {
        const d = poolDescs(s);
        return withForwardHint(poolForwardOp(d, FORWARD_TRAINING, algorithm), (hint) => {
          const op = opDesc();
          check('pooling_backward_desc_init', poolBackwardInit(op, POOLING[algorithm], d.src, d.dst, d.strides, d.kernel, d.padL, d.padR));
          return makePrimitive(key, op, 0n, hint, [[ARG_DIFF_DST, d.dst, false], [ARG_DIFF_SRC, d.src, true]], held);
        });
      });
      run(p, [dy, dx]);
    },
    setThreads(n) {
      ompSet?.(Math.max(1, Math.floor(n)));
    },
    threads: () => (ompGet ? (ompGet() as number) : 1),
    implementations: () => new Map(impls),
  };
  return onednn;
}

/** A 32-bit int at `address + offset` (native memory). */
function readInt(koffi: Koffi, address: bigint, offset: number): number {
  return koffi.decode(address, offset, 'int') as number;
}

/** The C string a `const char *` at `address` points to. */
function readCString(koffi: Koffi, address: bigint): string {
  return String(koffi.decode(address, 0, 'const char *'));
}
