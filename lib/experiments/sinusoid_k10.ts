/**
 * `sinusoid-k10`: Finn et al.'s sinusoid regression with K = 10 support points per task
 * (the definition is `sinusoid.ts`'s, shared with the other K).
 * @module
 */
import { sinusoidRegression } from "./sinusoid.ts";

/** The sinusoid experiment at K = 10. */
export const sinusoidK10 = sinusoidRegression(10);
