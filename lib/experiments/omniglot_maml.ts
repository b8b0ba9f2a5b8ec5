/**
 * `omniglot-maml`: MAML and first-order MAML on Omniglot (Finn et al. 2017).
 * @module
 */
import { MAML_FAMILY_PRESETS, omniglotExperiment } from "./omniglot.ts";

/** Conv-4 MAML (second order) and FOMAML, 5-way 1-shot, Finn et al.'s schedule. */
export const omniglotMaml = omniglotExperiment({
  name: "omniglot-maml",
  title: "Omniglot MAML and first-order MAML (Finn et al. 2017)",
  description: "Conv-4 MAML (second order) and FOMAML, 5-way 1-shot, 32 tasks per " +
    "meta-step, 1 inner SGD step α=0.4 (3 at test time), Adam 1e-3; 600 test episodes.",
  presets: MAML_FAMILY_PRESETS,
  setting: {
    learners: ["maml", "fomaml"],
    halveEvery: 0,
    fullNote: "Finn et al. train 60,000 meta-steps; a second-order step on 32 Conv-4 tasks " +
      "takes seconds on two cores, so the full preset needs days: resume it in parts with " +
      "--resume (and --time-limit)",
  },
});
