/**
 * `sinusoid-k5`: Finn et al.'s sinusoid regression with K = 5 support points per task
 * (the definition is `sinusoid.ts`'s, shared with the other K).
 * @module
 */
import { sinusoidRegression } from "./sinusoid.ts";

/** The sinusoid experiment at K = 5. */
export const sinusoidK5 = sinusoidRegression(5);
