//! Report images for `stylize`: pure drawing into [`image::RgbImage`], no I/O.
//!
//! * [`contact_sheet`] / [`header_sheet`]: grids of images fitted into square cells,
//!   with optional title, column and row labels.
//! * [`loss_plot`]: one panel per training-loss series (own y range, raw curve and
//!   moving average).
//! * [`draw_text`] / [`text_width`]: a small built-in 5x8 bitmap font, so that the
//!   server and CLI can label images without font files.

mod font;
mod plot;
mod sheet;

pub use font::{
    draw_text, fit_text, text_height, text_width, wrap_text, ADVANCE, GLYPH_H, GLYPH_W, LINE_H,
};
pub use plot::{format_compact, loss_plot, PlotOptions, Series};
pub use sheet::{contact_sheet, header_sheet, SheetOptions};

/// Re-exported so callers name exactly the `image` version this crate was built with.
pub use image;
pub use image::{Rgb, RgbImage};

/// Fills the rectangle, clipped to the image (shared by the sheet and the plot).
pub(crate) fn fill_rect(img: &mut RgbImage, x: i64, y: i64, w: i64, h: i64, c: Rgb<u8>) {
    let (iw, ih) = (img.width() as i64, img.height() as i64);
    for py in y.max(0)..(y + h).min(ih) {
        for px in x.max(0)..(x + w).min(iw) {
            img.put_pixel(px as u32, py as u32, c);
        }
    }
}
