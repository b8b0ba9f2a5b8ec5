/**
 * A progress reporter for multi-phase work whose total is known only as it goes (the
 * shape `deno task reproduce` and the experiment runner use): `update(step, total,
 * values)`, `log(message)` between updates, `done()`. A change of total, or a step that goes
 * back (the next learner of an experiment), starts a new phase with its own rate and ETA.
 * @module
 */
import { detectMode, type Progress, progress, type ProgressOptions } from "./progress.ts";

/** Options of {@linkcode progressReporter}: those of `progress` except the total. */
export type ReporterOptions = Omit<ProgressOptions, "total">;

/** A phase-aware progress reporter. */
export interface ProgressReporter {
  /** Records `step` of `total` done with the latest values; a new total starts a new phase. */
  update(step: number, total: number, values?: Record<string, number>): void;
  /** Prints a message without garbling the live line (which is redrawn below it). */
  log(message: string): void;
  /** Finishes the current phase's display. */
  done(): Promise<void>;
}

const encoder = new TextEncoder();

/** Starts a reporter (see the module doc). */
export function progressReporter(options: ReporterOptions = {}): ProgressReporter {
  const write = options.write ?? ((text: string) => Deno.stdout.writeSync(encoder.encode(text)));
  const mode = !options.mode || options.mode === "auto" ? detectMode() : options.mode;
  let current: Progress | undefined;
  let currentTotal = 0;
  let pending: Promise<void> = Promise.resolve();

  const finishPhase = () => {
    if (!current) return;
    const finishing = current;
    current = undefined;
    pending = pending.then(() => finishing.done(undefined, finishing.state().step));
  };

  return {
    update(step, total, values) {
      if (!current || total !== currentTotal || step < current.state().step) {
        finishPhase();
        current = progress({ ...options, mode, write, total });
        currentTotal = total;
      }
      current.update(step, values);
    },
    log(message) {
      if (mode === "silent") return;
      if (mode === "notebook") {
        console.log(message);
      } else if (mode === "tty" && current) {
        write(`\r\x1b[K${message}\n`);
        current.redraw();
      } else {
        write(`${message}\n`);
      }
    },
    async done() {
      finishPhase();
      await pending;
    },
  };
}
