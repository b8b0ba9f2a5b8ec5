/**
 * wasm `Cast`: a cast to the tensor's own dtype shares the buffer (`Identity.ts`, as tfjs's
 * cpu backend builds Cast on Identity); real casts go to tfjs's kernel.
 * @module
 */
import { sharingIdentity } from "./Identity.ts";
import type { WrappingKernel } from "./shared.ts";

/** The kernel's registration entry (it wraps tfjs's `Cast`). */
export const castConfig: WrappingKernel = {
  kernelName: "Cast",
  wrap: (original) => sharingIdentity(original, "Cast"),
};
