/**
 * First-order MAML (Finn et al. 2017, section 5.2): MAML with the second-order terms
 * dropped, ∇_θ J ≈ Σ_i ∇_φ L(φ_i; D'_i). Cheaper, and on Omniglot nearly as good.
 * @module
 */
import type { FunctionalModel } from "./types.ts";
import { Maml, type MamlOptions } from "./maml.ts";

/** First-order MAML: {@linkcode Maml} with `firstOrder: true`. */
export class FirstOrderMaml extends Maml {
  /** Makes a FOMAML learner over `model`. */
  constructor(model: FunctionalModel, options: Omit<MamlOptions, "firstOrder">) {
    super(model, { ...options, firstOrder: true }, "fomaml");
  }
}
