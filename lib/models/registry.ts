/**
 * Head swapping: every model built here records how to rebuild itself with another
 * number of outputs, so {@linkcode withHead} works on any of them.
 * @module
 */
import type { FunctionalModel } from "./types.ts";

const rebuilders = new WeakMap<FunctionalModel, (outputs: number) => FunctionalModel>();

/** Records how to rebuild `model` with a different head (internal). */
export function registerRebuilder<M extends FunctionalModel>(
  model: M,
  rebuild: (outputs: number) => FunctionalModel,
): M {
  rebuilders.set(model, rebuild);
  return model;
}

/**
 * The same body as `model` with a new head of `outputs` units (e.g. 5-way → 20-way).
 * The body's parameters keep their specs and order, so `params.slice(0, headStart)`
 * of the old model can be reused with fresh head parameters.
 */
export function withHead(model: FunctionalModel, outputs: number): FunctionalModel {
  if (!Number.isInteger(outputs) || outputs < 0) {
    throw new RangeError(`withHead: outputs must be a non-negative integer, got ${outputs}`);
  }
  const rebuild = rebuilders.get(model);
  if (!rebuild) {
    throw new Error(`withHead: model "${model.name}" was not built by lib/models (mlp, conv4)`);
  }
  return rebuild(outputs);
}
