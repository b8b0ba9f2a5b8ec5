/**
 * Applying a saved model to your own images: {@linkcode loadSavedLearner} rebuilds the
 * learner a run saved (`<out>/<experiment>/models/<label>/`) from the experiment and config
 * recorded with it and loads its weights; {@linkcode classifyFolders} adapts it to a folder
 * of labelled support images (one subfolder per class) and predicts the classes of a folder
 * of query images.
 *
 * How an image becomes a model input is how the model's training data was prepared:
 *
 * - **Pixels.** A grayscale PNG (1-, 8- or 16-bit; colour PNGs are refused) is read as values
 *   in [0, 1] with **strokes 1 and background 0**, the convention both image data sets are
 *   trained in: MNIST's digits are white on black with values in [0, 1]; Omniglot's PNGs are
 *   black strokes on white paper and are read as "ink", 1 − intensity (as in Finn et al.'s
 *   and Snell et al.'s code; `lib/datasets/omniglot.ts`).
 * - **Polarity.** By default the files are taken to draw strokes as the training set's own
 *   files do: light strokes on a dark background for MNIST models, dark strokes on a light
 *   background for Omniglot models. `strokes` says otherwise: a pen drawing of a digit
 *   given to an MNIST model needs `strokes: "dark"`.
 * - **Size.** 28 × 28 × 1, the input of every image experiment (MNIST's own size; the size
 *   the Omniglot experiments load at); the channel count is read from the learner's first
 *   convolution kernel. Other sizes are resized by area averaging (PIL's BOX filter,
 *   `AreaResizer`: how Omniglot's 105 × 105 originals become 28 × 28), without keeping the
 *   aspect ratio, so crop to a square first.
 * - **Quantisation.** For Omniglot models the resized values are rounded to steps of 1/255,
 *   as Omniglot's loader stores them; MNIST models get the values unrounded.
 *
 * Conv-4's batch norm uses the statistics of the batch it is given, at test time too (as in
 * training and evaluation), so the support images are embedded together and the queries are
 * predicted together, like an evaluation episode's query set: a query's probabilities depend
 * a little on the other queries.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { AreaResizer, decodeInkPng } from "../datasets/mod.ts";
import { loadLearner, loadParams } from "../io/mod.ts";
import type { BaseMetaLearner } from "../meta/mod.ts";
import { ConfigError, type ConfigOf, type ConfigSchema, savedConfig } from "./config.ts";
import type { SavedModelInfo } from "./models.ts";
import { EXPERIMENTS } from "./registry.ts";
import type { Experiment } from "./types.ts";

/** A saved model rebuilt by {@linkcode loadSavedLearner}. Dispose it when done. */
export interface SavedLearner {
  /** The model folder it was read from. */
  dir: string;
  /** The experiment that trained it. */
  experiment: Experiment;
  /** Its phase label (e.g. `protonet`). */
  label: string;
  /** What was recorded with it (preset, steps, metrics, commit). */
  info: SavedModelInfo;
  /** The config it was trained with (the saved one, resolved against the experiment's schema). */
  config: ConfigOf<ConfigSchema>;
  /** The seed of its run. */
  seed: number | null;
  /** The learner with the saved meta-parameters loaded. */
  learner: BaseMetaLearner;
  /** Frees the learner. */
  dispose(): void;
}

/** How the files' strokes are drawn: dark on a light background, or light on a dark one. */
export type Strokes = "dark" | "light";

/** How images were turned into model inputs ({@linkcode classifyFolders} reports it). */
export interface ImageInput {
  /** The data set the model was trained on. */
  dataset: string;
  /** Input `[height, width, channels]`. */
  shape: [number, number, number];
  /** How the given files were taken to draw strokes (they become 1, the background 0). */
  strokes: Strokes;
  /** Whether resized values were rounded to steps of 1/255 (as Omniglot's loader stores them). */
  bytes: boolean;
}

/** Options of {@linkcode classifyFolders}. */
export interface ClassifyOptions {
  /** A model folder (loaded, then freed) or a model from {@linkcode loadSavedLearner}. */
  model: string | SavedLearner;
  /** A folder with one subfolder per class (its name is the class name) of PNG images. */
  support: string;
  /** A folder of PNG images, or one PNG file. */
  query: string;
  /** How the files draw strokes (default: as the training set's own files do). */
  strokes?: Strokes;
  /**
   * Adaptation steps of a MAML-family model (default: the steps its experiment evaluates
   * with, `images.testSteps`: 3 for Omniglot). Metric learners (ProtoNets) do not use it.
   */
  steps?: number;
}

/** The prediction for one query image. */
export interface Prediction {
  /** The image file. */
  file: string;
  /** The predicted class (the most probable one). */
  predicted: string;
  /** Its probability. */
  probability: number;
  /** The probability of each class, in the order of {@linkcode Classification.classes}. */
  probabilities: number[];
}

/** What {@linkcode classifyFolders} returns. */
export interface Classification {
  /** Which model classified. */
  model: { dir: string; experiment: string; label: string; learner: string };
  /** How the images were converted. */
  input: ImageInput;
  /** The class names (the support subfolders, sorted by name). */
  classes: string[];
  /** Support images per class, in the order of `classes`. */
  shots: number[];
  /** One prediction per query image, in file-name order. */
  predictions: Prediction[];
}

const MODEL_FOLDER = "a model folder holding model.json and weights.bin, as a run writes " +
  "them to <out>/<experiment>/models/<label>/ (e.g. results/quick/mnist-protonet/models/protonet)";

/** Throws a message naming `dir` unless it is a folder with a `model.json`. */
async function requireModelFolder(dir: string): Promise<void> {
  let stat;
  try {
    stat = await Deno.stat(dir);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(`model folder ${dir} does not exist: expected ${MODEL_FOLDER}`);
    }
    throw e;
  }
  if (!stat.isDirectory) throw new Error(`${dir} is not a folder: expected ${MODEL_FOLDER}`);
  try {
    await Deno.stat(join(dir, "model.json"));
    return;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  // An experiment's output folder is the likely mix-up: name the model folders in it.
  const labels: string[] = [];
  try {
    for await (const e of Deno.readDir(join(dir, "models"))) if (e.isDirectory) labels.push(e.name);
  } catch {
    // no models/ here either
  }
  throw new Error(
    labels.length > 0
      ? `${dir} holds no model.json but a models/ folder: pass one of ${
        labels.sort().map((l) => join(dir, "models", l)).join(", ")
      }`
      : `${dir} holds no model.json: expected ${MODEL_FOLDER}`,
  );
}

/**
 * Reads the model saved in `modelDir` (a `models/<label>/` folder of a run): finds the
 * experiment recorded with it, builds that experiment's learner with the saved config and
 * loads the weights. Errors name the folder: missing, an experiment this version does not
 * know, one whose models cannot be rebuilt (no `learner`), or a parameter whose saved shape
 * differs from the rebuilt learner's (named with both shapes).
 *
 * @example
 * ```ts
 * const saved = await loadSavedLearner("results/quick/mnist-protonet/models/protonet");
 * console.log(saved.experiment.name, saved.info.steps, saved.learner.kind);
 * saved.dispose();
 * ```
 */
export async function loadSavedLearner(modelDir: string): Promise<SavedLearner> {
  const dir = modelDir.length > 1 ? modelDir.replace(/\/+$/, "") : modelDir;
  await requireModelFolder(dir);
  const saved = await loadParams(dir);
  tf.dispose(Object.values(saved.tensors));
  const info = saved.extra as unknown as SavedModelInfo;
  if (typeof info.experiment !== "string" || typeof info.label !== "string") {
    throw new Error(
      `${dir}/model.json records no experiment and label (extra.experiment, extra.label): ` +
        `expected a model saved by a run (deno task reproduce, or runExperiment with an outDir)`,
    );
  }
  const experiment = EXPERIMENTS.find((e) => e.name === info.experiment);
  if (!experiment) {
    throw new Error(
      `${dir} holds a model of experiment "${info.experiment}", which this MetaLab does not ` +
        `know (known experiments: ${EXPERIMENTS.map((e) => e.name).join(", ")})`,
    );
  }
  if (!experiment.learner) {
    throw new Error(
      `${dir} holds a model of ${experiment.name}, whose models cannot be rebuilt on their ` +
        `own (the experiment has no learner())`,
    );
  }
  // As an evaluation-only run does: the saved values over the preset's, checked by the schema.
  let config: ConfigOf<ConfigSchema>;
  try {
    config = savedConfig(experiment.schema, {
      preset: String(info.preset),
      config: (saved.config ?? {}) as Record<string, unknown>,
    }).config;
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    throw new Error(`${dir}: the saved config does not fit ${experiment.name}: ${e.message}`);
  }
  let learner: BaseMetaLearner;
  try {
    learner = experiment.learner(info.label, config);
  } catch (e) {
    throw new Error(`${dir}: cannot rebuild ${experiment.name}'s "${info.label}": ${e}`);
  }
  try {
    await loadLearner(dir, learner);
  } catch (e) {
    learner.dispose();
    throw e;
  }
  return {
    dir,
    experiment,
    label: info.label,
    info,
    config,
    seed: saved.seed,
    learner,
    dispose: () => learner.dispose(),
  };
}

/** The input convention of `saved`, or an error saying why it is not an image classifier. */
function imageInput(saved: SavedLearner, strokes: Strokes | undefined): ImageInput {
  const { dir, experiment, learner } = saved;
  if (learner.kind !== "classification") {
    throw new Error(
      `${dir} holds ${experiment.name}'s ${saved.label} model, a ${learner.kind} model ` +
        `(it predicts numbers from numbers, as the sinusoid models do), not an image ` +
        `classifier: use a model of ${
          EXPERIMENTS.filter((e) => e.images).map((e) => e.name).join(", ")
        }`,
    );
  }
  const data = experiment.images;
  if (!data) {
    throw new Error(
      `${dir}: ${experiment.name} does not say how its images were prepared (its \`images\` ` +
        `field), so classifyFolders cannot convert files for it; image experiments: ${
          EXPERIMENTS.filter((e) => e.images).map((e) => e.name).join(", ")
        }`,
    );
  }
  if (strokes !== undefined && strokes !== "dark" && strokes !== "light") {
    throw new Error(`strokes must be "dark" or "light", got ${JSON.stringify(strokes)}`);
  }
  // The first 4-D parameter is the first convolution kernel [kh, kw, in, out].
  const kernel = learner.params.find((p) => p.rank === 4);
  const channels = kernel ? kernel.shape[2] : 1;
  if (channels !== 1) {
    throw new Error(
      `${dir}: the model takes ${channels}-channel images, but classifyFolders reads ` +
        `grayscale PNGs (1 channel)`,
    );
  }
  return {
    dataset: data.dataset,
    shape: [data.side, data.side, channels],
    strokes: strokes ?? data.files,
    bytes: data.bytes,
  };
}

const isHidden = (name: string) => name.startsWith(".");
const isPng = (name: string) => name.toLowerCase().endsWith(".png");

/**
 * Entries of folder `dir` (symbolic links resolved), sorted by name, hidden ones
 * (`.DS_Store`) left out.
 */
async function listFolder(
  dir: string,
  what: string,
): Promise<{ name: string; isDirectory: boolean }[]> {
  const entries: { name: string; isDirectory: boolean }[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (isHidden(e.name)) continue;
      const isDirectory = e.isSymlink
        ? (await Deno.stat(join(dir, e.name))).isDirectory
        : e.isDirectory;
      entries.push({ name: e.name, isDirectory });
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new Error(`${what} ${dir} does not exist`);
    if (e instanceof Deno.errors.NotADirectory) throw new Error(`${what} ${dir} is not a folder`);
    throw e;
  }
  return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The PNG files of a folder, refusing anything else in it. */
async function pngFiles(dir: string, what: string): Promise<string[]> {
  const files: string[] = [];
  for (const e of await listFolder(dir, what)) {
    const path = join(dir, e.name);
    if (e.isDirectory) {
      throw new Error(`${path} is a folder inside ${what} ${dir}, which should hold PNG images`);
    }
    if (!isPng(e.name)) {
      throw new Error(`${path} is not a PNG image (only .png files are read)`);
    }
    files.push(path);
  }
  return files;
}

/** The classes of a support folder: its subfolders (sorted), each with its PNG files. */
async function readSupport(dir: string): Promise<{ name: string; files: string[] }[]> {
  const classes: { name: string; files: string[] }[] = [];
  for (const e of await listFolder(dir, "support folder")) {
    const path = join(dir, e.name);
    if (!e.isDirectory) {
      throw new Error(
        `${path} is not a class folder: the support folder ${dir} holds one subfolder per ` +
          `class (its name is the class name) with that class's images`,
      );
    }
    const files = await pngFiles(path, "class folder");
    if (files.length === 0) throw new Error(`class folder ${path} holds no PNG image`);
    classes.push({ name: e.name, files });
  }
  if (classes.length < 2) {
    throw new Error(
      `support folder ${dir} has ${
        classes.length === 0 ? "no class folders" : `one class folder (${classes[0].name})`
      }: a classifier needs at least 2 classes, one subfolder of images each`,
    );
  }
  return classes;
}

/** The query images: the PNG files of a folder, or one PNG file. */
async function readQuery(path: string): Promise<string[]> {
  let stat;
  try {
    stat = await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new Error(`query ${path} does not exist`);
    throw e;
  }
  if (!stat.isDirectory) {
    if (!isPng(path)) throw new Error(`${path} is not a PNG image (only .png files are read)`);
    return [path];
  }
  const files = await pngFiles(path, "query folder");
  if (files.length === 0) throw new Error(`query folder ${path} holds no PNG image`);
  return files;
}

/** Reads `files` into one `[files, ...shape]` array, converted as the module docs say. */
async function readImages(files: string[], input: ImageInput): Promise<Float32Array> {
  const [h, w, c] = input.shape;
  const px = h * w * c;
  const out = new Float32Array(files.length * px);
  const bytes = new Uint8Array(px);
  const resizers = new Map<string, AreaResizer>();
  for (let i = 0; i < files.length; i++) {
    let img;
    try {
      img = decodeInkPng(await Deno.readFile(files[i]), files[i]);
    } catch (e) {
      const message = (e as Error).message;
      throw new Error(
        / channels, expected 1/.test(message) ? `${message}: save it as a grayscale PNG` : message,
      );
    }
    // decodeInkPng gives ink (dark strokes → 1); light strokes are the intensity itself.
    if (input.strokes === "light") {
      for (let j = 0; j < img.data.length; j++) img.data[j] = 1 - img.data[j];
    }
    const key = `${img.height}x${img.width}`;
    let resizer = resizers.get(key);
    if (!resizer) {
      resizer = new AreaResizer(img.height, img.width, h, w);
      resizers.set(key, resizer);
    }
    if (input.bytes) {
      // As Omniglot's loader: bytes, read back × 1/255 like ArrayDataset's `scale`.
      resizer.resize(img.data, bytes, 0, 255);
      for (let j = 0; j < px; j++) out[i * px + j] = bytes[j] * (1 / 255);
    } else {
      resizer.resize(img.data, out, i * px);
    }
  }
  return out;
}

/**
 * Classifies the query images with a saved model adapted to the support images: `support`
 * is a folder with one subfolder per class (the subfolder's name is the class name, classes
 * sorted by name) holding PNG images, `query` a folder of PNG images (sorted by name) or one
 * PNG file. Images are converted exactly as the model's training data was prepared (see the
 * module docs). Returns, per query image, the predicted class and the probability of every
 * class (softmax of the logits), and the class list.
 *
 * Refused with a message naming the path: a missing folder, fewer than 2 classes, a class
 * folder without images, a file that is not a PNG (hidden files such as `.DS_Store` are
 * skipped), a colour image, a regression model (the sinusoid models), and a MAML-family
 * model whose N-way head does not match the number of classes.
 *
 * @example
 * ```ts
 * // my-digits/support/3/a.png, my-digits/support/7/b.png, …; my-digits/query/x.png, …
 * const { classes, predictions } = await classifyFolders({
 *   model: "results/quick/mnist-protonet/models/protonet",
 *   support: "my-digits/support",
 *   query: "my-digits/query",
 * });
 * for (const p of predictions) console.log(p.file, p.predicted, p.probability.toFixed(2));
 * ```
 */
export async function classifyFolders(options: ClassifyOptions): Promise<Classification> {
  const { steps } = options;
  if (steps !== undefined && !(Number.isInteger(steps) && steps >= 0)) {
    throw new Error(`steps must be a non-negative integer, got ${steps}`);
  }
  const owned = typeof options.model === "string";
  const saved = typeof options.model === "string"
    ? await loadSavedLearner(options.model)
    : options.model;
  try {
    const input = imageInput(saved, options.strokes);
    const classes = await readSupport(options.support);
    const queries = await readQuery(options.query);
    // Class-major, as episodes are: class 0's images, then class 1's, …
    const supportFiles = classes.flatMap((c) => c.files);
    const labels = Int32Array.from(classes.flatMap((c, k) => c.files.map(() => k)));
    const supportX = await readImages(supportFiles, input);
    const queryX = await readImages(queries, input);
    const probs = tf.tidy(() => {
      const support = {
        x: tf.tensor4d(supportX, [supportFiles.length, ...input.shape]),
        y: tf.tensor1d(labels, "int32"),
      };
      // Default: the steps the experiment evaluates with (Omniglot's MAML family: 3).
      const test = steps ?? saved.experiment.images?.testSteps;
      const adapted = saved.learner.adapt(
        support,
        test === undefined ? undefined : { steps: test },
      );
      try {
        const logits = adapted.predict(tf.tensor4d(queryX, [queries.length, ...input.shape]));
        const ways = logits.shape[1];
        if (ways !== classes.length) {
          throw new Error(
            `${saved.dir}: the ${saved.label} model has a ${ways}-way head, but support ` +
              `folder ${options.support} has ${classes.length} classes: give it exactly ` +
              `${ways} class folders (metric learners such as ProtoNets take any number)`,
          );
        }
        return tf.softmax(logits);
      } finally {
        adapted.dispose();
      }
    });
    const p = await probs.array() as number[][];
    probs.dispose();
    const names = classes.map((c) => c.name);
    return {
      model: {
        dir: saved.dir,
        experiment: saved.experiment.name,
        label: saved.label,
        learner: saved.learner.name,
      },
      input,
      classes: names,
      shots: classes.map((c) => c.files.length),
      predictions: queries.map((file, i) => {
        // The first of equally probable classes, as argMax does.
        const best = p[i].reduce((b, v, k) => (v > p[i][b] ? k : b), 0);
        return { file, predicted: names[best], probability: p[i][best], probabilities: p[i] };
      }),
    };
  } finally {
    if (owned) saved.dispose();
  }
}
