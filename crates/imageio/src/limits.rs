//! Resource limits checked before any pixel is decoded.

/// Default pixel limit: 64 megapixels (1 megapixel = 1,000,000 pixels, the camera convention).
pub const DEFAULT_MAX_PIXELS: u64 = 64_000_000;
/// Default file-size limit: 200 MB (1 MB = 1,000,000 bytes, as `--max-file-mb` counts).
pub const DEFAULT_MAX_FILE_BYTES: u64 = 200_000_000;

/// Limits applied by [`crate::load`] and [`crate::load_from_bytes`].
///
/// `max_pixels` is checked against the dimensions in the header, before decoding, so a
/// tiny file claiming a huge canvas (a decompression bomb) costs nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted `width * height`.
    pub max_pixels: u64,
    /// Largest accepted file (or byte buffer) size.
    pub max_file_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_pixels: DEFAULT_MAX_PIXELS,
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
        }
    }
}

impl Limits {
    /// Limits from the CLI's units (`--max-pixels` in megapixels, `--max-file-mb` in MB).
    /// Negative or NaN values count as 0 (everything refused); huge values saturate.
    pub fn from_megapixels_and_mb(max_megapixels: f64, max_file_mb: f64) -> Self {
        // `as u64` saturates and maps NaN to 0, which is exactly the wanted clamping.
        Limits {
            max_pixels: (max_megapixels * 1e6) as u64,
            max_file_bytes: (max_file_mb * 1e6) as u64,
        }
    }

    /// Memory budget handed to `image`'s own allocator guard: the largest decoded buffer
    /// we accept (RGBA, 16 bits per channel) plus slack for decoder internals.
    pub(crate) fn decoder_alloc_budget(&self) -> u64 {
        self.max_pixels.saturating_mul(8).saturating_add(64 << 20)
    }

    /// Byte budget of the PNG decoder's own counter, which covers everything it allocates
    /// except the output pixels: chunk buffers, text (held about three times over while
    /// parsed), the inflated ICC profile, and row buffers (8 bytes a pixel, twice over).
    /// Real files fit with room to spare; an iCCP chunk inflating to gigabytes stops at
    /// 64 MiB plus a few times the file. Never above [`Self::decoder_alloc_budget`].
    pub(crate) fn png_side_budget(&self, file_len: usize, width: u32) -> u64 {
        let file = u64::try_from(file_len).unwrap_or(u64::MAX);
        (64u64 << 20)
            .saturating_add(file.saturating_mul(3))
            .saturating_add(u64::from(width).saturating_mul(16))
            .min(self.decoder_alloc_budget())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_issue() {
        let l = Limits::default();
        assert_eq!(l.max_pixels, 64_000_000);
        assert_eq!(l.max_file_bytes, 200_000_000);
    }

    #[test]
    fn cli_units_convert_and_clamp() {
        let l = Limits::from_megapixels_and_mb(12.5, 3.0);
        assert_eq!(l.max_pixels, 12_500_000);
        assert_eq!(l.max_file_bytes, 3_000_000);
        let l = Limits::from_megapixels_and_mb(-1.0, f64::NAN);
        assert_eq!((l.max_pixels, l.max_file_bytes), (0, 0));
        assert_eq!(
            Limits::from_megapixels_and_mb(1e30, 1e30).max_pixels,
            u64::MAX
        );
    }

    #[test]
    fn png_side_budget_grows_with_file_and_width_but_stays_under_the_total() {
        let l = Limits::default();
        assert_eq!(l.png_side_budget(0, 0), 64 << 20);
        assert_eq!(
            l.png_side_budget(10 << 20, 1000),
            (64 << 20) + (30 << 20) + 16_000
        );
        assert_eq!(
            l.png_side_budget(usize::MAX, u32::MAX),
            l.decoder_alloc_budget()
        );
        let tiny = Limits {
            max_pixels: 0,
            max_file_bytes: 0,
        };
        assert_eq!(
            tiny.png_side_budget(1 << 20, 100),
            tiny.decoder_alloc_budget()
        );
    }

    #[test]
    fn alloc_budget_covers_rgba16_and_saturates() {
        let l = Limits::default();
        assert!(l.decoder_alloc_budget() >= 64_000_000 * 8);
        let huge = Limits {
            max_pixels: u64::MAX,
            max_file_bytes: 1,
        };
        assert_eq!(huge.decoder_alloc_budget(), u64::MAX);
    }
}
