/**
 * Interpretability of meta-learned models: which pixels decide a prediction (input
 * gradients, SmoothGrad, integrated gradients), what an embedding space looks like (PCA, t-SNE),
 * what adaptation changes layer by layer (linear CKA, feature reuse), how a learner and the
 * MetaClassifier's context move as they adapt, and whether their confidence can be trusted
 * (calibration). It sits beside `lib/eval`: it reads learners of `lib/meta` and models of
 * `lib/models`, and `lib/experiments` and the notebooks use it.
 *
 * @example
 * ```ts
 * import { featureReuse, linearCka, pca } from "./mod.ts";
 * const similarity = featureReuse(maml, episodes); // CKA per layer, before vs after adapting
 * ```
 * @module
 */
export { linearCka, type Representation } from "./cka.ts";
export { type Pca, pca, projectPca, symmetricEigen } from "./pca.ts";
export {
  conditionalAffinities,
  distanceCorrelation,
  jointAffinities,
  neighbourOverlap,
  studentQ,
  type Tsne,
  tsne,
  tsneGradient,
  tsneKl,
  type TsneOptions,
} from "./tsne.ts";
export {
  type Calibration,
  calibration,
  confidencesOf,
  type ReliabilityBin,
} from "./calibration.ts";
export {
  inputGradient,
  integratedGradients,
  type IntegratedGradientsOptions,
  type ObjectiveFn,
  objectiveGradient,
  objectiveIntegratedGradients,
  objectiveSmoothGrad,
  saliencyImages,
  type ScoreFn,
  smoothGrad,
  type SmoothGradOptions,
} from "./saliency.ts";
export { type LayerRepresentation, layerRepresentations } from "./layers.ts";
export {
  adaptationTrajectory,
  contextTrajectory,
  episodeCalibration,
  factorCorrelations,
  featureReuse,
  type FeatureReuseOptions,
  type LayerSimilarity,
  pearson,
} from "./adaptation.ts";
