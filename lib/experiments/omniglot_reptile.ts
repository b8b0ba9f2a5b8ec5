/**
 * `omniglot-reptile`: Reptile on Omniglot with Nichol, Achiam & Schulman's settings (2018,
 * arXiv 1803.02999, Table 3 and their `run_omniglot.py` commands).
 * @module
 */
import { omniglotExperiment } from "./omniglot.ts";

/** Nichol et al.'s 5-way Omniglot settings (their 20-way runs use others; see `fullNote`). */
const NICHOL = {
  /** Inner Adam rate α (β₁ = 0). */
  innerLr: 0.001,
  /** Inner iterations in meta-training, each on a batch of `innerBatch` examples. */
  innerSteps: 5,
  innerBatch: 10,
  /** Shots of training tasks: 5 × 10 = 50 examples, one pass in 5 batches of 10. */
  trainShots: 10,
  /** Outer step ε, annealed linearly to 0 (`--meta-step 1 --meta-step-final 0`). */
  outerStep: 1.0,
  /** Test-time inner iterations and batch. */
  testSteps: 50,
  testBatch: 5,
};

/** Conv-4 Reptile, 5-way 1-shot, Nichol et al.'s inner Adam, mini-batches and schedule. */
export const omniglotReptile = omniglotExperiment({
  name: "omniglot-reptile",
  title: "Omniglot Reptile (Nichol et al. 2018)",
  description: "Conv-4 Reptile on the standard split, Nichol et al.'s 5-way settings: " +
    "5 inner Adam steps (α = 0.001, β₁ = 0) on batches of 10 from 10-shot training tasks, " +
    "5 tasks per meta-step, outer step 1.0 annealed linearly to 0 over 100,000 " +
    "meta-iterations; at test time 50 Adam steps on batches of 5, each query predicted " +
    "with the support set alone (non-transductive, as their published 95.39% / 98.90% / " +
    "88.14% / 96.65% for 5w1s / 5w5s / 20w1s / 20w5s). The network is MetaLab's Conv-4 " +
    "(max-pooled, 64 features), not their strided Conv-4 with 256 flattened features.",
  presets: {
    ways: 5,
    shots: 1,
    trainSteps: [20, 100_000],
    metaBatchSize: [5, 5],
    protoTrainWays: [5, 5],
    protocol: "standard",
  },
  setting: {
    learners: ["reptile"],
    halveEvery: 0,
    objective: {
      innerSteps: NICHOL.innerSteps,
      innerLr: NICHOL.innerLr,
      optimizer: "sgd",
      outerLr: NICHOL.outerStep,
    },
    reptile: {
      innerOptimizer: "adam",
      innerAdam: { beta1: 0 },
      innerBatchSize: NICHOL.innerBatch,
      testInnerBatchSize: NICHOL.testBatch,
      transductive: false,
    },
    // Their `frac_done = i / meta_iters; step = (1 − frac_done) · 1.0 + frac_done · 0`.
    lrSchedule: (step, steps) => NICHOL.outerStep * (1 - step / steps),
    trainShots: NICHOL.trainShots,
    // Reptile's update never reads the query set; 5 per class only score the reported loss.
    trainQueries: 5,
    testSteps: NICHOL.testSteps,
    fullNote: "Nichol et al. run 100,000 meta-iterations (the full preset; resume it in parts " +
      "with --resume). Where MetaLab differs: their inner Adam keeps its moments from task to " +
      "task (TensorFlow slots outside the variables Reptile resets), MetaLab's start at zero " +
      "for each task; their Conv-4 has stride-2 convolutions and flattens 2×2×64 = 256 " +
      "features, MetaLab's max-pools to 64; --set ways=20 keeps the 5-way settings, while " +
      "their 20-way runs use inner batch 20, 10 inner steps, 200,000 meta-iterations, test " +
      "batch 10 and α = 0.0005",
  },
});
