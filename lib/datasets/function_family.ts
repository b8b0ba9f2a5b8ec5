/**
 * A family of functions with known generating parameters — the "dataset" behind a
 * regression task distribution (one task = one function drawn from the family).
 * @module
 */
import type { Rng } from "../random/mod.ts";

/** A parametric family of scalar functions on an interval. */
export interface FunctionFamily<P> {
  /** Short name, e.g. "sinusoid". */
  readonly name: string;
  /** Inputs are drawn uniformly from this interval. */
  readonly inputRange: readonly [number, number];
  /** Draws the generating parameters of one task. */
  sampleParams(rng: Rng): P;
  /** Evaluates the function with parameters `params` at each of `xs`. */
  evaluate(params: P, xs: ArrayLike<number>): Float32Array;
}
