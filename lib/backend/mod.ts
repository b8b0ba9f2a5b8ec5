/**
 * The compute layer: backend choice and set-up, plus the kernels (wasm) and gradients
 * (every backend) MetaLab adds so conv nets train fast and to second order.
 *
 * Laid out as tfjs lays out its own: `init.ts` chooses and sets up the backend;
 * `register_wasm_kernels.ts` registers one wasm kernel per file of `kernels/` (named after
 * the kernel), some of which run bodies of MetaLab's WebAssembly SIMD module (`simd/`: the
 * encoder, one body per file, and `simd/mod.ts`, which assembles them on the backend's
 * memory); `register_gradients.ts` registers one gradient per file of `gradients/`;
 * `wasm_threads.ts` starts the threaded wasm build under Deno; `native/` is the opt-in
 * `native` backend (wasm with its convolutions in oneDNN through Deno's FFI, zero-copy on the
 * wasm heap; one kernel per file, `native/register.ts` registers them).
 * @module
 */
export {
  BACKEND_NAMES,
  idleCoreThreads,
  idleThreadsFromProcStat,
  initBackend,
  parseProcStat,
  registerExtensions,
  wasmThreadsWanted,
} from "./init.ts";
export type { BackendChoice, BackendInfo } from "./init.ts";
export { ADDED_GRADIENTS, registerGradients, REPLACED_GRADIENTS } from "./register_gradients.ts";
export { registerWasmKernels } from "./register_wasm_kernels.ts";
export { NATIVE_KERNELS, registerNativeBackend } from "./native/register.ts";
export { DNNL_INSTALL, dnnlAvailable } from "./native/dnnl.ts";
export { convCallCounts, convImplementations } from "./native/conv.ts";
export type { ConvGeometry, ConvKind } from "./native/conv.ts";
export { wasmBinaryDir, wasmThreadedFiles } from "./wasm_files.ts";
export type { WasmThreadedFiles } from "./wasm_files.ts";
export { startThreadedWasm, terminateWasmThreads } from "./wasm_threads.ts";
export type { ThreadedWasmModule } from "./wasm_threads.ts";
export {
  BATCH_NORM_FORWARD_KERNEL,
  BATCH_NORM_GRAD_KERNEL,
  RELU_GRAD_KERNEL,
} from "./kernel_names.ts";
