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
 * One replacement for speed: tfjs's `Relu` gradient is `dy · cast(step(x), float32)`, whose
 * cast copies a float32 tensor to float32; MetaLab's is `dy · step(x)` (same numbers).
 * @module
 */
import * as tf from "@tensorflow/tfjs";

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

const reluGrad: tf.GradConfig = {
  kernelName: "Relu",
  inputsToSave: ["x"],
  gradFunc: (dy, saved) => {
    const [x] = saved;
    return { x: () => tf.mul(dy as tf.Tensor, tf.step(x)) };
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

/** The gradients MetaLab adds, by kernel name. */
export const ADDED_GRADIENTS: readonly string[] = [
  "Conv2DBackpropFilter",
  "MaxPoolGrad",
  "AvgPoolGrad",
  ...COMPARISONS,
];

/** The tfjs gradients MetaLab replaces (same values; differentiable again, or faster). */
export const REPLACED_GRADIENTS: readonly string[] = [
  ...fromInput.map((g) => g.kernelName),
  "Relu",
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
    ...COMPARISONS.map(zeroGradients),
  ];
  for (const config of missing) {
    if (tf.getGradient(config.kernelName) != null) continue;
    tf.registerGradient(config);
    added.push(config.kernelName);
  }
  for (const config of [...fromInput, reluGrad]) {
    const current = tf.getGradient(config.kernelName) as
      | (tf.GradConfig & { [METALAB_GRADIENT]?: boolean })
      | undefined;
    if (!current?.[METALAB_GRADIENT]) {
      tf.registerGradient(Object.assign(config, { [METALAB_GRADIENT]: true }));
    }
  }
  return added;
}
