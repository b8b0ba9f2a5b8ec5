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
  | { kind: "choice"; choices: readonly string[]; quick: string; full: string; doc: string };

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
export function choiceField(
  choices: readonly string[],
  quick: string,
  full: string,
  doc: string,
): Extract<ConfigField, { kind: "choice" }> {
  return { kind: "choice", choices, quick, full, doc };
}

/** A schema: knob name → field. */
export type ConfigSchema = Record<string, ConfigField>;

/** The config type a schema describes. */
export type ConfigOf<S extends ConfigSchema> = {
  [K in keyof S]: S[K] extends { kind: "int" | "number" } ? number
    : S[K] extends { kind: "bool" } ? boolean
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
  }
}

/** Checks one value against its field, converting strings (from the CLI) as needed. */
export function coerceValue(
  key: string,
  field: ConfigField,
  raw: unknown,
): number | boolean | string {
  const fail = (): never => {
    throw new ConfigError(
      `invalid config value ${key}=${JSON.stringify(raw)}: expected ${describe(field)}`,
    );
  };
  switch (field.kind) {
    case "int":
    case "number": {
      const value = typeof raw === "string" && raw.trim() !== "" ? Number(raw) : raw;
      if (typeof value !== "number" || !Number.isFinite(value)) return fail();
      if (field.kind === "int" && !Number.isInteger(value)) return fail();
      if (value < field.min || value > field.max) return fail();
      return value;
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
  for (const [key, field] of Object.entries(schema)) config[key] = field[preset];
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
