//! The one error type of this crate. Each message is a single line that names the
//! file and the problem, so the CLI can print it as is.

/// Every failure of loading or saving an image.
///
/// `path` is the file path as given (or the `name` passed to
/// [`crate::load_from_bytes`]); every variant's `Display` starts with
/// `cannot read PATH:` or `cannot write PATH:` and never contains a newline.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    #[error("cannot read {path}: no such file")]
    NotFound { path: String },
    #[error("cannot read {path}: permission denied")]
    PermissionDenied { path: String },
    #[error("cannot read {path}: is a directory")]
    IsDirectory { path: String },
    /// A FIFO, socket or device given as an input: refused before reading, since reading
    /// it could block forever (a FIFO without a writer) or never end (`/dev/zero`).
    #[error("cannot read {path}: not a regular file ({kind})")]
    NotRegularFile { path: String, kind: &'static str },
    #[error("cannot read {path}: too many levels of symbolic links (a symlink loop?)")]
    SymlinkLoop { path: String },
    #[error("cannot read {path}: file is empty (0 bytes)")]
    Empty { path: String },
    #[error(
        "cannot read {path}: file is {}, over the limit of {} (--max-file-mb)",
        fmt_bytes(*.bytes),
        fmt_bytes(*.limit)
    )]
    FileTooLarge {
        path: String,
        bytes: u64,
        limit: u64,
    },
    #[error("cannot read {path}: not an image (unrecognised content)")]
    NotAnImage { path: String },
    /// A format recognised from its content that cannot be decoded here (HEIC, camera
    /// RAW, SVG, PDF...); `format` names it for the user.
    #[error(
        "cannot read {path}: unsupported format: {format} (use JPEG, PNG, WebP, TIFF, BMP or GIF)"
    )]
    UnsupportedFormat { path: String, format: &'static str },
    #[error(
        "cannot read {path}: {width}x{height} = {} megapixels exceeds the limit of {} megapixels (--max-pixels)",
        fmt_megapixels(u64::from(*.width) * u64::from(*.height)),
        fmt_megapixels(*.limit)
    )]
    TooManyPixels {
        path: String,
        width: u32,
        height: u32,
        limit: u64,
    },
    #[error("cannot read {path}: decoding would need more memory than allowed ({detail})")]
    MemoryLimit { path: String, detail: String },
    #[error("cannot read {path}: truncated or corrupt {format} data ({detail})")]
    Corrupt {
        path: String,
        format: &'static str,
        detail: String,
    },
    #[error("cannot read {path}: unsupported kind of {format} ({detail})")]
    UnsupportedVariant {
        path: String,
        format: &'static str,
        detail: String,
    },
    #[error("cannot read {path}: {detail}")]
    Read { path: String, detail: String },
    /// A mask whose aspect ratio is not the photo's (see `mask::MAX_ASPECT_DIFFERENCE`).
    #[error(
        "cannot read {path}: a mask of {}x{} does not fit the photo's {}x{} (a mask needs the photo's aspect ratio)",
        .mask.0, .mask.1, .photo.0, .photo.1
    )]
    MaskShape { path: String, mask: (u32, u32), photo: (u32, u32) },

    #[error(
        "cannot write {path}: unsupported output extension {ext:?}; use .png, .jpg, .jpeg or .webp"
    )]
    UnsupportedOutput { path: String, ext: String },
    #[error("cannot write {path}: JPEG quality {quality} is outside 1-100")]
    InvalidQuality { path: String, quality: u8 },
    #[error("cannot write {path}: metadata key {key:?}: {reason}")]
    InvalidMetadata {
        path: String,
        key: String,
        reason: &'static str,
    },
    #[error("cannot write {path}: {detail}")]
    Write { path: String, detail: String },
}

impl ImageError {
    /// The file path (or name) the error is about.
    pub fn path(&self) -> &str {
        match self {
            ImageError::NotFound { path }
            | ImageError::PermissionDenied { path }
            | ImageError::IsDirectory { path }
            | ImageError::NotRegularFile { path, .. }
            | ImageError::SymlinkLoop { path }
            | ImageError::Empty { path }
            | ImageError::FileTooLarge { path, .. }
            | ImageError::NotAnImage { path }
            | ImageError::MaskShape { path, .. }
            | ImageError::UnsupportedFormat { path, .. }
            | ImageError::TooManyPixels { path, .. }
            | ImageError::MemoryLimit { path, .. }
            | ImageError::Corrupt { path, .. }
            | ImageError::UnsupportedVariant { path, .. }
            | ImageError::Read { path, .. }
            | ImageError::UnsupportedOutput { path, .. }
            | ImageError::InvalidQuality { path, .. }
            | ImageError::InvalidMetadata { path, .. }
            | ImageError::Write { path, .. } => path,
        }
    }
}

/// Squeeze a foreign error message (decoders, the OS) onto one short line: the
/// one-line promise must hold whatever a dependency puts in its messages.
pub(crate) fn one_line(detail: impl std::fmt::Display) -> String {
    const MAX_CHARS: usize = 200;
    let text = detail.to_string();
    let mut out = String::with_capacity(text.len().min(MAX_CHARS + 3));
    let mut last_space = false;
    for c in text.chars() {
        let c = if c.is_control() || c.is_whitespace() {
            ' '
        } else {
            c
        };
        if c == ' ' && (last_space || out.is_empty()) {
            continue;
        }
        last_space = c == ' ';
        out.push(c);
    }
    let trimmed = out.trim_end();
    if trimmed.chars().count() > MAX_CHARS {
        let cut: String = trimmed.chars().take(MAX_CHARS).collect();
        format!("{cut}...")
    } else {
        trimmed.to_string()
    }
}

/// `1234` -> `1234 bytes`, `250000000` -> `250 MB`, `1500000` -> `1.5 MB`.
pub(crate) fn fmt_bytes(bytes: u64) -> String {
    if bytes < 1_000_000 {
        format!("{bytes} bytes")
    } else {
        format!("{} MB", fmt_millions(bytes))
    }
}

/// `3_600_000_000` -> `3600`, `12_500_000` -> `12.5`, `100` -> `0.0001`.
pub(crate) fn fmt_megapixels(pixels: u64) -> String {
    fmt_millions(pixels)
}

/// Millions with at most the decimals needed (up to 4, truncated). A value just over a
/// whole number shows as `N.0001`, so an over-limit count never prints as the limit.
fn fmt_millions(n: u64) -> String {
    let whole = n / 1_000_000;
    let frac = n % 1_000_000;
    if frac == 0 {
        return whole.to_string();
    }
    let frac4 = frac / 100; // four decimals, truncated
    if frac4 == 0 {
        return format!("{whole}.0001");
    }
    let s = format!("{whole}.{frac4:04}");
    s.trim_end_matches('0').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_and_pixel_formatting() {
        assert_eq!(fmt_bytes(0), "0 bytes");
        assert_eq!(fmt_bytes(999_999), "999999 bytes");
        assert_eq!(fmt_bytes(250_000_000), "250 MB");
        assert_eq!(fmt_bytes(1_500_000), "1.5 MB");
        assert_eq!(fmt_megapixels(3_600_000_000), "3600");
        assert_eq!(fmt_megapixels(64_000_000), "64");
        assert_eq!(fmt_megapixels(12_345_678), "12.3456");
        assert_eq!(fmt_megapixels(1), "0.0001");
        assert_eq!(fmt_megapixels(0), "0");
    }

    #[test]
    fn one_line_flattens_and_caps() {
        assert_eq!(one_line("a\nb\r\n\tc  d "), "a b c d");
        let long = "x".repeat(500);
        let l = one_line(&long);
        assert!(l.len() <= 203 && l.ends_with("..."));
    }

    #[test]
    fn messages_match_the_issue() {
        let e = ImageError::TooManyPixels {
            path: "bomb.png".into(),
            width: 60000,
            height: 60000,
            limit: 64_000_000,
        };
        assert_eq!(
            e.to_string(),
            "cannot read bomb.png: 60000x60000 = 3600 megapixels exceeds the limit of 64 megapixels (--max-pixels)"
        );
        let e = ImageError::FileTooLarge {
            path: "big.jpg".into(),
            bytes: 250_000_000,
            limit: 200_000_000,
        };
        assert_eq!(
            e.to_string(),
            "cannot read big.jpg: file is 250 MB, over the limit of 200 MB (--max-file-mb)"
        );
        let e = ImageError::Empty {
            path: "photo.jpg".into(),
        };
        assert_eq!(
            e.to_string(),
            "cannot read photo.jpg: file is empty (0 bytes)"
        );
        assert_eq!(e.path(), "photo.jpg");
        let e = ImageError::UnsupportedFormat {
            path: "IMG_0001.HEIC".into(),
            format: "HEIC",
        };
        assert_eq!(
            e.to_string(),
            "cannot read IMG_0001.HEIC: unsupported format: HEIC (use JPEG, PNG, WebP, TIFF, BMP or GIF)"
        );
        let e = ImageError::NotRegularFile {
            path: "pipe".into(),
            kind: "a FIFO",
        };
        assert_eq!(
            e.to_string(),
            "cannot read pipe: not a regular file (a FIFO)"
        );
        assert_eq!(e.path(), "pipe");
    }
}
