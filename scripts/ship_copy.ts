/** The copy behind `scripts/ship.ts` (importable by tests). @module */
import { atomicWrite } from "../lib/files/mod.ts";
import {
  DETAILS_FILE,
  readDetails,
  SHIPPED_MODELS_DIR,
  thinHistories,
  writeDetails,
} from "../lib/experiments/mod.ts";

const BOOKKEEPING = /^(run\.json|run\.lock|result\.invalid\.json)$|\.ckpt$/;

/** Copies `from` into `<shippedDir>/<experiment>/`; returns that folder. */
export async function copy(
  from: string,
  { noModels = false, every = 1, shippedDir = SHIPPED_MODELS_DIR } = {},
): Promise<string> {
  const resultText = await Deno.readTextFile(`${from}/result.json`).catch(() => {
    throw new Error(`${from}: expected a run's output folder with result.json, found none`);
  });
  const result = JSON.parse(resultText);
  const to = `${shippedDir.replace(/\/+$/, "")}/${result.experiment}`;
  if (await Deno.stat(to).then(() => true, () => false)) {
    throw new Error(`${to} exists: remove it first (a shipped run is replaced whole)`);
  }
  // Read once: without models, the details are what the run ships; thinned, what is rewritten.
  const record = noModels || every > 1 ? await readDetails(from, result.experiment) : null;
  if ((noModels || every > 1) && record === null) {
    const option = every > 1 ? "--thin-histories" : "--no-models";
    throw new Error(`${from}: ${option} needs the run's ${DETAILS_FILE}, found none`);
  }
  const tmp = `${to}.partial`;
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
  await Deno.mkdir(tmp, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    if (BOOKKEEPING.test(entry.name) || entry.name === "result.json") continue;
    if (entry.name === "models" && noModels) continue;
    if (entry.name === DETAILS_FILE && every > 1) continue;
    await copyTree(`${from}/${entry.name}`, `${tmp}/${entry.name}`);
  }
  if (every > 1 && record !== null) {
    const { experiment, preset, config, seed, commit } = record;
    const why = await writeDetails(
      tmp,
      { experiment, preset, config, seed },
      commit,
      thinHistories(record.details, every),
    );
    if (why !== null) throw new Error(`${from}: ${why}`);
  }
  await atomicWrite(`${tmp}/result.json`, resultText); // unchanged, written last
  await Deno.rename(tmp, to);
  return to;
}

async function copyTree(from: string, to: string): Promise<void> {
  const info = await Deno.stat(from);
  if (!info.isDirectory) return await Deno.copyFile(from, to);
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    await copyTree(`${from}/${entry.name}`, `${to}/${entry.name}`);
  }
}
