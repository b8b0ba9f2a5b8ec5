/**
 * Saving and loading meta-learned parameters (a tfjs IOHandler for Deno; atomic writes;
 * config and seed beside the weights).
 * @module
 */
export {
  denoFolderHandler,
  type HasParams,
  type LoadedParams,
  loadLearner,
  loadParams,
  PARAMS_FORMAT,
  type ParamsMetadata,
  saveLearner,
  saveParams,
} from "./params_io.ts";
