/**
 * `omniglot-protonet`: Prototypical Networks on Omniglot (Snell et al. 2017).
 * @module
 */
import { omniglotExperiment } from "./omniglot.ts";

/** Conv-4 ProtoNet on the standard split, 60-way training episodes, N-way K-shot tests. */
export const omniglotProtonet = omniglotExperiment({
  name: "omniglot-protonet",
  title: "Omniglot Prototypical Networks (Snell et al. 2017)",
  description: "Conv-4 ProtoNet on the standard split (1,200 training characters × 4 " +
    "rotations), trained on 60-way episodes with 5 queries, Adam 1e-3 halved every 2,000 " +
    "episodes; N-way K-shot test episodes on the 423 other characters (--set ways=20, " +
    "--set shots=5 for the other table entries).",
  presets: {
    ways: 5,
    shots: 1,
    trainSteps: [100, 20000],
    metaBatchSize: [1, 1],
    protoTrainWays: [5, 60],
    protocol: "standard",
  },
  setting: {
    learners: ["protonet"],
    halveEvery: 2000,
    protoTrainQueries: 5,
    fullNote: "Snell et al. train until validation accuracy stops improving; the full preset " +
      "runs 20,000 60-way episodes",
  },
});
