/**
 * The project's test command (`deno task test`): runs `deno test` over `tests/`, streams
 * its output, and ends with the plain line `N passed, N failed` that CI reads
 * (CI does not parse Deno's own summary format). Extra arguments go to `deno test`.
 * @module
 */
const args = ["test", "--allow-all", ...Deno.args];
if (!Deno.args.some((a) => !a.startsWith("-"))) args.push("tests/");
// One wasm thread for the suite unless asked otherwise: the suite is many small ops, which a
// thread pool only slows, and its timing should not depend on the machine's load at start
// (the library's default, the idle cores, is tested in tests/wasm_threads_test.ts, which
// runs the threaded build itself).
const env: Record<string, string> = {};
if (!Deno.env.get("METALAB_WASM_THREADS")) env.METALAB_WASM_THREADS = "1";
const child = new Deno.Command(Deno.execPath(), {
  args,
  env,
  stdout: "piped",
  stderr: "inherit",
}).spawn();

const decoder = new TextDecoder();
let tail = "";
for await (const chunk of child.stdout) {
  await Deno.stdout.write(chunk);
  tail = (tail + decoder.decode(chunk, { stream: true })).slice(-4000);
}
const status = await child.status;
// Deno's summary looks like: "ok | 12 passed (3 steps) | 0 failed | 1 ignored (4s)".
// deno-lint-ignore no-control-regex
const plain = tail.replace(/\x1b\[[0-9;]*m/g, "");
const summary = plain.match(/(\d+) passed[^|]*\|\s*(\d+) failed(?:[^|]*\|\s*(\d+) ignored)?/g);
let passed = 0;
let failed = status.success ? 0 : 1;
let ignored = 0;
if (summary) {
  const last = summary[summary.length - 1].match(
    /(\d+) passed[^|]*\|\s*(\d+) failed(?:[^|]*\|\s*(\d+) ignored)?/,
  )!;
  passed = Number(last[1]);
  failed = Number(last[2]);
  ignored = Number(last[3] ?? 0);
  // A non-zero exit with no failed test (a type error, a crash) still counts as a failure.
  if (!status.success && failed === 0) failed = 1;
}
console.log(`\n${passed} passed, ${failed} failed${ignored ? `, ${ignored} skipped` : ""}`);
Deno.exit(status.success ? 0 : 1);
