//! Saving: formats by extension, alpha, metadata, atomic writes, write errors.

mod common;

use std::path::Path;

use common::*;
use image::{GrayImage, ImageFormat, Luma, RgbImage};
use stylize_io::{encode_to_vec, load, save, ImageError, Limits, OutputFormat, SaveOptions};

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

fn mask(w: u32, h: u32) -> GrayImage {
    GrayImage::from_fn(w, h, |x, y| Luma([((x * 7 + y * 3) % 256) as u8]))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn png_round_trip_is_exact_with_and_without_alpha() {
    let d = tmp();
    let rgb = noise_rgb(33, 17, 1);
    let p = d.path().join("out.png");
    save(&p, &rgb, None, &SaveOptions::default()).unwrap();
    let l = load(&p, &Limits::default()).unwrap();
    assert_eq!(l.rgb, rgb);
    assert!(l.alpha.is_none());

    let a = mask(33, 17);
    save(&p, &rgb, Some(&a), &SaveOptions::default()).unwrap();
    let l = load(&p, &Limits::default()).unwrap();
    assert_eq!(l.rgb, rgb);
    assert_eq!(l.alpha.as_ref(), Some(&a));
}

#[test]
fn alpha_of_the_input_size_is_resized_to_the_output() {
    let d = tmp();
    let p = d.path().join("big.png");
    let rgb = gradient_rgb(40, 20);
    let a = GrayImage::from_pixel(10, 5, Luma([99]));
    save(&p, &rgb, Some(&a), &SaveOptions::default()).unwrap();
    let l = load(&p, &Limits::default()).unwrap();
    let got = l.alpha.expect("alpha re-attached");
    assert_eq!(got.dimensions(), (40, 20));
    assert!(got.pixels().all(|v| v.0 == [99]));
}

#[test]
fn webp_is_lossless_and_keeps_alpha() {
    let d = tmp();
    let p = d.path().join("out.WebP");
    let rgb = noise_rgb(20, 10, 2);
    let a = mask(20, 10);
    save(&p, &rgb, Some(&a), &SaveOptions::default()).unwrap();
    let l = load(&p, &Limits::default()).unwrap();
    assert_eq!(l.format, ImageFormat::WebP);
    assert_eq!(l.rgb, rgb);
    assert_eq!(l.alpha, Some(a));
}

#[test]
fn jpeg_drops_alpha_honours_quality_and_writes_comments() {
    let d = tmp();
    let rgb = noise_rgb(64, 48, 3);
    let opts =
        SaveOptions::default().with_metadata(&[("Software", "stylize"), ("Style", "Starry Night")]);
    let p = d.path().join("out.jpeg");
    save(&p, &rgb, Some(&mask(64, 48)), &opts).unwrap();
    let bytes = std::fs::read(&p).unwrap();
    let l = load(&p, &Limits::default()).unwrap();
    assert_eq!(l.format, ImageFormat::Jpeg);
    assert_eq!(l.dimensions(), (64, 48));
    assert!(l.alpha.is_none(), "JPEG carries no alpha");
    // COM segments: FF FE, length, text.
    let i = find(&bytes, b"Software: stylize").expect("comment present");
    assert_eq!(&bytes[i - 4..i - 2], &[0xFF, 0xFE]);
    assert_eq!(
        u16::from_be_bytes([bytes[i - 2], bytes[i - 1]]) as usize,
        2 + 17
    );
    assert!(find(&bytes, b"Style: Starry Night").is_some());
    // The comment sits behind the JFIF APP0, before the tables.
    assert_eq!(&bytes[2..4], &[0xFF, 0xE0]);
    assert!(i < find(&bytes, &[0xFF, 0xDB]).unwrap());

    let low = encode_to_vec(
        &rgb,
        None,
        OutputFormat::Jpeg,
        &SaveOptions::default().with_jpeg_quality(10),
        "x",
    )
    .unwrap();
    let high = encode_to_vec(&rgb, None, OutputFormat::Jpeg, &SaveOptions::default(), "x").unwrap();
    assert!(
        low.len() < high.len(),
        "quality 10 ({}) vs 92 ({})",
        low.len(),
        high.len()
    );
}

#[test]
fn png_text_chunks_are_written() {
    let d = tmp();
    let p = d.path().join("meta.png");
    let opts = SaveOptions::default()
        .with_metadata(&[("Software", "stylize 0.1"), ("Title", "chat noir — été")]);
    save(&p, &gradient_rgb(8, 8), None, &opts).unwrap();
    let bytes = std::fs::read(&p).unwrap();
    // Latin-1 value -> tEXt "keyword\0text"; other UTF-8 -> iTXt.
    let t = find(&bytes, b"tEXtSoftware\0stylize 0.1").expect("tEXt chunk");
    assert!(t > 8);
    assert!(
        find(&bytes, b"iTXtTitle\0").is_some(),
        "non-Latin-1 value goes to iTXt"
    );
    // And a PNG reader sees them.
    let dec = png::Decoder::new(std::io::Cursor::new(&bytes));
    let reader = dec.read_info().unwrap();
    let info = reader.info();
    assert!(info
        .uncompressed_latin1_text
        .iter()
        .any(|c| c.keyword == "Software" && c.text == "stylize 0.1"));
    let itxt = info
        .utf8_text
        .iter()
        .find(|c| c.keyword == "Title")
        .unwrap();
    assert_eq!(itxt.get_text().unwrap(), "chat noir — été");
}

#[test]
fn invalid_metadata_key_is_an_error_and_writes_nothing() {
    let d = tmp();
    let p = d.path().join("x.png");
    let opts = SaveOptions::default().with_metadata(&[(" bad", "v")]);
    let e = save(&p, &gradient_rgb(4, 4), None, &opts).unwrap_err();
    assert!(matches!(e, ImageError::InvalidMetadata { .. }), "{e:?}");
    assert_err(&e, &s(&p), "metadata key \" bad\"");
    assert!(list(d.path()).is_empty());
}

#[test]
fn unknown_extension_is_a_clear_error() {
    let d = tmp();
    for name in ["out.gif", "out"] {
        let p = d.path().join(name);
        let e = save(&p, &gradient_rgb(4, 4), None, &SaveOptions::default()).unwrap_err();
        assert!(matches!(e, ImageError::UnsupportedOutput { .. }), "{e:?}");
        assert_err(&e, &s(&p), "unsupported output extension");
        assert_err(&e, &s(&p), "use .png, .jpg, .jpeg or .webp");
    }
    assert!(list(d.path()).is_empty());
}

#[test]
fn missing_output_directory_is_an_error_and_leaves_nothing() {
    let d = tmp();
    let dir = d.path().join("no").join("such");
    let p = dir.join("out.png");
    let e = save(&p, &gradient_rgb(4, 4), None, &SaveOptions::default()).unwrap_err();
    assert!(matches!(e, ImageError::Write { .. }), "{e:?}");
    assert_err(&e, &s(&p), &format!("directory {} does not exist", s(&dir)));
    assert!(!p.exists());
    assert!(list(d.path()).is_empty());
}

#[test]
fn output_path_that_is_a_directory_is_refused() {
    let d = tmp();
    let p = d.path().join("taken.png");
    std::fs::create_dir(&p).unwrap();
    let e = save(&p, &gradient_rgb(4, 4), None, &SaveOptions::default()).unwrap_err();
    assert_err(&e, &s(&p), "is a directory");
    assert_eq!(list(d.path()), vec!["taken.png"]);
}

#[test]
fn read_only_output_directory_is_an_error_and_leaves_nothing() {
    use std::os::unix::fs::PermissionsExt;
    let d = tmp();
    if permissions_not_enforced(d.path()) {
        eprintln!("skipped: running with permission override (root?), read-only dirs are writable");
        return;
    }
    let ro = d.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    let p = ro.join("out.jpg");
    let e = save(&p, &gradient_rgb(4, 4), None, &SaveOptions::default()).unwrap_err();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_err(&e, &s(&p), "is not writable (permission denied)");
    assert!(list(&ro).is_empty());
}

#[test]
fn writes_are_atomic_and_leave_no_temporary_files() {
    let d = tmp();
    let p = d.path().join("result.png");
    let first = gradient_rgb(16, 16);
    save(&p, &first, None, &SaveOptions::default()).unwrap();
    assert_eq!(list(d.path()), vec!["result.png"]);
    // New files get ordinary permissions (not tempfile's 0600).
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&p).unwrap().permissions().mode();
    assert_ne!(
        mode & 0o044,
        0,
        "mode {mode:o} should be readable by others (umask permitting)"
    );

    // Overwrite in place.
    let second = noise_rgb(16, 16, 9);
    save(&p, &second, None, &SaveOptions::default()).unwrap();
    assert_eq!(load(&p, &Limits::default()).unwrap().rgb, second);

    // A failing save (bad quality) over an existing file leaves it untouched.
    let j = d.path().join("result.jpg");
    save(&j, &second, None, &SaveOptions::default()).unwrap();
    let before = std::fs::read(&j).unwrap();
    let e = save(
        &j,
        &first,
        None,
        &SaveOptions::default().with_jpeg_quality(101),
    )
    .unwrap_err();
    assert_err(&e, &s(&j), "JPEG quality 101 is outside 1-100");
    assert_eq!(std::fs::read(&j).unwrap(), before);

    // An empty image fails to encode: no file, no temp file.
    let empty = d.path().join("empty.png");
    let e = save(&empty, &RgbImage::new(0, 0), None, &SaveOptions::default()).unwrap_err();
    assert_err(&e, &s(&empty), "image is empty (0x0)");
    assert_eq!(list(d.path()), vec!["result.jpg", "result.png"]);
}

#[test]
fn outputs_never_replace_devices_or_fifos() {
    let d = tmp();
    let fifo = d.path().join("pipe.png");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let e = save(&fifo, &gradient_rgb(4, 4), None, &SaveOptions::default()).unwrap_err();
    assert_err(&e, &s(&fifo), "not a regular file (a FIFO)");
    // /dev/full is the classic "disk full" device; as root, a rename would replace the node itself.
    let e = save(Path::new("/dev/full"), &gradient_rgb(4, 4), None, &SaveOptions::default()).unwrap_err();
    assert!(e.to_string().contains("/dev/full"), "{e}");
    assert!(std::fs::metadata("/dev/full").is_ok_and(|m| !m.is_file()), "/dev/full is still the device");
}

/// A small tmpfs, where the test may mount one (root with mount rights): a real full disk.
struct SmallFs(tempfile::TempDir);

impl SmallFs {
    fn mount(options: &str) -> Option<SmallFs> {
        let d = tmp();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(d.path())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(SmallFs(d))
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(self.0.path()).status();
    }
}

#[test]
fn a_full_disk_leaves_neither_a_partial_output_nor_a_temporary_file() {
    let Some(fs) = SmallFs::mount("size=64k") else {
        eprintln!("skipped: cannot mount a tmpfs here (the /dev/full case is in outputs_never_replace_devices_or_fifos)");
        return;
    };
    let p = fs.0.path().join("big.png");
    // Noise does not compress: about 600 KB of PNG into 64 KB.
    let e = save(&p, &noise_rgb(450, 450, 3), None, &SaveOptions::default()).unwrap_err();
    assert_err(&e, &s(&p), "No space left on device");
    assert!(list(fs.0.path()).is_empty(), "{:?}", list(fs.0.path()));
    // An existing output is kept as it was when the new one does not fit.
    let small = gradient_rgb(8, 8);
    save(&p, &small, None, &SaveOptions::default()).unwrap();
    assert!(save(&p, &noise_rgb(450, 450, 4), None, &SaveOptions::default()).is_err());
    assert_eq!(load(&p, &Limits::default()).unwrap().rgb, small);
    assert_eq!(list(fs.0.path()), vec!["big.png"]);
}

#[test]
fn a_read_only_file_system_is_named_and_left_alone() {
    let Some(fs) = SmallFs::mount("ro,size=64k") else {
        eprintln!("skipped: cannot mount a tmpfs here");
        return;
    };
    let p = fs.0.path().join("out.png");
    let e = save(&p, &gradient_rgb(4, 4), None, &SaveOptions::default()).unwrap_err();
    assert_err(&e, &s(&p), "is not writable (read-only file system)");
}
