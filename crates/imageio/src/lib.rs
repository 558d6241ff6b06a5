//! Robust image I/O for `stylize`.
//!
//! * [`load`] / [`load_from_bytes`]: detect the format from the content (never the
//!   extension), refuse oversized files and decompression bombs from the header alone,
//!   apply EXIF orientation, and normalise everything to 8-bit RGB with the alpha
//!   channel (if any) kept aside.
//! * [`save`] / [`encode_to_vec`]: PNG, JPEG or WebP chosen by the output extension,
//!   optional text metadata, alpha re-attached where the format can carry it, and an
//!   atomic write (temporary file in the same directory, then rename).
//! * [`convert`]: aspect-preserving resizes.
//! * [`mask`]: masks that say where a result is stylized (resized, feathered, blended).
//!
//! Every failure is an [`ImageError`] whose `Display` is one line naming the file.

pub mod colour;
pub mod convert;
mod error;
mod limits;
mod load;
pub mod mask;
mod save;

pub use colour::preserve_colour;
pub use convert::{check_size, fit, resize_to_max_side, resize_to_short_side, SizeError, Sizing};
pub use error::ImageError;
pub use limits::{Limits, DEFAULT_MAX_FILE_BYTES, DEFAULT_MAX_PIXELS};
pub use load::{load, load_from_bytes, LoadedImage};
pub use save::{
    attach_alpha, encode_to_vec, save, OutputFormat, SaveOptions, DEFAULT_JPEG_QUALITY,
};

/// Re-exported so callers name exactly the `image` version this crate was built with.
pub use image;
pub use image::{GrayImage, RgbImage, RgbaImage};
