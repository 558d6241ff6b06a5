//! Decoding: bytes -> 8-bit RGB + optional alpha, with limits checked from the header.

use std::fs::{File, FileType, OpenOptions};
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
    // Before image's own guess: CR2/DNG/NEF carry a TIFF signature and would otherwise be
    // decoded as their embedded thumbnail, and HEIC/SVG/RAW would be "not an image".
    if let Some(format) = sniff_unsupported(bytes) {
        return Err(ImageError::UnsupportedFormat {
            path: path(),
            format,
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
    if format == ImageFormat::Gif && gif_without_frames(bytes) {
        return Err(ImageError::Corrupt {
            path: path(),
            format: "GIF",
            detail: "the GIF has no frames".into(),
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

/// Read the whole file, refusing directories, FIFOs, devices and sockets, and files over
/// the byte limit, before reading them.
fn read_limited(path: &Path, name: &str, limits: &Limits) -> Result<Vec<u8>, ImageError> {
    // stat first: opening some devices has side effects (a watchdog arms itself, a tape
    // rewinds), and a socket cannot be opened at all, so say what the path is instead.
    let meta = std::fs::metadata(path).map_err(|e| read_error(name, e))?;
    check_regular(&meta.file_type(), name)?;
    let file = open_nonblocking(path).map_err(|e| read_error(name, e))?;
    // fstat the descriptor we actually hold: the path may have been swapped since the stat.
    let meta = file.metadata().map_err(|e| read_error(name, e))?;
    check_regular(&meta.file_type(), name)?;
    if meta.len() > limits.max_file_bytes {
        return Err(ImageError::FileTooLarge {
            path: name.into(),
            bytes: meta.len(),
            limit: limits.max_file_bytes,
        });
    }
    // `take` still caps the read if the file grows between the fstat and the read.
    let cap = limits.max_file_bytes.saturating_add(1);
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len().min(cap)).unwrap_or(0));
    file.take(cap)
        .read_to_end(&mut bytes)
        .map_err(|e| read_error(name, e))?;
    Ok(bytes)
}

/// Open for reading without blocking: a plain `open` of a FIFO waits for a writer, i.e.
/// forever for a stray named pipe. O_NONBLOCK changes nothing for regular files.
#[cfg(unix)]
fn open_nonblocking(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path) -> io::Result<File> {
    OpenOptions::new().read(true).open(path)
}

/// Only regular files are images: a FIFO or a character device (`/dev/zero`, a terminal)
/// would be read until the byte limit or block forever.
fn check_regular(kind: &FileType, name: &str) -> Result<(), ImageError> {
    if kind.is_dir() {
        // On Linux, opening a directory succeeds; reading it is what fails.
        return Err(ImageError::IsDirectory { path: name.into() });
    }
    if kind.is_file() {
        return Ok(());
    }
    Err(ImageError::NotRegularFile {
        path: name.into(),
        kind: describe_file_type(kind),
    })
}

/// What a file that is not a regular file is, for messages ("a FIFO"); also used for outputs.
#[cfg(unix)]
pub(crate) fn describe_file_type(kind: &FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else {
        "an unknown kind of file"
    }
}

#[cfg(not(unix))]
pub(crate) fn describe_file_type(_: &FileType) -> &'static str {
    "an unknown kind of file"
}

fn read_error(name: &str, e: io::Error) -> ImageError {
    let path = name.to_string();
    #[cfg(unix)]
    if e.raw_os_error() == Some(libc::ELOOP) {
        // A symlink loop (a -> b -> a); the OS text would be "(os error 40)".
        return ImageError::SymlinkLoop { path };
    }
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
    // allocation error, so no dimension limits here; image's full guard is installed
    // right after. An allocation cap is set already because the PNG decoder reads (and
    // inflates: 1 MB of iCCP can hold 1 GB) every chunk before the pixels while parsing
    // the header, and takes its only byte budget at construction. Without it, an iCCP
    // bomb was inflated in full.
    let mut header_limits = image::Limits::no_limits();
    header_limits.max_alloc = Some(if format == ImageFormat::Png {
        // IHDR is always first: its width sizes the row buffer the budget must cover.
        let width = bytes
            .get(16..20)
            .map_or(0, |w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
        limits.png_side_budget(bytes.len(), width)
    } else {
        limits.decoder_alloc_budget()
    });
    reader.limits(header_limits);
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
            detail: tidy_decoder_detail(&one_line(other)),
        },
    }
}

/// The png crate names chunks with their Debug form ("ChunkType { type: IDAT, critical:
/// true, ... }"); keep just the name so a bad CRC reads "... while decoding IDAT chunk."
fn tidy_decoder_detail(detail: &str) -> String {
    const OPEN: &str = "ChunkType { type: ";
    let mut out = String::with_capacity(detail.len());
    let mut rest = detail;
    while let Some(at) = rest.find(OPEN) {
        let after = &rest[at + OPEN.len()..];
        let (Some(name_end), Some(close)) = (after.find(','), after.find('}')) else {
            break;
        };
        out.push_str(&rest[..at]);
        out.push_str(&after[..name_end.min(close)]);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

/// True for a well-formed GIF that ends (trailer 0x3B) before any image descriptor: the
/// gif crate only says "Unexpected End of File", which reads like a truncated download.
/// Walks the blocks with bounds checks; anything odd returns false (decoder's verdict).
fn gif_without_frames(b: &[u8]) -> bool {
    let Some(&flags) = b.get(10) else {
        return false;
    };
    let mut i = 13;
    if flags & 0x80 != 0 {
        i += 3 << ((flags & 0x07) + 1); // global colour table
    }
    loop {
        match b.get(i) {
            Some(0x3B) => return true,
            Some(0x21) => {
                // Extension: label, then data sub-blocks until a zero length.
                i += 2;
                loop {
                    let Some(&len) = b.get(i) else {
                        return false;
                    };
                    i += 1 + usize::from(len);
                    if len == 0 {
                        break;
                    }
                }
            }
            _ => return false, // 0x2C (an image) or garbage
        }
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

/// The name of a format people send that the decoders here cannot read, recognised from
/// its first bytes (never the extension), so the user hears "unsupported format: HEIC"
/// rather than "not an image" or, for TIFF-based camera RAWs, a decoded thumbnail or a
/// "corrupt TIFF". Pure and bounds-checked: it only looks at `bytes`.
fn sniff_unsupported(bytes: &[u8]) -> Option<&'static str> {
    let b = bytes;
    // Fixed signatures at offset 0.
    const SIGNATURES: &[(&[u8], &str)] = &[
        (b"%PDF-", "PDF"),
        (b"%!PS", "PostScript"),
        (b"\xC5\xD0\xD3\xC6", "PostScript"), // DOS EPS binary header
        (b"8BPS", "PSD (Photoshop)"),
        (b"\xFF\x0A", "JPEG XL"),                 // bare codestream
        (b"\0\0\0\x0CJXL \r\n\x87\n", "JPEG XL"), // ISO-BMFF container
        (b"FUJIFILMCCD-RAW", "camera RAW (RAF)"),
        (b"IIRO", "camera RAW (ORF)"),
        (b"IIRS", "camera RAW (ORF)"),
        (b"MMOR", "camera RAW (ORF)"),
        (b"IIU\0", "camera RAW (RW2)"),
        (b"FOVb", "camera RAW (X3F)"),
        (b"\0MRM", "camera RAW (MRW)"),
    ];
    if let Some((_, name)) = SIGNATURES.iter().find(|(sig, _)| b.starts_with(sig)) {
        return Some(name);
    }
    if b.len() >= 14 && b.starts_with(b"II\x1A\0") && &b[6..14] == b"HEAPCCDR" {
        return Some("camera RAW (CRW)");
    }
    if b.get(4..8) == Some(b"ftyp") {
        return sniff_iso_bmff(b);
    }
    if b.starts_with(b"II*\0") || b.starts_with(b"MM\0*") {
        return sniff_tiff_raw(b);
    }
    if looks_like_svg(b) {
        return Some("SVG");
    }
    None
}

/// HEIF/HEIC, AVIF and CR3 share the ISO-BMFF `ftyp` box; its brands tell them apart.
fn sniff_iso_bmff(b: &[u8]) -> Option<&'static str> {
    let size = b
        .get(..4)
        .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))?;
    // size 0 ("to end of file") and 1 (64-bit size follows) are legal but odd for `ftyp`:
    // read a few brands anyway. Otherwise stay inside both the box and the buffer.
    let end = match size {
        0 | 1 => 64,
        n => n as usize,
    }
    .min(b.len());
    let major = b.get(8..12)?;
    let compatible = b.get(16..end.max(16)).unwrap_or(&[]).chunks_exact(4);
    let brands = || std::iter::once(major).chain(compatible.clone());
    const HEIC: &[&[u8]] = &[
        b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs",
    ];
    const AVIF: &[&[u8]] = &[b"avif", b"avis"];
    const HEIF: &[&[u8]] = &[b"mif1", b"msf1", b"miaf"];
    // The major brand decides first (an AVIF also lists mif1 and miaf), then any brand.
    if brands().any(|x| x == b"crx ") {
        Some("camera RAW (CR3)")
    } else if AVIF.contains(&major) {
        Some("AVIF")
    } else if HEIC.contains(&major) {
        Some("HEIC")
    } else if brands().any(|x| AVIF.contains(&x)) {
        Some("AVIF")
    } else if brands().any(|x| HEIC.contains(&x)) {
        Some("HEIC")
    } else if brands().any(|x| HEIF.contains(&x)) {
        Some("HEIF")
    } else {
        None // MP4, MOV, 3GP...: a video, not an image
    }
}

/// Camera RAWs built on TIFF. A CR2 says "CR" after the header; DNG's IFD0 has a
/// DNGVersion tag; NEF, ARW, PEF keep the raw data in SubIFDs and name the camera maker
/// in IFD0. A scanner's TIFF has no SubIFDs, and a pyramidal TIFF (SubIFDs holding
/// smaller copies of a full-size IFD0, which decodes fine) names no maker. `None` for an
/// ordinary TIFF.
fn sniff_tiff_raw(b: &[u8]) -> Option<&'static str> {
    const MAKE: u16 = 0x010F;
    const SUB_IFDS: u16 = 0x014A;
    const DNG_VERSION: u16 = 0xC612;
    if b.get(8..10) == Some(b"CR") {
        return Some("camera RAW (CR2)");
    }
    let big_endian = b[0] == b'M';
    let u16_at = |at: usize| {
        let s = b.get(at..at.checked_add(2)?)?;
        Some(if big_endian {
            u16::from_be_bytes([s[0], s[1]])
        } else {
            u16::from_le_bytes([s[0], s[1]])
        })
    };
    let u32_at = |at: usize| {
        let s = b.get(at..at.checked_add(4)?)?;
        Some(if big_endian {
            u32::from_be_bytes([s[0], s[1], s[2], s[3]])
        } else {
            u32::from_le_bytes([s[0], s[1], s[2], s[3]])
        })
    };
    let ifd0 = usize::try_from(u32_at(4)?).ok()?;
    let count = usize::from(u16_at(ifd0)?);
    let (mut make, mut sub_ifds, mut dng) = (false, false, false);
    // Each entry is 12 bytes: tag, type, count, value/offset. A lying count simply runs
    // into the end of the buffer, where `u16_at` returns None and the walk stops.
    for i in 0..count {
        let Some(tag) = ifd0.checked_add(2 + 12 * i).and_then(&u16_at) else {
            break;
        };
        make |= tag == MAKE;
        sub_ifds |= tag == SUB_IFDS;
        dng |= tag == DNG_VERSION;
    }
    if dng {
        Some("camera RAW (DNG)")
    } else if sub_ifds && make {
        Some("camera RAW (NEF, ARW, PEF or similar)")
    } else {
        None
    }
}

/// SVG: `<svg`, or an XML declaration / comment / doctype followed by `<svg` early on,
/// after an optional UTF-8 byte order mark and whitespace.
fn looks_like_svg(b: &[u8]) -> bool {
    let b = b.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(b);
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let b = &b[start..];
    if b.starts_with(b"<svg") {
        return true;
    }
    let prolog = [&b"<?xml"[..], b"<!--", b"<!DOCTYPE", b"<!doctype"];
    prolog.iter().any(|p| b.starts_with(p))
        && b[..b.len().min(4096)].windows(4).any(|w| w == b"<svg")
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

    /// A minimal TIFF header plus IFD0 holding `tags` (values unused by the sniffer).
    fn tiff_with_tags(big_endian: bool, tags: &[u16]) -> Vec<u8> {
        let u16b = |v: u16| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let u32b = |v: u32| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let mut t = if big_endian {
            b"MM\0*".to_vec()
        } else {
            b"II*\0".to_vec()
        };
        t.extend(u32b(8));
        t.extend(u16b(tags.len() as u16));
        for &tag in tags {
            t.extend(u16b(tag));
            t.extend(u16b(4)); // LONG
            t.extend(u32b(1));
            t.extend(u32b(0));
        }
        t.extend(u32b(0));
        t
    }

    fn ftyp(major: &[u8; 4], compatible: &[&[u8; 4]]) -> Vec<u8> {
        let mut v = ((16 + 4 * compatible.len()) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(b"ftyp");
        v.extend_from_slice(major);
        v.extend_from_slice(&[0, 0, 0, 0]);
        for c in compatible {
            v.extend_from_slice(*c);
        }
        v.extend_from_slice(b"\0\0\0\x08meta"); // the next box
        v
    }

    #[test]
    fn sniffs_formats_the_decoders_lack() {
        let cases: Vec<(Vec<u8>, Option<&str>)> = vec![
            (ftyp(b"heic", &[b"mif1", b"heic"]), Some("HEIC")),
            (ftyp(b"heix", &[b"mif1"]), Some("HEIC")),
            (ftyp(b"hevc", &[b"msf1"]), Some("HEIC")),
            (ftyp(b"mif1", &[b"heic"]), Some("HEIC")),
            (ftyp(b"mif1", &[b"miaf"]), Some("HEIF")),
            (ftyp(b"msf1", &[]), Some("HEIF")),
            (ftyp(b"avif", &[b"mif1", b"miaf"]), Some("AVIF")),
            (ftyp(b"avis", &[b"msf1"]), Some("AVIF")),
            (ftyp(b"mif1", &[b"avif"]), Some("AVIF")),
            (ftyp(b"crx ", &[b"isom"]), Some("camera RAW (CR3)")),
            (ftyp(b"isom", &[b"mp41"]), None), // an MP4 video
            (b"<svg version=\"1.1\" width=\"8\"/>".to_vec(), Some("SVG")),
            (
                b"\xEF\xBB\xBF \n\t<?xml version=\"1.0\"?>\n<!-- x -->\n<svg>".to_vec(),
                Some("SVG"),
            ),
            (
                b"<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\"><svg>".to_vec(),
                Some("SVG"),
            ),
            (b"<?xml version=\"1.0\"?><html/>".to_vec(), None),
            (b"<html><svg></svg></html>".to_vec(), None),
            (b"%PDF-1.7\n".to_vec(), Some("PDF")),
            (b"%!PS-Adobe-3.0 EPSF-3.0\n".to_vec(), Some("PostScript")),
            (b"\xC5\xD0\xD3\xC6\x20\0\0\0".to_vec(), Some("PostScript")),
            (b"8BPS\0\x01\0\0\0\0\0\0".to_vec(), Some("PSD (Photoshop)")),
            (b"\xFF\x0A\xFA\x7F".to_vec(), Some("JPEG XL")),
            (
                b"\0\0\0\x0CJXL \r\n\x87\n\0\0\0\x14ftypjxl ".to_vec(),
                Some("JPEG XL"),
            ),
            (b"FUJIFILMCCD-RAW 0201".to_vec(), Some("camera RAW (RAF)")),
            (b"IIRO\x08\0\0\0".to_vec(), Some("camera RAW (ORF)")),
            (b"MMOR\0\0\0\x08".to_vec(), Some("camera RAW (ORF)")),
            (b"IIU\0\x08\0\0\0".to_vec(), Some("camera RAW (RW2)")),
            (b"II\x1A\0\0\0HEAPCCDR".to_vec(), Some("camera RAW (CRW)")),
            (
                b"II*\0\x10\0\0\0CR\x02\0".to_vec(),
                Some("camera RAW (CR2)"),
            ),
            (
                tiff_with_tags(false, &[0x0100, 0x0101, 0xC612]),
                Some("camera RAW (DNG)"),
            ),
            (
                tiff_with_tags(true, &[0x0100, 0x014A, 0xC612]),
                Some("camera RAW (DNG)"),
            ),
            (
                tiff_with_tags(true, &[0x00FE, 0x0100, 0x010F, 0x014A]),
                Some("camera RAW (NEF, ARW, PEF or similar)"),
            ),
            (tiff_with_tags(false, &[0x0100, 0x0101, 0x014A]), None), // a pyramidal TIFF
            (
                tiff_with_tags(false, &[0x0100, 0x0101, 0x0111, 0x0117]),
                None,
            ), // a scanner's TIFF
            // What image already decodes, or nothing at all.
            (b"\x89PNG\r\n\x1a\n".to_vec(), None),
            (b"\xFF\xD8\xFF\xE0".to_vec(), None),
            (b"GIF89a".to_vec(), None),
            (b"hello".to_vec(), None),
            (vec![], None),
        ];
        for (bytes, want) in cases {
            assert_eq!(
                sniff_unsupported(&bytes),
                want,
                "{:?}",
                String::from_utf8_lossy(&bytes)
            );
        }
    }

    #[test]
    fn tiff_walk_survives_lies() {
        // IFD0 offset past the end, entry count past the end, offsets near usize::MAX,
        // and every prefix of a DNG header: never a panic, and no RAW claimed wrongly.
        assert_eq!(sniff_unsupported(b"II*\0\xFF\xFF\xFF\xFF"), None);
        assert_eq!(sniff_unsupported(b"MM\0*\0\0\0\x08\xFF\xFF\0\xFE"), None);
        // 65535 entries claimed, two present (Make, then SubIFDs cut after its tag).
        let mut cut_ifd = b"II*\0\x08\0\0\0\xFF\xFF\x0F\x01".to_vec();
        cut_ifd.extend_from_slice(&[0; 10]);
        cut_ifd.extend_from_slice(b"\x4A\x01");
        assert_eq!(
            sniff_unsupported(&cut_ifd),
            Some("camera RAW (NEF, ARW, PEF or similar)")
        );
        let dng = tiff_with_tags(false, &[0x0100, 0xC612]);
        for cut in 0..dng.len() {
            let _ = sniff_unsupported(&dng[..cut]);
        }
        let mut box_lies = ftyp(b"mif1", &[b"heic"]);
        box_lies[..4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(sniff_unsupported(&box_lies), Some("HEIC"));
        box_lies[..4].copy_from_slice(&3u32.to_be_bytes()); // smaller than the box header
        assert_eq!(sniff_unsupported(&box_lies), Some("HEIF"));
        for cut in 0..box_lies.len() {
            let _ = sniff_unsupported(&box_lies[..cut]);
        }
    }

    #[test]
    fn gif_frame_walk() {
        assert!(gif_without_frames(b"GIF89a\x0A\0\x07\0\0\0\0\x3B"));
        // Global palette of 2 entries and a comment, still no image.
        assert!(gif_without_frames(
            b"GIF89a\x01\0\x01\0\x80\0\0\0\0\0\xFF\xFF\xFF\x21\xFE\x02hi\0\x3B"
        ));
        // An image descriptor, a cut file, a lying palette size: not "no frames".
        assert!(!gif_without_frames(b"GIF89a\x01\0\x01\0\0\0\0\x2C"));
        assert!(!gif_without_frames(
            b"GIF89a\x01\0\x01\0\0\0\0\x21\xFE\x05hi"
        ));
        assert!(!gif_without_frames(b"GIF89a\x01\0\x01\0\x87\0\0\x3B"));
        assert!(!gif_without_frames(b"GIF89a"));
    }

    #[test]
    fn png_chunk_debug_text_is_tidied() {
        assert_eq!(
            tidy_decoder_detail(concat!(
                "CRC error: expected 0x1 have 0x2 while decoding ChunkType { type: IDAT, ",
                "critical: true, private: false, reserved: false, safecopy: false } chunk."
            )),
            "CRC error: expected 0x1 have 0x2 while decoding IDAT chunk."
        );
        assert_eq!(
            tidy_decoder_detail("plain ChunkType { oops"),
            "plain ChunkType { oops"
        );
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
        assert_eq!(
            e.to_string(),
            "cannot read x.ppm: unsupported format: PNM (use JPEG, PNG, WebP, TIFF, BMP or GIF)"
        );
    }
}
