/**
 * `omniglot-protonet-anchor`: a ProtoNet schedule short enough to run whole on a laptop,
 * with a PyTorch run of the same schedule on this kind of machine to compare against.
 * @module
 */
import { omniglotExperiment } from "./omniglot.ts";

/** Conv-4 ProtoNet, 5-way 1-shot, background set only, 5,000 episodes. */
export const omniglotProtonetAnchor = omniglotExperiment({
  name: "omniglot-protonet-anchor",
  title: "Omniglot ProtoNet sanity anchor (background set only, 5,000 episodes)",
  description: "Conv-4 ProtoNet, 5-way 1-shot 15-query training episodes on the 964 " +
    "background characters × 4 rotations, Adam 1e-3 halved every 2,000 episodes, 5,000 " +
    "episodes; 600 5-way 1-shot episodes of the evaluation set. A PyTorch run of the same " +
    "schedule on this kind of machine scores 95.5 ± 0.4%.",
  presets: {
    ways: 5,
    shots: 1,
    trainSteps: [100, 5000],
    metaBatchSize: [1, 1],
    protoTrainWays: [5, 5],
    protocol: "background-evaluation",
  },
  setting: {
    learners: ["protonet"],
    halveEvery: 2000,
    publishedKey: () => "omniglot/5w1s/protonet-anchor",
    fullNote: "full preset = the anchor's whole schedule",
  },
});
