//! Contact sheets: grids of images, each fitted into a square cell.

use image::imageops::{self, FilterType};
use image::{Rgb, RgbImage};

use crate::fill_rect;
use crate::font::{draw_text, fit_text, text_width, wrap_text, GLYPH_H, LINE_H};

/// Layout and colours of a contact sheet.
///
/// Size of the result, with `span(n) = n * cell + (n - 1) * gap` (0 for n = 0):
/// * width  = `2 * margin + row_band + span(columns)`, where `row_band` is
///   `row_label_width + gap` if `row_labels` is non-empty, else 0;
/// * height = `2 * margin + title_band + col_band + span(rows)`, where `title_band`
///   is `LINE_H * title_scale + margin` if `title` is a non-empty string, and
///   `col_band` is `col_label_lines * LINE_H * label_scale + gap` if `col_labels`
///   is non-empty.
///
/// Label bands have a fixed size so the layout never depends on the label text;
/// labels that are too long are wrapped and then truncated with "..".
#[derive(Clone, Debug)]
pub struct SheetOptions {
    /// Side of the square cell each image is fitted into, in pixels.
    pub cell: u32,
    /// Space between cells (and between the label bands and the cells).
    pub gap: u32,
    /// Space around the whole sheet.
    pub margin: u32,
    /// Canvas colour, also used for letterboxing.
    pub background: Rgb<u8>,
    /// Colour of labels and title.
    pub text_color: Rgb<u8>,
    /// Colour of the frame and cross of a missing (`None`) cell.
    pub missing_color: Rgb<u8>,
    /// Font scale of row and column labels (the font is 5x8 pixels at scale 1).
    pub label_scale: u32,
    /// Font scale of the title.
    pub title_scale: u32,
    /// Lines of text reserved above the columns for the column labels.
    pub col_label_lines: u32,
    /// Width of the band left of the rows for the row labels.
    pub row_label_width: u32,
    /// Labels above the columns (column j gets `col_labels[j]`); empty: no band.
    pub col_labels: Vec<String>,
    /// Labels left of the rows (row i gets `row_labels[i]`); empty: no band.
    pub row_labels: Vec<String>,
    /// Title drawn centred at the top.
    pub title: Option<String>,
}

impl Default for SheetOptions {
    fn default() -> Self {
        SheetOptions {
            cell: 192,
            gap: 4,
            margin: 8,
            background: Rgb([242, 242, 242]),
            text_color: Rgb([32, 32, 32]),
            missing_color: Rgb([190, 190, 190]),
            label_scale: 1,
            title_scale: 2,
            col_label_lines: 3,
            row_label_width: 120,
            col_labels: Vec::new(),
            row_labels: Vec::new(),
            title: None,
        }
    }
}

/// What a grid cell holds; `Blank` exists for the corner of [`header_sheet`].
#[derive(Clone, Copy)]
enum Cell<'a> {
    Image(&'a RgbImage),
    Missing,
    Blank,
}

/// Draws `grid` (rows of cells; `None` is a missing result, drawn as an empty
/// cell with a thin cross). Rows may have different lengths: the sheet has as many
/// columns as the longest row and shorter rows are padded with missing cells.
/// See [`SheetOptions`] for the exact size.
pub fn contact_sheet(grid: &[Vec<Option<RgbImage>>], opts: &SheetOptions) -> RgbImage {
    let cells: Vec<Vec<Cell>> = grid
        .iter()
        .map(|row| {
            row.iter()
                .map(|c| c.as_ref().map_or(Cell::Missing, Cell::Image))
                .collect()
        })
        .collect();
    render(&cells, opts)
}

/// The evaluation layout: row 0 is a blank corner followed by the `styles`,
/// column 0 holds the `photos`, and `results[i][j]` (photo i in style j) sits at
/// row i + 1, column j + 1; absent results are drawn as missing cells.
///
/// `opts.col_labels` and `opts.row_labels`, if given, name the styles and the
/// photos (they are shifted past the header row and column here).
pub fn header_sheet(
    photos: &[RgbImage],
    styles: &[RgbImage],
    results: &[Vec<RgbImage>],
    opts: &SheetOptions,
) -> RgbImage {
    let mut cells: Vec<Vec<Cell>> = Vec::with_capacity(photos.len() + 1);
    let mut header = vec![Cell::Blank];
    header.extend(styles.iter().map(Cell::Image));
    cells.push(header);
    for (i, photo) in photos.iter().enumerate() {
        let mut row = vec![Cell::Image(photo)];
        for j in 0..styles.len() {
            row.push(
                results
                    .get(i)
                    .and_then(|r| r.get(j))
                    .map_or(Cell::Missing, Cell::Image),
            );
        }
        cells.push(row);
    }
    let mut o = opts.clone();
    if !o.col_labels.is_empty() {
        o.col_labels.insert(0, String::new());
    }
    if !o.row_labels.is_empty() {
        o.row_labels.insert(0, String::new());
    }
    let mut img = render(&cells, &o);
    draw_header_rules(&mut img, &o, cells.len() as u32, styles.len() as u32 + 1);
    img
}

fn span(n: u32, cell: u32, gap: u32) -> u32 {
    if n == 0 {
        0
    } else {
        n * cell + (n - 1) * gap
    }
}

/// Pixel offsets of the grid's top-left corner: (x, y).
fn grid_origin(opts: &SheetOptions) -> (u32, u32) {
    let row_band = if opts.row_labels.is_empty() {
        0
    } else {
        opts.row_label_width + opts.gap
    };
    let title_band = match &opts.title {
        Some(t) if !t.is_empty() => LINE_H * opts.title_scale + opts.margin,
        _ => 0,
    };
    let col_band = if opts.col_labels.is_empty() {
        0
    } else {
        opts.col_label_lines * LINE_H * opts.label_scale + opts.gap
    };
    (opts.margin + row_band, opts.margin + title_band + col_band)
}

fn render(cells: &[Vec<Cell>], opts: &SheetOptions) -> RgbImage {
    let rows = cells.len() as u32;
    let cols = cells.iter().map(|r| r.len()).max().unwrap_or(0) as u32;
    let (gx, gy) = grid_origin(opts);
    let step = opts.cell + opts.gap;
    let width = (gx + span(cols, opts.cell, opts.gap) + opts.margin).max(1);
    let height = (gy + span(rows, opts.cell, opts.gap) + opts.margin).max(1);
    let mut img = RgbImage::from_pixel(width, height, opts.background);

    if let Some(title) = opts.title.as_deref().filter(|t| !t.is_empty()) {
        let avail = width.saturating_sub(2 * opts.margin);
        let t = fit_text(title, opts.title_scale, avail);
        let tx = (width - text_width(&t, opts.title_scale)) / 2;
        draw_text(
            &mut img,
            tx as i32,
            opts.margin as i32,
            &t,
            opts.title_scale,
            opts.text_color,
        );
    }

    let ls = opts.label_scale;
    if !opts.col_labels.is_empty() {
        let lines_max = opts.col_label_lines as usize;
        for (j, label) in opts.col_labels.iter().enumerate().take(cols as usize) {
            let lines = wrap_text(label, ls, opts.cell, lines_max);
            // Bottom-aligned so every label sits just above its column.
            let n = lines.len() as u32;
            let block_h = if n == 0 {
                0
            } else {
                ((n - 1) * LINE_H + GLYPH_H) * ls
            };
            let y0 = gy - opts.gap - block_h;
            let cx = gx + j as u32 * step;
            for (k, line) in lines.iter().enumerate() {
                let lx = cx + (opts.cell - text_width(line, ls).min(opts.cell)) / 2;
                let ly = y0 + k as u32 * LINE_H * ls;
                draw_text(&mut img, lx as i32, ly as i32, line, ls, opts.text_color);
            }
        }
    }

    if !opts.row_labels.is_empty() {
        let line_h = LINE_H * ls;
        let lines_max = (opts.cell / line_h.max(1)).max(1) as usize;
        for (i, label) in opts.row_labels.iter().enumerate().take(rows as usize) {
            let lines = wrap_text(label, ls, opts.row_label_width, lines_max);
            let n = lines.len() as u32;
            let block_h = if n == 0 {
                0
            } else {
                ((n - 1) * LINE_H + GLYPH_H) * ls
            };
            // Vertically centred on the row, left-aligned in the band.
            let y0 = gy + i as u32 * step + opts.cell.saturating_sub(block_h) / 2;
            for (k, line) in lines.iter().enumerate() {
                let ly = y0 + k as u32 * line_h;
                draw_text(
                    &mut img,
                    opts.margin as i32,
                    ly as i32,
                    line,
                    ls,
                    opts.text_color,
                );
            }
        }
    }

    for (i, row) in cells.iter().enumerate() {
        for j in 0..cols as usize {
            let x = gx + j as u32 * step;
            let y = gy + i as u32 * step;
            match row.get(j).copied().unwrap_or(Cell::Missing) {
                Cell::Image(im) if im.width() > 0 && im.height() > 0 => {
                    let fitted = fit_into(im, opts.cell);
                    let ox = x + (opts.cell - fitted.width()) / 2;
                    let oy = y + (opts.cell - fitted.height()) / 2;
                    imageops::replace(&mut img, &fitted, ox as i64, oy as i64);
                }
                Cell::Blank => {}
                _ => draw_missing(&mut img, x, y, opts.cell, opts.missing_color),
            }
        }
    }
    img
}

/// Resizes `im` to fit a `cell` x `cell` square, aspect kept.
fn fit_into(im: &RgbImage, cell: u32) -> RgbImage {
    let (w, h) = (im.width() as f64, im.height() as f64);
    let s = (cell as f64 / w).min(cell as f64 / h);
    let nw = ((w * s).round() as u32).clamp(1, cell);
    let nh = ((h * s).round() as u32).clamp(1, cell);
    if (nw, nh) == im.dimensions() {
        return im.clone();
    }
    // Lanczos3 keeps thumbnails sharp; image's resize widens the kernel when
    // shrinking, so large photos do not alias.
    imageops::resize(im, nw, nh, FilterType::Lanczos3)
}

/// A thin frame and a diagonal cross: "this result is missing", visibly distinct
/// from a white or grey image.
fn draw_missing(img: &mut RgbImage, x: u32, y: u32, cell: u32, c: Rgb<u8>) {
    if cell == 0 {
        return;
    }
    let (x, y, n) = (x as i64, y as i64, cell as i64);
    fill_rect(img, x, y, n, 1, c);
    fill_rect(img, x, y + n - 1, n, 1, c);
    fill_rect(img, x, y, 1, n, c);
    fill_rect(img, x + n - 1, y, 1, n, c);
    for k in 0..n {
        fill_rect(img, x + k, y + k, 1, 1, c);
        fill_rect(img, x + n - 1 - k, y + k, 1, 1, c);
    }
}

/// Thin rules in the gaps after the header row and column, so the inputs read as
/// headers rather than as results.
fn draw_header_rules(img: &mut RgbImage, opts: &SheetOptions, rows: u32, cols: u32) {
    if opts.gap < 3 {
        return;
    }
    let (gx, gy) = grid_origin(opts);
    let c = opts.missing_color;
    let w = span(cols, opts.cell, opts.gap) as i64;
    let h = span(rows, opts.cell, opts.gap) as i64;
    let mid = (opts.cell + opts.gap / 2) as i64;
    if rows > 1 {
        fill_rect(img, gx as i64, gy as i64 + mid, w, 1, c);
    }
    if cols > 1 {
        fill_rect(img, gx as i64 + mid, gy as i64, 1, h, c);
    }
}
