/**
 * The Omniglot download against a local HTTP server on 127.0.0.1 that serves the shared
 * copy of the archives (with the expected checksums overridden to the shared copy's).
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  ChecksumError,
  downloadFile,
  downloadOmniglot,
  type DownloadProgress,
  fileChecksum,
  findOmniglotDir,
  formatProgress,
  OfflineError,
  OMNIGLOT_CHECKSUMS,
} from "../lib/datasets/mod.ts";

const source = findOmniglotDir();
if (!source) console.warn("download_test: skipped — no Omniglot archives to serve");
const ignore = source === null;

/** The shared copy's sha256 (from ../shared/data/omniglot/README.md). */
const SHARED_SHA256 = {
  "images_background.zip": "1c403bc8872b71955ed4b4a859e856d935b125795d07769f7cd4a21030c62d1d",
  "images_evaluation.zip": "89527409270651d592bc4a24e3f06c56bd5b086e51c1a05e99a0b5e585550edd",
};
const checksums = Object.fromEntries(
  Object.entries(SHARED_SHA256).map(([f, hex]) => [f, { algorithm: "sha256" as const, hex }]),
);

type Mode = "normal" | "cutoff" | "cutoff-once" | "no-range";

/** A tiny file server: Range support, and modes that cut off or ignore ranges. */
function serve(files: Record<string, Uint8Array>) {
  const state = {
    mode: "normal" as Mode,
    requests: [] as { path: string; range: string | null }[],
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const path = new URL(req.url).pathname.slice(1);
    const range = req.headers.get("range");
    state.requests.push({ path, range });
    const body = files[path];
    if (!body) return new Response("not found", { status: 404 });
    const m = range && state.mode !== "no-range" ? /^bytes=(\d+)-$/.exec(range) : null;
    const start = m ? Number(m[1]) : 0;
    if (start >= body.length && m) return new Response(null, { status: 416 });
    const part = body.subarray(start);
    const headers = new Headers({
      "content-length": String(part.length),
      "content-type": "application/zip",
    });
    if (m) headers.set("content-range", `bytes ${start}-${body.length - 1}/${body.length}`);
    if (state.mode === "cutoff" || state.mode === "cutoff-once") {
      if (state.mode === "cutoff-once") state.mode = "normal";
      // Send about half, then break the connection.
      const half = part.subarray(0, Math.floor(part.length / 2));
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(half.slice());
          setTimeout(
            () => controller.error(new Error("test server: connection cut on purpose")),
            20,
          );
        },
      });
      return new Response(stream, { status: m ? 206 : 200, headers });
    }
    return new Response(part.slice(), { status: m ? 206 : 200, headers });
  });
  const base = `http://127.0.0.1:${server.addr.port}/`;
  return { server, state, base };
}

async function withServer(fn: (s: ReturnType<typeof serve>, dir: string) => Promise<void>) {
  const files: Record<string, Uint8Array> = {};
  for (const f of Object.keys(SHARED_SHA256)) files[f] = await Deno.readFile(join(source!, f));
  const s = serve(files);
  const dir = await Deno.makeTempDir({ prefix: "metalab-download-test-" });
  try {
    await fn(s, dir);
  } finally {
    await s.server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "download: both archives arrive verified, with progress, and are kept on a rerun",
  ignore,
  async fn() {
    await withServer(async ({ base, state }, dir) => {
      const reports: DownloadProgress[] = [];
      const results = await downloadOmniglot({
        dir,
        baseUrl: base,
        checksums,
        onProgress: (p) => reports.push(p),
      });
      assert.deepEqual(results.map((r) => r.skipped), [false, false]);
      for (const [f, hex] of Object.entries(SHARED_SHA256)) {
        assert.equal(await fileChecksum(join(dir, f), "sha256"), hex);
        assert.ok(!existsSync(join(dir, `${f}.partial`)));
      }
      const last = reports.filter((p) => p.done);
      assert.equal(last.length, 2);
      assert.equal(last[0].received, 8588032);
      assert.equal(last[0].total, 8588032);
      assert.match(
        formatProgress(last[0]),
        /images_background\.zip\s+100\.0%\s+8\.2 MB \/ 8\.2 MB/,
      );
      // A second run finds verified files and downloads nothing.
      const before = state.requests.length;
      const again = await downloadOmniglot({ dir, baseUrl: base, checksums });
      assert.deepEqual(again.map((r) => r.skipped), [true, true]);
      assert.equal(state.requests.length, before);
    });
  },
});

Deno.test({
  name: "download: a cut-off transfer leaves only a .partial file, and the next run resumes it",
  ignore,
  async fn() {
    await withServer(async ({ base, state }, dir) => {
      const dest = join(dir, "images_evaluation.zip");
      const url = `${base}images_evaluation.zip`;
      const expected = checksums["images_evaluation.zip"];
      state.mode = "cutoff";
      await assert.rejects(
        downloadFile(url, dest, { expected, retries: 0 }),
        /download failed after 1 attempt.*partial file .* is kept/,
      );
      assert.ok(!existsSync(dest), "no complete-looking file after a cut-off");
      const partialSize = (await Deno.stat(`${dest}.partial`)).size;
      assert.ok(partialSize > 0 && partialSize < 5863926, `partial size ${partialSize}`);
      state.mode = "normal";
      const result = await downloadFile(url, dest, { expected });
      assert.equal(result.resumed, true);
      assert.equal(state.requests.at(-1)!.range, `bytes=${partialSize}-`);
      assert.equal(await fileChecksum(dest, "sha256"), expected.hex);
      assert.ok(!existsSync(`${dest}.partial`));
    });
  },
});

Deno.test({
  name: "download: a retry resumes within one call; a server that ignores Range restarts cleanly",
  ignore,
  async fn() {
    await withServer(async ({ base, state }, dir) => {
      const dest = join(dir, "images_background.zip");
      const url = `${base}images_background.zip`;
      const expected = checksums["images_background.zip"];
      state.mode = "cutoff-once";
      const retried = await downloadFile(url, dest, { expected, retries: 1 });
      assert.equal(retried.resumed, true);
      assert.match(state.requests.at(-1)!.range ?? "", /^bytes=\d+-$/);
      assert.equal(await fileChecksum(dest, "sha256"), expected.hex);
      await Deno.remove(dest);
      state.mode = "cutoff";
      await assert.rejects(downloadFile(url, dest, { expected, retries: 0 }));
      state.mode = "no-range";
      const result = await downloadFile(url, dest, { expected });
      assert.equal(result.resumed, false);
      assert.equal(await fileChecksum(dest, "sha256"), expected.hex);
    });
  },
});

Deno.test({
  name: "download: a checksum mismatch is rejected and nothing is left behind",
  ignore,
  async fn() {
    await withServer(async ({ base }, dir) => {
      const dest = join(dir, "images_background.zip");
      await assert.rejects(
        downloadFile(`${base}images_background.zip`, dest, {
          expected: { algorithm: "sha256", hex: "0".repeat(64) },
        }),
        (err: Error) => {
          assert.ok(err instanceof ChecksumError);
          assert.match(err.message, /images_background\.zip: sha256 is 1c403bc8.*expected 0000/);
          return true;
        },
      );
      assert.ok(!existsSync(dest));
      assert.ok(!existsSync(`${dest}.partial`));
      // The default (official MD5) checksums reject the shared copy, which is a rebuilt zip.
      await assert.rejects(downloadOmniglot({ dir, baseUrl: base }), /md5 is .* expected 68d2efa1/);
    });
  },
});

Deno.test({
  name: "download: HTTP errors are reported, and an unreachable server reads as offline",
  ignore,
  async fn() {
    await withServer(async ({ base }, dir) => {
      await assert.rejects(
        downloadFile(`${base}nope.zip`, join(dir, "nope.zip"), { retries: 0 }),
        /HTTP 404/,
      );
    });
    // A port with nothing listening: start a server, note its port, stop it.
    const s = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => new Response());
    const port = s.addr.port;
    await s.shutdown();
    const dir = await Deno.makeTempDir();
    try {
      await assert.rejects(
        downloadOmniglot({ dir, baseUrl: `http://127.0.0.1:${port}/`, retries: 0 }),
        (err: Error) => {
          assert.ok(err instanceof OfflineError);
          assert.match(err.message, /cannot reach 127\.0\.0\.1:\d+.*\n.*offline.*by hand/s);
          return true;
        },
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** A port with nothing listening: start a server, note its port, stop it. */
async function deadPort(): Promise<number> {
  const s = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => new Response());
  const port = s.addr.port;
  await s.shutdown();
  return port;
}

Deno.test("download: a 404 does not promise a partial file that was never written", async () => {
  const s = serve({ "small.bin": new Uint8Array([1, 2, 3]) });
  const dir = await Deno.makeTempDir({ prefix: "metalab-download-404-" });
  try {
    const dest = join(dir, "nope.zip");
    await assert.rejects(downloadFile(`${s.base}nope.zip`, dest, { retries: 1 }), (err: Error) => {
      assert.match(err.message, /nope\.zip: download failed after 2 attempt\(s\): .*HTTP 404/);
      assert.match(err.message, /no partial file was written/);
      assert.doesNotMatch(err.message, /is kept/);
      return true;
    });
    assert.ok(!existsSync(`${dest}.partial`), "and indeed there is none");
    assert.deepEqual([...Deno.readDirSync(dir)], []);
    // When a cut-off transfer did leave one, the message names it with its size.
    s.state.mode = "cutoff";
    const big = join(dir, "big.bin");
    await assert.rejects(
      downloadFile(`${s.base}small.bin`, big, { retries: 0 }),
      new RegExp(
        `the partial file ${big}\\.partial \\(\\d+ B\\) is kept and the next run resumes it`,
      ),
    );
  } finally {
    await s.server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("download: offline, a file present that failed its checksum is named, not hidden", async () => {
  const dir = await Deno.makeTempDir({ prefix: "metalab-download-offline-" });
  try {
    const present = join(dir, "images_background.zip");
    const wrong = new TextEncoder().encode("not the archive");
    await Deno.writeFile(present, wrong);
    const actual = await fileChecksum(present, "md5");
    const port = await deadPort();
    await assert.rejects(
      downloadOmniglot({ dir, baseUrl: `http://127.0.0.1:${port}/`, retries: 0 }),
      (err: Error) => {
        assert.ok(err instanceof OfflineError, `an OfflineError: ${err}`);
        assert.ok(
          err.message.includes(
            `${present} is present but failed its checksum: md5 is ${actual}, ` +
              `expected ${OMNIGLOT_CHECKSUMS["images_background.zip"].hex}`,
          ),
          err.message,
        );
        assert.match(
          err.message,
          /offline.*by hand.*failed its checksum \(see above\): replace it/s,
        );
        assert.deepEqual(err.rejected.map((r) => [r.path, r.actualHex]), [[present, actual]]);
        return true;
      },
    );
    assert.deepEqual(await Deno.readFile(present), wrong, "the file present is left as it was");
    // With no file present the offline message does not mention one.
    await Deno.remove(present);
    await assert.rejects(
      downloadOmniglot({ dir, baseUrl: `http://127.0.0.1:${port}/`, retries: 0 }),
      (err: Error) => {
        assert.ok(err instanceof OfflineError);
        assert.deepEqual(err.rejected, []);
        assert.doesNotMatch(err.message, /failed its checksum/);
        return true;
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
