/**
 * Names of the kernels MetaLab adds to tfjs (beside tfjs's own), shared by the backend that
 * registers them and the layers that run them.
 * @module
 */

/**
 * The fused batch-norm gradient: inputs `dy`, `centred` (x − μ, `[…, C]`), `invStd` (1/σ) and
 * `k` (γ/σ), both `[C]`; outputs `dx`, `dγ`, `dβ`. Registered on wasm. It has no
 * gradient of its own, so a second derivative through it fails loudly ("gradient function
 * not found"); `lib/models/batch_norm.ts` uses it only for `firstOrderOnly` calls.
 */
export const BATCH_NORM_GRAD_KERNEL = "MetaLabBatchNormGrad";

/**
 * ReLU's gradient in one pass: inputs `dy`, `x`; output `dy` where `x > 0`, else 0 (also where
 * x is NaN: tfjs's `dy·step(x)` gives NaN there, which a NaN activation has already made of
 * the loss). Registered on wasm, with a gradient of its own (linear in `dy`, flat in `x`), so
 * it stays differentiable to any order.
 */
export const RELU_GRAD_KERNEL = "MetaLabReluGrad";

/**
 * The fused batch norm's forward after centring: input `centred` (x − μ, `[…, C]`), `gamma`,
 * `beta` (`[C]`), attribute `epsilon`; outputs `y = (x − μ)·k + β`, `invStd` = 1/σ and `k` = γ/σ
 * (`[C]`). One pass for the variance and one for `y`, where the primitive ops take a Square,
 * a Mean, a Multiply and an Add. Registered on wasm; used only inside the fused batch norm,
 * whose gradient is `BATCH_NORM_GRAD_KERNEL`.
 */
export const BATCH_NORM_FORWARD_KERNEL = "MetaLabBatchNormForward";
