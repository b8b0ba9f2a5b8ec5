/**
 * What a smaller model buys: its parameter count, its FLOPs per inference and its measured
 * time per episode, to set beside the accuracy it keeps.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { FunctionalModel, MetaLearner } from "../meta/mod.ts";
import type { Episode } from "../tasks/mod.ts";

/**
 * Number of scalar parameters of `model` (every tensor in its `paramSpecs`, head included).
 *
 * @example
 * ```ts
 * parameterCount(mlp([784, 30, 30, 10])); // 784·30+30 + 30·30+30 + 30·10+10 = 24,790
 * ```
 */
export function parameterCount(model: Pick<FunctionalModel, "paramSpecs">): number {
  return model.paramSpecs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
}

/**
 * Floating-point operations of one example's forward pass, counting the convolutions and
 * matrix products (2 per multiply-add), which dominate; batch norm, ReLU, pooling and the
 * bias additions (a few per activation) are left out. Dense layers (`…/kernel [in, out]`)
 * cost 2·in·out. Convolutions (`…/kernel [kh, kw, in, out]`) cost 2·kh·kw·in·out per output
 * position, with the spatial size following Conv-4 (`lib/models/conv4.ts`): 'same' padding,
 * then halved by the 2×2 max-pool (floor) or, for the strided variant, by the stride (ceil).
 * `inputShape` is `[H, W, C]` for a convolutional model (ignored by an MLP).
 *
 * @example
 * ```ts
 * flopsPerExample(mlp([784, 30, 30, 10]), [784]); // 2·(784·30 + 30·30 + 30·10) = 49,440
 * flopsPerExample(conv4({ inputShape: [28, 28, 1], outputs: 0 }), [28, 28, 1]); // 19.6 M
 * ```
 */
export function flopsPerExample(
  model: Pick<FunctionalModel, "paramSpecs" | "name">,
  inputShape: readonly number[],
): number {
  const strided = model.name.includes("strided");
  let h = inputShape[0];
  let w = inputShape[1];
  let flops = 0;
  for (const spec of model.paramSpecs) {
    if (!spec.name.endsWith("/kernel")) continue;
    if (spec.shape.length === 2) {
      flops += 2 * spec.shape[0] * spec.shape[1];
    } else if (spec.shape.length === 4) {
      if (inputShape.length !== 3) {
        throw new Error(
          `flopsPerExample: ${model.name} is convolutional: expected inputShape [H, W, C], ` +
            `got [${inputShape}]`,
        );
      }
      const [kh, kw, cin, cout] = spec.shape;
      const outH = strided ? Math.ceil(h / 2) : h;
      const outW = strided ? Math.ceil(w / 2) : w;
      flops += 2 * kh * kw * cin * cout * outH * outW;
      h = strided ? outH : Math.floor(h / 2);
      w = strided ? outW : Math.floor(w / 2);
    } else {
      throw new Error(
        `flopsPerExample: ${spec.name} has shape [${spec.shape}]: expected a dense [in, out] ` +
          `or a conv [kh, kw, in, out] kernel`,
      );
    }
  }
  return flops;
}

/** Measured time of a learner's inference per episode. */
export interface EpisodeTiming {
  /** Median milliseconds per episode (adapt on the support set, predict the queries). */
  medianMs: number;
  /** Mean milliseconds per episode. */
  meanMs: number;
  /** Episodes timed. */
  episodes: number;
}

/**
 * Times `learner`'s inference on each of `episodes`: adapt on the support set and predict
 * the query set, read back to the CPU (so the time includes the work, not just its
 * scheduling), after `warmup` untimed episodes (default 2: the first calls compile kernels).
 * The median is the number to quote on a shared machine (other processes add outliers).
 *
 * @example
 * ```ts
 * const timing = timePerEpisode(learner, episodes);
 * console.log(`${timing.medianMs.toFixed(1)} ms per 5-way episode`);
 * ```
 */
export function timePerEpisode(
  learner: Pick<MetaLearner, "adapt">,
  episodes: readonly Episode[],
  { warmup = 2 }: { warmup?: number } = {},
): EpisodeTiming {
  if (episodes.length === 0) throw new RangeError("timePerEpisode: no episodes to time");
  const once = (task: Episode) => {
    const adapted = learner.adapt(task.support);
    try {
      tf.tidy(() => adapted.predict(task.query.x).dataSync());
    } finally {
      adapted.dispose();
    }
  };
  for (let i = 0; i < warmup; i++) once(episodes[i % episodes.length]);
  const ms = episodes.map((task) => {
    const t0 = performance.now();
    once(task);
    return performance.now() - t0;
  });
  const sorted = [...ms].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const medianMs = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { medianMs, meanMs: ms.reduce((a, b) => a + b, 0) / ms.length, episodes: ms.length };
}
