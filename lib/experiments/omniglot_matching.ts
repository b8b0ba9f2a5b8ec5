/**
 * `omniglot-matching`: Matching Networks on Omniglot (Vinyals et al. 2016), Conv-4
 * embedding, cosine attention, no full context embeddings.
 * @module
 */
import { omniglotExperiment } from "./omniglot.ts";

/** Conv-4 Matching Networks trained on episodes like the test's, N-way K-shot tests. */
export const omniglotMatching = omniglotExperiment({
  name: "omniglot-matching",
  title: "Omniglot Matching Networks (Vinyals et al. 2016)",
  description: "Conv-4 Matching Network on the standard split (1,200 training characters " +
    "× 4 rotations): a query's label is the softmax-attention over the cosine similarities " +
    "to the support embeddings (no full context embeddings), trained on episodes of the " +
    "test's ways and shots with Adam 1e-3; N-way K-shot test episodes on the 423 other " +
    "characters (--set ways=20, --set shots=5 for the other table entries: 98.1 / 98.9 / " +
    "93.8 / 98.5% published, as Snell et al. tabulate them).",
  presets: {
    ways: 5,
    shots: 1,
    trainSteps: [100, 20_000],
    metaBatchSize: [1, 1],
    protoTrainWays: [5, 5],
    protocol: "standard",
  },
  setting: {
    learners: ["matchingnet"],
    halveEvery: 0,
    fullNote: "Vinyals et al. give neither their optimiser nor their number of episodes; the " +
      "full preset runs 20,000 episodes of Adam 1e-3, ProtoNet's budget, with the cosine " +
      "attention unscaled as in the paper",
  },
});
