/**
 * Each layer's representation of a batch, for the functional models of `lib/models`: what
 * CKA compares before and after adaptation. `FunctionalModel` exposes only the output and
 * the embedding, so this runs the same forward pass layer by layer (the same ops, batch norm
 * included), for the two model families MetaLab builds: Conv-4 (`conv4`) and the MLP (`mlp`).
 * The tests check that its last layer equals the model's own `apply`.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { batchNorm, type FunctionalModel } from "../models/mod.ts";

/** One layer's output for a batch, flattened per example: `value` is `[n, features]`. */
export interface LayerRepresentation {
  /** `block1` … `block4` and `head` (Conv-4), `layer1` … and `head` (MLP). */
  name: string;
  /** The activations `[n, features]` (the caller disposes them). */
  value: tf.Tensor2D;
}

/** Which of the supported families `model` is, read from its parameter names (and name). */
function family(model: FunctionalModel): "conv4" | "mlp" {
  const first = model.paramSpecs[0]?.name;
  if (first === "block1/conv/kernel") return "conv4";
  if (first === "layer1/kernel" || first === "head/kernel") return "mlp";
  throw new Error(
    `layerRepresentations: model "${model.name}" is neither a conv4 nor an mlp of lib/models ` +
      `(its first parameter is "${first}"); those are the models it can run layer by layer`,
  );
}

/**
 * The representation after every layer of `model` with parameters `params` on inputs `x`:
 * for Conv-4 after each block (conv, batch norm, ReLU, pool) and the head's logits; for an
 * MLP after each hidden layer's activation and the head's output. Batch norm uses the
 * batch's statistics, as in `conv4`.
 *
 * @example
 * ```ts
 * const before = layerRepresentations(model, learner.params, episode.query.x);
 * before.map((l) => `${l.name}: ${l.value.shape}`); // ["block1: 75,12544", …, "head: 75,5"]
 * tf.dispose(before.map((l) => l.value));
 * ```
 */
export function layerRepresentations(
  model: FunctionalModel,
  params: tf.Tensor[],
  x: tf.Tensor,
): LayerRepresentation[] {
  if (params.length !== model.paramSpecs.length) {
    throw new RangeError(
      `layerRepresentations: ${model.name} takes ${model.paramSpecs.length} parameters, got ${params.length}`,
    );
  }
  const kind = family(model);
  const out: LayerRepresentation[] = [];
  const keep = (name: string, a: tf.Tensor) =>
    out.push({ name, value: tf.keep(tf.reshape(a, [a.shape[0], -1]) as tf.Tensor2D) });
  tf.tidy(() => {
    if (kind === "mlp") {
      const act = model.name.endsWith(", tanh)") ? tf.tanh : tf.relu;
      const layers = params.length / 2;
      let h = x;
      for (let l = 0; l < layers; l++) {
        h = tf.add(tf.matMul(h, params[2 * l]), params[2 * l + 1]);
        if (l < layers - 1) h = act(h);
        keep(l < layers - 1 ? `layer${l + 1}` : "head", h);
      }
      return;
    }
    const bn = model.paramSpecs[1].name === "block1/bn/gamma";
    const perBlock = bn ? 3 : 2;
    const strided = model.name.includes(", strided");
    const [hh, ww, cc] = inputShapeOf(model, x);
    let a = (x.rank === 2 ? tf.reshape(x, [x.shape[0], hh, ww, cc]) : x) as tf.Tensor4D;
    for (let b = 0; b < 4; b++) {
      const p = b * perBlock;
      const z = tf.conv2d(a, params[p] as tf.Tensor4D, strided ? 2 : 1, "same") as tf.Tensor4D;
      a = tf.relu(
        bn ? batchNorm(z, params[p + 1], params[p + 2]) : tf.add(z, params[p + 1]),
      ) as tf.Tensor4D;
      if (!strided) a = tf.maxPool(a, 2, 2, "valid");
      keep(`block${b + 1}`, a);
    }
    if (model.headStart < params.length) {
      const e = strided ? tf.mean(a, [1, 2]) : tf.reshape(a, [a.shape[0], -1]);
      keep("head", tf.add(tf.matMul(e, params[model.headStart]), params[model.headStart + 1]));
    }
  });
  return out;
}

/** The `[h, w, c]` of a Conv-4's input, from the model's name (`conv4(28x28x1, …)`). */
function inputShapeOf(model: FunctionalModel, x: tf.Tensor): [number, number, number] {
  if (x.rank === 4) return x.shape.slice(1) as [number, number, number];
  const m = /^conv4\((\d+)x(\d+)x(\d+)/.exec(model.name);
  if (!m) {
    throw new Error(
      `layerRepresentations: cannot read the input shape of "${model.name}"; pass x as [n, h, w, c]`,
    );
  }
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}
