/**
 * Access to the Deno Jupyter kernel's display API, when code runs inside the kernel.
 * @module
 */

/** The part of `Deno.jupyter` MetaLab uses (injectable in tests). */
export interface JupyterDisplay {
  /** Sends a message on the IOPub channel (`display_data`, `update_display_data`, …). */
  broadcast(msgType: string, content: Record<string, unknown>): Promise<void>;
}

/** A Jupyter MIME bundle: MIME type → data. */
export type MimeBundle = Record<string, unknown>;

/**
 * `Deno.jupyter` when running in the Deno Jupyter kernel, else `undefined` (outside the
 * kernel, touching `Deno.jupyter` throws).
 */
export function jupyterDisplay(): JupyterDisplay | undefined {
  try {
    const api = Deno.jupyter;
    return typeof api?.broadcast === "function" ? api : undefined;
  } catch {
    return undefined;
  }
}

/** Whether this code runs inside the Deno Jupyter kernel. */
export function inNotebook(): boolean {
  return jupyterDisplay() !== undefined;
}

let displayCounter = 0;

/** A display id unique within this kernel session, for outputs updated in place. */
export function newDisplayId(prefix = "metalab"): string {
  displayCounter += 1;
  return `${prefix}-${Date.now().toString(36)}-${displayCounter}`;
}

/**
 * Shows a bundle as a new output (`display_data`), or replaces the output shown earlier
 * under the same `displayId` (`update_display_data`), as IPython's `display(..., display_id)`.
 */
export async function sendDisplay(
  api: JupyterDisplay,
  bundle: MimeBundle,
  options: { displayId?: string; update?: boolean } = {},
): Promise<void> {
  const content: Record<string, unknown> = { data: bundle, metadata: {} };
  if (options.displayId) content.transient = { display_id: options.displayId };
  if (options.update && !options.displayId) {
    throw new Error("sendDisplay: an update needs the displayId of the output it replaces");
  }
  await api.broadcast(options.update ? "update_display_data" : "display_data", content);
}
