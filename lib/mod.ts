/**
 * MetaLab's public entry point: re-exports each layer of the library.
 * (Each layer adds its line here; lower layers first.)
 * @module
 */
export * from "./files/mod.ts";
export * from "./random/mod.ts";
export * from "./backend/mod.ts";
export * from "./models/mod.ts";
export * from "./datasets/mod.ts";
export * from "./tasks/mod.ts";
export * from "./plot/mod.ts";
export * from "./progress/mod.ts";
export * from "./meta/mod.ts";
export * from "./eval/mod.ts";
export * from "./distill/mod.ts";
export * from "./interpret/mod.ts";
export * from "./zeroshot/mod.ts";
export * from "./io/mod.ts";
export * from "./experiments/mod.ts";
export * from "./sweep/mod.ts";
