/**
 * ANIL, "Almost No Inner Loop" (Raghu et al. 2020): MAML whose inner loop adapts only the
 * head `params.slice(model.headStart)`; the body is meta-learned by the outer loop alone.
 * The meta-gradient is still exact (second order through the head's updates) unless
 * `firstOrder` is set.
 * @module
 */
import type { FunctionalModel } from "./types.ts";
import { Maml, type MamlOptions } from "./maml.ts";

/** ANIL: {@linkcode Maml} adapting only the head. */
export class Anil extends Maml {
  /** Makes an ANIL learner over `model` (which must have a head: `headStart < params`). */
  constructor(model: FunctionalModel, options: MamlOptions) {
    if (model.headStart >= model.paramSpecs.length) {
      throw new Error(
        `anil: model "${model.name}" has no head to adapt (build it with outputs > 0)`,
      );
    }
    super(model, options, "anil", model.headStart);
  }
}
