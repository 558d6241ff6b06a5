//! Any bytes through `stylize_io::load_from_bytes`, as an upload or a file would arrive: it
//! must return an image or an error, never panic, and never allocate past the limits (small
//! here, so that huge headers are refused, not decoded).
#![no_main]

use libfuzzer_sys::fuzz_target;
use stylize_io::Limits;

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_pixels: 4_000_000, max_file_bytes: 8_000_000 };
    if let Ok(img) = stylize_io::load_from_bytes(data, "fuzz", &limits) {
        let (w, h) = img.dimensions();
        assert!(w as u64 * h as u64 <= limits.max_pixels);
        if let Some(a) = &img.alpha {
            assert_eq!(a.dimensions(), (w, h));
        }
    }
});
