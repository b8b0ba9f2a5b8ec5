/**
 * `omniglot-anil-metasgd`: ANIL (Raghu et al. 2020) and Meta-SGD (Li et al. 2017) on
 * Omniglot, with Finn et al.'s MAML settings.
 * @module
 */
import { MAML_FAMILY_PRESETS, omniglotExperiment } from "./omniglot.ts";

/** Conv-4 ANIL and Meta-SGD, 5-way 1-shot, 32 tasks per step. */
export const omniglotAnilMetasgd = omniglotExperiment({
  name: "omniglot-anil-metasgd",
  title: "Omniglot ANIL and Meta-SGD, 5-way 1-shot",
  description: "Conv-4 ANIL (inner loop on the head only; Raghu et al. 2020) and Meta-SGD " +
    "(learned per-parameter inner rates; Li et al. 2017), 5-way 1-shot, 32 tasks per step.",
  presets: MAML_FAMILY_PRESETS,
  setting: {
    learners: ["anil", "metasgd"],
    halveEvery: 0,
    fullNote: "full preset: 60,000 meta-steps as MAML (resume it in parts with --resume)",
  },
});
