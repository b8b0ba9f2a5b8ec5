/**
 * Typed, validated experiment configurations. Every experiment declares a schema: each
 * knob has a kind, an allowed range and a quick and a full preset value. Overrides from
 * the command line or a notebook are checked against it, so a bad value fails at once
 * with the key and the allowed range in the message.
 * @module
 */

/** One configurable knob of an experiment. */
export type ConfigField =
  | { kind: "int"; min: number; max: number; quick: number; full: number; doc: string }
  | { kind: "number"; min: number; max: number; quick: number; full: number; doc: string }
  | { kind: "bool"; quick: boolean; full: boolean; doc: string }
  | { kind: "choice"; choices: readonly string[]; quick: string; full: string; doc: string }
  | {
    kind: "numbers";
    min: number;
    max: number;
    quick: readonly number[];
    full: readonly number[];
    doc: string;
  };

/** An integer knob in [min, max] with its quick and full values. */
export function intField(
  min: number,
  max: number,
  quick: number,
  full: number,
  doc: string,
): Extract<ConfigField, { kind: "int" }> {
  return { kind: "int", min, max, quick, full, doc };
}

/** A real-valued knob in [min, max] with its quick and full values. */
export function numberField(
  min: number,
  max: number,
  quick: number,
  full: number,
  doc: string,
): Extract<ConfigField, { kind: "number" }> {
  return { kind: "number", min, max, quick, full, doc };
}

/** A yes/no knob. */
export function boolField(
  quick: boolean,
  full: boolean,
  doc: string,
): Extract<ConfigField, { kind: "bool" }> {
  return { kind: "bool", quick, full, doc };
}

/** A knob that takes one of `choices`. */
export function choiceField<C extends string>(
  choices: readonly C[],
  quick: NoInfer<C>,
  full: NoInfer<C>,
  doc: string,
): { kind: "choice"; choices: readonly C[]; quick: C; full: C; doc: string } {
  return { kind: "choice", choices, quick, full, doc };
}

/** A list of real-valued knobs in [min, max] (e.g. the λ values of a sweep; CLI: `0,1e-3,0.1`). */
export function numbersField(
  min: number,
  max: number,
  quick: readonly number[],
  full: readonly number[],
  doc: string,
): Extract<ConfigField, { kind: "numbers" }> {
  return { kind: "numbers", min, max, quick, full, doc };
}

/** A schema: knob name → field. */
export type ConfigSchema = Record<string, ConfigField>;

/** The config type a schema describes. */
export type ConfigOf<S extends ConfigSchema> = {
  [K in keyof S]: S[K] extends { kind: "int" | "number" } ? number
    : S[K] extends { kind: "bool" } ? boolean
    : S[K] extends { kind: "numbers" } ? number[]
    : S[K] extends { choices: readonly (infer C)[] } ? C
    : string;
};

/** Which preset to start from. */
export type Preset = "quick" | "full";

/** An invalid configuration value: names the key and what is allowed. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

function describe(field: ConfigField): string {
  switch (field.kind) {
    case "int":
      return `an integer in [${field.min}, ${field.max}]`;
    case "number":
      return `a number in [${field.min}, ${field.max}]`;
    case "bool":
      return "true or false";
    case "choice":
      return `one of ${field.choices.join(", ")}`;
    case "numbers":
      return `a non-empty comma-separated list of numbers in [${field.min}, ${field.max}]`;
  }
}

// Plain decimal notation only: `Number()` would also take "0x10" (16), "0b11", "" (0) and
// " " (0), which nobody means as a step count.
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

function parseNumber(raw: unknown): number {
  if (typeof raw === "number") return raw;
  if (typeof raw === "string" && DECIMAL.test(raw.trim())) return Number(raw.trim());
  return NaN;
}

/** Checks one value against its field, converting strings (from the CLI) as needed. */
export function coerceValue(
  key: string,
  field: ConfigField,
  raw: unknown,
): number | boolean | string | number[] {
  const fail = (): never => {
    throw new ConfigError(
      `invalid config value ${key}=${JSON.stringify(raw)}: expected ${describe(field)}`,
    );
  };
  switch (field.kind) {
    case "int":
    case "number": {
      const value = parseNumber(raw);
      if (!Number.isFinite(value)) return fail();
      if (field.kind === "int" && !Number.isInteger(value)) return fail();
      if (value < field.min || value > field.max) return fail();
      return value;
    }
    case "numbers": {
      const items = Array.isArray(raw) ? raw : typeof raw === "string" ? raw.split(",") : [];
      const values = items.map(parseNumber);
      if (values.length === 0) return fail();
      if (values.some((v) => !Number.isFinite(v) || v < field.min || v > field.max)) {
        return fail();
      }
      return values as unknown as number;
    }
    case "bool":
      if (raw === true || raw === "true" || raw === "1") return true;
      if (raw === false || raw === "false" || raw === "0") return false;
      return fail();
    case "choice":
      if (typeof raw !== "string" || !field.choices.includes(raw)) return fail();
      return raw;
  }
}

/**
 * Builds a config from a preset plus overrides, validating every override.
 *
 * @example
 * ```ts
 * const cfg = resolveConfig(schema, "quick", { steps: "200" });
 * ```
 */
export function resolveConfig<S extends ConfigSchema>(
  schema: S,
  preset: Preset,
  overrides: Record<string, unknown> = {},
): ConfigOf<S> {
  const config: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(schema)) {
    config[key] = Array.isArray(field[preset]) ? [...field[preset] as number[]] : field[preset];
  }
  for (const [key, raw] of Object.entries(overrides)) {
    const field = schema[key];
    if (!field) {
      throw new ConfigError(
        `unknown config key "${key}": known keys are ${Object.keys(schema).join(", ")}`,
      );
    }
    config[key] = coerceValue(key, field, raw);
  }
  return config as ConfigOf<S>;
}

/**
 * Problems with a schema itself: a preset value outside its own field's range (it could
 * then not be given back with `--set`). Empty when the schema is sound; tests check every
 * experiment's.
 */
export function schemaProblems(schema: ConfigSchema): string[] {
  const problems: string[] = [];
  for (const [key, field] of Object.entries(schema)) {
    for (const preset of ["quick", "full"] as const) {
      try {
        coerceValue(key, field, field[preset]);
      } catch (e) {
        problems.push(`the ${preset} value of ${key}: ${(e as Error).message}`);
      }
    }
  }
  return problems;
}

/**
 * Parses `key=value` strings (as given by `--set key=value`) into an overrides object.
 */
export function parseOverrides(pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new ConfigError(`expected key=value, got "${pair}"`);
    out[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  return out;
}

/**
 * The config of a saved run (a trained model's), as an evaluation of it resolves it: the
 * preset it started from (`quick`, else `full`), the saved values of the schema's keys over
 * it, then `overrides`, each checked by the schema. Keys the schema no longer has are dropped.
 */
export function savedConfig<S extends ConfigSchema>(
  schema: S,
  saved: { preset: string; config: Record<string, unknown> },
  overrides: Record<string, unknown> = {},
): { preset: Preset; config: ConfigOf<S> } {
  const preset: Preset = saved.preset === "quick" ? "quick" : "full";
  const base = Object.fromEntries(Object.entries(saved.config).filter(([k]) => k in schema));
  return { preset, config: resolveConfig(schema, preset, { ...base, ...overrides }) };
}
