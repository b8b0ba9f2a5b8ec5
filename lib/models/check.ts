/**
 * Parameter-list validation shared by the models.
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { ParamSpec } from "./types.ts";

/** Throws a clear error when `params` does not match `specs` in count or shapes. */
export function checkParams(model: string, specs: ParamSpec[], params: tf.Tensor[]): void {
  if (params.length !== specs.length) {
    throw new Error(`${model}: expected ${specs.length} parameter tensors, got ${params.length}`);
  }
  for (let i = 0; i < specs.length; i++) {
    const got = params[i].shape;
    const want = specs[i].shape;
    if (got.length !== want.length || got.some((d, j) => d !== want[j])) {
      throw new Error(
        `${model}: parameter ${i} (${specs[i].name}) must have shape [${want}], got [${got}]`,
      );
    }
  }
}
