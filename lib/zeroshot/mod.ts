/**
 * Zero-shot transfer: a task's predictor from its description alone, and the description as
 * a prior that a few examples then refine.
 *
 * - {@linkcode DescriptorContext}: for regression families (the sinusoid), a learned network
 *   maps a task descriptor d = (A, b) to the context of a meta-trained MetaClassifier
 *   (CAVIA); with a support set, adaptation starts from that context.
 * - {@linkcode AttributePrototypes}: for classes described by attribute vectors, prototypes
 *   predicted from the attributes (Snell et al. 2017's zero-shot ProtoNet), combined with
 *   support examples as a prior mean; {@linkcode AttributeProtoNet} meta-trains the embedding
 *   for it (zero-shot and few-shot losses together).
 * - {@linkcode eszsl}: the closed-form linear baseline of Romera-Paredes & Torr (2015).
 * - MNIST digits described by stroke attributes ({@linkcode MNIST_DIGIT_ATTRIBUTES}) with a
 *   seen / unseen split whose unseen digits are described by seen attributes.
 *
 * @example
 * ```ts
 * const g = new AttributePrototypes({ rng: new Rng(0), attributeSize: 6, embeddingSize: 32 });
 * g.fit(seenEmbeddings, seenLabels, digitAttributes(MNIST_SEEN_DIGITS), 300);
 * const zeroShot = g.adapt(digitAttributes(MNIST_UNSEEN_DIGITS)); // no example of 0, 1 or 7
 * const logits = zeroShot.predict(queryEmbeddings); // [n, 3]
 * zeroShot.dispose();
 * ```
 * @module
 */
export {
  type DescribedAdaptOptions,
  type DescribedBatch,
  DescriptorContext,
  type DescriptorContextOptions,
} from "./descriptor_context.ts";
export {
  type AttributeAdaptOptions,
  AttributePrototypes,
  type AttributePrototypesOptions,
} from "./attribute_prototypes.ts";
export { AttributeProtoNet, type AttributeProtoNetOptions } from "./attribute_protonet.ts";
export { eszsl, type EszslOptions, eszslScores, solveSpd } from "./eszsl.ts";
export {
  type Describability,
  describability,
  digitAttributes,
  MNIST_ATTRIBUTE_NAMES,
  MNIST_DIGIT_ATTRIBUTES,
  MNIST_SEEN_DIGITS,
  MNIST_UNSEEN_DIGITS,
  noisyDescriptors,
} from "./attributes.ts";
export {
  descriptorSize,
  protoNetEmbedding,
  type SinusoidDescription,
  sinusoidDescriptor,
} from "./descriptors.ts";
