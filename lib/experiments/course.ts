/**
 * How a notebook runs an experiment. A course should show what a method does, not make its
 * reader wait days for it, so a notebook has three modes:
 *
 * - `trained` (the default): evaluate the trained models of the experiment's `reproduce`
 *   run — the user's own (`results/full/<experiment>/`) when present, else the ones shipped
 *   with MetaLab (`models/<experiment>/`) — and show the training curves recorded with
 *   them. Seconds, and the numbers of the real schedule (or as far as it was trained: the
 *   label says how far). Where there are no models to reload (an experiment whose result is
 *   its training — a sweep, a cost measurement — or models too big to ship), the run's own
 *   recorded result (`details.json`, see `recorded.ts`) is read back instead, not recomputed.
 * - `quick`: train the quick preset in place — a check that the pipeline runs, labelled so
 *   on every table and plot (the tests and CI run this).
 * - `full`: train the published schedule in place (opt-in; a notebook states its time).
 *
 * `METALAB_MODE=trained|quick|full` chooses; `METALAB_QUICK=1` means quick. Every mode goes
 * through `runExperiment`, so each resolves the config `deno task reproduce` would.
 * @module
 */
import { ConfigError, type ConfigOf, type ConfigSchema, type Preset } from "./config.ts";
import { type ExperimentRun, runExperiment } from "./runner.ts";
import { ModelStore } from "./models.ts";
import { DETAILS_FILE, readDetails } from "./recorded.ts";
import type { RunResult } from "./results.ts";
import type { Curve, Experiment, StepFn } from "./types.ts";

/** The modes of a notebook. */
export const COURSE_MODES = ["trained", "quick", "full"] as const;
/** A notebook's mode. */
export type CourseMode = typeof COURSE_MODES[number];

/** The folder of the trained models MetaLab ships (`models/` at the project root). */
export const SHIPPED_MODELS_DIR = new URL("../../models/", import.meta.url).pathname;

/**
 * The notebook mode from the environment: `METALAB_MODE` if set, `quick` when
 * `METALAB_QUICK=1` (the tests), else `trained`. An unknown mode is an error naming it.
 */
export function courseMode(env: { get(key: string): string | undefined } = Deno.env): CourseMode {
  const asked = env.get("METALAB_MODE");
  if (asked !== undefined && asked !== "") {
    if (!(COURSE_MODES as readonly string[]).includes(asked)) {
      throw new ConfigError(
        `METALAB_MODE="${asked}": expected one of ${COURSE_MODES.join(", ")}`,
      );
    }
    return asked as CourseMode;
  }
  return env.get("METALAB_QUICK") === "1" ? "quick" : "trained";
}

/**
 * The preset a notebook trains in place (quick, or full when `METALAB_MODE=full`): what
 * `reproduce` runs with `--quick` or without it.
 */
export function notebookPreset(env: { get(key: string): string | undefined } = Deno.env): Preset {
  return courseMode(env) === "full" ? "full" : "quick";
}

/**
 * Where the trained models of `experiment` are: the user's own full run under `resultsDir`
 * first, then MetaLab's shipped ones; null when neither has them.
 */
export function trainedModelsDir(
  experiment: string,
  { resultsDir = "results/full", shippedDir = SHIPPED_MODELS_DIR } = {},
): string | null {
  for (const root of [resultsDir, shippedDir]) {
    if (ModelStore.labels(`${root}/${experiment}`, experiment).length > 0) {
      return `${root.replace(/\/+$/, "")}/${experiment}`;
    }
  }
  return null;
}

/** What {@linkcode courseRun} returns: the run, how it was made, and its training curves. */
export type CourseRun<R, C> = ExperimentRun<R, C> & {
  /** The mode it ran in (a `trained` request without trained models falls back to `quick`). */
  mode: CourseMode;
  /** One line for every table and plot title: where the numbers come from. */
  label: string;
  /**
   * The training curves: recorded with the trained models (`trained`), or of the training
   * just done.
   */
  trainingCurves: Curve[];
  /** For `trained`: the results file the models were saved with (their full-run numbers). */
  trainedResult?: RunResult;
};

/** Options of {@linkcode courseRun}. */
export interface CourseRunOptions {
  /** The mode (default {@linkcode courseMode}()). */
  mode?: CourseMode;
  /** Config overrides, as `--set` (in `trained` mode they change the evaluation only). */
  overrides?: Record<string, unknown>;
  /**
   * Overrides for `trained` mode only, after `overrides`: a lighter evaluation so that a
   * notebook answers in seconds, e.g. `{ evalEpisodes: 200 }` — the first 200 of the run's
   * test episodes (the same seed draws the same episodes in the same order). The label says
   * what differs from the run, and `trainedResult` keeps the run's own numbers.
   */
  trainedOverrides?: Record<string, unknown>;
  /** Live per-step statistics while training (quick and full modes). */
  onStep?: StepFn;
  /** Where the user's own full runs are (default `results/full`). */
  resultsDir?: string;
  /** Where the shipped models are (default {@linkcode SHIPPED_MODELS_DIR}). */
  shippedDir?: string;
  /** Commentary (default: none). */
  log?: (message: string) => void;
}

function describeTrained(dir: string, trained: RunResult | undefined): string {
  const partial = trained?.partial ?? [];
  const how = partial.length
    ? `trained part of the schedule: ${
      partial.map((p) => `${p.label} ${p.step}/${p.steps}`).join(", ")
    } steps`
    : "the full schedule trained";
  return `trained models from ${dir} (${how}${
    trained?.commit ? `, commit ${trained.commit.slice(0, 7)}` : ""
  })`;
}

/**
 * Runs `experiment` the way a notebook should: from its trained models by default, else by
 * training the quick or full preset in place (see the module doc).
 *
 * @example
 * ```ts
 * const run = await courseRun(sinusoidK10);
 * console.log(run.label);          // where the numbers come from
 * console.log(run.metrics);        // as result.json would hold them
 * console.log(run.details.curves); // the experiment's own typed result
 * ```
 */
export async function courseRun<S extends ConfigSchema, R>(
  experiment: Experiment<S, R>,
  options: CourseRunOptions = {},
): Promise<CourseRun<R, ConfigOf<S>>> {
  let mode = options.mode ?? courseMode();
  const log = options.log ?? (() => {});
  let fallback = "";
  if (mode === "trained") {
    const dir = experiment.learner ? trainedModelsDir(experiment.name, options) : null;
    if (dir !== null) {
      const run = await runExperiment(experiment, {
        from: dir,
        overrides: { ...options.overrides, ...options.trainedOverrides },
        outDir: null,
        log,
      });
      let trained: RunResult | undefined;
      try {
        trained = JSON.parse(await Deno.readTextFile(`${dir}/result.json`));
      } catch {
        trained = undefined; // models without their results file: no recorded curves
      }
      const lighter = Object.entries(options.trainedOverrides ?? {}).map(([key, value]) => {
        const recorded = (trained?.config as Record<string, unknown> | undefined)?.[key];
        return `${key}=${value} here` + (recorded === undefined ? "" : ` (the run: ${recorded})`);
      });
      return {
        ...run,
        mode,
        label: describeTrained(dir, trained) + (lighter.length ? `; ${lighter.join(", ")}` : ""),
        trainingCurves: (trained?.curves ?? []).filter((c) => /meta-training/.test(c.title)),
        trainedResult: trained,
      };
    }
    // No models to reload (none saved, or too big to ship; or its result is what happens
    // during training: a sweep, a cost measurement): `reproduce` recorded the result itself.
    const recorded = await recordedRun(experiment, options);
    if (recorded.run) return recorded.run;
    fallback = experiment.learner && !recorded.found
      ? `no trained models of ${experiment.name} found (train them with: deno task ` +
        `reproduce ${experiment.name}); `
      : recorded.why;
    mode = "quick";
  }
  const preset: Preset = mode === "full" ? "full" : "quick";
  const run = await runExperiment(experiment, {
    preset,
    overrides: options.overrides,
    outDir: null,
    onStep: options.onStep,
    log,
  });
  return {
    ...run,
    mode,
    label: fallback +
      (preset === "quick"
        ? "QUICK preset trained here: a pipeline check, not the published schedule"
        : "full preset trained here"),
    trainingCurves: run.curves.filter((c) => /meta-training/.test(c.title)),
  };
}

/**
 * Where the recorded run of `experiment` is (its `details.json` beside `result.json`): the
 * user's own full run under `resultsDir` first, then MetaLab's shipped one; null when neither.
 */
export async function recordedRunDir(
  experiment: string,
  { resultsDir = "results/full", shippedDir = SHIPPED_MODELS_DIR } = {},
): Promise<string | null> {
  for (const root of [resultsDir, shippedDir]) {
    const dir = `${root.replace(/\/+$/, "")}/${experiment}`;
    try {
      await Deno.stat(`${dir}/${DETAILS_FILE}`);
      await Deno.stat(`${dir}/result.json`);
      return dir;
    } catch {
      // not here: the next place
    }
  }
  return null;
}

/**
 * The recorded run of an experiment without reloadable models, as `trained` mode shows it,
 * or why there is none (the start of the fallback label). Overrides that differ from the
 * recorded config mean the reader asked for another run: that one is trained instead.
 */
async function recordedRun<S extends ConfigSchema, R>(
  experiment: Experiment<S, R>,
  options: CourseRunOptions,
): Promise<{ run?: CourseRun<R, ConfigOf<S>>; found: boolean; why: string }> {
  const dir = await recordedRunDir(experiment.name, options);
  if (dir === null) {
    return {
      found: false,
      why: `no recorded run of ${experiment.name} found (record one with: deno task reproduce ` +
        `${experiment.name}); `,
    };
  }
  const result = JSON.parse(await Deno.readTextFile(`${dir}/result.json`)) as RunResult;
  const differs = Object.entries(options.overrides ?? {}).filter(([key, value]) =>
    JSON.stringify((result.config as Record<string, unknown>)[key]) !== JSON.stringify(value)
  );
  if (differs.length > 0) {
    return {
      found: true,
      why: `the recorded run of ${experiment.name} in ${dir} has ${
        differs.map(([k]) => `${k}=${JSON.stringify(result.config[k])}`).join(", ")
      }, not what was asked; `,
    };
  }
  const t0 = performance.now();
  const record = await readDetails(dir, experiment.name);
  if (record === null) {
    return { found: false, why: `no recorded run of ${experiment.name} found; ` };
  }
  const partial = result.partial ?? [];
  const how = partial.length
    ? `part of the schedule: ${partial.map((p) => `${p.label} ${p.step}/${p.steps}`).join(", ")}`
    : `the ${result.preset} preset`;
  const label = `the recorded run in ${dir} (${how}, ${
    Math.round(result.wallTimeS).toLocaleString("en-US")
  } s${result.commit ? `, commit ${result.commit.slice(0, 7)}` : ""}): read back, not recomputed`;
  const { config, ...rest } = result;
  return {
    run: {
      ...rest,
      // The time spent here, as for every other mode; the run's own is in the label and in
      // `trainedResult`.
      wallTimeS: (performance.now() - t0) / 1000,
      config: config as ConfigOf<S>,
      details: record.details as R,
      mode: "trained",
      label,
      trainingCurves: (result.curves ?? []).filter((c) => /meta-training/.test(c.title)),
      trainedResult: result,
    },
    found: true,
    why: "",
  };
}
