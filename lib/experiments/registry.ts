/**
 * The named experiments of `deno task reproduce` and the notebooks: a list of the
 * experiment modules, in the order `reproduce` runs them, and nothing else. Adding an
 * experiment is one module plus one line here.
 * @module
 */
import type { Experiment } from "./types.ts";
import { sinusoidK5 } from "./sinusoid_k5.ts";
import { sinusoidK10 } from "./sinusoid_k10.ts";
import { sinusoidRegularisation } from "./sinusoid_regularisation.ts";
import { mnistProtonet } from "./mnist_protonet.ts";
import { sinusoidZeroShot } from "./sinusoid_zero_shot.ts";
import { mnistZeroShot } from "./mnist_zero_shot.ts";
import { omniglotProtonetAnchor } from "./omniglot_protonet_anchor.ts";
import { omniglotProtonet } from "./omniglot_protonet.ts";
import { omniglotMaml } from "./omniglot_maml.ts";
import { omniglotAnilMetasgd } from "./omniglot_anil_metasgd.ts";
import { omniglotReptile } from "./omniglot_reptile.ts";
import { omniglotMatching } from "./omniglot_matching.ts";
import { omniglotTransfer } from "./omniglot_transfer.ts";
import { mnistDistill } from "./mnist_distill.ts";
import { omniglotDistill } from "./omniglot_distill.ts";
import { omniglotComplexity } from "./omniglot_complexity.ts";
import { omniglotDataScarcity } from "./omniglot_data_scarcity.ts";
import { omniglotToMnist } from "./omniglot_cross_domain.ts";
import { omniglotLearners } from "./omniglot_learners.ts";
import { omniglotFeatureReuse } from "./omniglot_feature_reuse.ts";

/** Every experiment MetaLab knows, in the order `reproduce` runs them. */
export const EXPERIMENTS: readonly Experiment[] = [
  sinusoidK5,
  sinusoidK10,
  sinusoidRegularisation,
  mnistProtonet,
  sinusoidZeroShot,
  mnistZeroShot,
  omniglotProtonetAnchor,
  omniglotProtonet,
  omniglotMaml,
  omniglotAnilMetasgd,
  omniglotReptile,
  omniglotMatching,
  omniglotTransfer,
  mnistDistill,
  omniglotDistill,
  omniglotComplexity,
  omniglotDataScarcity,
  omniglotToMnist,
  omniglotLearners,
  omniglotFeatureReuse,
];

/** The experiment called `name`; an unknown name gets an error listing the known ones. */
export function findExperiment(name: string): Experiment {
  const found = EXPERIMENTS.find((e) => e.name === name);
  if (!found) {
    throw new Error(
      `unknown experiment "${name}"; known experiments: ${
        EXPERIMENTS.map((e) => e.name).join(", ")
      }`,
    );
  }
  return found;
}
