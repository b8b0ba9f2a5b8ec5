/**
 * Registers the gradients MetaLab adds to tfjs and the ones it replaces, one per file in
 * `gradients/` (as tfjs-core lays out its own in `src/gradients/` with one
 * `register_all_gradients.ts`). Gradients are backend-independent: they are written with
 * ordinary tf ops, each of which has a kernel on every backend (and a gradient of its own, so
 * a third order also flows where the composed ops allow it).
 *
 * - Added, so that second-order MAML differentiates through conv nets: the gradients of
 *   `Conv2DBackpropFilter`, `MaxPoolGrad` and `AvgPoolGrad` (the gradient of a gradient of
 *   conv2d and the pools), zero gradients of the comparisons (tfjs's `Max` gradient uses
 *   `Equal`, so `logSumExp` differentiates twice), and those of MetaLab's own kernels
 *   (`kernel_names.ts`).
 * - Replaced, to differentiate again: `Tanh`, `Sigmoid`, `Exp`, `Softmax` and `LogSoftmax`,
 *   whose tfjs gradients read the op's saved output, which an outer `tf.grads` cannot
 *   differentiate through; MetaLab's recompute it from the saved input.
 * - Replaced for speed (same numbers): `Relu` (one pass, no cast), `Mean` and `Sum` (one
 *   tile), and `Tile` of a broadcast (one sum).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { BATCH_NORM_GRAD_KERNEL, RELU_GRAD_KERNEL } from "./kernel_names.ts";
import { avgPoolGradGradConfig } from "./gradients/AvgPoolGrad_grad.ts";
import { comparisonGradConfigs, COMPARISONS } from "./gradients/comparisons_grad.ts";
import { conv2DBackpropFilterGradConfig } from "./gradients/Conv2DBackpropFilter_grad.ts";
import { expGradConfig } from "./gradients/Exp_grad.ts";
import { logSoftmaxGradConfig } from "./gradients/LogSoftmax_grad.ts";
import { maxPoolGradGradConfig } from "./gradients/MaxPoolGrad_grad.ts";
import { meanGradConfig } from "./gradients/Mean_grad.ts";
import { batchNormGradGradConfig } from "./gradients/MetaLabBatchNormGrad_grad.ts";
import { reluGradGradConfig } from "./gradients/MetaLabReluGrad_grad.ts";
import { reluGradConfig } from "./gradients/Relu_grad.ts";
import { sigmoidGradConfig } from "./gradients/Sigmoid_grad.ts";
import { softmaxGradConfig } from "./gradients/Softmax_grad.ts";
import { sumGradConfig } from "./gradients/Sum_grad.ts";
import { tanhGradConfig } from "./gradients/Tanh_grad.ts";
import { tileGradConfig } from "./gradients/Tile_grad.ts";

/**
 * Marks the gradients registered here as replacements, so registration can tell them from
 * tfjs's own. A global symbol, so that a second copy of this module sees the first one's.
 */
const METALAB_GRADIENT = Symbol.for("metalab.gradient");

type Marked = tf.GradConfig & { [METALAB_GRADIENT]?: boolean };

/** Gradients of kernels tfjs gives none. */
const ADDED: readonly tf.GradConfig[] = [
  conv2DBackpropFilterGradConfig,
  maxPoolGradGradConfig,
  avgPoolGradGradConfig,
  batchNormGradGradConfig,
  reluGradGradConfig,
  ...comparisonGradConfigs,
];

/** Replacements of tfjs's gradients, bar `Tile`'s (which wraps tfjs's: see below). */
const REPLACED: readonly tf.GradConfig[] = [
  tanhGradConfig,
  sigmoidGradConfig,
  expGradConfig,
  softmaxGradConfig,
  logSoftmaxGradConfig,
  reluGradConfig,
  meanGradConfig,
  sumGradConfig,
];

/** The gradients MetaLab adds, by kernel name. */
export const ADDED_GRADIENTS: readonly string[] = [
  "Conv2DBackpropFilter",
  "MaxPoolGrad",
  "AvgPoolGrad",
  BATCH_NORM_GRAD_KERNEL,
  RELU_GRAD_KERNEL,
  ...COMPARISONS,
];

/** The tfjs gradients MetaLab replaces (same values; differentiable again, or faster). */
export const REPLACED_GRADIENTS: readonly string[] = [
  ...REPLACED.map((g) => g.kernelName),
  "Tile",
];

/**
 * Registers the missing gradients (idempotent: a kernel that already has a gradient, from
 * tfjs or an earlier call, is left alone) and the replacements (once: a gradient MetaLab
 * registered is not registered again). Returns the kernel names whose gradients it added now.
 *
 * @example
 * ```ts
 * registerGradients(); // [] once tfjs already knows every gradient, e.g. on a second call
 * const g = tf.grad((x) => tf.grad((y) => tf.sum(tf.tanh(y)))(x).sum());
 * ```
 */
export function registerGradients(): string[] {
  const added: string[] = [];
  for (const config of ADDED) {
    if (tf.getGradient(config.kernelName) != null) continue;
    tf.registerGradient(config);
    added.push(config.kernelName);
  }
  // Tile's replacement falls back to tfjs's gradient, so it wraps the one registered now.
  const tile = tf.getGradient("Tile") as Marked | undefined;
  const replacements = [...REPLACED, ...(tile?.[METALAB_GRADIENT] ? [] : [tileGradConfig(tile)])];
  for (const config of replacements) {
    const current = tf.getGradient(config.kernelName) as Marked | undefined;
    if (!current?.[METALAB_GRADIENT]) {
      tf.registerGradient({ ...config, [METALAB_GRADIENT]: true } as Marked);
    }
  }
  return added;
}
