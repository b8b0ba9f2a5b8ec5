/**
 * The trained learners a notebook looks inside (notebook 07, interpretability): not an
 * experiment's metrics, which {@linkcode courseRun} gives, but the meta-learned models
 * themselves, to compute saliency, embeddings, CKA and context trajectories from. The modes
 * are the course's (`lib/experiments/course.ts`):
 *
 * - `trained`: load the models of the experiment's `reproduce` run — the user's own
 *   (`results/full/<experiment>/`) first, else the ones MetaLab ships (`models/<experiment>/`).
 *   Seconds. Without them it falls back to `quick`, and the label says so.
 * - `quick` / `full`: train that preset here (into a temporary folder, removed once the
 *   models are loaded), then load what it saved.
 * @module
 */
import type { BaseMetaLearner } from "../meta/mod.ts";
import { loadSavedLearner, type SavedLearner } from "./apply.ts";
import type { ConfigSchema } from "./config.ts";
import { type CourseMode, courseMode, SHIPPED_MODELS_DIR, trainedModelsDir } from "./course.ts";
import { ModelStore } from "./models.ts";
import type { RunResult } from "./results.ts";
import { runExperiment } from "./runner.ts";
import type { Experiment } from "./types.ts";

/** Options of {@linkcode courseLearners}. */
export interface CourseLearnersOptions {
  /** The mode (default {@linkcode courseMode}()). */
  mode?: CourseMode;
  /** Config overrides of the training run (quick and full modes; unused when loading). */
  overrides?: Record<string, unknown>;
  /** Where the user's own full runs are (default `results/full`). */
  resultsDir?: string;
  /** Where the shipped models are (default {@linkcode SHIPPED_MODELS_DIR}). */
  shippedDir?: string;
  /** Commentary of a training run (default: none). */
  log?: (message: string) => void;
}

/** What {@linkcode courseLearners} returns. Dispose it when done. */
export interface CourseLearners {
  /** The mode the learners come from (`trained` without models falls back to `quick`). */
  mode: CourseMode;
  /** One line for every table and plot title: where the models come from. */
  label: string;
  /** The saved learners by label (with the config and metadata saved with them). */
  saved: Record<string, SavedLearner>;
  /** The learners by label (`saved[label].learner`). */
  learners: Record<string, BaseMetaLearner>;
  /** The training run's metrics (quick / full), or those recorded with the trained models. */
  metrics: RunResult["metrics"];
  /** Frees every learner. */
  dispose(): void;
}

async function loadAll(
  dir: string,
  experiment: string,
  labels: string[],
): Promise<Record<string, SavedLearner>> {
  const saved: Record<string, SavedLearner> = {};
  try {
    for (const label of labels) {
      const at = ModelStore.modelDir(dir, experiment, label);
      if (at === null) {
        throw new Error(
          `${dir} holds no model "${label}" of ${experiment} (it has: ${
            ModelStore.labels(dir, experiment).join(", ") || "none"
          })`,
        );
      }
      saved[label] = await loadSavedLearner(at);
    }
  } catch (e) {
    Object.values(saved).forEach((s) => s.dispose());
    throw e;
  }
  return saved;
}

function bundle(
  mode: CourseMode,
  label: string,
  saved: Record<string, SavedLearner>,
  metrics: RunResult["metrics"],
): CourseLearners {
  return {
    mode,
    label,
    saved,
    learners: Object.fromEntries(Object.entries(saved).map(([k, s]) => [k, s.learner])),
    metrics,
    dispose: () => Object.values(saved).forEach((s) => s.dispose()),
  };
}

/**
 * The learners `labels` of `experiment`, trained: loaded from its trained models by default,
 * else trained here with the quick (or full) preset (see the module doc).
 *
 * @example
 * ```ts
 * const sine = await courseLearners(sinusoidK10, ["maml", "metaclassifier"]);
 * console.log(sine.label);                 // where the models come from
 * const maml = sine.learners.maml;         // a Maml with the trained θ
 * sine.dispose();
 * ```
 */
export async function courseLearners<S extends ConfigSchema, R>(
  experiment: Experiment<S, R>,
  labels: string[],
  options: CourseLearnersOptions = {},
): Promise<CourseLearners> {
  if (!experiment.learner) {
    throw new Error(
      `${experiment.name} has no learner(): its models cannot be rebuilt, so there is nothing to look inside`,
    );
  }
  let mode = options.mode ?? courseMode();
  let fallback = "";
  if (mode === "trained") {
    const dir = trainedModelsDir(experiment.name, {
      resultsDir: options.resultsDir,
      shippedDir: options.shippedDir ?? SHIPPED_MODELS_DIR,
    });
    const have = dir === null ? [] : ModelStore.labels(dir, experiment.name);
    if (dir !== null && labels.every((l) => have.includes(l))) {
      let result: RunResult | undefined;
      try {
        result = JSON.parse(await Deno.readTextFile(`${dir}/result.json`));
      } catch {
        result = undefined; // models without their results file
      }
      const partial = result?.partial ?? [];
      const how = partial.length
        ? `part of the schedule: ${
          partial.map((p) => `${p.label} ${p.step}/${p.steps}`).join(", ")
        } steps`
        : "the full schedule";
      const commit = result?.commit ? `, commit ${result.commit.slice(0, 7)}` : "";
      return bundle(
        mode,
        `trained models from ${dir} (${how}${commit})`,
        await loadAll(dir, experiment.name, labels),
        result?.metrics ?? [],
      );
    }
    fallback = `no trained ${labels.join(" and ")} models of ${experiment.name} found (train ` +
      `them with: deno task reproduce ${experiment.name}); `;
    mode = "quick";
  }
  const preset = mode === "full" ? "full" : "quick";
  const out = await Deno.makeTempDir({ prefix: `metalab-${experiment.name}-` });
  try {
    const run = await runExperiment(experiment, {
      preset,
      overrides: options.overrides,
      outDir: out,
      log: options.log ?? (() => {}),
    });
    const saved = await loadAll(`${out}/${experiment.name}`, experiment.name, labels);
    const what = preset === "quick"
      ? "QUICK preset trained here: a pipeline check, not the published schedule"
      : "full preset trained here";
    const changed = options.overrides && Object.keys(options.overrides).length
      ? ` (${Object.entries(options.overrides).map(([k, v]) => `${k}=${v}`).join(", ")})`
      : "";
    return bundle(mode, fallback + what + changed, saved, run.metrics);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
}
