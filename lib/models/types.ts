/**
 * The functional-model interface: a model is a pure function of an explicit list of
 * parameter tensors, so an inner loop can run it with adapted parameters (the role of
 * learn2learn's `clone_module` or torchmeta's `MetaModule`).
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { Rng } from "../random/mod.ts";

/** Name and shape of one parameter tensor. */
export interface ParamSpec {
  /** A readable name, e.g. `block1/conv/kernel` or `head/bias`. */
  name: string;
  /** The tensor shape. */
  shape: number[];
}

/** Options for {@linkcode FunctionalModel.apply} and {@linkcode FunctionalModel.embed}. */
export interface ApplyOptions {
  /**
   * Whether the call is a training call. MetaLab's batch norm always normalises with the
   * current batch's statistics (see {@linkcode conv4}), so this flag does not change the
   * numbers today; it is part of the interface so that callers state their intent and a
   * future layer with train/test differences (dropout) needs no API change.
   */
  training?: boolean;
  /**
   * The caller differentiates the result at most once (first-order MAML, ProtoNets,
   * pretraining; default false): layers may then use fused kernels whose gradient is
   * computed directly instead of composed of differentiable ops (batch norm on wasm, see
   * `batchNorm`). Second-order MAML must leave it off; a second derivative through a fused
   * layer fails with an error, never silently.
   */
  firstOrderOnly?: boolean;
}

/** A model whose parameters are an explicit list of tensors. */
export interface FunctionalModel {
  /** A readable name, e.g. `conv4(64, bn)->5`. */
  readonly name: string;
  /** Names and shapes of the parameters, in the order `apply` expects them. */
  readonly paramSpecs: ParamSpec[];
  /** Index into the params where the swappable head starts (ANIL adapts `params.slice(headStart)`). */
  readonly headStart: number;
  /**
   * True when each example's output depends on that example alone (no batch statistics, as
   * batch norm in training mode has): the examples of many tasks can then run as one batch
   * and give each task exactly its own result. Absent: false.
   */
  readonly perExample?: boolean;
  /** Fresh parameter tensors drawn from `rng` (the caller owns and disposes them). */
  init(rng: Rng): tf.Tensor[];
  /** Runs the model: outputs (regression) or logits (classification). */
  apply(params: tf.Tensor[], x: tf.Tensor, opts?: ApplyOptions): tf.Tensor;
  /** The features before the head (for a model without a head, the same as `apply`). */
  embed(params: tf.Tensor[], x: tf.Tensor, opts?: ApplyOptions): tf.Tensor;
}
