//! Every kind of bad or unusual input through `stylize run` in one batch: each file gets a
//! correct result or one clear error line naming it; no panic, no partial output.

#[path = "../../imageio/tests/common/mod.rs"]
#[allow(dead_code)]
mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use image::{DynamicImage, ImageBuffer, ImageFormat, Luma, Rgb};

fn wave() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../samples/paintings/hokusai_great_wave.jpg")
        .display()
        .to_string()
}

#[test]
fn a_corpus_of_bad_and_unusual_files() {
    let d = tempfile::tempdir().unwrap();
    let inp = d.path().join("in");
    std::fs::create_dir(&inp).unwrap();
    let photo = gradient_rgb(64, 48);
    let good_jpeg = jpeg(&photo, 90);
    let good_png = png(&DynamicImage::ImageRgb8(photo.clone()));

    // Refused, each with its own reason.
    let bad: Vec<(&str, Vec<u8>, &str)> = vec![
        ("zero.jpg", vec![], "empty"),
        ("truncated.jpg", good_jpeg[..good_jpeg.len() / 2].to_vec(), "truncated.jpg"),
        ("truncated.png", good_png[..good_png.len() / 2].to_vec(), "truncated.png"),
        ("text.jpg", b"just some text, not a JPEG".to_vec(), "text.jpg"),
        ("one.png", png(&DynamicImage::ImageRgb8(ImageBuffer::from_pixel(1, 1, Rgb([9, 9, 9])))), "too small"),
        ("wide.png", png(&DynamicImage::ImageRgb8(ImageBuffer::from_pixel(100_000, 1, Rgb([9, 9, 9])))), "too small"),
        ("bomb.png", png_claiming(60_000, 60_000), "megapixels"),
        // Formats users send that the decoder lacks: named, not called corrupt.
        ("phone.jpg", [&b"\0\0\0\x18ftypheic\0\0\0\0mif1heic"[..], &[0u8; 64]].concat(), "unsupported format: HEIC"),
        ("drawing.png", b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"/>".to_vec(), "unsupported format: SVG"),
        ("scan.jpg", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec(), "unsupported format: PDF"),
        ("layers.png", [&b"8BPS\0\x01"[..], &[0u8; 64]].concat(), "unsupported format: PSD"),
        ("cut_progressive.jpg", { let p = progressive_jpeg(&photo, 90); p[..p.len() * 2 / 3].to_vec() }, "cut short"),
    ];
    // Accepted: converted to 8-bit RGB (alpha kept aside), the first frame of an animation.
    let gray16: ImageBuffer<Luma<u16>, Vec<u16>> = ImageBuffer::from_fn(64, 48, |x, _| Luma([(x * 1000) as u16]));
    let good: Vec<(&str, Vec<u8>)> = vec![
        ("jpeg_named.png", good_jpeg.clone()),
        ("gray16.png", png(&DynamicImage::ImageLuma16(gray16))),
        ("gray.png", png(&DynamicImage::ImageLuma8(ImageBuffer::from_fn(64, 48, |x, y| Luma([(x + y) as u8]))))),
        ("palette.png", palette_png(32, 32, &[255, 0, 0, 0, 0, 255], None, &[0u8; 32 * 32].iter().enumerate().map(|(i, _)| (i % 2) as u8).collect::<Vec<_>>())),
        ("alpha.png", encode(&DynamicImage::ImageRgba8(ImageBuffer::from_fn(64, 48, |x, _| image::Rgba([200, 100, 50, (x * 4) as u8]))), ImageFormat::Png)),
        ("anim.gif", animated_gif(40, 30, [255, 0, 0], [0, 0, 255])),
        ("cmyk.jpg", cmyk_jpeg(4, 3, [0, 128, 255, 0])),
    ];
    for (name, bytes, _) in &bad {
        write(&inp, name, bytes);
    }
    for (name, bytes) in &good {
        write(&inp, name, bytes);
    }
    let out = d.path().join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_stylize"))
        .args(["run", inp.to_str().unwrap(), "--style", &wave(), "--out-dir", out.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("{} written, 0 skipped", good.len())) && err.contains(&format!("{} failed", bad.len())), "{err}");
    for (name, _, reason) in &bad {
        let line = err.lines().find(|l| l.starts_with("error") && l.contains(name)).unwrap_or_else(|| panic!("no error line for {name}: {err}"));
        assert!(line.contains(reason), "{name}: {line}");
    }
    let stem = |n: &str| Path::new(n).file_stem().unwrap().to_string_lossy().into_owned();
    let wave_stem = stem(&wave());
    for (name, _) in &good {
        let f = out.join(format!("{}_{wave_stem}.png", stem(name)));
        assert!(stylize_io::load(&f, &Default::default()).is_ok(), "{name} -> {}", f.display());
    }
    // The alpha channel comes back in the PNG output.
    let alpha = stylize_io::load(&out.join(format!("alpha_{wave_stem}.png")), &Default::default()).unwrap();
    assert!(alpha.alpha.is_some());
    // Only the good files' outputs, nothing partial or temporary.
    assert_eq!(list(&out).len(), good.len(), "{:?}", list(&out));

    // An output folder that cannot be created (a file is in the way) fails before any work.
    let blocked = d.path().join("file");
    std::fs::write(&blocked, "x").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_stylize"))
        .args(["run", inp.to_str().unwrap(), "--style", &wave(), "--out-dir", blocked.join("sub").to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("cannot create the output folder"), "{err}");
}
