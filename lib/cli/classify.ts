/**
 * `deno task classify --model DIR --support DIR --query PATH [--strokes dark|light]
 * [--steps N] [--backend B] [--json]`
 *
 * Classifies your own images with a saved model: prints one line per query image (file,
 * predicted class, its probability), or the whole result as JSON. Thin: parse, call
 * `classifyFolders` (`lib/experiments/apply.ts`, where the image conventions are
 * documented), print.
 * @module
 */
import { parseArgs } from "./args.ts";
import { initBackend } from "../backend/mod.ts";
import { classifyFolders, type Strokes } from "../experiments/mod.ts";

const USAGE = `usage: deno task classify --model DIR --support DIR --query PATH [options]

Adapts a saved model to labelled support images and predicts the class of each query image.

  --model DIR        a saved model: <out>/<experiment>/models/<label>/ of a reproduce run
                     (e.g. results/quick/mnist-protonet/models/protonet)
  --support DIR      one subfolder per class (its name is the class name) of PNG images
  --query PATH       a folder of PNG images, or one PNG file
  --strokes S        dark | light: how the images draw strokes (default: as the model's
                     training images do: light on dark for MNIST, dark on light for Omniglot)
  --steps N          adaptation steps of a MAML-family model (default: its training value)
  --backend B        auto | webgpu | wasm | native | cpu (default auto; native: wasm with
                     oneDNN convolutions, needs libdnnl2)
  --json             print the result as JSON
  --help             this text

Images are grayscale PNGs, resized to 28×28 (crop them square first).`;

async function main(): Promise<number> {
  const { positional, flags } = parseArgs(Deno.args, {
    model: "string",
    support: "string",
    query: "string",
    strokes: "string",
    steps: "string",
    backend: "string",
    json: "bool",
    help: "bool",
  });
  if (flags.help) {
    console.log(USAGE);
    return 0;
  }
  const missing = ["model", "support", "query"].filter((k) => flags[k] === undefined);
  if (missing.length > 0 || positional.length > 0) {
    console.error(
      (positional.length > 0
        ? `unexpected argument ${positional[0]}`
        : `missing ${missing.map((k) => `--${k}`).join(", ")}`) + `\n\n${USAGE}`,
    );
    return 2;
  }
  const strokes = flags.strokes as string | undefined;
  if (strokes !== undefined && strokes !== "dark" && strokes !== "light") {
    throw new Error(`--strokes must be dark or light, got "${strokes}"`);
  }
  const stepsText = flags.steps as string | undefined;
  const steps = stepsText === undefined ? undefined : Number(stepsText);
  if (steps !== undefined && !(/^\d+$/.test(stepsText!) && Number.isSafeInteger(steps))) {
    throw new Error(`--steps must be a non-negative integer, got "${stepsText}"`);
  }
  await initBackend((flags.backend as string | undefined) ?? "auto");
  const result = await classifyFolders({
    model: flags.model as string,
    support: flags.support as string,
    query: flags.query as string,
    strokes: strokes as Strokes | undefined,
    steps,
  });
  if (flags.json) {
    console.log(JSON.stringify(result, null, 2));
    return 0;
  }
  const { model, input, classes, shots } = result;
  // What was applied goes to stderr, so stdout is exactly one line per query image.
  console.error(
    `${model.experiment}/${model.label} (${input.dataset} input, ${input.strokes} strokes); ` +
      `classes: ${classes.map((c, k) => `${c} (${shots[k]})`).join(", ")}`,
  );
  const width = Math.max(...result.predictions.map((p) => p.file.length));
  for (const p of result.predictions) {
    console.log(`${p.file.padEnd(width)}  ${p.predicted}  ${p.probability.toFixed(3)}`);
  }
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main());
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
