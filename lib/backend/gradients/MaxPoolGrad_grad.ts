/**
 * The gradient of `MaxPoolGrad`, which tfjs 4.22 does not register: without it a second
 * derivative through max-pool stops.
 *
 * `MaxPoolGrad(dy, x, y)` routes each `dy[o]` to the argmax of window `o`; it is linear in
 * `dy` and piecewise constant in `x`, `y` (zero gradient almost everywhere). Its transpose is
 * a gather at the argmax: with `mask = MaxPoolGrad(1, x, y)` (the same tie-breaking as the
 * kernel itself), `∂/∂dy = Σ_window(G·mask)`, computed as `avgPool(G·mask) / avgPool(mask)`
 * (each non-overlapping window holds at most one 1 in the mask, so this holds for any padding;
 * windows the kernel gives no gradient get 0). Overlapping windows (filter > stride) get a
 * clear error.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type Pad, type Pair, pair, type Rounding } from "./shared.ts";

/** The gradient's registration entry. */
export const maxPoolGradGradConfig: tf.GradConfig = {
  kernelName: "MaxPoolGrad",
  inputsToSave: ["dy", "input", "output"],
  gradFunc: (g, saved, attrs) => {
    const [dy, input, output] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
    const { filterSize, strides, pad, dimRoundingMode } = attrs as {
      filterSize: Pair;
      strides: Pair;
      pad: Pad;
      dimRoundingMode?: Rounding;
    };
    const [fh, fw] = pair(filterSize);
    const [sh, sw] = pair(strides);
    if (fh > sh || fw > sw) {
      throw new Error(
        `second-order gradient of maxPool needs non-overlapping windows (filter ≤ stride); ` +
          `got filter ${fh}×${fw}, stride ${sh}×${sw}`,
      );
    }
    return {
      dy: () =>
        tf.tidy(() => {
          const mask = tf.engine().runKernel(
            "MaxPoolGrad",
            { dy: tf.onesLike(dy), input, output },
            // deno-lint-ignore no-explicit-any
            { filterSize, strides, pad, dimRoundingMode } as any,
          ) as tf.Tensor4D;
          const p = pad as "valid" | "same" | number;
          const picked = tf.avgPool(
            tf.mul(g as tf.Tensor, mask) as tf.Tensor4D,
            [fh, fw],
            [sh, sw],
            p,
            dimRoundingMode,
          );
          const share = tf.avgPool(mask, [fh, fw], [sh, sw], p, dimRoundingMode);
          // A window whose mask is empty (wasm's kernel drops dy for all-equal windows of
          // zeros) contributed nothing, so its transpose is 0 too: divNoNan.
          return tf.divNoNan(picked, share);
        }),
      input: () => tf.zerosLike(input),
      output: () => tf.zerosLike(output),
    };
  },
};
