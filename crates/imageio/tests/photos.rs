//! Real photos and paintings from the repository's sample set (samples/).

mod common;

use std::path::{Path, PathBuf};

use common::list;
use stylize_io::{load, resize_to_max_side, save, Limits, SaveOptions};

fn data_dir() -> PathBuf {
    let p = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../samples"));
    assert!(
        p.join("photos").is_dir(),
        "sample images missing: expected photos in {}",
        p.display()
    );
    p.to_path_buf()
}

#[test]
fn cat_photo_loads_and_round_trips_through_all_output_formats() {
    let cat = data_dir().join("photos/cat.jpg");
    let l = load(&cat, &Limits::default()).unwrap();
    assert_eq!(l.dimensions(), (640, 480));
    assert!(l.alpha.is_none());
    // A real photo is not flat.
    let first = l.rgb.get_pixel(0, 0).0;
    assert!(l.rgb.pixels().any(|p| p.0 != first));

    let d = tempfile::tempdir().unwrap();
    let opts = SaveOptions::default().with_metadata(&[("Software", "stylize test")]);
    for name in ["cat.png", "cat.jpg", "cat.webp"] {
        let out = d.path().join(name);
        save(&out, &l.rgb, None, &opts).unwrap();
        let back = load(&out, &Limits::default()).unwrap();
        assert_eq!(back.dimensions(), (640, 480), "{name}");
        if name.ends_with(".jpg") {
            // Lossy, but at quality 92 close on average.
            let diff: u64 = back
                .rgb
                .as_raw()
                .iter()
                .zip(l.rgb.as_raw())
                .map(|(&a, &b)| u64::from(a.abs_diff(b)))
                .sum();
            let mean = diff as f64 / l.rgb.as_raw().len() as f64;
            assert!(mean < 4.0, "mean abs error {mean}");
        } else {
            assert_eq!(back.rgb, l.rgb, "{name} is lossless");
        }
    }
    assert_eq!(list(d.path()), vec!["cat.jpg", "cat.png", "cat.webp"]);

    let small = resize_to_max_side(&l.rgb, 256, false);
    assert_eq!(small.dimensions(), (256, 192));
}

#[test]
fn every_sample_image_loads() {
    let mut n = 0;
    for sub in ["photos", "paintings"] {
        for entry in std::fs::read_dir(data_dir().join(sub)).unwrap() {
            let p = entry.unwrap().path();
            let l = load(&p, &Limits::default()).unwrap_or_else(|e| panic!("{e}"));
            let (w, h) = l.dimensions();
            assert!(w >= 300 && h >= 300, "{}: {w}x{h}", p.display());
            n += 1;
        }
    }
    assert_eq!(n, 7, "3 photos and 4 paintings in samples/");
}
