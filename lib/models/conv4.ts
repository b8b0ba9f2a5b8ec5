/**
 * Conv-4, the standard few-shot backbone (Vinyals et al. 2016; Finn et al. 2017;
 * Snell et al. 2017), as a functional model.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Rng } from "../random/mod.ts";
import { batchNorm } from "./batch_norm.ts";
import { checkParams } from "./check.ts";
import { constant, torchDefaultUniform } from "./init.ts";
import { registerRebuilder } from "./registry.ts";
import type { ApplyOptions, FunctionalModel, ParamSpec } from "./types.ts";

/** Options of {@linkcode conv4}. */
export interface Conv4Options {
  /** Input `[height, width, channels]`, e.g. `[28, 28, 1]` for Omniglot. */
  inputShape: [number, number, number];
  /** Number of head outputs (N ways); 0 = no head, the model returns the embedding. */
  outputs: number;
  /** Filters per conv layer (default 64). */
  filters?: number;
  /**
   * MAML's Omniglot variant (default false): stride-2 convs instead of max-pooling, and the
   * final feature map averaged over space (as in Finn et al.'s code and learn2learn's
   * `OmniglotCNN`), giving `filters` features.
   */
  strided?: boolean;
  /** Batch norm after each conv (default true); without it each conv has a bias. */
  batchNorm?: boolean;
}

/**
 * Conv-4: 4 × [3×3 conv 'same', `filters` filters, batch norm, ReLU, 2×2 max-pool], then
 * flatten and a linear head. Max-pooling is 'valid' (floors odd sizes like PyTorch), so a
 * 28×28 input goes 14 → 7 → 3 → 1 and the embedding has 64 features; 84×84 gives 1600.
 *
 * Inputs are NHWC `[N, H, W, C]` (or `[N, H·W·C]`, reshaped). Parameters per block:
 * `conv/kernel [3, 3, in, filters]`, then `bn/gamma`, `bn/beta` (or `conv/bias` without batch
 * norm); the head is `head/kernel [features, outputs]`, `head/bias [outputs]`. Conv and head
 * weights are initialised like PyTorch's defaults (U(±1/√fan_in)), batch norm to γ=1, β=0.
 *
 * Batch norm uses the current batch's statistics in training and at test time alike
 * (transductive, as MAML's reference code and learn2learn do for episodic training); there are
 * no running averages, so `opts.training` does not change the result. Every op is a primitive
 * with registered gradients, so second-order MAML differentiates through the whole model.
 */
export function conv4(options: Conv4Options): FunctionalModel {
  const { inputShape, outputs } = options;
  const filters = options.filters ?? 64;
  const strided = options.strided ?? false;
  const useBatchNorm = options.batchNorm ?? true;
  if (
    !Array.isArray(inputShape) || inputShape.length !== 3 ||
    inputShape.some((d) => !Number.isInteger(d) || d <= 0)
  ) {
    throw new RangeError(
      `conv4: inputShape must be [height, width, channels] of positive integers, got ${
        JSON.stringify(inputShape)
      }`,
    );
  }
  if (!Number.isInteger(outputs) || outputs < 0) {
    throw new RangeError(`conv4: outputs must be a non-negative integer, got ${outputs}`);
  }
  if (!Number.isInteger(filters) || filters <= 0) {
    throw new RangeError(`conv4: filters must be a positive integer, got ${filters}`);
  }
  let [h, w] = inputShape;
  const channels = inputShape[2];
  const paramSpecs: ParamSpec[] = [];
  let cin = channels;
  for (let b = 1; b <= 4; b++) {
    paramSpecs.push({ name: `block${b}/conv/kernel`, shape: [3, 3, cin, filters] });
    if (useBatchNorm) {
      paramSpecs.push({ name: `block${b}/bn/gamma`, shape: [filters] });
      paramSpecs.push({ name: `block${b}/bn/beta`, shape: [filters] });
    } else {
      paramSpecs.push({ name: `block${b}/conv/bias`, shape: [filters] });
    }
    cin = filters;
    if (strided) {
      h = Math.ceil(h / 2);
      w = Math.ceil(w / 2);
    } else {
      h = Math.floor(h / 2);
      w = Math.floor(w / 2);
    }
    if (h < 1 || w < 1) {
      throw new RangeError(
        `conv4: input ${inputShape[0]}×${inputShape[1]} is too small for 4 pooling blocks`,
      );
    }
  }
  const features = strided ? filters : h * w * filters;
  const headStart = paramSpecs.length;
  if (outputs > 0) {
    paramSpecs.push({ name: "head/kernel", shape: [features, outputs] });
    paramSpecs.push({ name: "head/bias", shape: [outputs] });
  }
  const perBlock = useBatchNorm ? 3 : 2;
  const name = `conv4(${inputShape.join("x")}, ${filters}${strided ? ", strided" : ""}${
    useBatchNorm ? ", bn" : ""
  })${outputs > 0 ? `->${outputs}` : ""}`;

  const embed = (params: tf.Tensor[], x: tf.Tensor, opts?: ApplyOptions): tf.Tensor => {
    // The body alone or the full list (head included) are both accepted.
    checkParams(
      name,
      params.length === headStart ? paramSpecs.slice(0, headStart) : paramSpecs,
      params,
    );
    const flat = inputShape[0] * inputShape[1] * inputShape[2];
    const ok4 = x.rank === 4 && x.shape.slice(1).every((d, i) => d === inputShape[i]);
    const ok2 = x.rank === 2 && x.shape[1] === flat;
    if (!ok4 && !ok2) {
      throw new Error(
        `${name}: expected input [N, ${inputShape}] or [N, ${flat}], got [${x.shape}]`,
      );
    }
    return tf.tidy(() => {
      let a = (ok2 ? tf.reshape(x, [x.shape[0], ...inputShape]) : x) as tf.Tensor4D;
      for (let b = 0; b < 4; b++) {
        const p = b * perBlock;
        let z = tf.conv2d(a, params[p] as tf.Tensor4D, strided ? 2 : 1, "same") as tf.Tensor4D;
        z = useBatchNorm
          ? batchNorm(z, params[p + 1], params[p + 2], {
            firstOrderOnly: opts?.firstOrderOnly,
          }) as tf.Tensor4D
          : tf.add(z, params[p + 1]);
        a = tf.relu(z);
        if (!strided) a = tf.maxPool(a, 2, 2, "valid");
      }
      return strided ? tf.mean(a, [1, 2]) : tf.reshape(a, [a.shape[0], features]);
    });
  };

  // Conv kernels [3, 3, in, out] have fan_in 9·in; a conv bias shares its kernel's fan_in.
  const conv4FanIn = (spec: ParamSpec): number =>
    spec.name.endsWith("/kernel")
      ? spec.shape[2]
      : paramSpecs[paramSpecs.indexOf(spec) - 1].shape[2];

  const model: FunctionalModel = {
    name,
    paramSpecs,
    headStart,
    init(rng: Rng): tf.Tensor[] {
      return paramSpecs.map((spec) => {
        if (spec.name.endsWith("/gamma")) return constant(spec.shape, 1);
        if (spec.name.endsWith("/beta")) return constant(spec.shape, 0);
        const fanIn = spec.name.startsWith("head/") ? features : 9 * conv4FanIn(spec);
        return torchDefaultUniform(rng, spec.shape, fanIn);
      });
    },
    embed,
    apply(params, x, applyOpts) {
      if (outputs === 0) return embed(params, x, applyOpts);
      return tf.tidy(() => {
        const e = embed(params, x, applyOpts);
        return tf.add(tf.matMul(e, params[headStart]), params[headStart + 1]);
      });
    },
  };
  return registerRebuilder(model, (n) => conv4({ ...options, outputs: n }));
}
