/**
 * Task descriptors of the sinusoid family, and the image embedding of a ProtoNet: the inputs
 * of the zero-shot models of this folder.
 *
 * A sinusoid y = A sin(x − b) is described by d = (A, b), each rescaled to [−1, 1] over the
 * family's range (so that noise of standard deviation σ means the same for both: σ = 0.1 is
 * 5% of a range). `amplitude` alone is a deliberately incomplete description: it leaves the
 * phase, and so the function, undetermined.
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { SinusoidFamily, SinusoidParams } from "../datasets/mod.ts";
import type { ProtoNet } from "../meta/mod.ts";
import type { Rng } from "../random/mod.ts";

/** Which parts of a sinusoid a descriptor gives: both, or the amplitude alone. */
export type SinusoidDescription = "amplitude+phase" | "amplitude";

/** The descriptor length of a {@linkcode SinusoidDescription}. */
export function descriptorSize(description: SinusoidDescription): number {
  return description === "amplitude" ? 1 : 2;
}

function scaled(v: number, [lo, hi]: readonly [number, number]): number {
  return hi > lo ? (2 * (v - lo)) / (hi - lo) - 1 : 0;
}

/**
 * The descriptor of a sinusoid task: (A, b) (or A alone) rescaled to [−1, 1] over `family`'s
 * ranges, plus N(0, σ²) noise per entry when `noise` is given.
 *
 * @example
 * ```ts
 * const family = new SinusoidFamily();
 * sinusoidDescriptor(family, { amplitude: 5, phase: 0 }); // [1, -1]
 * sinusoidDescriptor(family, { amplitude: 5, phase: 0 }, "amplitude+phase", { sigma: 0.1, rng });
 * ```
 */
export function sinusoidDescriptor(
  family: SinusoidFamily,
  params: SinusoidParams,
  description: SinusoidDescription = "amplitude+phase",
  noise?: { sigma: number; rng: Rng },
): number[] {
  const d = [scaled(params.amplitude, family.amplitudeRange)];
  if (description === "amplitude+phase") d.push(scaled(params.phase, family.phaseRange));
  if (noise && noise.sigma > 0) return d.map((v) => v + noise.rng.normal(0, noise.sigma));
  return d;
}

/**
 * The embedding f(x) of a (meta-trained) ProtoNet, as its own `adapt` computes it (same
 * batch-norm mode): what the attribute-based classifiers compare against.
 */
export function protoNetEmbedding(learner: ProtoNet): (x: tf.Tensor) => tf.Tensor {
  return (x) =>
    learner.model.apply(learner.params, x, { training: learner.training, firstOrderOnly: true });
}
