/**
 * Trained models are results: every training phase of a run leaves its meta-parameters in
 * `<out>/<experiment>/models/<label>/` (the `saveLearner` format of `lib/io`: weights plus
 * the config, seed, steps trained, the run's metrics and the git commit), and an
 * evaluation-only run loads them back instead of training.
 *
 * A model is written as soon as its phase ends, before it is evaluated, so a late error
 * (in evaluation, in the report) never throws away hours of training; once the run's
 * metrics are known it is written again with them.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { BaseMetaLearner } from "../meta/mod.ts";
import { loadLearner, loadParams, saveParams } from "../io/mod.ts";
import type { ResultMetric } from "./results.ts";

/** What is recorded with a saved model. */
export interface SavedModelInfo {
  /** The experiment that trained it. */
  experiment: string;
  /** The phase label (usually the learner's name, e.g. `protonet`). */
  label: string;
  /** The learner's algorithm name. */
  learner: string;
  /** The preset its config started from. */
  preset: string;
  /** Meta-steps trained. */
  steps: number;
  /** Meta-steps the schedule has (steps < scheduleSteps: stopped by a time limit). */
  scheduleSteps: number;
  /** The project's git commit, when known. */
  commit: string | null;
  /** The run's headline metrics (absent until the run has been evaluated). */
  metrics?: ResultMetric[];
}

/** A model read back for evaluation. */
export interface LoadedModel {
  /** Where it was read from. */
  dir: string;
  /** What was recorded with it. */
  info: SavedModelInfo;
  /** The config it was trained with. */
  config: Record<string, unknown>;
  /** The seed of its run. */
  seed: number | null;
}

interface Kept {
  names: string[];
  tensors: tf.Tensor[];
  info: SavedModelInfo;
}

/**
 * The trained models of one run: written under `saveDir` (null: not kept on disk) and, for
 * an evaluation-only run, read from `fromDir`.
 */
export class ModelStore {
  private readonly kept = new Map<string, Kept>();
  private readonly loaded: LoadedModel[] = [];

  /**
   * @param experiment the run's experiment name
   * @param identity the run's preset, resolved config and seed (recorded with every model)
   * @param saveDir folder that receives `models/<label>/`, or null
   * @param fromDir for evaluation-only runs: a folder holding `models/<label>/` (an
   *   experiment's output folder) or `<experiment>/models/<label>/` (an output root)
   */
  constructor(
    readonly experiment: string,
    readonly identity: { preset: string; config: Record<string, unknown>; seed: number },
    readonly saveDir: string | null,
    readonly fromDir: string | null = null,
    readonly commit: string | null = null,
  ) {}

  /** Whether this run evaluates saved models instead of training. */
  get evalOnly(): boolean {
    return this.fromDir !== null;
  }

  /** The models an evaluation-only run has loaded so far. */
  get loadedModels(): readonly LoadedModel[] {
    return this.loaded;
  }

  /** Labels of the models this run saved. */
  get savedLabels(): string[] {
    return [...this.kept.keys()];
  }

  /** The folder of saved model `label` under `root` (an experiment folder or an output root). */
  static modelDir(root: string, experiment: string, label: string): string | null {
    for (const dir of [`${root}/models/${label}`, `${root}/${experiment}/models/${label}`]) {
      try {
        if (Deno.statSync(`${dir}/model.json`).isFile) return dir;
      } catch {
        // not here
      }
    }
    return null;
  }

  /** Labels of the models saved under `root` for `experiment`. */
  static labels(root: string, experiment: string): string[] {
    for (const dir of [`${root}/models`, `${root}/${experiment}/models`]) {
      try {
        return [...Deno.readDirSync(dir)]
          .filter((e) => e.isDirectory && ModelStore.modelDir(root, experiment, e.name))
          .map((e) => e.name)
          .sort();
      } catch {
        // not here
      }
    }
    return [];
  }

  /**
   * The config the models under `root` were trained with (the first one's; all of a run's
   * models share it), with its preset and seed; an error naming the folder when none is there.
   */
  static async trainedConfig(
    root: string,
    experiment: string,
  ): Promise<{ config: Record<string, unknown>; preset: string; seed: number | null }> {
    const [first] = ModelStore.labels(root, experiment);
    const dir = first === undefined ? null : ModelStore.modelDir(root, experiment, first);
    if (dir === null) {
      throw new Error(
        `no saved models of ${experiment} in ${root}: expected ${root}/models/<learner>/model.json ` +
          `or ${root}/${experiment}/models/<learner>/model.json (a run of ${experiment} writes them)`,
      );
    }
    const saved = await loadParams(dir);
    tf.dispose(Object.values(saved.tensors));
    const info = saved.extra as unknown as Partial<SavedModelInfo>;
    if (info.experiment !== experiment) {
      throw new Error(
        `${dir} holds a model of experiment "${info.experiment}", not "${experiment}"`,
      );
    }
    return {
      config: (saved.config ?? {}) as Record<string, unknown>,
      preset: String(info.preset ?? "full"),
      seed: saved.seed,
    };
  }

  /**
   * Loads the saved model `label` into `learner` (evaluation-only runs). Throws naming the
   * folder when it is missing, and the parameter with both shapes when the architecture
   * differs.
   */
  async load(label: string, learner: BaseMetaLearner): Promise<LoadedModel> {
    if (this.fromDir === null) throw new Error("ModelStore.load: this run trains its models");
    const dir = ModelStore.modelDir(this.fromDir, this.experiment, label);
    if (dir === null) {
      const found = ModelStore.labels(this.fromDir, this.experiment);
      throw new Error(
        `no saved model "${label}" of ${this.experiment} in ${this.fromDir} ` +
          `(found: ${found.length ? found.join(", ") : "none"})`,
      );
    }
    const meta = await loadLearner(dir, learner);
    const model: LoadedModel = {
      dir,
      info: meta.extra as unknown as SavedModelInfo,
      config: (meta.config ?? {}) as Record<string, unknown>,
      seed: meta.seed,
    };
    this.loaded.push(model);
    return model;
  }

  /**
   * Keeps the trained `learner` of phase `label`: written at once (when this run saves to
   * disk) and again with the metrics by {@linkcode ModelStore.finish}.
   */
  async save(
    label: string,
    learner: BaseMetaLearner,
    steps: { done: number; schedule: number },
  ): Promise<void> {
    const info: SavedModelInfo = {
      experiment: this.experiment,
      label,
      learner: learner.name,
      preset: this.identity.preset,
      steps: steps.done,
      scheduleSteps: steps.schedule,
      commit: this.commit,
    };
    const previous = this.kept.get(label);
    if (previous) tf.dispose(previous.tensors);
    const kept = {
      names: [...learner.paramNames],
      tensors: learner.params.map((p) => p.clone()),
      info,
    };
    this.kept.set(label, kept);
    await this.write(label, kept);
  }

  /** Writes every kept model again with the run's metrics, then frees the copies. */
  async finish(metrics: ResultMetric[]): Promise<void> {
    try {
      for (const [label, kept] of this.kept) {
        kept.info.metrics = metrics;
        await this.write(label, kept);
      }
    } finally {
      this.dispose();
    }
  }

  /** Frees the in-memory copies of the kept models (the files stay). */
  dispose(): void {
    for (const kept of this.kept.values()) tf.dispose(kept.tensors);
    this.kept.clear();
  }

  private async write(label: string, kept: Kept): Promise<void> {
    if (this.saveDir === null) return;
    await Deno.mkdir(`${this.saveDir}/models`, { recursive: true });
    await saveParams(`${this.saveDir}/models/${label}`, kept.names, kept.tensors, {
      config: this.identity.config,
      seed: this.identity.seed,
      extra: { ...kept.info },
    }, { overwrite: true });
  }
}
