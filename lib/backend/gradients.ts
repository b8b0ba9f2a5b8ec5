/**
 * Gradients tfjs 4.22 does not register, so that second-order MAML differentiates through
 * conv nets (the gradient of a gradient of conv2d and max-pool). Gradients are
 * backend-independent: they are written with ordinary tf ops, each of which has a kernel on
 * every backend (and a gradient of its own, so a third order would also flow where the
 * composed ops allow it).
 *
 * - `Conv2DBackpropFilter(x, dy) = dW` is bilinear in `x` and `dy`. For an upstream `G`
 *   (filter-shaped): `∂/∂dy = conv2d(x, G)` (the forward conv with `G` as its filter) and
 *   `∂/∂x = conv2dTranspose(dy, G)` (the input gradient of that conv).
 * - `MaxPoolGrad(dy, x, y)` routes each `dy[o]` to the argmax of window `o`; it is linear in
 *   `dy` and piecewise constant in `x`, `y` (zero gradient almost everywhere). Its transpose
 *   is a gather at the argmax: with `mask = MaxPoolGrad(1, x, y)` (the same tie-breaking as
 *   the kernel itself), `∂/∂dy = Σ_window(G·mask)`, computed as
 *   `avgPool(G·mask) / avgPool(mask)` (each non-overlapping window holds at most one 1 in the
 *   mask, so this holds for any padding; windows the kernel gives no gradient get 0). Overlapping windows (filter > stride) get a clear
 *   error.
 * - `AvgPoolGrad(dy, x)` is linear in `dy`; its transpose is `avgPool` itself.
 *
 * - Comparisons (`Equal`, `Greater`, …) are piecewise constant: zero gradients. tfjs's `Max`
 *   gradient uses `Equal`, so without these a second derivative through `logSumExp` fails.
 *
 * Replacements for second order: tfjs's gradients of `Tanh`, `Sigmoid`, `Exp`, `Softmax` and
 * `LogSoftmax` read the op's saved *output*, which tfjs records on the tape before the op's
 * own node, so an outer `tf.grads` finds no path through it ("Cannot compute gradient of
 * y=f(x)"). MetaLab's versions recompute the output from the saved input (one cheap extra
 * op) and so differentiate again.
 *
 * Replacements for speed (same numbers): `Relu`'s gradient without tfjs's float32→float32
 * cast; `Mean` and `Sum` gradients as one `tile` instead of ones·dy/n (three full-size passes
 * per batch-norm statistic); `Tile`'s gradient, for a broadcast (tiled axes of size 1), as
 * one sum instead of a slice-and-add per repetition.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { BATCH_NORM_GRAD_KERNEL, RELU_GRAD_KERNEL } from "./kernel_names.ts";

type ExplicitPadding = [[number, number], [number, number], [number, number], [number, number]];
type Pad = "valid" | "same" | number | ExplicitPadding;
type Rounding = "floor" | "round" | "ceil";
type Pair = number | [number, number];

function pair(v: Pair): [number, number] {
  return typeof v === "number" ? [v, v] : v;
}

const conv2dBackpropFilterGrad: tf.GradConfig = {
  kernelName: "Conv2DBackpropFilter",
  inputsToSave: ["x", "dy"],
  gradFunc: (g, saved, attrs) => {
    const [x, dy] = saved as [tf.Tensor4D, tf.Tensor4D];
    const { strides, pad, dataFormat, dimRoundingMode } = attrs as {
      strides: Pair;
      pad: Pad;
      dataFormat?: "NHWC" | "NCHW";
      dimRoundingMode?: Rounding;
    };
    if (dataFormat === "NCHW") {
      throw new Error("gradient of Conv2DBackpropFilter: only NHWC is supported");
    }
    const G = g as tf.Tensor4D;
    return {
      x: () =>
        tf.conv2dTranspose(
          dy,
          G,
          x.shape,
          strides,
          pad as "valid" | "same" | number,
          dimRoundingMode,
        ),
      dy: () => tf.conv2d(x, G, strides, pad, "NHWC", 1, dimRoundingMode),
    };
  },
};

const maxPoolGradGrad: tf.GradConfig = {
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

const avgPoolGradGrad: tf.GradConfig = {
  kernelName: "AvgPoolGrad",
  inputsToSave: ["dy", "input"],
  gradFunc: (g, saved, attrs) => {
    const [, input] = saved as [tf.Tensor4D, tf.Tensor4D];
    const { filterSize, strides, pad } = attrs as {
      filterSize: Pair;
      strides: Pair;
      pad: Pad;
    };
    return {
      dy: () =>
        tf.avgPool(
          g as tf.Tensor as tf.Tensor4D,
          filterSize,
          strides,
          pad as "valid" | "same" | number,
        ),
      input: () => tf.zerosLike(input),
    };
  },
};

const METALAB_GRADIENT = Symbol.for("metalab.gradient");

/** `dy` where `x > 0`, else 0: MetaLab's one-pass kernel where the backend has it. */
function reluGradient(dy: tf.Tensor, x: tf.Tensor): tf.Tensor {
  if (tf.getKernel(RELU_GRAD_KERNEL, tf.getBackend())) {
    return tf.engine().runKernel(RELU_GRAD_KERNEL, { dy, x }, {}) as tf.Tensor;
  }
  return tf.mul(dy, tf.step(x));
}

const reluGrad: tf.GradConfig = {
  kernelName: "Relu",
  inputsToSave: ["x"],
  gradFunc: (dy, saved) => {
    const [x] = saved;
    return { x: () => reluGradient(dy as tf.Tensor, x) };
  },
};

/** The one-pass ReLU gradient is linear in `dy` (with the same mask) and flat in `x`. */
const reluGradGrad: tf.GradConfig = {
  kernelName: RELU_GRAD_KERNEL,
  inputsToSave: ["x"],
  gradFunc: (g, saved) => {
    const [x] = saved;
    return { dy: () => reluGradient(g as tf.Tensor, x), x: () => tf.zerosLike(x) };
  },
};

const zeroGradients = (kernelName: string): tf.GradConfig => ({
  kernelName,
  inputsToSave: ["a", "b"],
  gradFunc: (_dy, saved) => {
    const [a, b] = saved;
    return { a: () => tf.zerosLike(a), b: () => tf.zerosLike(b) };
  },
});

const COMPARISONS = ["Equal", "NotEqual", "Greater", "GreaterEqual", "Less", "LessEqual"];

/** Gradients recomputed from the saved input, so they are differentiable again. */
const fromInput: tf.GradConfig[] = [
  {
    kernelName: "Tanh",
    inputsToSave: ["x"],
    gradFunc: (dy, saved) => {
      const [x] = saved;
      return { x: () => tf.mul(dy as tf.Tensor, tf.sub(1, tf.square(tf.tanh(x)))) };
    },
  },
  {
    kernelName: "Sigmoid",
    inputsToSave: ["x"],
    gradFunc: (dy, saved) => {
      const [x] = saved;
      return {
        x: () => {
          const y = tf.sigmoid(x);
          return tf.mul(dy as tf.Tensor, tf.mul(y, tf.sub(1, y)));
        },
      };
    },
  },
  {
    kernelName: "Exp",
    inputsToSave: ["x"],
    gradFunc: (dy, saved) => {
      const [x] = saved;
      return { x: () => tf.mul(dy as tf.Tensor, tf.exp(x)) };
    },
  },
  {
    kernelName: "Softmax",
    inputsToSave: ["logits"],
    gradFunc: (dy, saved, attrs) => {
      const [logits] = saved;
      const { dim } = attrs as { dim: number };
      return {
        logits: () => {
          const y = tf.softmax(logits, dim);
          const dyTimesY = tf.mul(dy as tf.Tensor, y);
          return tf.sub(dyTimesY, tf.mul(tf.sum(dyTimesY, [dim], true), y));
        },
      };
    },
  },
  {
    kernelName: "LogSoftmax",
    inputsToSave: ["logits"],
    gradFunc: (dy, saved, attrs) => {
      const [logits] = saved;
      const { axis } = attrs as { axis: number };
      return {
        logits: () => {
          const softmax = tf.softmax(logits, axis);
          return tf.sub(dy as tf.Tensor, tf.mul(tf.sum(dy as tf.Tensor, axis, true), softmax));
        },
      };
    },
  },
];

/** The shape `dy` of a reduction over `axes` takes before it is broadcast back to `shape`. */
function keptShape(shape: number[], axes: number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

/**
 * Gradients of `Mean` and `Sum` as one `tile` of the (scaled) upstream gradient: tfjs's
 * versions materialise a ones tensor and multiply (and divide), three full-size passes.
 */
const meanGrad: tf.GradConfig = {
  kernelName: "Mean",
  inputsToSave: ["x"],
  gradFunc: (dy, saved, attrs) => {
    const [x] = saved;
    const axes = tf.util.parseAxisParam((attrs as { axis: number | number[] }).axis, x.shape);
    const size = axes.reduce((n, a) => n * x.shape[a], 1);
    return {
      x: () => {
        const kept = keptShape(x.shape, axes);
        const reps = x.shape.map((d, i) => (kept[i] === 1 && axes.includes(i) ? d : 1));
        return tf.tile(tf.div(tf.reshape(dy as tf.Tensor, kept), size), reps);
      },
    };
  },
};

const sumGrad: tf.GradConfig = {
  kernelName: "Sum",
  inputsToSave: ["x"],
  gradFunc: (dy, saved, attrs) => {
    const [x] = saved;
    const axes = tf.util.parseAxisParam((attrs as { axis: number | number[] }).axis, x.shape);
    return {
      x: () => {
        const kept = keptShape(x.shape, axes);
        const reps = x.shape.map((d, i) => (axes.includes(i) ? d : 1));
        return tf.tile(tf.cast(tf.reshape(dy as tf.Tensor, kept), "float32"), reps);
      },
    };
  },
};

/**
 * `Tile` of a tensor whose tiled axes all have size 1 is a broadcast: its gradient is a sum
 * over those axes (one reduction). tfjs's version adds up one slice per repetition (tens of
 * thousands of ops for a batch-norm-sized broadcast); other tiles keep tfjs's gradient.
 */
function tileGrad(original: tf.GradConfig | undefined): tf.GradConfig {
  return {
    kernelName: "Tile",
    inputsToSave: ["x"],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const { reps } = attrs as { reps: number[] };
      const axes = reps.map((r, i) => (r > 1 ? i : -1)).filter((i) => i >= 0);
      if (axes.every((a) => x.shape[a] === 1)) {
        return { x: () => tf.reshape(tf.sum(dy as tf.Tensor, axes, true), x.shape) };
      }
      if (!original) throw new Error("no gradient for a general Tile");
      return original.gradFunc(dy, saved, attrs);
    },
  };
}

/**
 * The fused batch-norm gradient is first-order only: differentiating it again (second-order
 * MAML through a `firstOrderOnly` batch norm) stops with an error that says what to change,
 * instead of tfjs's generic one.
 */
const batchNormGradGrad: tf.GradConfig = {
  kernelName: BATCH_NORM_GRAD_KERNEL,
  inputsToSave: [],
  gradFunc: () => {
    throw new Error(
      "MetaLab's fused batch norm (ApplyOptions.firstOrderOnly) cannot be differentiated " +
        "twice: leave firstOrderOnly off for second-order gradients (MAML, Meta-SGD)",
    );
  },
};

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
  ...fromInput.map((g) => g.kernelName),
  "Relu",
  "Mean",
  "Sum",
  "Tile",
];

/**
 * Registers the missing gradients (idempotent: a kernel that already has a gradient, from
 * tfjs or an earlier call, is left alone). Returns the kernel names it registered now.
 */
export function registerGradients(): string[] {
  const added: string[] = [];
  const missing = [
    conv2dBackpropFilterGrad,
    maxPoolGradGrad,
    avgPoolGradGrad,
    batchNormGradGrad,
    reluGradGrad,
    ...COMPARISONS.map(zeroGradients),
  ];
  for (const config of missing) {
    if (tf.getGradient(config.kernelName) != null) continue;
    tf.registerGradient(config);
    added.push(config.kernelName);
  }
  const tile = tf.getGradient("Tile") as (tf.GradConfig & { [METALAB_GRADIENT]?: boolean });
  const replacements = [
    ...fromInput,
    reluGrad,
    meanGrad,
    sumGrad,
    ...(tile?.[METALAB_GRADIENT] ? [] : [tileGrad(tile)]),
  ];
  for (const config of replacements) {
    const current = tf.getGradient(config.kernelName) as
      | (tf.GradConfig & { [METALAB_GRADIENT]?: boolean })
      | undefined;
    if (!current?.[METALAB_GRADIENT]) {
      tf.registerGradient(Object.assign(config, { [METALAB_GRADIENT]: true }));
    }
  }
  return added;
}
