/**
 * Grids of grayscale images (support and query sets, prototypes, filters): either one
 * heatmap subplot per image, or all images composed into one picture.
 * @module
 */
import type { PlotlyFigure, PlotlyTrace, TensorLike } from "./types.ts";

/** A stack of grayscale images: a tensor `[n,h,w]`, `[n,h,w,1]` or `[h,w]`, or raw values with a shape. */
export type ImageStack = TensorLike | { data: ArrayLike<number>; shape: number[] };

/** A stack read into one flat array, row-major `[n,h,w]`. */
export interface Images {
  /** Number of images. */
  n: number;
  /** Height in pixels. */
  h: number;
  /** Width in pixels. */
  w: number;
  /** Pixel values, row-major `[n,h,w]`. */
  data: Float32Array;
}

/** Reads an {@linkcode ImageStack} into a flat `[n,h,w]` array, with a clear error for a bad shape. */
export function readImages(stack: ImageStack): Images {
  const shape = [...stack.shape];
  const values = "dataSync" in stack ? stack.dataSync() : stack.data;
  if (shape.length === 4 && shape[3] === 1) shape.pop();
  if (shape.length === 2) shape.unshift(1);
  if (shape.length !== 3 || shape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new Error(
      `images: expected a shape [n,h,w], [n,h,w,1] or [h,w] of positive sizes, got [${stack.shape}]`,
    );
  }
  const [n, h, w] = shape;
  if (values.length !== n * h * w) {
    throw new Error(
      `images: shape [${stack.shape}] needs ${n * h * w} values, got ${values.length}`,
    );
  }
  return { n, h, w, data: Float32Array.from(values) };
}

/** Options of the image grids. */
export interface ImageGridOptions {
  /** Images per row (default: up to 10). */
  cols?: number;
  /** Figure title. */
  title?: string;
  /** One caption per image (e.g. its label). */
  captions?: string[];
  /** Pixel size of one image cell on screen (default 60). */
  cellSize?: number;
  /** Draw high values dark (default true: ink on paper, as Omniglot strokes are 1). */
  inkOnPaper?: boolean;
  /** Pixels of padding between composed images (composed grid only; default 2). */
  pad?: number;
}

function gridSize(n: number, cols?: number): { rows: number; cols: number } {
  const c = Math.max(1, Math.min(n, cols ?? Math.min(n, 10)));
  return { rows: Math.ceil(n / c), cols: c };
}

function imageRows(img: Images, k: number): number[][] {
  const rows: number[][] = [];
  for (let y = 0; y < img.h; y++) {
    const start = (k * img.h + y) * img.w;
    rows.push(Array.from(img.data.subarray(start, start + img.w)));
  }
  return rows;
}

const GREYS_INK = [[0, "#ffffff"], [1, "#000000"]];
const GREYS_LIGHT = [[0, "#000000"], [1, "#ffffff"]];

/**
 * One heatmap subplot per image, laid out in a grid with hidden axes and optional
 * captions. Best for up to a few dozen images (each is its own trace).
 */
export function imageGridFigure(stack: ImageStack, options: ImageGridOptions = {}): PlotlyFigure {
  const img = readImages(stack);
  const { rows, cols } = gridSize(img.n, options.cols);
  const cell = options.cellSize ?? 60;
  const captionSpace = options.captions ? 0.25 : 0.08;
  let lo = Infinity, hi = -Infinity;
  for (const v of img.data) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (hi === lo) hi = lo + 1;
  const layout: Record<string, unknown> = {
    width: cols * cell + 40,
    height: rows * cell * (1 + captionSpace) + (options.title ? 60 : 20),
    margin: { l: 20, r: 20, t: options.title ? 50 : 10, b: 10 },
    showlegend: false,
    annotations: [] as unknown[],
  };
  if (options.title) layout.title = { text: options.title };
  const data: PlotlyTrace[] = [];
  for (let k = 0; k < img.n; k++) {
    const r = Math.floor(k / cols), c = k % cols;
    const suffix = k === 0 ? "" : String(k + 1);
    const gap = 0.04;
    const x0 = c / cols + gap / cols, x1 = (c + 1) / cols - gap / cols;
    const yTop = 1 - r / rows, yBottom = 1 - (r + 1) / rows;
    const y1 = yTop - gap / rows, y0 = yBottom + (captionSpace / (1 + captionSpace)) / rows;
    data.push({
      type: "heatmap",
      z: imageRows(img, k),
      zmin: lo,
      zmax: hi,
      colorscale: options.inkOnPaper === false ? GREYS_LIGHT : GREYS_INK,
      showscale: false,
      xaxis: `x${suffix}`,
      yaxis: `y${suffix}`,
      hovertemplate: `image ${k}<br>(%{x}, %{y}) = %{z}<extra></extra>`,
    });
    const axis = { visible: false, showgrid: false, zeroline: false, fixedrange: true };
    layout[`xaxis${suffix}`] = { ...axis, domain: [x0, x1], anchor: `y${suffix}` };
    layout[`yaxis${suffix}`] = {
      ...axis,
      domain: [y0, y1],
      anchor: `x${suffix}`,
      autorange: "reversed",
      scaleanchor: `x${suffix}`,
    };
    if (options.captions?.[k] !== undefined) {
      (layout.annotations as unknown[]).push({
        text: options.captions[k],
        x: (x0 + x1) / 2,
        y: y0,
        xref: "paper",
        yref: "paper",
        xanchor: "center",
        yanchor: "top",
        showarrow: false,
        font: { size: 11 },
      });
    }
  }
  return { data, layout, config: { displaylogo: false, staticPlot: false } };
}

/**
 * Composes a stack into one picture (`rows × cols` tiles separated by `pad` pixels of
 * the background value, the stack's minimum). Returns the pixels, row-major.
 */
export function composeImages(
  stack: ImageStack,
  options: { cols?: number; pad?: number } = {},
): { pixels: Float32Array; height: number; width: number; rows: number; cols: number } {
  const img = readImages(stack);
  const { rows, cols } = gridSize(img.n, options.cols);
  const pad = options.pad ?? 2;
  if (!Number.isInteger(pad) || pad < 0) {
    throw new Error(`composeImages: pad must be an integer ≥ 0, got ${pad}`);
  }
  const height = rows * img.h + (rows + 1) * pad;
  const width = cols * img.w + (cols + 1) * pad;
  let background = Infinity;
  for (const v of img.data) if (v < background) background = v;
  const pixels = new Float32Array(height * width).fill(background);
  for (let k = 0; k < img.n; k++) {
    const top = pad + Math.floor(k / cols) * (img.h + pad);
    const left = pad + (k % cols) * (img.w + pad);
    for (let y = 0; y < img.h; y++) {
      const src = (k * img.h + y) * img.w;
      pixels.set(img.data.subarray(src, src + img.w), (top + y) * width + left);
    }
  }
  return { pixels, height, width, rows, cols };
}

/**
 * All images composed into one heatmap (one trace, so it stays light for hundreds of
 * images): e.g. a whole 20-way 5-shot support set.
 */
export function composedImageFigure(
  stack: ImageStack,
  options: ImageGridOptions = {},
): PlotlyFigure {
  const { pixels, height, width } = composeImages(stack, options);
  const z: number[][] = [];
  for (let y = 0; y < height; y++) z.push(Array.from(pixels.subarray(y * width, (y + 1) * width)));
  const scale = Math.max(1, Math.min(4, Math.floor(900 / width)));
  const axis = { visible: false, showgrid: false, zeroline: false };
  return {
    data: [{
      type: "heatmap",
      z,
      colorscale: options.inkOnPaper === false ? GREYS_LIGHT : GREYS_INK,
      showscale: false,
      hovertemplate: "(%{x}, %{y}) = %{z}<extra></extra>",
    }],
    layout: {
      title: options.title ? { text: options.title } : undefined,
      width: width * scale + 40,
      height: height * scale + (options.title ? 70 : 30),
      margin: { l: 20, r: 20, t: options.title ? 50 : 10, b: 20 },
      xaxis: { ...axis, constrain: "domain" },
      yaxis: { ...axis, autorange: "reversed", scaleanchor: "x" },
    },
    config: { displaylogo: false },
  };
}
