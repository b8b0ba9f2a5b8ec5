/**
 * wasm `Mean`: over leading axes as one pooling (`leading_axes_reduction.ts`), otherwise
 * tfjs's kernel.
 * @module
 */
import { leadingAxesReduction } from "./leading_axes_reduction.ts";
import type { WrappingKernel } from "./shared.ts";

/** The kernel's registration entry (it wraps tfjs's `Mean`). */
export const meanConfig: WrappingKernel = {
  kernelName: "Mean",
  wrap: (original) => leadingAxesReduction(original, true),
};
