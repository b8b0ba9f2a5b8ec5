/** The notebooks' equation checks: a match is recorded with its largest difference, a mismatch throws naming it. */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend/mod.ts";
import { assertNoTensorLeak, EquationChecks } from "../lib/testing/mod.ts";

await initBackend("cpu");

Deno.test("EquationChecks: equal tensors are recorded, different ones throw with their name", async () => {
  const checks = new EquationChecks({ rtol: 0, atol: 1e-3 });
  const a = tf.tensor([1, 2, 3]);
  const b = tf.tensor([1, 2.0005, 3]);
  const c = tf.tensor([1, 2.5, 3]);
  const d = checks.agree("toy", "values", [a], [b]);
  assert.ok(Math.abs(d - 0.0005) < 1e-6, `largest difference ${d}`);
  await assertNoTensorLeak(() => new EquationChecks({ atol: 1e-3 }).agree("toy", "leak", [a], [b]));
  assert.throws(
    () => checks.agree("toy", "other", [a], [c]),
    /toy: other \[0\]: 1 of 3 values differ/,
  );
  assert.throws(
    () => checks.agree("toy", "count", [a], [b, c]),
    /1 tensors from scratch but 2 from lib/,
  );
  assert.equal(checks.rows().length, 1, "only the passing check is a row");
  assert.deepEqual(checks.rows()[0].slice(0, 2), ["toy", "values"]);
  tf.dispose([a, b, c]);
});
