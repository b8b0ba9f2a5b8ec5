/**
 * The sinusoid regression family of Finn et al. 2017 (MAML, section 5.1):
 * y = A · sin(x − b) with amplitude A ~ U[0.1, 5.0], phase b ~ U[0, π], inputs x ~ U[−5, 5].
 * @module
 */
import type { Rng } from "../random/mod.ts";
import type { FunctionFamily } from "./function_family.ts";

/** The generating parameters of one sinusoid task. */
export interface SinusoidParams {
  /** Amplitude A. */
  amplitude: number;
  /** Phase b in radians. */
  phase: number;
}

/** Ranges of the sinusoid family (defaults are Finn et al.'s). */
export interface SinusoidOptions {
  amplitudeRange?: readonly [number, number];
  phaseRange?: readonly [number, number];
  inputRange?: readonly [number, number];
}

function checkRange(name: string, r: readonly [number, number]): void {
  if (!(Number.isFinite(r[0]) && Number.isFinite(r[1]) && r[0] <= r[1])) {
    throw new RangeError(`${name} must be a finite [low, high] with low ≤ high, got [${r}]`);
  }
}

/**
 * The sinusoid family y = A sin(x − b).
 *
 * @example
 * ```ts
 * const family = new SinusoidFamily();
 * const p = family.sampleParams(new Rng(0)); // { amplitude, phase }
 * family.evaluate(p, [0, 1, 2]);
 * ```
 */
export class SinusoidFamily implements FunctionFamily<SinusoidParams> {
  readonly name = "sinusoid";
  readonly amplitudeRange: readonly [number, number];
  readonly phaseRange: readonly [number, number];
  readonly inputRange: readonly [number, number];

  constructor(options: SinusoidOptions = {}) {
    this.amplitudeRange = options.amplitudeRange ?? [0.1, 5.0];
    this.phaseRange = options.phaseRange ?? [0, Math.PI];
    this.inputRange = options.inputRange ?? [-5, 5];
    checkRange("amplitudeRange", this.amplitudeRange);
    checkRange("phaseRange", this.phaseRange);
    checkRange("inputRange", this.inputRange);
  }

  /** Draws A ~ U[amplitudeRange], then b ~ U[phaseRange]. */
  sampleParams(rng: Rng): SinusoidParams {
    const amplitude = rng.uniform(this.amplitudeRange[0], this.amplitudeRange[1]);
    const phase = rng.uniform(this.phaseRange[0], this.phaseRange[1]);
    return { amplitude, phase };
  }

  /** A · sin(x − b) at each x. */
  evaluate(params: SinusoidParams, xs: ArrayLike<number>): Float32Array {
    const out = new Float32Array(xs.length);
    for (let i = 0; i < xs.length; i++) out[i] = params.amplitude * Math.sin(xs[i] - params.phase);
    return out;
  }
}
