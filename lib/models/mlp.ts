/**
 * Multi-layer perceptron as a functional model, with a batched form that runs many
 * tasks' adapted parameters in one computation (sinusoid MAML's 25 tasks as one graph).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Rng } from "../random/mod.ts";
import { torchDefaultUniform } from "./init.ts";
import { registerRebuilder } from "./registry.ts";
import type { ApplyOptions, FunctionalModel, ParamSpec } from "./types.ts";
import { checkParams } from "./check.ts";

/** Hidden-layer non-linearity of an {@linkcode mlp}. */
export type Activation = "relu" | "tanh";

/** Options of {@linkcode mlp}. */
export interface MlpOptions {
  /** Non-linearity after every hidden layer (default `relu`). */
  activation?: Activation;
}

/** An MLP: a {@linkcode FunctionalModel} plus a batched-over-tasks form. */
export interface MlpModel extends FunctionalModel {
  /** Layer sizes `[in, hidden…, out]`. */
  readonly sizes: number[];
  /**
   * Many tasks as one computation: every parameter carries a leading task dimension
   * `[T, …]` (e.g. per-task adapted weights), `x` is `[T, N, in]`, the result `[T, N, out]`.
   * Uses batched `tf.matMul`, so T tasks cost one graph, not T.
   */
  applyBatched(params: tf.Tensor[], x: tf.Tensor): tf.Tensor;
}

/**
 * A fully connected network with layer sizes `sizes = [in, hidden…, out]`
 * (e.g. `[1, 40, 40, 1]` for sinusoid regression). Parameters per layer: `kernel [in, out]`
 * and `bias [out]`, initialised like PyTorch's `nn.Linear`. The last layer is the head.
 * Inputs are `[N, in]`; outputs `[N, out]` (no activation on the head).
 */
export function mlp(sizes: number[], opts: MlpOptions = {}): MlpModel {
  if (sizes.length < 2 || sizes.some((s) => !Number.isInteger(s) || s <= 0)) {
    throw new RangeError(
      `mlp: sizes must be at least [in, out] of positive integers, got ${JSON.stringify(sizes)}`,
    );
  }
  const activation = opts.activation ?? "relu";
  if (activation !== "relu" && activation !== "tanh") {
    throw new RangeError(`mlp: unknown activation "${activation}" (choose relu or tanh)`);
  }
  const act = activation === "relu" ? tf.relu : tf.tanh;
  const layers = sizes.length - 1;
  const paramSpecs: ParamSpec[] = [];
  for (let l = 0; l < layers; l++) {
    const prefix = l === layers - 1 ? "head" : `layer${l + 1}`;
    paramSpecs.push({ name: `${prefix}/kernel`, shape: [sizes[l], sizes[l + 1]] });
    paramSpecs.push({ name: `${prefix}/bias`, shape: [sizes[l + 1]] });
  }
  const name = `mlp(${sizes.join("-")}, ${activation})`;

  const embed = (params: tf.Tensor[], x: tf.Tensor, _opts?: ApplyOptions): tf.Tensor => {
    // The body alone or the full list (head included) are both accepted.
    const body = paramSpecs.slice(0, 2 * (layers - 1));
    checkParams(name, params.length === body.length ? body : paramSpecs, params);
    if (x.rank !== 2 || x.shape[1] !== sizes[0]) {
      throw new Error(`${name}: expected input [N, ${sizes[0]}], got [${x.shape}]`);
    }
    return tf.tidy(() => {
      let h = x;
      for (let l = 0; l < layers - 1; l++) {
        h = act(tf.add(tf.matMul(h, params[2 * l]), params[2 * l + 1]));
      }
      return h;
    });
  };

  const model: MlpModel = {
    name,
    sizes: [...sizes],
    paramSpecs,
    headStart: 2 * (layers - 1),
    perExample: true,
    init(rng: Rng): tf.Tensor[] {
      return paramSpecs.map((spec) => torchDefaultUniform(rng, spec.shape, spec.shape[0]));
    },
    embed,
    apply(params, x, applyOpts) {
      return tf.tidy(() => {
        const h = embed(params, x, applyOpts);
        return tf.add(tf.matMul(h, params[2 * (layers - 1)]), params[2 * layers - 1]);
      });
    },
    applyBatched(params, x) {
      if (params.length !== paramSpecs.length) {
        throw new Error(`${name}: expected ${paramSpecs.length} params, got ${params.length}`);
      }
      const tasks = x.shape[0];
      paramSpecs.forEach((spec, i) => {
        const want = [tasks, ...spec.shape];
        if (params[i].shape.join() !== want.join()) {
          throw new Error(
            `${name}.applyBatched: param ${spec.name} must be [${want}] (leading task dim), ` +
              `got [${params[i].shape}]`,
          );
        }
      });
      if (x.rank !== 3 || x.shape[2] !== sizes[0]) {
        throw new Error(
          `${name}.applyBatched: expected input [T, N, ${sizes[0]}], got [${x.shape}]`,
        );
      }
      return tf.tidy(() => {
        let h = x;
        for (let l = 0; l < layers; l++) {
          // [T, N, in] x [T, in, out] + [T, 1, out]
          h = tf.add(tf.matMul(h, params[2 * l]), tf.expandDims(params[2 * l + 1], 1));
          if (l < layers - 1) h = act(h);
        }
        return h;
      });
    },
  };
  return registerRebuilder(model, (outputs) => {
    if (outputs === 0) throw new RangeError(`withHead: an mlp needs at least one output`);
    return mlp([...sizes.slice(0, -1), outputs], opts);
  });
}
