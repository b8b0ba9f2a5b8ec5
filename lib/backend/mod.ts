/**
 * The compute layer: backend choice and set-up, plus the kernels (wasm) and gradients
 * (every backend) MetaLab adds so conv nets train fast and to second order.
 * @module
 */
export {
  BACKEND_NAMES,
  idleCoreThreads,
  initBackend,
  registerExtensions,
  wasmThreadsWanted,
} from "./init.ts";
export type { BackendChoice, BackendInfo } from "./init.ts";
export { ADDED_GRADIENTS, registerGradients, REPLACED_GRADIENTS } from "./register_gradients.ts";
export { registerWasmKernels } from "./register_wasm_kernels.ts";
export { wasmBinaryDir, wasmThreadedFiles } from "./wasm_files.ts";
export type { WasmThreadedFiles } from "./wasm_files.ts";
export { startThreadedWasm, terminateWasmThreads } from "./wasm_threads.ts";
export type { ThreadedWasmModule } from "./wasm_threads.ts";
export {
  BATCH_NORM_FORWARD_KERNEL,
  BATCH_NORM_GRAD_KERNEL,
  RELU_GRAD_KERNEL,
} from "./kernel_names.ts";
