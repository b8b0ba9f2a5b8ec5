/**
 * Kubernetes: one Indexed Job per sweep (`completionMode: Indexed`, one completion index
 * per scheduler task of the plan), whose pods run the same task script as Slurm's array
 * tasks on `JOB_COMPLETION_INDEX`, so index i runs the same runs on both. The sweep folder
 * is a volume (a PersistentVolumeClaim) mounted at the same path in every pod; the image
 * holds the project (and Deno). Running it needs a cluster; the tests check the manifest
 * against the plan by executing its script for every index.
 * @module
 */
import { runTimeLimitS, type SweepPlan, taskTimeS } from "./plan.ts";
import { shellQuote, taskScript } from "./script.ts";

/** Where things are inside the pods, and what each pod asks for. */
export interface K8sOptions {
  /** The container image: the project at `root`, Deno on the PATH (default `metalab:latest`). */
  image?: string;
  /** The project folder in the image (default `/app`). */
  root?: string;
  /** The PersistentVolumeClaim that holds the sweep folder (default `metalab-sweeps`). */
  claim?: string;
  /** Where the sweep folder is mounted in each pod (default `/sweeps/<name>`). */
  mountPath?: string;
  /** Pods at once (default: all tasks). */
  parallelism?: number;
  /** CPU request per pod (`2`, `500m`). */
  cpus?: string;
  /** Memory request per pod (`4Gi`). */
  mem?: string;
  /** `--force` instead of `--resume`. */
  force?: boolean;
  /** The time per task (default the spec's). */
  time?: string;
}

/** A Kubernetes object name from a sweep name (lower case, `-`, at most 63 characters). */
function objectName(name: string): string {
  return `metalab-sweep-${name.toLowerCase().replace(/[^a-z0-9-]+/g, "-")}`.slice(0, 63)
    .replace(/-+$/, "");
}

/**
 * The Indexed Job manifest of a plan, as a JSON object (`kubectl apply -f` takes JSON).
 * Each pod first writes the plan as `sweep.json` into the mounted folder if it is not
 * there, so `deno task sweep status` and `merge` work wherever the volume is mounted.
 *
 * @example
 * ```ts
 * const job = k8sManifest(plan, { image: "registry.example/metalab:1", claim: "sweeps" });
 * await Deno.writeTextFile("job.json", JSON.stringify(job, null, 2));
 * ```
 */
export function k8sManifest(plan: SweepPlan, options: K8sOptions = {}): Record<string, unknown> {
  const mountPath = options.mountPath ?? `/sweeps/${plan.spec.name}`;
  const seconds = taskTimeS(plan, options.time);
  const script = taskScript(plan, {
    sweepDir: mountPath,
    root: options.root ?? "/app",
    deno: "deno",
    indexVar: "JOB_COMPLETION_INDEX",
    timeLimitS: runTimeLimitS(plan, seconds),
    force: options.force,
  });
  const writePlan = `[ -e ${shellQuote(`${mountPath}/sweep.json`)} ] || printf '%s\\n' ${
    shellQuote(JSON.stringify(plan))
  } >${shellQuote(`${mountPath}/sweep.json`)}\n`;
  const requests: Record<string, string> = {};
  if (options.cpus) requests.cpu = options.cpus;
  if (options.mem) requests.memory = options.mem;
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: {
      name: objectName(plan.spec.name),
      labels: { "app.kubernetes.io/name": "metalab-sweep", "metalab/sweep": plan.spec.name },
    },
    spec: {
      completionMode: "Indexed",
      completions: plan.tasks,
      parallelism: Math.min(options.parallelism ?? plan.tasks, plan.tasks),
      // A pod that fails is retried (its runs resume from their checkpoints), each index on
      // its own budget (Kubernetes ≥ 1.29), so one failing run does not stop the others.
      backoffLimitPerIndex: 2,
      template: {
        metadata: { labels: { "metalab/sweep": plan.spec.name } },
        spec: {
          restartPolicy: "Never",
          // The scheduler's time limit of a task, as Slurm's --time is.
          activeDeadlineSeconds: seconds,
          containers: [{
            name: "run",
            image: options.image ?? "metalab:latest",
            workingDir: options.root ?? "/app",
            command: ["bash", "-c", writePlan + script],
            ...(Object.keys(requests).length ? { resources: { requests } } : {}),
            volumeMounts: [{ name: "sweep", mountPath }],
          }],
          volumes: [{
            name: "sweep",
            persistentVolumeClaim: { claimName: options.claim ?? "metalab-sweeps" },
          }],
        },
      },
    },
  };
}
