/**
 * Recorded runs: the typed result of a run whose result is what happened while it trained.
 *
 * Most experiments save trained models, and a notebook shows their full-run numbers in
 * seconds by evaluating those models again (`courseRun`'s `trained` mode). Some cannot: a
 * data-scarcity sweep, a distillation study over 28 networks, a cost measurement or a
 * zero-shot comparison *is* its training, and re-running it takes as long as the run. For
 * those (experiments without a `learner` hook) `reproduce` writes the experiment's own
 * typed result beside `result.json`, as `details.json`, and a notebook reads that back: the
 * numbers of the real run, not recomputed, with the run's commit and wall time in its label.
 *
 * JSON cannot hold everything a result holds, so the codec keeps what it would lose:
 * non-finite numbers (a diverged loss is NaN, an unreached accuracy −Infinity), −0, typed
 * arrays, `undefined` inside arrays. A result the codec cannot reproduce exactly (a class
 * instance, a function, a Map) is not recorded at all, and the run's notes say so: a notebook
 * would otherwise show something other than what the run computed.
 * @module
 */
import { atomicWrite } from "../files/mod.ts";
import type { RunIdentity } from "./results.ts";

/** The file a recorded run's typed result is kept in, beside `result.json`. */
export const DETAILS_FILE = "details.json";
/** The format of {@linkcode DETAILS_FILE}; a reader refuses any other. */
export const DETAILS_SCHEMA = "metalab.details/1";

/** What {@linkcode DETAILS_FILE} holds: whose run it is, and its typed result, encoded. */
export interface DetailsRecord extends RunIdentity {
  schema: typeof DETAILS_SCHEMA;
  /** The commit the run was made from, when known. */
  commit: string | null;
  /** {@linkcode encodeDetails} of the experiment's typed result. */
  details: unknown;
}

const TYPED = {
  Float32Array,
  Float64Array,
  Int32Array,
  Uint8Array,
  Int8Array,
  Uint16Array,
  Int16Array,
  Uint32Array,
} as const;
type TypedName = keyof typeof TYPED;

/** Why a value cannot be recorded, with where it is (`details.a[3].b`). */
export class UnrecordableError extends Error {
  override name = "UnrecordableError";
}

/**
 * Encodes a typed result as plain JSON: non-finite numbers and −0 as `{"$number": "NaN"}`,
 * typed arrays as `{"$typed": "Float32Array", "values": […]}`, holes and `undefined` in arrays
 * as `{"$undefined": true}`; `undefined` object fields are dropped (as JSON does).
 *
 * @throws UnrecordableError naming the path of a value JSON cannot carry back (a class
 * instance, a Map, a function, a bigint, a symbol, a cycle)
 * @example
 * ```ts
 * const text = JSON.stringify(encodeDetails({ loss: [0.5, NaN] }));
 * decodeDetails(JSON.parse(text)); // { loss: [0.5, NaN] }
 * ```
 */
export function encodeDetails(value: unknown, path = "details", seen = new Set<object>()): unknown {
  if (typeof value === "number") {
    if (Number.isFinite(value) && !Object.is(value, -0)) return value;
    return { $number: Object.is(value, -0) ? "-0" : String(value) };
  }
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (value === undefined) return { $undefined: true };
  if (typeof value !== "object") {
    throw new UnrecordableError(`${path}: a ${typeof value} cannot be recorded as JSON`);
  }
  if (seen.has(value)) throw new UnrecordableError(`${path}: a cycle cannot be recorded`);
  seen.add(value);
  try {
    if (ArrayBuffer.isView(value)) {
      const name = value.constructor.name as TypedName;
      if (!(name in TYPED)) {
        throw new UnrecordableError(`${path}: a ${name} cannot be recorded`);
      }
      return {
        $typed: name,
        values: Array.from(value as unknown as ArrayLike<number>, (x) => encodeDetails(x)),
      };
    }
    if (Array.isArray(value)) {
      return Array.from(value, (x, i) => encodeDetails(x, `${path}[${i}]`, seen));
    }
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      throw new UnrecordableError(
        `${path}: a ${proto?.constructor?.name ?? "class"} instance cannot be recorded ` +
          "(only plain objects, arrays, typed arrays, numbers, strings, booleans and null)",
      );
    }
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) {
      if (v === undefined) continue;
      if (typeof v === "function") {
        throw new UnrecordableError(`${path}.${key}: a function cannot be recorded`);
      }
      out[key] = encodeDetails(v, `${path}.${key}`, seen);
    }
    return out;
  } finally {
    seen.delete(value);
  }
}

/** The inverse of {@linkcode encodeDetails}. */
export function decodeDetails(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(decodeDetails);
  if (value === null || typeof value !== "object") return value;
  const v = value as Record<string, unknown>;
  if (typeof v.$number === "string" && Object.keys(v).length === 1) {
    return v.$number === "-0" ? -0 : Number(v.$number);
  }
  if (v.$undefined === true && Object.keys(v).length === 1) return undefined;
  if (typeof v.$typed === "string" && Array.isArray(v.values) && Object.keys(v).length === 2) {
    const Ctor = TYPED[v.$typed as TypedName];
    if (!Ctor) throw new Error(`details: unknown typed array "${v.$typed}"`);
    return Ctor.from(v.values.map((x) => decodeDetails(x) as number));
  }
  const out: Record<string, unknown> = {};
  for (const [key, x] of Object.entries(v)) out[key] = decodeDetails(x);
  return out;
}

/** Whether two decoded values are the same, NaN equal to NaN and −0 apart from 0. */
function same(a: unknown, b: unknown): boolean {
  if (typeof a === "number" && typeof b === "number") return Object.is(a, b);
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return a === b;
  if (ArrayBuffer.isView(a) || ArrayBuffer.isView(b)) {
    if (!ArrayBuffer.isView(a) || !ArrayBuffer.isView(b)) return false;
    if (a.constructor !== b.constructor) return false;
    const x = a as unknown as ArrayLike<number>, y = b as unknown as ArrayLike<number>;
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) return false;
    return true;
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const x = a as unknown[], y = b as unknown[];
    return x.length === y.length && x.every((v, i) => same(v, y[i]));
  }
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  return ka.every((k) =>
    same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])
  );
}

/**
 * Writes `details` of the run `identity` to `<dir>/details.json` (atomically) when it can be
 * read back exactly; returns null then, else why it was not recorded (for the run's notes).
 */
export async function writeDetails(
  dir: string,
  identity: RunIdentity,
  commit: string | null,
  details: unknown,
): Promise<string | null> {
  let encoded: unknown;
  try {
    encoded = encodeDetails(details);
  } catch (e) {
    if (e instanceof UnrecordableError) return `details not recorded: ${e.message}`;
    throw e;
  }
  const text = JSON.stringify({ schema: DETAILS_SCHEMA, ...identity, commit, details: encoded });
  if (!same(decodeDetails(JSON.parse(text).details), details)) {
    return "details not recorded: they do not read back as computed";
  }
  await atomicWrite(`${dir}/${DETAILS_FILE}`, text + "\n");
  return null;
}

/**
 * Reads `<dir>/details.json`: the record, its typed result decoded, or null when there is
 * none. A file of another format or whose run is not `experiment` is an error naming both.
 */
export async function readDetails(
  dir: string,
  experiment: string,
): Promise<(DetailsRecord & { details: unknown }) | null> {
  const path = `${dir}/${DETAILS_FILE}`;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  const record = JSON.parse(text) as DetailsRecord;
  if (record.schema !== DETAILS_SCHEMA) {
    throw new Error(
      `${path}: expected schema "${DETAILS_SCHEMA}", found ${JSON.stringify(record.schema)}`,
    );
  }
  if (record.experiment !== experiment) {
    throw new Error(`${path}: expected a run of "${experiment}", found "${record.experiment}"`);
  }
  return { ...record, details: decodeDetails(record.details) };
}

/**
 * The training histories in `details` (objects holding a `step: number[]` with arrays of the
 * same length beside it, as `metaTrain` returns) kept at every `every`-th step and the last,
 * everything else as it is: a recorded run of 20,000 meta-steps per learner is megabytes of
 * per-step losses no notebook plots (the result's curves are already thinned). For shipping;
 * say where it was done (models/README.md lists it).
 *
 * @example
 * ```ts
 * thinHistories({ h: { step: [0, 1, 2, 3], loss: [4, 3, 2, 1], wallMs: 9 } }, 2);
 * // { h: { step: [0, 2, 3], loss: [4, 2, 1], wallMs: 9 } }
 * ```
 */
export function thinHistories(details: unknown, every: number): unknown {
  if (!Number.isInteger(every) || every < 1) {
    throw new RangeError(`thinHistories: every must be a whole number ≥ 1, got ${every}`);
  }
  const visit = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(visit);
    if (value === null || typeof value !== "object" || ArrayBuffer.isView(value)) return value;
    const v = value as Record<string, unknown>;
    const steps = v.step;
    const isHistory = Array.isArray(steps) && steps.length > 0 &&
      steps.every((s) => typeof s === "number");
    const out: Record<string, unknown> = {};
    for (const [key, x] of Object.entries(v)) {
      if (isHistory && Array.isArray(x) && x.length === (steps as number[]).length) {
        const n = x.length;
        out[key] = x.filter((_, i) => i % every === 0 || i === n - 1);
      } else {
        out[key] = visit(x);
      }
    }
    return out;
  };
  return visit(details);
}
