/**
 * The "gradient" of MetaLab's fused batch-norm gradient (`BATCH_NORM_GRAD_KERNEL`), which is
 * first-order only: differentiating it again (second-order MAML through a `firstOrderOnly`
 * batch norm) stops with an error that says what to change, instead of tfjs's generic one.
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { BATCH_NORM_GRAD_KERNEL } from "../kernel_names.ts";

/** The gradient's registration entry. */
export const batchNormGradGradConfig: tf.GradConfig = {
  kernelName: BATCH_NORM_GRAD_KERNEL,
  inputsToSave: [],
  gradFunc: () => {
    throw new Error(
      "MetaLab's fused batch norm (ApplyOptions.firstOrderOnly) cannot be differentiated " +
        "twice: leave firstOrderOnly off for second-order gradients (MAML, Meta-SGD)",
    );
  },
};
