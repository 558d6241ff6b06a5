//! Any bytes through `stylize_io::load_from_bytes`, as an upload or a file would arrive, then
//! sized as the photo and style paths size them (`stylize_io::fit`, the check that runs after
//! the last resize): each step returns a value or an error, never panics, and never allocates
//! past the limits (small here, so that huge headers are refused, not decoded).
#![no_main]

use libfuzzer_sys::fuzz_target;
use stylize_io::{Limits, Sizing};

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_pixels: 4_000_000, max_file_bytes: 8_000_000 };
    if let Ok(img) = stylize_io::load_from_bytes(data, "fuzz", &limits) {
        let (w, h) = img.dimensions();
        assert!(w as u64 * h as u64 <= limits.max_pixels);
        if let Some(a) = &img.alpha {
            assert_eq!(a.dimensions(), (w, h));
        }
        // Small sides keep the resizes cheap; the size rules are the same at any side.
        for sizing in [Sizing::Exact(48), Sizing::AtMost(40), Sizing::ShortSide(24)] {
            match stylize_io::fit(&img.rgb, sizing, 16, 4_000_000) {
                Ok(sized) => {
                    assert_eq!(sized.dimensions(), sizing.dims(w, h));
                    assert!(sized.width() >= 16 && sized.height() >= 16);
                }
                Err(e) => assert!(!e.to_string().contains('\n')),
            }
        }
    }
});
