//! Loading: a generated corpus of good, odd and malformed inputs.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use image::{DynamicImage, GrayImage, ImageBuffer, ImageFormat, Luma, Rgb, Rgba, RgbaImage};
use stylize_io::{load, load_from_bytes, ImageError, Limits};

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

fn close(a: [u8; 3], b: [u8; 3], tol: i16) -> bool {
    a.iter()
        .zip(b)
        .all(|(&x, y)| (i16::from(x) - i16::from(y)).abs() <= tol)
}

#[test]
fn zero_byte_file_is_refused() {
    let d = tmp();
    let p = write(d.path(), "photo.jpg", b"");
    let e = load(&p, &Limits::default()).unwrap_err();
    assert!(matches!(e, ImageError::Empty { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!("cannot read {}: file is empty (0 bytes)", s(&p))
    );
}

#[test]
fn text_file_named_jpg_is_not_an_image() {
    let d = tmp();
    let p = write(
        d.path(),
        "notes.jpg",
        b"Dear diary,\nthis is not a photo.\n",
    );
    let e = load(&p, &Limits::default()).unwrap_err();
    assert!(matches!(e, ImageError::NotAnImage { .. }), "{e:?}");
    assert_err(&e, &s(&p), "not an image (unrecognised content)");
}

#[test]
fn real_png_named_jpg_loads_by_content() {
    let d = tmp();
    let img = gradient_rgb(40, 30);
    let p = write(
        d.path(),
        "actually_png.jpg",
        &png(&DynamicImage::ImageRgb8(img.clone())),
    );
    let l = load(&p, &Limits::default()).unwrap();
    assert_eq!(l.format, ImageFormat::Png);
    assert_eq!(l.rgb, img);
    assert!(l.alpha.is_none());
}

#[test]
fn one_by_one_images_load() {
    let d = tmp();
    let px = image::RgbImage::from_pixel(1, 1, Rgb([10, 200, 30]));
    let p = write(
        d.path(),
        "dot.png",
        &png(&DynamicImage::ImageRgb8(px.clone())),
    );
    assert_eq!(load(&p, &Limits::default()).unwrap().rgb, px);
    let p = write(d.path(), "dot.jpg", &jpeg(&px, 95));
    let l = load(&p, &Limits::default()).unwrap();
    assert_eq!(l.dimensions(), (1, 1));
    assert!(
        close(l.rgb.get_pixel(0, 0).0, [10, 200, 30], 12),
        "{:?}",
        l.rgb.get_pixel(0, 0)
    );
}

#[test]
fn very_wide_100000x1_png_is_within_limits_and_loads() {
    let d = tmp();
    let img = gradient_rgb(100_000, 1);
    let p = write(
        d.path(),
        "wide.png",
        &png(&DynamicImage::ImageRgb8(img.clone())),
    );
    let l = load(&p, &Limits::default()).unwrap();
    assert_eq!(l.dimensions(), (100_000, 1));
    assert_eq!(l.rgb, img);
}

#[test]
fn png_bomb_header_is_refused_before_decoding() {
    let d = tmp();
    let bytes = png_claiming(60_000, 60_000);
    assert!(bytes.len() < 100, "the bomb is tiny: {} bytes", bytes.len());
    let p = write(d.path(), "bomb.png", &bytes);
    let t = Instant::now();
    let e = load(&p, &Limits::default()).unwrap_err();
    // Decoding (or even allocating) 10.8 GB would take far longer than this.
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "took {:?}",
        t.elapsed()
    );
    assert!(
        matches!(
            e,
            ImageError::TooManyPixels {
                width: 60_000,
                height: 60_000,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        format!(
            "cannot read {}: 60000x60000 = 3600 megapixels exceeds the limit of 64 megapixels (--max-pixels)",
            s(&p)
        )
    );
    // Same from memory, with the name the server passes.
    let e = load_from_bytes(&bytes, "upload-1", &Limits::default()).unwrap_err();
    assert_err(
        &e,
        "upload-1",
        "3600 megapixels exceeds the limit of 64 megapixels",
    );
}

#[test]
fn pixel_limit_is_configurable() {
    let d = tmp();
    let p = write(
        d.path(),
        "a.png",
        &png(&DynamicImage::ImageRgb8(gradient_rgb(300, 200))),
    );
    let limits = Limits {
        max_pixels: 50_000,
        ..Limits::default()
    };
    let e = load(&p, &limits).unwrap_err();
    assert_err(
        &e,
        &s(&p),
        "300x200 = 0.06 megapixels exceeds the limit of 0.05 megapixels",
    );
    let limits = Limits {
        max_pixels: 60_000,
        ..Limits::default()
    };
    assert!(load(&p, &limits).is_ok(), "exactly at the limit loads");
}

#[test]
fn file_over_the_byte_limit_is_refused_before_reading() {
    let d = tmp();
    let bytes = png(&DynamicImage::ImageRgb8(noise_rgb(64, 64, 1)));
    let p = write(d.path(), "big.png", &bytes);
    let limits = Limits {
        max_file_bytes: 1000,
        ..Limits::default()
    };
    let e = load(&p, &limits).unwrap_err();
    assert!(
        matches!(e, ImageError::FileTooLarge { limit: 1000, .. }),
        "{e:?}"
    );
    assert_err(
        &e,
        &s(&p),
        &format!(
            "file is {} bytes, over the limit of 1000 bytes (--max-file-mb)",
            bytes.len()
        ),
    );
    let e = load_from_bytes(&bytes, "upload.png", &limits).unwrap_err();
    assert_err(&e, "upload.png", "over the limit of 1000 bytes");
}

#[test]
fn truncated_jpeg_is_refused() {
    let d = tmp();
    let full = jpeg(&noise_rgb(64, 64, 2), 90);
    assert!(load_from_bytes(&full, "full.jpg", &Limits::default()).is_ok());
    for cut in [full.len() / 2, full.len() - 2, 20] {
        let p = write(d.path(), &format!("cut{cut}.jpg"), &full[..cut]);
        let e = load(&p, &Limits::default()).unwrap_err();
        assert!(
            matches!(e, ImageError::Corrupt { format: "JPEG", .. }),
            "cut {cut}: {e:?}"
        );
        assert_err(&e, &s(&p), "truncated or corrupt JPEG data");
    }
}

#[test]
fn truncated_png_is_refused() {
    let d = tmp();
    let full = png(&DynamicImage::ImageRgb8(noise_rgb(64, 64, 3)));
    for cut in [full.len() / 2, full.len() - 12, 40] {
        let p = write(d.path(), &format!("cut{cut}.png"), &full[..cut]);
        let e = load(&p, &Limits::default()).unwrap_err();
        assert!(
            matches!(e, ImageError::Corrupt { format: "PNG", .. }),
            "cut {cut}: {e:?}"
        );
        assert_err(&e, &s(&p), "truncated or corrupt PNG data");
    }
}

#[test]
fn garbage_in_the_middle_of_a_jpeg_never_panics() {
    // A JPEG scan has no checksum, so garbage inside the entropy-coded data is often
    // indistinguishable from pixels; the decoder is lenient, as browsers are. What we
    // guarantee is no panic and, if refused, a proper one-line error.
    let d = tmp();
    let full = jpeg(&noise_rgb(64, 64, 4), 90);
    let mut mid = full.clone();
    let at = full.len() / 2;
    for (i, b) in mid[at..at + 64].iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(37) ^ 0xA5;
    }
    let p = write(d.path(), "garbled.jpg", &mid);
    match load(&p, &Limits::default()) {
        Ok(l) => assert_eq!(l.dimensions(), (64, 64)),
        Err(e) => assert_err(&e, &s(&p), "JPEG"),
    }
    // Garbage over the header tables must be refused.
    let mut head = full.clone();
    for b in &mut head[20..200] {
        *b = 0x5A;
    }
    let p = write(d.path(), "garbled_header.jpg", &head);
    let e = load(&p, &Limits::default()).unwrap_err();
    assert_err(&e, &s(&p), "truncated or corrupt JPEG data");
}

#[test]
fn cmyk_jpeg_becomes_rgb() {
    let d = tmp();
    // Adobe CMYK, inverted: C and K "no ink" (255), M and Y full ink (0) -> red.
    let p = write(d.path(), "cmyk.jpg", &cmyk_jpeg(3, 2, [255, 0, 0, 255]));
    let l = load(&p, &Limits::default()).unwrap();
    assert_eq!(l.dimensions(), (24, 16));
    assert!(l.alpha.is_none());
    for px in l.rgb.pixels() {
        assert!(close(px.0, [255, 0, 0], 3), "{px:?}");
    }
    // Black ink everywhere -> black.
    let p = write(
        d.path(),
        "cmyk_black.jpg",
        &cmyk_jpeg(1, 1, [255, 255, 255, 0]),
    );
    let l = load(&p, &Limits::default()).unwrap();
    assert!(l.rgb.pixels().all(|px| close(px.0, [0, 0, 0], 3)));
}

#[test]
fn sixteen_bit_png_becomes_8_bit() {
    let d = tmp();
    let img: ImageBuffer<Rgb<u16>, Vec<u16>> =
        ImageBuffer::from_pixel(5, 4, Rgb([65535, 0, 0x8080]));
    let p = write(d.path(), "deep.png", &png(&DynamicImage::ImageRgb16(img)));
    let l = load(&p, &Limits::default()).unwrap();
    assert!(l.rgb.pixels().all(|px| px.0 == [255, 0, 128]));
    // 16-bit with alpha keeps an 8-bit alpha.
    let img: ImageBuffer<Rgba<u16>, Vec<u16>> =
        ImageBuffer::from_pixel(2, 2, Rgba([0, 65535, 0, 0x4040]));
    let l = load_from_bytes(
        &png(&DynamicImage::ImageRgba16(img)),
        "d",
        &Limits::default(),
    )
    .unwrap();
    assert!(l.rgb.pixels().all(|px| px.0 == [0, 255, 0]));
    assert!(l.alpha.unwrap().pixels().all(|a| a.0 == [64]));
}

#[test]
fn grayscale_png_becomes_rgb() {
    let d = tmp();
    let g = GrayImage::from_fn(16, 8, |x, y| Luma([(x * 16 + y) as u8]));
    let p = write(
        d.path(),
        "gray.png",
        &png(&DynamicImage::ImageLuma8(g.clone())),
    );
    let l = load(&p, &Limits::default()).unwrap();
    for (x, y, px) in l.rgb.enumerate_pixels() {
        let v = g.get_pixel(x, y).0[0];
        assert_eq!(px.0, [v, v, v]);
    }
}

#[test]
fn palette_png_becomes_rgb_and_trns_becomes_alpha() {
    let d = tmp();
    let palette = [255, 0, 0, 0, 255, 0, 0, 0, 255];
    let idx = [0u8, 1, 2, 1, 2, 0];
    let p = write(
        d.path(),
        "pal.png",
        &palette_png(3, 2, &palette, None, &idx),
    );
    let l = load(&p, &Limits::default()).unwrap();
    assert_eq!(l.rgb.get_pixel(0, 0).0, [255, 0, 0]);
    assert_eq!(l.rgb.get_pixel(1, 0).0, [0, 255, 0]);
    assert_eq!(l.rgb.get_pixel(2, 1).0, [255, 0, 0]);
    assert!(l.alpha.is_none());

    let p = write(
        d.path(),
        "pal_t.png",
        &palette_png(3, 2, &palette, Some(&[255, 0, 128]), &idx),
    );
    let l = load(&p, &Limits::default()).unwrap();
    let a = l.alpha.expect("tRNS gives alpha");
    assert_eq!(a.get_pixel(0, 0).0, [255]);
    assert_eq!(a.get_pixel(1, 0).0, [0]);
    assert_eq!(a.get_pixel(2, 0).0, [128]);
}

#[test]
fn alpha_png_keeps_alpha_aside() {
    let d = tmp();
    let img = RgbaImage::from_fn(8, 6, |x, y| {
        Rgba([x as u8 * 30, y as u8 * 40, 7, (x * 32) as u8])
    });
    let p = write(
        d.path(),
        "alpha.png",
        &png(&DynamicImage::ImageRgba8(img.clone())),
    );
    let l = load(&p, &Limits::default()).unwrap();
    let a = l.alpha.as_ref().expect("alpha kept");
    for (x, y, px) in img.enumerate_pixels() {
        assert_eq!(l.rgb.get_pixel(x, y).0, [px.0[0], px.0[1], px.0[2]]);
        assert_eq!(a.get_pixel(x, y).0, [px.0[3]]);
    }
}

#[test]
fn animated_gif_loads_the_first_frame() {
    let d = tmp();
    let p = write(
        d.path(),
        "anim.gif",
        &animated_gif(10, 7, [255, 0, 0], [0, 0, 255]),
    );
    let l = load(&p, &Limits::default()).unwrap();
    assert_eq!(l.format, ImageFormat::Gif);
    assert_eq!(l.dimensions(), (10, 7));
    assert!(
        l.rgb.pixels().all(|px| px.0 == [255, 0, 0]),
        "{:?}",
        l.rgb.get_pixel(0, 0)
    );
    assert!(l.alpha.is_none(), "opaque GIF carries no alpha");
}

#[test]
fn webp_tiff_bmp_are_detected_from_content() {
    let d = tmp();
    let img = gradient_rgb(20, 12);
    for (fmt, name) in [
        (ImageFormat::WebP, "w.png"),
        (ImageFormat::Tiff, "t.jpg"),
        (ImageFormat::Bmp, "b.dat"),
    ] {
        let p = write(
            d.path(),
            name,
            &encode(&DynamicImage::ImageRgb8(img.clone()), fmt),
        );
        let l = load(&p, &Limits::default()).unwrap();
        assert_eq!(l.format, fmt);
        assert_eq!(l.rgb, img, "{fmt:?} is lossless here");
    }
}

#[test]
fn exif_orientation_6_rotates_the_image() {
    let d = tmp();
    // 32x16: left half red, right half blue.
    let img = image::RgbImage::from_fn(32, 16, |x, _| {
        if x < 16 {
            Rgb([255, 0, 0])
        } else {
            Rgb([0, 0, 255])
        }
    });
    let plain = jpeg(&img, 95);
    let tagged = jpeg_insert_segment(&plain, 0xE1, &exif_orientation_payload(6));
    let p = write(d.path(), "rotated.jpg", &tagged);
    let l = load(&p, &Limits::default()).unwrap();
    // Orientation 6: display = rotate 90 degrees clockwise, so the left edge goes on top.
    assert_eq!(l.dimensions(), (16, 32));
    assert!(
        close(l.rgb.get_pixel(8, 4).0, [255, 0, 0], 40),
        "{:?}",
        l.rgb.get_pixel(8, 4)
    );
    assert!(
        close(l.rgb.get_pixel(8, 28).0, [0, 0, 255], 40),
        "{:?}",
        l.rgb.get_pixel(8, 28)
    );
    // Without the tag nothing moves.
    assert_eq!(
        load_from_bytes(&plain, "p", &Limits::default())
            .unwrap()
            .dimensions(),
        (32, 16)
    );
    // Orientation 3 (180 degrees): red ends up on the right.
    let tagged = jpeg_insert_segment(&plain, 0xE1, &exif_orientation_payload(3));
    let l = load_from_bytes(&tagged, "r", &Limits::default()).unwrap();
    assert_eq!(l.dimensions(), (32, 16));
    assert!(close(l.rgb.get_pixel(28, 8).0, [255, 0, 0], 40));
}

/// Where the stored (file) pixel shown at display position (x, y) lives, for an upright
/// image of `w` x `h`: the eight EXIF orientations, written out by hand rather than
/// borrowed from `image`, so the test does not check the library against itself.
fn stored_coords(orientation: u16, x: u32, y: u32, w: u32, h: u32) -> (u32, u32) {
    match orientation {
        1 => (x, y),
        2 => (w - 1 - x, y),         // mirrored left-right
        3 => (w - 1 - x, h - 1 - y), // rotated 180
        4 => (x, h - 1 - y),         // mirrored top-bottom
        5 => (y, x),                 // transposed
        6 => (y, w - 1 - x),         // display = stored turned 90 clockwise
        7 => (h - 1 - y, w - 1 - x), // transversed
        8 => (h - 1 - y, x),         // display = stored turned 90 anticlockwise
        _ => unreachable!(),
    }
}

/// The pixels a camera would store for `upright` when it writes `orientation`.
fn as_stored(upright: &image::RgbImage, orientation: u16) -> image::RgbImage {
    let (w, h) = upright.dimensions();
    let (sw, sh) = if orientation >= 5 { (h, w) } else { (w, h) };
    let mut stored = image::RgbImage::new(sw, sh);
    for (x, y, px) in upright.enumerate_pixels() {
        let (sx, sy) = stored_coords(orientation, x, y, w, h);
        stored.put_pixel(sx, sy, *px);
    }
    stored
}

/// Orientations 3 and 6 were checked (by two pixels each) before; this covers 2-8, every
/// pixel, in JPEG (APP1) and PNG (eXIf).
#[test]
fn every_exif_orientation_is_applied() {
    // 3x2 blocks of 16x16, six different colours: no mirror or rotation maps it onto
    // itself, and flat blocks aligned to JPEG's 8x8 grid (4:4:4) survive compression.
    const COLOURS: [[u8; 3]; 6] = [
        [230, 30, 30],
        [30, 200, 40],
        [40, 40, 220],
        [240, 220, 40],
        [20, 20, 20],
        [250, 250, 250],
    ];
    let upright =
        image::RgbImage::from_fn(48, 32, |x, y| Rgb(COLOURS[(y / 16 * 3 + x / 16) as usize]));
    // Quality 95 leaves flat blocks within a few levels (DC quantisation and YCbCr
    // rounding); a misplaced block is off by 100 or more.
    const JPEG_TOLERANCE: i16 = 6;
    for o in 1..=8u16 {
        let stored = as_stored(&upright, o);
        let jpg = jpeg_insert_segment(
            &jpeg_444(&stored, 95, None),
            0xE1,
            &exif_orientation_payload(o),
        );
        let l = load_from_bytes(&jpg, "o.jpg", &Limits::default()).unwrap();
        assert_eq!(l.dimensions(), (48, 32), "JPEG orientation {o}");
        for (x, y, px) in upright.enumerate_pixels() {
            let got = l.rgb.get_pixel(x, y).0;
            assert!(
                close(got, px.0, JPEG_TOLERANCE),
                "JPEG orientation {o} at ({x},{y}): {got:?} vs {:?}",
                px.0
            );
        }

        let png_bytes = png_insert_chunk(
            &png(&DynamicImage::ImageRgb8(stored)),
            b"eXIf",
            &exif_tiff_orientation(o),
        );
        let l = load_from_bytes(&png_bytes, "o.png", &Limits::default()).unwrap();
        assert_eq!(l.rgb, upright, "PNG orientation {o}");
    }
}

#[test]
fn broken_exif_does_not_cost_the_photo() {
    let plain = jpeg(&gradient_rgb(16, 8), 90);
    let tagged = jpeg_insert_segment(&plain, 0xE1, b"Exif\0\0MM\0\x2A\xFF\xFF\xFF\xFF");
    let l = load_from_bytes(&tagged, "x", &Limits::default()).unwrap();
    assert_eq!(l.dimensions(), (16, 8));
}

#[test]
fn directory_is_refused() {
    let d = tmp();
    let e = load(d.path(), &Limits::default()).unwrap_err();
    assert!(matches!(e, ImageError::IsDirectory { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!("cannot read {}: is a directory", s(d.path()))
    );
}

#[test]
fn missing_file_is_refused() {
    let d = tmp();
    let p = d.path().join("nope.jpg");
    let e = load(&p, &Limits::default()).unwrap_err();
    assert!(matches!(e, ImageError::NotFound { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!("cannot read {}: no such file", s(&p))
    );
}

#[test]
fn unreadable_file_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let d = tmp();
    if permissions_not_enforced(d.path()) {
        eprintln!("skipped: running with permission override (root?), chmod 000 is readable");
        return;
    }
    let p = write(
        d.path(),
        "secret.png",
        &png(&DynamicImage::ImageRgb8(gradient_rgb(4, 4))),
    );
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o000)).unwrap();
    let e = load(&p, &Limits::default()).unwrap_err();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(matches!(e, ImageError::PermissionDenied { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!("cannot read {}: permission denied", s(&p))
    );
}

/// Every prefix and many corrupted copies of small images in all six formats: no
/// panic ever, and every error is one line naming the input.
#[test]
fn fuzzed_corpus_never_panics() {
    let rgb = DynamicImage::ImageRgb8(noise_rgb(24, 16, 5));
    let rgba = DynamicImage::ImageRgba8(RgbaImage::from_fn(24, 16, |x, y| {
        Rgba([x as u8 * 9, y as u8 * 13, 77, (x * y) as u8])
    }));
    let mut seeds = vec![
        png(&rgb),
        png(&rgba),
        jpeg(&noise_rgb(24, 16, 6), 80),
        encode(&rgb, ImageFormat::WebP),
        encode(&rgba, ImageFormat::WebP),
        encode(&rgb, ImageFormat::Tiff),
        encode(&rgb, ImageFormat::Bmp),
        animated_gif(12, 9, [1, 2, 3], [200, 100, 50]),
        cmyk_jpeg(2, 2, [10, 20, 30, 40]),
    ];
    seeds.push(jpeg_insert_segment(
        &seeds[2],
        0xE1,
        &exif_orientation_payload(8),
    ));
    // Tight limits keep a corrupted header from making us decode something huge.
    let limits = Limits {
        max_pixels: 1 << 20,
        max_file_bytes: 1 << 20,
    };
    let mut state = 0x1234_5678u32;
    let mut rand = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state
    };
    let mut checked = 0;
    let mut check = |bytes: &[u8]| {
        if let Err(e) = load_from_bytes(bytes, "fuzz-input", &limits) {
            let msg = e.to_string();
            assert!(
                msg.starts_with("cannot read fuzz-input: ") && !msg.contains('\n'),
                "{msg}"
            );
        }
        checked += 1;
    };
    for seed in &seeds {
        assert!(load_from_bytes(seed, "seed", &limits).is_ok());
        for cut in (0..seed.len()).step_by((seed.len() / 40).max(1)) {
            check(&seed[..cut]);
        }
        for _ in 0..150 {
            let mut m = seed.clone();
            for _ in 0..1 + rand() % 4 {
                let i = rand() as usize % m.len();
                m[i] = rand() as u8;
            }
            check(&m);
        }
    }
    assert!(checked > 1500);
}
