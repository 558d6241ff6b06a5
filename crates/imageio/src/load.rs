//! Decoding: bytes -> 8-bit RGB + optional alpha, with limits checked from the header.

use std::fs::File;
use std::io::{self, Cursor, Read};
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;

use image::metadata::Orientation;
use image::{DynamicImage, GrayImage, ImageDecoder, ImageFormat, RgbImage};

use crate::error::{one_line, ImageError};
use crate::limits::Limits;

/// A decoded image, upright (EXIF orientation applied), as 8-bit RGB.
#[derive(Clone, Debug)]
pub struct LoadedImage {
    /// The colour channels; grayscale, palette, 16-bit and CMYK sources are converted.
    pub rgb: RgbImage,
    /// The alpha channel, same size as `rgb`. `None` when the source has no alpha, or has
    /// one that is fully opaque (so GIFs and opaque RGBA PNGs do not drag a useless channel
    /// through the pipeline). Re-attach it with [`crate::save`] or [`crate::attach_alpha`].
    pub alpha: Option<GrayImage>,
    /// The format found in the content (not the file extension).
    pub format: ImageFormat,
}

impl LoadedImage {
    /// `(width, height)` after orientation.
    pub fn dimensions(&self) -> (u32, u32) {
        self.rgb.dimensions()
    }
}

/// Read and decode the image file at `path`.
///
/// The format is detected from the content; a wrong extension does not matter. The file
/// size is checked before reading and the pixel count from the header before decoding.
pub fn load(path: &Path, limits: &Limits) -> Result<LoadedImage, ImageError> {
    let name = path.display().to_string();
    let bytes = read_limited(path, &name, limits)?;
    load_from_bytes(&bytes, &name, limits)
}

/// Decode an image held in memory (e.g. an HTTP upload). `name` only appears in errors.
pub fn load_from_bytes(
    bytes: &[u8],
    name: &str,
    limits: &Limits,
) -> Result<LoadedImage, ImageError> {
    let path = || name.to_string();
    if bytes.is_empty() {
        return Err(ImageError::Empty { path: path() });
    }
    let len = bytes.len() as u64;
    if len > limits.max_file_bytes {
        return Err(ImageError::FileTooLarge {
            path: path(),
            bytes: len,
            limit: limits.max_file_bytes,
        });
    }
    let format = image::guess_format(bytes).map_err(|_| ImageError::NotAnImage { path: path() })?;
    if !matches!(
        format,
        ImageFormat::Jpeg
            | ImageFormat::Png
            | ImageFormat::WebP
            | ImageFormat::Tiff
            | ImageFormat::Bmp
            | ImageFormat::Gif
    ) {
        return Err(ImageError::UnsupportedFormat {
            path: path(),
            format: format_name(format),
        });
    }
    // Decoders are third-party code fed hostile input; a panic there must become an
    // error for this one file, not take down the CLI batch or the HTTP server.
    match panic::catch_unwind(AssertUnwindSafe(|| decode(bytes, format, name, limits))) {
        Ok(result) => result,
        Err(_) => Err(ImageError::Corrupt {
            path: path(),
            format: format_name(format),
            detail: "the decoder failed on this input".into(),
        }),
    }
}

/// Read the whole file, refusing directories and files over the byte limit before
/// reading them (and, for streams whose size is unknown, after `limit + 1` bytes).
fn read_limited(path: &Path, name: &str, limits: &Limits) -> Result<Vec<u8>, ImageError> {
    let file = File::open(path).map_err(|e| read_error(name, e))?;
    let meta = file.metadata().map_err(|e| read_error(name, e))?;
    // On Linux, opening a directory succeeds; reading it is what fails.
    if meta.is_dir() {
        return Err(ImageError::IsDirectory { path: name.into() });
    }
    if meta.is_file() && meta.len() > limits.max_file_bytes {
        return Err(ImageError::FileTooLarge {
            path: name.into(),
            bytes: meta.len(),
            limit: limits.max_file_bytes,
        });
    }
    let cap = limits.max_file_bytes.saturating_add(1);
    let mut bytes = Vec::with_capacity(if meta.is_file() {
        usize::try_from(meta.len().min(cap)).unwrap_or(0)
    } else {
        0
    });
    file.take(cap)
        .read_to_end(&mut bytes)
        .map_err(|e| read_error(name, e))?;
    Ok(bytes)
}

fn read_error(name: &str, e: io::Error) -> ImageError {
    let path = name.to_string();
    match e.kind() {
        io::ErrorKind::NotFound => ImageError::NotFound { path },
        io::ErrorKind::PermissionDenied => ImageError::PermissionDenied { path },
        _ => ImageError::Read {
            path,
            detail: one_line(e),
        },
    }
}

fn decode(
    bytes: &[u8],
    format: ImageFormat,
    name: &str,
    limits: &Limits,
) -> Result<LoadedImage, ImageError> {
    let fname = format_name(format);
    let map = |e| map_image_error(e, name, fname);

    let mut reader = image::ImageReader::with_format(Cursor::new(bytes), format);
    // Constructing the decoder only parses the header. Our own pixel check must run
    // first so a bomb gets the clear `--max-pixels` message rather than image's
    // allocation error; image's guard is installed right after.
    reader.no_limits();
    let mut decoder = reader.into_decoder().map_err(map)?;

    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(ImageError::Corrupt {
            path: name.into(),
            format: fname,
            detail: format!("the header says {width}x{height}"),
        });
    }
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(ImageError::TooManyPixels {
            path: name.into(),
            width,
            height,
            limit: limits.max_pixels,
        });
    }
    // zune-jpeg decodes a cut-off file without complaint and fills the rest with grey;
    // stylizing half a photo silently is worse than saying the file is broken.
    if format == ImageFormat::Jpeg && jpeg_missing_eoi(bytes) {
        return Err(ImageError::Corrupt {
            path: name.into(),
            format: fname,
            detail: "no end-of-image marker, the file is cut short".into(),
        });
    }

    // Second guard: image's own allocation limit, in case a decoder's header lies or a
    // decoder needs far more than the output buffer.
    let mut image_limits = image::Limits::default();
    image_limits.max_alloc = Some(limits.decoder_alloc_budget());
    image_limits.reserve(decoder.total_bytes()).map_err(map)?;
    decoder.set_limits(image_limits).map_err(map)?;

    // A malformed EXIF block must not cost the user the photo: fall back to upright.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(map)?;
    img.apply_orientation(orientation);

    let (rgb, alpha) = split_alpha(img);
    Ok(LoadedImage { rgb, alpha, format })
}

/// 8-bit RGB plus the alpha channel, which is dropped when fully opaque.
fn split_alpha(img: DynamicImage) -> (RgbImage, Option<GrayImage>) {
    if !img.color().has_alpha() {
        // Converts gray, 16-bit and float sources too.
        return (img.into_rgb8(), None);
    }
    let rgba = img.into_rgba8();
    let (w, h) = rgba.dimensions();
    let mut rgb = RgbImage::new(w, h);
    let mut alpha = GrayImage::new(w, h);
    let mut opaque = true;
    for ((src, dst), a) in rgba.pixels().zip(rgb.pixels_mut()).zip(alpha.pixels_mut()) {
        dst.0.copy_from_slice(&src.0[..3]);
        a.0[0] = src.0[3];
        opaque &= src.0[3] == u8::MAX;
    }
    (rgb, if opaque { None } else { Some(alpha) })
}

fn map_image_error(e: image::ImageError, name: &str, format: &'static str) -> ImageError {
    let path = name.to_string();
    match e {
        image::ImageError::Limits(l) => ImageError::MemoryLimit {
            path,
            detail: one_line(l),
        },
        image::ImageError::Unsupported(u) => ImageError::UnsupportedVariant {
            path,
            format,
            detail: one_line(u),
        },
        // We decode from memory, so an I/O error means the data ran out.
        image::ImageError::IoError(io) if io.kind() == io::ErrorKind::UnexpectedEof => {
            ImageError::Corrupt {
                path,
                format,
                detail: "unexpected end of data".into(),
            }
        }
        other => ImageError::Corrupt {
            path,
            format,
            detail: one_line(other),
        },
    }
}

fn format_name(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Jpeg => "JPEG",
        ImageFormat::Png => "PNG",
        ImageFormat::WebP => "WebP",
        ImageFormat::Tiff => "TIFF",
        ImageFormat::Bmp => "BMP",
        ImageFormat::Gif => "GIF",
        ImageFormat::Avif => "AVIF",
        ImageFormat::Ico => "ICO",
        ImageFormat::Pnm => "PNM",
        ImageFormat::Hdr => "HDR",
        ImageFormat::OpenExr => "OpenEXR",
        ImageFormat::Qoi => "QOI",
        ImageFormat::Dds => "DDS",
        ImageFormat::Tga => "TGA",
        ImageFormat::Farbfeld => "farbfeld",
        _ => "this image format",
    }
}

/// True when a JPEG has entropy-coded data but no EOI marker after it, i.e. it was cut
/// short. Trailing bytes after EOI are fine (common from cameras). Returns false when the
/// header itself cannot be walked, leaving that diagnosis to the decoder.
fn jpeg_missing_eoi(bytes: &[u8]) -> bool {
    match first_scan_offset(bytes) {
        // Inside entropy-coded data 0xFF is always followed by 0x00 or RSTn, so the
        // first FF D9 after the first SOS is the real EOI (an EXIF thumbnail, which has
        // its own SOS/EOI, lives in APP1 before it and is skipped by the header walk).
        Some(start) => !bytes[start..].windows(2).any(|w| w == [0xFF, 0xD9]),
        None => false,
    }
}

/// Offset just after the first SOS marker, found by walking the marker segments.
fn first_scan_offset(b: &[u8]) -> Option<usize> {
    if b.get(..2)? != [0xFF, 0xD8] {
        return None;
    }
    let mut i = 2;
    loop {
        if *b.get(i)? != 0xFF {
            return None;
        }
        while *b.get(i)? == 0xFF {
            i += 1; // fill bytes
        }
        let marker = b[i];
        i += 1;
        match marker {
            0xDA => return Some(i),
            0x01 | 0xD0..=0xD7 => {} // stand-alone markers
            0xD8 | 0xD9 => return None,
            _ => {
                let len = usize::from(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]));
                if len < 2 {
                    return None;
                }
                i += len;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(marker: u8, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![0xFF, marker];
        v.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn eoi_check_walks_segments_and_ignores_thumbnails() {
        // APP1 holding a fake thumbnail with its own SOS and EOI.
        let mut j = vec![0xFF, 0xD8];
        j.extend(segment(0xE1, &[0xFF, 0xDA, 0x00, 0x01, 0xFF, 0xD9]));
        j.extend(segment(0xDB, &[0u8; 65]));
        j.extend(segment(0xDA, &[1, 1, 0, 0, 63, 0]));
        j.extend([0x12, 0xFF, 0x00, 0x34]);
        assert!(jpeg_missing_eoi(&j), "cut after scan data");
        let mut complete = j.clone();
        complete.extend([0xFF, 0xD9, 0x00, 0x00]); // trailing junk after EOI is fine
        assert!(!jpeg_missing_eoi(&complete));
        // A header that cannot be walked is left to the decoder.
        assert!(!jpeg_missing_eoi(&[0xFF, 0xD8, 0x00]));
        assert!(!jpeg_missing_eoi(&[0xFF, 0xD8, 0xFF, 0xE0, 0x00]));
        assert!(!jpeg_missing_eoi(b"not a jpeg"));
    }

    #[test]
    fn opaque_alpha_is_dropped_and_real_alpha_kept() {
        let opaque = image::RgbaImage::from_pixel(3, 2, image::Rgba([1, 2, 3, 255]));
        let (rgb, alpha) = split_alpha(DynamicImage::ImageRgba8(opaque));
        assert_eq!(rgb.get_pixel(2, 1).0, [1, 2, 3]);
        assert!(alpha.is_none());

        let mut half = image::RgbaImage::from_pixel(3, 2, image::Rgba([9, 8, 7, 255]));
        half.put_pixel(1, 1, image::Rgba([4, 5, 6, 10]));
        let (rgb, alpha) = split_alpha(DynamicImage::ImageRgba8(half));
        let alpha = alpha.expect("alpha kept");
        assert_eq!(alpha.get_pixel(1, 1).0, [10]);
        assert_eq!(alpha.get_pixel(0, 0).0, [255]);
        assert_eq!(rgb.get_pixel(1, 1).0, [4, 5, 6]);
    }

    #[test]
    fn empty_and_unknown_bytes_are_refused_with_the_name() {
        let l = Limits::default();
        let e = load_from_bytes(&[], "upload.jpg", &l).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot read upload.jpg: file is empty (0 bytes)"
        );
        let e = load_from_bytes(b"hello world", "upload.jpg", &l).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot read upload.jpg: not an image (unrecognised content)"
        );
        // A recognised but unsupported format (PNM) names the format.
        let e = load_from_bytes(b"P6\n1 1\n255\n\0\0\0", "x.ppm", &l).unwrap_err();
        assert!(
            e.to_string().contains("PNM is not a supported format"),
            "{e}"
        );
    }
}
