/**
 * Exact t-SNE (lib/interpret/tsne.ts): the perplexity calibration, the Student-t map
 * similarities, the gradient of KL(P‖Q), and what a fitted map keeps.
 */
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { initBackend } from "../lib/backend/mod.ts";
import { Rng } from "../lib/random/mod.ts";
import {
  conditionalAffinities,
  distanceCorrelation,
  jointAffinities,
  neighbourOverlap,
  pca,
  studentQ,
  tsne,
  tsneGradient,
  tsneKl,
} from "../lib/interpret/mod.ts";
import { assertAllClose, assertNoTensorLeak } from "../lib/testing/mod.ts";

await initBackend();

/** `n` points in `d` dimensions, N(0, 1) per coordinate, from a seed. */
function gaussian(n: number, d: number, seed: number, scale = 1): number[][] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => Array.from({ length: d }, () => rng.normal(0, scale)));
}

/**
 * `clusters` Gaussian clusters of `per` points in `d` dimensions: centres N(0, s²I) (s = 1.25 below), points
 * N(centre, I). In 50-D the distances concentrate, so each point's nearest neighbours are in
 * its own cluster although the clusters overlap along any single direction.
 */
function clustered(clusters: number, per: number, d: number, seed: number, s = 1) {
  const rng = new Rng(seed);
  const centres = gaussian(clusters, d, seed + 1000, s);
  const points: number[][] = [];
  const labels: number[] = [];
  centres.forEach((c, k) => {
    for (let i = 0; i < per; i++) {
      points.push(c.map((v) => v + rng.normal(0, 1)));
      labels.push(k);
    }
  });
  return { points, labels };
}

/** The share of each point's `k` nearest neighbours (Euclidean) that carry its label. */
function knnPurity(points: number[][], labels: number[], k = 5): number {
  let same = 0;
  points.forEach((p, i) => {
    const nearest = points
      .map((q, j) => [j, q.reduce((s, v, t) => s + (v - p[t]) ** 2, 0)] as const)
      .filter(([j]) => j !== i)
      .sort((a, b) => a[1] - b[1])
      .slice(0, k);
    same += nearest.filter(([j]) => labels[j] === labels[i]).length;
  });
  return same / (points.length * k);
}

/** Entropy in nats of a probability row. */
const entropy = (row: number[]) => -row.reduce((s, v) => s + (v > 0 ? v * Math.log(v) : 0), 0);

Deno.test("conditionalAffinities: every row is a distribution with the target perplexity", () => {
  const points = gaussian(40, 10, 1);
  for (const perplexity of [2, 5, 13.5]) {
    const { p, beta } = conditionalAffinities(points, perplexity);
    p.forEach((row, i) => {
      assert.equal(row[i], 0, `p_{${i}|${i}} must be 0`);
      assertAllClose(row.reduce((s, v) => s + v, 0), 1, { rtol: 1e-12, label: `row ${i} sum` });
      assertAllClose(Math.exp(entropy(row)), perplexity, {
        rtol: 1e-6,
        atol: 0,
        label: `perplexity of row ${i} (target ${perplexity})`,
      });
      assert.ok(beta[i] > 0 && Number.isFinite(beta[i]), `β_${i} = ${beta[i]}`);
    });
  }
  // Far-apart points (squared distances ~10⁶): without shifting by the row's smallest
  // distance every exp would underflow to 0; the calibration must still hold.
  const far = conditionalAffinities(gaussian(20, 5, 2, 1000), 4).p;
  far.forEach((row, i) =>
    assertAllClose(Math.exp(entropy(row)), 4, { rtol: 1e-6, atol: 0, label: `far row ${i}` })
  );
  // The largest perplexity, n − 1, is the uniform distribution over the others (β → 0).
  const uniform = conditionalAffinities(gaussian(6, 3, 3), 5).p;
  uniform.forEach((row, i) =>
    assertAllClose(row, row.map((_, j) => (j === i ? 0 : 0.2)), { atol: 1e-4, label: `row ${i}` })
  );
  // Nearer neighbours get more affinity.
  const line = [[0], [1], [3], [7]];
  const [row0] = conditionalAffinities(line, 2).p;
  assert.ok(row0[1] > row0[2] && row0[2] > row0[3], `row of x = 0: ${row0}`);
});

Deno.test("jointAffinities: symmetric, zero diagonal, sum 1, each point at least 1/2n", () => {
  const points = gaussian(25, 8, 4);
  const p = jointAffinities(points, 6);
  const n = points.length;
  const total = p.flat().reduce((s, v) => s + v, 0);
  assertAllClose(total, 1, { rtol: 1e-12, label: "Σ p_ij" });
  p.forEach((row, i) => {
    assert.equal(row[i], 0);
    row.forEach((v, j) => assert.equal(v, p[j][i], `p_${i}${j} = p_${j}${i}`));
    assert.ok(row.reduce((s, v) => s + v, 0) >= 1 / (2 * n) - 1e-15, `row ${i} mass`);
  });
});

Deno.test("studentQ: the Student-t similarities of a 3-point map, by hand", () => {
  // Squared distances 1, 4, 5 → numerators 1/2, 1/5, 1/6; Z = 2 (1/2 + 1/5 + 1/6) = 52/30.
  const q = studentQ([[0, 0], [1, 0], [0, 2]]);
  const z = 52 / 30;
  assertAllClose(q, [
    [0, 0.5 / z, 0.2 / z],
    [0.5 / z, 0, (1 / 6) / z],
    [0.2 / z, (1 / 6) / z, 0],
  ], { rtol: 1e-12, atol: 0 });
});

Deno.test("tsneGradient: matches central finite differences of KL(P‖Q)", () => {
  const p = jointAffinities(gaussian(7, 4, 5), 3);
  const map = gaussian(7, 2, 6);
  const grad = tsneGradient(p, map);
  const h = 1e-5;
  const numeric = map.map((row, i) =>
    row.map((_, t) => {
      const shifted = (delta: number) =>
        map.map((r, k) => r.map((v, s) => (k === i && s === t ? v + delta : v)));
      return (tsneKl(p, shifted(h)) - tsneKl(p, shifted(-h))) / (2 * h);
    })
  );
  assertAllClose(grad, numeric, { rtol: 1e-6, atol: 1e-9, label: "∂KL/∂y" });
  // And it is not trivially zero: the check can fail.
  assert.ok(Math.max(...grad.flat().map(Math.abs)) > 1e-3);
});

Deno.test("tsne: well-separated 50-D clusters stay separated in 2-D, a random projection does not", () => {
  const { points, labels } = clustered(5, 16, 50, 7, 1.25);
  // The premise: in 50-D each point's nearest neighbours are its own cluster's.
  assert.equal(knnPurity(points, labels), 1, "50-D k-NN purity");
  const fit = tsne(points, { perplexity: 10, rng: new Rng(0) });
  const mapped = knnPurity(fit.embedding, labels);
  // The baseline: a random Gaussian projection to 2-D, which keeps distances on average but
  // mixes the clusters (they overlap along every single direction).
  const rng = new Rng(1);
  const w = Array.from({ length: 50 }, () => [rng.normal(), rng.normal()]);
  const projected = points.map((p) => [0, 1].map((c) => p.reduce((s, v, j) => s + v * w[j][c], 0)));
  const baseline = knnPurity(projected, labels);
  assert.ok(mapped >= 0.95, `t-SNE 2-D k-NN purity ${mapped.toFixed(3)}, expected ≥ 0.95`);
  assert.ok(
    baseline < mapped - 0.2,
    `random projection purity ${baseline.toFixed(3)} should be well below t-SNE's ${mapped}`,
  );
  assert.equal(fit.embedding.length, 80);
  assert.ok(fit.embedding.every((r) => r.length === 2 && r.every(Number.isFinite)));
  // The map is centred (re-centred after every step).
  [0, 1].forEach((t) =>
    assertAllClose(fit.embedding.reduce((s, r) => s + r[t], 0) / 80, 0, { atol: 1e-9 })
  );
});

Deno.test("tsne: KL(P‖Q) falls over the iterations and ends far below the initial map's", () => {
  const { points } = clustered(4, 10, 20, 8);
  const fit = tsne(points, { perplexity: 8, iterations: 600, klEvery: 25, rng: new Rng(3) });
  const history = fit.klHistory;
  assert.equal(history[0].iteration, 0);
  assert.equal(history[history.length - 1].iteration, 599);
  assert.equal(fit.kl, history[history.length - 1].kl);
  assertAllClose(fit.kl, tsneKl(fit.p, fit.embedding), { rtol: 1e-12, label: "reported KL" });
  assert.ok(
    fit.kl < 0.5 * history[0].kl,
    `final KL ${fit.kl.toFixed(3)} vs initial ${history[0].kl.toFixed(3)}`,
  );
  // After early exaggeration the objective descended is KL itself: non-increasing.
  const late = history.filter((h) => h.iteration >= 275);
  late.slice(1).forEach((h, i) =>
    assert.ok(
      h.kl <= late[i].kl + 1e-9,
      `KL rose from ${late[i].kl} (iteration ${late[i].iteration}) to ${h.kl} (${h.iteration})`,
    )
  );
});

Deno.test("tsne: one seed, one map; another seed, another map; tensors as input, no leaks", async () => {
  // float32-exact coordinates, so that a float32 tensor holds the very same points: t-SNE is
  // chaotic, and a rounding of the input would give another map.
  const points = gaussian(20, 6, 9).map((r) => r.map(Math.fround));
  const options = { perplexity: 4, iterations: 300 };
  const a = tsne(points, { ...options, rng: new Rng(11) });
  const b = tsne(points, { ...options, rng: new Rng(11) });
  const c = tsne(points, { ...options, rng: new Rng(12) });
  assert.deepEqual(a.embedding, b.embedding);
  assert.notDeepEqual(a.embedding, c.embedding);
  // A tensor's rows (flattened) are the same input; reading it leaves no tensor behind.
  const t = tf.tensor3d(points.map((r) => [r.slice(0, 3), r.slice(3)]));
  const fromTensor = tsne(t, { ...options, rng: new Rng(11) });
  assert.deepEqual(fromTensor.embedding, a.embedding);
  await assertNoTensorLeak(() => {
    tsne(t, { perplexity: 4, iterations: 5 });
    conditionalAffinities(t, 4);
  });
  t.dispose();
});

Deno.test("neighbourOverlap and distanceCorrelation: 1 for a similar copy, by hand otherwise", () => {
  const points = gaussian(12, 5, 13);
  // A rotation in the (0, 1) plane, a scaling and a shift keep every neighbour and distance ratio.
  const [c, s] = [Math.cos(0.7), Math.sin(0.7)];
  const moved = points.map((
    r,
  ) => [3 * (c * r[0] - s * r[1]) + 1, 3 * (s * r[0] + c * r[1]), ...r.slice(2).map((v) => 3 * v)]);
  assert.equal(neighbourOverlap(points, moved, 3), 1);
  assertAllClose(distanceCorrelation(points, moved), 1, { rtol: 1e-12 });
  // On a line 0, 1, 3, 7 the nearest neighbours are 1, 0, 1, 3 (by index: 1, 0, 1, 2); in the
  // map 0, 1, 7, 3 they are 1, 0, 3, 1: two of four kept.
  assert.equal(neighbourOverlap([[0], [1], [3], [7]], [[0], [1], [7], [3]], 1), 0.5);
  // Distances (1, 3, 2) against (1, 2, 1): r = 1 / √(2 · 2/3) = √3 / 2.
  assertAllClose(distanceCorrelation([[0], [1], [3]], [[0], [1], [2]]), Math.sqrt(3) / 2, {
    rtol: 1e-12,
  });
  // What t-SNE is for: on 50-D clusters its map keeps far more of the 5 nearest neighbours
  // than the best linear 2-D picture (PCA) does.
  const { points: clusters } = clustered(5, 16, 50, 7, 1.25);
  const kept = neighbourOverlap(clusters, tsne(clusters, { perplexity: 10 }).embedding);
  const keptByPca = neighbourOverlap(clusters, pca(clusters, 2).projected);
  assert.ok(kept > keptByPca + 0.15, `t-SNE keeps ${kept.toFixed(3)}, PCA ${keptByPca.toFixed(3)}`);
  assert.throws(
    () => neighbourOverlap(points, moved, 12),
    /k must be an integer in \[1, 11\], got 12/,
  );
  assert.throws(
    () => distanceCorrelation(points, moved.slice(1)),
    /one row per point, got 12 and 11/,
  );
});

Deno.test("tsne: errors name the bad value and what was expected", () => {
  const points = gaussian(6, 3, 10);
  assert.throws(() => tsne([[1, 2]]), /at least 2 points of dimension ≥ 1, got 1 × 2/);
  assert.throws(() => tsne([]), /at least 2 points/);
  assert.throws(
    () => tsne(points, { perplexity: 6 }),
    /perplexity must be in \[1, n − 1\] = \[1, 5\].*got 6/,
  );
  assert.throws(
    () => tsne(points, { perplexity: 0.5 }),
    /perplexity must be in \[1, n − 1\] = \[1, 5\]/,
  );
  assert.throws(() => tsne(points, { perplexity: NaN }), /perplexity .* got NaN/);
  assert.throws(
    () => tsne([[0, 1], [NaN, 2], [3, 4]], { perplexity: 1.5 }),
    /point 1 has a non-finite coordinate 0: NaN/,
  );
  assert.throws(() => tsne([[0, 1], [2]]), /every point must have 2 coordinates.*point 1 has 1/);
  assert.throws(() => tsne(points, { iterations: 0 }), /iterations must be an integer ≥ 1, got 0/);
  assert.throws(() => tsne(points, { dims: 1.5 }), /dims must be an integer ≥ 1, got 1.5/);
  assert.throws(() => tsne(points, { learningRate: -1 }), /learningRate must be a positive/);
  assert.throws(
    () => conditionalAffinities(points, 10),
    /perplexity must be in \[1, n − 1\] = \[1, 5\]/,
  );
  assert.throws(
    () => tsneGradient([[0, 1], [1, 0]], points),
    /P must be 6 × 6 .* got 2 × 2/,
  );
});
