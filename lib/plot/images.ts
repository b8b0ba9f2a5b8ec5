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
  /** Figure title; wrapped onto more lines, with a taller top margin, when it is long. */
  title?: string;
  /**
   * One caption per image (e.g. its label), under it; wrapped at spaces and `/ _ @ -` onto
   * up to three lines of the image's width, cut with "…" beyond (the hover shows it whole).
   */
  captions?: string[];
  /** Pixel width of one image on screen (default 60). */
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

/** Title and caption typography, in pixels. */
const TITLE_FONT = 14;
/** Plotly sets lines 1.3 font sizes apart. */
const TITLE_LINE = Math.ceil(TITLE_FONT * 1.3);
// Plotly anchors a title by its first line's cap height, so its line box starts ~3 px higher.
const TITLE_TOP = 14;
const CAPTION_FONT = 10;
const CAPTION_LINE = Math.ceil(CAPTION_FONT * 1.3);
const CAPTION_MAX_LINES = 3;
/**
 * Average glyph width as a fraction of the font size, on the wide side (DejaVu Sans, the
 * fallback of Plotly's "Open Sans" on a bare Linux, is about 0.6): the layout has to know
 * how long a text is before the browser measures it, so it errs towards more room.
 */
const CHAR_WIDTH = 0.62;
/** A title is wrapped at this figure width rather than widening the figure further. */
const MAX_TITLE_WIDTH = 640;
const SIDE_MARGIN = 10;

/**
 * Breaks `text` into lines of at most `maxChars` characters: at spaces first, then after
 * `/`, `_`, `@` or `-` inside a long word, then anywhere. More than `maxLines` lines are
 * cut, the last one ending in "…".
 *
 * @example
 * ```ts
 * wrapText("Old_Church_Slavonic/character05", 12); // ["Old_Church_", "Slavonic/", "character05"]
 * ```
 */
export function wrapText(text: string, maxChars: number, maxLines = Infinity): string[] {
  if (!(maxChars >= 1)) throw new RangeError(`wrapText: maxChars must be ≥ 1, got ${maxChars}`);
  if (!(maxLines >= 1)) throw new RangeError(`wrapText: maxLines must be ≥ 1, got ${maxLines}`);
  const width = Math.floor(maxChars);
  // Tokens with what joins them to the previous one on a line: " " between words, ""
  // inside a word split after a separator or, failing that, every `width` characters.
  const tokens: { text: string; joiner: string }[] = [];
  for (const word of text.split(/\s+/).filter((w) => w.length > 0)) {
    const segments = word.match(/[^/_@-]*[/_@-]+|[^/_@-]+$/g) ?? [word];
    segments.forEach((segment, i) => {
      for (let at = 0; at < segment.length; at += width) {
        tokens.push({
          text: segment.slice(at, at + width),
          joiner: i === 0 && at === 0 ? " " : "",
        });
      }
    });
  }
  const lines: string[] = [];
  for (const { text: token, joiner } of tokens) {
    const last = lines.length - 1;
    if (last >= 0 && lines[last].length + joiner.length + token.length <= width) {
      lines[last] += joiner + token;
    } else {
      lines.push(token);
    }
  }
  if (lines.length <= maxLines) return lines;
  const kept = lines.slice(0, maxLines);
  const tail = kept[maxLines - 1];
  kept[maxLines - 1] = (tail.length >= width ? tail.slice(0, width - 1) : tail) + "…";
  return kept;
}

/** Plotly reads `<` as the start of a tag in texts: escape it (and `&`, `>`). */
function plotlyText(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * A figure's width and title for content `contentWidth` pixels wide: at least as wide as
 * the title asks (up to {@linkcode MAX_TITLE_WIDTH}), the title wrapped to that width,
 * and the top margin its lines need.
 */
function titleBlock(
  title: string | undefined,
  contentWidth: number,
): { width: number; top: number; lines: string[] } {
  const asked = title
    ? Math.min(MAX_TITLE_WIDTH, title.length * TITLE_FONT * CHAR_WIDTH + 2 * SIDE_MARGIN + 4)
    : 0;
  const width = Math.ceil(Math.max(contentWidth + 2 * SIDE_MARGIN, asked));
  if (!title) return { width, top: 8, lines: [] };
  const lines = wrapText(title, (width - 2 * SIDE_MARGIN) / (TITLE_FONT * CHAR_WIDTH), 4);
  return { width, top: TITLE_TOP + lines.length * TITLE_LINE + 10, lines };
}

/** Plotly's title attributes: the lines centred, their top `TITLE_TOP` px below the edge. */
function titleAttrs(lines: string[], height: number): Record<string, unknown> {
  return {
    text: lines.map(plotlyText).join("<br>"),
    font: { size: TITLE_FONT },
    x: 0.5,
    xanchor: "center",
    xref: "container",
    y: 1 - TITLE_TOP / height,
    yanchor: "top",
    yref: "container",
  };
}

/**
 * One heatmap subplot per image, laid out in a grid with hidden axes and optional
 * captions. Best for up to a few dozen images (each is its own trace).
 *
 * The layout is computed in pixels: each row is the images' height plus a caption band
 * as tall as the row's longest caption (wrapped); the figure is at least as wide as the
 * title (up to 640 px, wrapped beyond), and the top margin grows with the title's lines,
 * so neither titles nor captions are cut or overlap.
 *
 * @example
 * ```ts
 * const stack = { data: new Float32Array(4 * 28 * 28), shape: [4, 28, 28] };
 * await show(imageGridFigure(stack, { cols: 4, captions: ["0°", "90°", "180°", "270°"], title: "Rotations" }));
 * ```
 */
export function imageGridFigure(stack: ImageStack, options: ImageGridOptions = {}): PlotlyFigure {
  const img = readImages(stack);
  const { rows, cols } = gridSize(img.n, options.cols);
  const cellW = options.cellSize ?? 60;
  if (!(cellW > 0)) throw new RangeError(`imageGridFigure: cellSize must be > 0, got ${cellW}`);
  const cellH = cellW * img.h / img.w;
  const colGap = Math.max(6, Math.round(cellW * 0.1));
  const colW = cellW + colGap;
  // Captions wrap to the width of their column (less a pixel each side).
  const captionChars = Math.max(1, (colW - 2) / (CAPTION_FONT * CHAR_WIDTH));
  const captionLines = Array.from(
    { length: img.n },
    (_, k) =>
      options.captions?.[k] !== undefined
        ? wrapText(options.captions[k], captionChars, CAPTION_MAX_LINES)
        : [],
  );
  // Each row is its images plus a caption band as tall as its longest caption (none for a
  // row without captions), so a gallery captioned in its first row only stays compact.
  const rowGap = 6;
  const rowTops: number[] = [];
  let gridH = 0;
  for (let r = 0; r < rows; r++) {
    const lines = Math.max(0, ...captionLines.slice(r * cols, (r + 1) * cols).map((l) => l.length));
    rowTops.push(gridH);
    gridH += cellH + (lines > 0 ? 3 + lines * CAPTION_LINE + 3 : 0) + rowGap;
  }
  const gridW = cols * colW;
  const title = titleBlock(options.title, gridW);
  const width = title.width;
  const plotW = width - 2 * SIDE_MARGIN;
  const height = Math.ceil(title.top + gridH + 4);
  const offsetX = (plotW - gridW) / 2; // the grid is centred under a wider title
  let lo = Infinity, hi = -Infinity;
  for (const v of img.data) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (hi === lo) hi = lo + 1;
  const layout: Record<string, unknown> = {
    width,
    height,
    margin: { l: SIDE_MARGIN, r: SIDE_MARGIN, t: title.top, b: 4, pad: 0 },
    showlegend: false,
    annotations: [] as unknown[],
  };
  if (options.title) layout.title = titleAttrs(title.lines, height);
  const data: PlotlyTrace[] = [];
  for (let k = 0; k < img.n; k++) {
    const r = Math.floor(k / cols), c = k % cols;
    const suffix = k === 0 ? "" : String(k + 1);
    // Pixel box of the image inside the plot area (origin top-left), then paper fractions.
    const left = offsetX + c * colW + colGap / 2, top = rowTops[r];
    const x0 = left / plotW, x1 = (left + cellW) / plotW;
    const y1 = 1 - top / gridH, y0 = 1 - (top + cellH) / gridH;
    const caption = options.captions?.[k];
    data.push({
      type: "heatmap",
      z: imageRows(img, k),
      zmin: lo,
      zmax: hi,
      colorscale: options.inkOnPaper === false ? GREYS_LIGHT : GREYS_INK,
      showscale: false,
      xaxis: `x${suffix}`,
      yaxis: `y${suffix}`,
      hovertemplate: `${caption !== undefined ? plotlyText(caption) : `image ${k}`}` +
        `<br>(%{x}, %{y}) = %{z}<extra></extra>`,
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
    if (captionLines[k].length > 0) {
      (layout.annotations as unknown[]).push({
        text: captionLines[k].map(plotlyText).join("<br>"),
        x: (x0 + x1) / 2,
        y: 1 - (top + cellH + 3) / gridH,
        xref: "paper",
        yref: "paper",
        xanchor: "center",
        yanchor: "top",
        // A fixed box the width of the column: a caption the estimate got wrong is
        // clipped at its column rather than drawn over its neighbour.
        width: colW - 2,
        height: captionLines[k].length * CAPTION_LINE + 2,
        valign: "top",
        showarrow: false,
        font: { size: CAPTION_FONT },
      });
    }
  }
  // No mode bar: it would sit over the title, and the axes are fixed (nothing to zoom).
  return { data, layout, config: { displaylogo: false, displayModeBar: false } };
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
  const title = titleBlock(options.title, width * scale);
  const figureHeight = Math.ceil(title.top + height * scale + 10);
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
      title: options.title ? titleAttrs(title.lines, figureHeight) : undefined,
      width: title.width,
      height: figureHeight,
      margin: { l: SIDE_MARGIN, r: SIDE_MARGIN, t: title.top, b: 10, pad: 0 },
      xaxis: { ...axis, constrain: "domain" },
      yaxis: { ...axis, autorange: "reversed", scaleanchor: "x", constrain: "domain" },
    },
    // No mode bar over the title; drag-to-zoom and double-click reset still work.
    config: { displaylogo: false, displayModeBar: false },
  };
}
