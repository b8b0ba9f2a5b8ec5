/**
 * Registers the kernels MetaLab adds to tfjs's `wasm` backend, one per file in `kernels/` (as
 * tfjs-backend-wasm lays out its own in `src/kernels/` with one `register_all_kernels.ts`).
 * They fill in what the backend lacks or runs slowly, composed from its fast XNNPACK-backed
 * kernels (Conv2D, AvgPool, BatchMatMul, Transpose, PadV2, Slice, Reshape) or, for loops no
 * XNNPACK op expresses, run in MetaLab's own WebAssembly SIMD module (`simd/`):
 *
 * - `Conv2DBackpropFilter` (missing in tfjs-backend-wasm 4.22) and `Conv2DBackpropInput`
 *   (a naive loop there) as forward convs;
 * - `MaxPoolGrad`, with the cpu backend's tie-breaking; Conv-4's 2×2 case in SIMD;
 * - `Sum` and `Mean` over leading axes as one pooling instead of a transpose and a reduction;
 * - `Identity` and float32→float32 `Cast` sharing the buffer instead of copying it;
 * - `Tile` as block copies; `Transpose`'s common 2D and batch↔channel cases as SIMD blocks;
 * - MetaLab's own kernels (`kernel_names.ts`): ReLU's gradient in one SIMD pass, and the fused
 *   first-order batch norm's forward and gradient.
 *
 * Every kernel is checked against the cpu backend or the composite ops it replaces
 * (`tests/backend_test.ts`). Only NHWC with dilation 1 in the original conv is handled (what
 * tfjs's conv2d gradient emits, since dilated convs go through SpaceToBatchND); anything else
 * gets a clear error.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { castConfig } from "./kernels/Cast.ts";
import { conv2DBackpropFilterConfig } from "./kernels/Conv2DBackpropFilter.ts";
import { conv2DBackpropInputConfig } from "./kernels/Conv2DBackpropInput.ts";
import { identityConfig } from "./kernels/Identity.ts";
import { maxPoolGradConfig } from "./kernels/MaxPoolGrad.ts";
import { meanConfig } from "./kernels/Mean.ts";
import { batchNormForwardConfig } from "./kernels/MetaLabBatchNormForward.ts";
import { batchNormGradConfig } from "./kernels/MetaLabBatchNormGrad.ts";
import { reluGradConfig } from "./kernels/MetaLabReluGrad.ts";
import type { WrappingKernel } from "./kernels/shared.ts";
import { sumConfig } from "./kernels/Sum.ts";
import { tileConfig } from "./kernels/Tile.ts";
import { transposeConfig } from "./kernels/Transpose.ts";

/**
 * Marks the kernels registered here, so registration can tell them from tfjs's own. A global
 * symbol, so that a second copy of this module (another import URL) sees the first one's.
 */
const METALAB_KERNEL = Symbol.for("metalab.wasmKernel");

type Registered = tf.KernelConfig & { [METALAB_KERNEL]?: boolean };

/** Every kernel, in the order `registerWasmKernels` reports them. */
const KERNELS: ReadonlyArray<tf.KernelConfig | WrappingKernel> = [
  conv2DBackpropFilterConfig,
  conv2DBackpropInputConfig,
  maxPoolGradConfig,
  sumConfig,
  meanConfig,
  identityConfig,
  castConfig,
  tileConfig,
  transposeConfig,
  batchNormGradConfig,
  reluGradConfig,
  batchNormForwardConfig,
];

const isWrapping = (k: tf.KernelConfig | WrappingKernel): k is WrappingKernel => "wrap" in k;

/**
 * Registers MetaLab's wasm kernels. Idempotent: a kernel already registered by MetaLab is left
 * alone, so calling again (every `initBackend` does) changes nothing. Requires the
 * wasm backend package to be imported (it registers tfjs's kernels, which some of these wrap);
 * the kernels run once wasm is the active backend.
 *
 * @returns the names of the kernels added or replaced.
 * @throws Error when tfjs's wasm kernels are not registered (before registering anything).
 * @example
 * ```ts
 * import "@tensorflow/tfjs-backend-wasm";
 * registerWasmKernels(); // ["Conv2DBackpropFilter", "Conv2DBackpropInput", "MaxPoolGrad", …]
 * ```
 */
export function registerWasmKernels(): string[] {
  const current = (name: string) => tf.getKernel(name, "wasm") as Registered | undefined;
  // Every kernel that wraps tfjs's needs it: check them all before changing the registry.
  for (const kernel of KERNELS.filter(isWrapping)) {
    if (!current(kernel.kernelName)) {
      throw new Error(
        `wasm backend has no ${kernel.kernelName} kernel (is tfjs-backend-wasm imported?)`,
      );
    }
  }
  for (const kernel of KERNELS) {
    const existing = current(kernel.kernelName);
    if (existing?.[METALAB_KERNEL]) continue;
    const config: tf.KernelConfig = isWrapping(kernel)
      ? {
        kernelName: kernel.kernelName,
        backendName: "wasm",
        // tfjs's setupFunc (the cwrap of its C kernel) stays attached for the fallback.
        setupFunc: existing!.setupFunc,
        kernelFunc: kernel.wrap(existing!.kernelFunc),
      }
      : kernel;
    if (existing) tf.unregisterKernel(kernel.kernelName, "wasm");
    tf.registerKernel({ ...config, [METALAB_KERNEL]: true } as Registered);
  }
  return KERNELS.map((k) => k.kernelName);
}
