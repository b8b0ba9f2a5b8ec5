/**
 * `deno task data omniglot [--dir DIR] [--url BASE] [--checksum FILE=ALGO:HEX]…`
 *
 * Downloads the official Omniglot archives (default into `data/omniglot/`), showing
 * progress, verifying checksums, writing atomically and resuming cut-off downloads.
 * The logic lives in `lib/datasets/download.ts`; this file only parses arguments and prints.
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import {
  type Checksum,
  downloadOmniglot,
  type DownloadProgress,
  formatBytes,
  formatProgress,
  OfflineError,
  OMNIGLOT_BASE_URL,
  OMNIGLOT_CHECKSUMS,
} from "../datasets/download.ts";
import { REPO_ROOT } from "../datasets/paths.ts";

const USAGE =
  `usage: deno task data omniglot [--dir DIR] [--url BASE_URL] [--checksum FILE=ALGO:HEX]...

Downloads images_background.zip and images_evaluation.zip from
${OMNIGLOT_BASE_URL}
into DIR (default data/omniglot/), verifying their checksums (ALGO is sha256 or md5).`;

function parseChecksum(spec: string): [string, Checksum] {
  const m = /^([^=]+)=(sha256|md5):([0-9a-fA-F]+)$/.exec(spec);
  if (!m) throw new Error(`--checksum expects FILE=sha256:HEX or FILE=md5:HEX, got "${spec}"`);
  return [m[1], { algorithm: m[2] as Checksum["algorithm"], hex: m[3].toLowerCase() }];
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      dir: { type: "string" },
      url: { type: "string" },
      checksum: { type: "string", multiple: true },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length !== 1 || positionals[0] !== "omniglot") {
    console.error(
      positionals.length === 0
        ? USAGE
        : `unknown dataset "${positionals.join(" ")}" (known: omniglot)\n\n${USAGE}`,
    );
    return 2;
  }
  const dir = values.dir ?? join(REPO_ROOT, "data", "omniglot");
  const checksums: Record<string, Checksum> = { ...OMNIGLOT_CHECKSUMS };
  for (const spec of values.checksum ?? []) {
    const [file, sum] = parseChecksum(spec);
    checksums[file] = sum;
  }
  const tty = Deno.stdout.isTerminal();
  let lastDecile = -1;
  const onProgress = (p: DownloadProgress) => {
    if (tty) {
      Deno.stdout.writeSync(new TextEncoder().encode(`\r${formatProgress(p)}\x1b[K`));
      if (p.done) console.log();
      return;
    }
    // Plain lines when not a terminal (CI): every 10% and at the end.
    const decile = p.total ? Math.floor((10 * p.received) / p.total) : -1;
    if (p.done || decile > lastDecile) console.log(formatProgress(p));
    lastDecile = p.done ? -1 : decile;
  };
  console.log(`Omniglot → ${dir}`);
  const results = await downloadOmniglot({
    dir,
    baseUrl: values.url ?? OMNIGLOT_BASE_URL,
    checksums,
    onProgress,
  });
  for (const r of results) {
    console.log(
      `${r.skipped ? "already there, verified" : "downloaded, verified"}: ${r.path} ` +
        `(${formatBytes(r.bytes)})`,
    );
  }
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main());
  } catch (err) {
    console.error(err instanceof OfflineError ? err.message : `error: ${(err as Error).message}`);
    Deno.exit(1);
  }
}
