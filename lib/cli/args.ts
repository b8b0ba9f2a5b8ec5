/**
 * A small, strict command-line parser for the `deno task` entry points: flags are
 * declared up front, so a typo gets an error naming it instead of being ignored.
 * @module
 */

/** Declared flags: name → kind. */
export type FlagSpec = Record<string, "bool" | "string" | "list">;

/** Parsed arguments. */
export interface ParsedArgs {
  /** Positional arguments. */
  positional: string[];
  /** Flags: bool → true, string → value, list → all values given. */
  flags: Record<string, boolean | string | string[]>;
}

/**
 * Parses `argv` against `spec`. Accepts `--name value`, `--name=value`, and `--bool`.
 *
 * @example
 * ```ts
 * const { positional, flags } = parseArgs(["a", "--seed", "3"], { seed: "string" });
 * ```
 */
export function parseArgs(argv: string[], spec: FlagSpec): ParsedArgs {
  const positional: string[] = [];
  const flags: ParsedArgs["flags"] = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("--")) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
    const kind = spec[name];
    if (!kind) {
      throw new Error(
        `unknown option --${name}; known options: ${
          Object.keys(spec).map((k) => `--${k}`).join(", ")
        }`,
      );
    }
    if (kind === "bool") {
      if (eq > 0) throw new Error(`option --${name} takes no value`);
      flags[name] = true;
      continue;
    }
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new Error(`option --${name} needs a value`);
    if (kind === "list") flags[name] = [...((flags[name] as string[]) ?? []), value];
    else flags[name] = value;
  }
  return { positional, flags };
}
