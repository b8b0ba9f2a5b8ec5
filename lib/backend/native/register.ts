/**
 * The `native` tfjs backend: the wasm backend with its heaviest kernels served by oneDNN.
 *
 * It is the same `BackendWasm` instance as `wasm`, registered under a second name, with a copy
 * of every wasm kernel (tfjs's and MetaLab's) in which the convolutions (`Conv2D`,
 * `Conv2DBackpropInput`, `Conv2DBackpropFilter`), the fused batch norm (`MetaLabBatchNormForward`,
 * `MetaLabBatchNormGrad`), `MaxPool`, `MaxPoolGrad`, `Relu`, `MetaLabReluGrad` and `BatchMatMul`
 * are replaced by oneDNN primitives (one kernel per file in this folder; each hands back to
 * wasm's kernel what it does not take: other dtypes, dilations, small tensors). Sharing the instance is what makes
 * it zero-copy: tensors live in the one wasm heap whichever name is active, oneDNN reads and
 * writes them there, and switching between `wasm` and `native` moves no data. The second-order
 * gradients need nothing more: gradients are registered by kernel name, not backend, and each
 * of these kernels' gradients is built from tfjs ops, which run on native's kernels in turn.
 *
 * Why beyond the convs: with them in oneDNN, a Conv-4 ProtoNet step's profile on wasm's one
 * thread was batch norm 16%, max-pool 11%, ReLU 7% (memory-bound passes over the activations
 * that oneDNN runs on its OpenMP threads with AVX-512); moving them took the step from 37–38 to
 * 32–34 ms (`METALAB_NATIVE_MIN_ELEMENTS=Infinity deno task bench --backend native --case
 * conv4-protonet-step`, against the same without it, alternating, idle 2-core machine). The
 * sinusoid MLP's batched matmuls ([25, 10, 40]·[25, 40, 40] and their gradients) took its
 * 25-task second-order meta-step from 5.8 to 3.5–3.9 ms (`--case maml-sinusoid-25tasks-batched`).
 * Tried and dropped: `Add` as oneDNN's binary primitive (its broadcasts of θ over 25 tasks, 40,000
 * elements): 3.5–5.2 ms a step with it against 3.0–4.5 without, alternating, 200 steps each.
 *
 * Threads: the backend set-up (`initBackend("native")`) gives oneDNN's OpenMP team the thread
 * count wasm would have had (the idle cores, or `METALAB_WASM_THREADS`) and starts wasm itself
 * on one thread, with OpenMP spinning briefly between convs; where wasm was already running on
 * more threads, OpenMP waits passively instead, since the two pools then fight for the cores
 * (see `dnnl.ts` for the measurements). Unlike wasm's, native results depend on the thread
 * count: a run is bit-for-bit reproducible at a given count, but 1 and 2 threads give
 * different bits for the filter gradients of the blocked layout (oneDNN's JIT backward-weights
 * kernel splits the sum over the batch between threads; on Conv-4's 64-channel layers most
 * elements differed, by at most 1.1e-6 of the largest), and so for training runs; forward,
 * input gradients and the plain layout were identical. Batch norm's channel sums are split
 * between threads in the same way.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { nativeBatchMatMulConfig } from "./BatchMatMul.ts";
import { nativeConv2DConfig } from "./Conv2D.ts";
import { nativeConv2DBackpropFilterConfig } from "./Conv2DBackpropFilter.ts";
import { nativeConv2DBackpropInputConfig } from "./Conv2DBackpropInput.ts";
import { loadDnnl, type OmpWaitPolicy } from "./dnnl.ts";
import { nativeMaxPoolConfig } from "./MaxPool.ts";
import { nativeMaxPoolGradConfig } from "./MaxPoolGrad.ts";
import { nativeBatchNormForwardConfig } from "./MetaLabBatchNormForward.ts";
import { nativeBatchNormGradConfig } from "./MetaLabBatchNormGrad.ts";
import { nativeReluGradConfig } from "./MetaLabReluGrad.ts";
import { nativeReluConfig } from "./Relu.ts";
import { NATIVE_BACKEND } from "./shared.ts";

/** The kernels the native backend replaces (the rest are wasm's). */
export const NATIVE_KERNELS: ReadonlyArray<tf.KernelConfig> = [
  nativeConv2DConfig,
  nativeConv2DBackpropInputConfig,
  nativeConv2DBackpropFilterConfig,
  nativeBatchNormForwardConfig,
  nativeBatchNormGradConfig,
  nativeMaxPoolConfig,
  nativeMaxPoolGradConfig,
  nativeReluConfig,
  nativeReluGradConfig,
  nativeBatchMatMulConfig,
];

/**
 * Below wasm (2) and cpu (1): tfjs's own choice of a default backend must never start here
 * (it needs oneDNN and an initialised wasm backend).
 */
const PRIORITY = 0;

/**
 * Registers the `native` backend on top of the wasm backend `wasm` (already created and
 * initialised): loads oneDNN (throws, naming the apt command, when it is absent) with OpenMP's
 * wait `policy` (used on the first call only: OpenMP reads it once), sets its OpenMP threads to
 * `threads`, copies wasm's kernels and replaces {@linkcode NATIVE_KERNELS}. Idempotent: later calls only
 * set the threads.
 *
 * @returns oneDNN's version, the wait policy in effect and the kernels replaced.
 * @example
 * ```ts
 * await tf.setBackend("wasm");
 * registerNativeBackend(tf.findBackend("wasm")!, 2, "active"); // { version: "2.6.3", … }
 * await tf.setBackend("native");
 * ```
 */
export function registerNativeBackend(
  wasm: tf.KernelBackend,
  threads: number,
  policy: OmpWaitPolicy = "passive",
): { version: string; waitPolicy: string; kernels: string[] } {
  const dnnl = loadDnnl(policy);
  dnnl.setThreads(threads);
  const kernels = NATIVE_KERNELS.map((k) => k.kernelName);
  if (!tf.findBackendFactory(NATIVE_BACKEND)) {
    // Every wasm kernel, then the native ones in place of the conv kernels.
    for (const kernel of tf.getKernelsForBackend("wasm")) {
      if (kernels.includes(kernel.kernelName)) continue;
      if (tf.getKernel(kernel.kernelName, NATIVE_BACKEND)) continue;
      tf.registerKernel({ ...kernel, backendName: NATIVE_BACKEND });
    }
    for (const kernel of NATIVE_KERNELS) {
      if (!tf.getKernel(kernel.kernelName, NATIVE_BACKEND)) tf.registerKernel(kernel);
    }
    tf.registerBackend(NATIVE_BACKEND, () => wasm, PRIORITY);
  }
  return { version: dnnl.version, waitPolicy: dnnl.waitPolicy, kernels };
}
