/**
 * `deno task lab [--install-only] [JUPYTER ARGS…]`: installs the Deno Jupyter kernelspec
 * for THIS Deno (`deno jupyter --install --force` run with `Deno.execPath()`, so the
 * kernel is the same Deno that runs the task, also under `npx -y deno@2`), then starts
 * JupyterLab (or, failing that, the classic Jupyter Notebook) in notebooks/. Where no
 * Jupyter front-end is installed it says how to get one.
 * @module
 */

const notebooksDir = new URL("../notebooks/", import.meta.url).pathname;
const args = Deno.args.filter((a) => a !== "--install-only");
const installOnly = args.length !== Deno.args.length;

async function succeeds(command: string, commandArgs: string[]): Promise<boolean> {
  try {
    const out = await new Deno.Command(command, {
      args: commandArgs,
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success;
  } catch {
    return false;
  }
}

const install = await new Deno.Command(Deno.execPath(), {
  args: ["jupyter", "--install", "--force", "--name", "deno", "--display", "Deno"],
  stdout: "inherit",
  stderr: "inherit",
}).output();
if (!install.success) {
  console.error("could not install the Deno kernelspec (`deno jupyter --install` failed)");
  Deno.exit(1);
}
// `deno jupyter --install` writes the `deno` it finds on PATH into the kernelspec; where
// there is none (Deno from `npx -y deno@2`), point the kernel at this very Deno.
const dataDir = Deno.env.get("JUPYTER_DATA_DIR") ??
  `${Deno.env.get("XDG_DATA_HOME") ?? `${Deno.env.get("HOME")}/.local/share`}/jupyter`;
const specPath = `${dataDir}/kernels/deno/kernel.json`;
try {
  const spec = JSON.parse(await Deno.readTextFile(specPath));
  let exists = false;
  try {
    exists = (await Deno.stat(spec.argv[0])).isFile;
  } catch { /* missing */ }
  if (!exists) {
    spec.argv[0] = Deno.execPath();
    await Deno.writeTextFile(`${specPath}.partial`, JSON.stringify(spec, null, 2) + "\n");
    await Deno.rename(`${specPath}.partial`, specPath);
  }
  console.log(`kernel "Deno" (${specPath}) runs ${spec.argv[0]}`);
} catch (e) {
  console.log(`kernel "Deno" installed (could not read ${specPath}: ${(e as Error).message})`);
}
if (installOnly) Deno.exit(0);

const frontEnds: { name: string; args: string[] }[] = [
  { name: "JupyterLab", args: ["lab"] },
  { name: "Jupyter Notebook", args: ["notebook"] },
];
for (const frontEnd of frontEnds) {
  if (!(await succeeds("jupyter", [...frontEnd.args, "--version"]))) continue;
  console.log(`starting ${frontEnd.name} in ${notebooksDir} (Ctrl-C to stop)`);
  const child = new Deno.Command("jupyter", {
    args: [...frontEnd.args, ...args],
    cwd: notebooksDir,
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  // Let Ctrl-C reach Jupyter (it asks to confirm) instead of killing this task first.
  Deno.addSignalListener("SIGINT", () => {});
  const status = await child.status;
  Deno.exit(status.code);
}

console.log(`The Deno kernel is installed, but no Jupyter front-end was found. Either:
  • JupyterLab:        pipx install jupyterlab   (or: python3 -m pip install --user jupyterlab)
  • classic Notebook:  sudo apt-get install jupyter-notebook   (Debian/Ubuntu)
  • VS Code:           install the "Deno" and "Jupyter" extensions, open notebooks/*.ipynb
                       and choose the kernel "Deno" (Select Kernel → Jupyter Kernel → Deno)
then run \`deno task lab\` again (or open the notebooks in VS Code).`);
