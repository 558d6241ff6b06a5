//! Shared by the binary's tests: running `stylize`, the sample images, a tiny distillation.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn stylize(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stylize")).args(args).output().expect("run stylize")
}

pub fn sample(sub: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples").join(sub).display().to_string()
}

/// Mean and max absolute difference of two same-sized images, 0..255.
pub fn pixel_diff(a: &stylize_io::RgbImage, b: &stylize_io::RgbImage) -> (f64, u8) {
    assert_eq!(a.dimensions(), b.dimensions());
    let d: Vec<u8> = a.as_raw().iter().zip(b.as_raw()).map(|(x, y)| x.abs_diff(*y)).collect();
    (d.iter().map(|&v| v as f64).sum::<f64>() / d.len() as f64, d.iter().copied().max().unwrap_or(0))
}

/// The photos of the strength tests: the three sample photos.
const STRENGTH_PHOTOS: [&str; 3] = ["cat.jpg", "bent_pyramid.jpg", "berlin_cathedral.jpg"];

/// Each of the sample photos at 256 px beside its stylization with the wave by `model` (a
/// shipped name or a folder) at `strength`, all made by one batch run.
pub fn stylized_samples(model: &str, strength: &str) -> Vec<(stylize_io::RgbImage, stylize_io::RgbImage)> {
    let dir = tempfile::tempdir().unwrap();
    let photos: Vec<String> = STRENGTH_PHOTOS.iter().map(|p| sample(&format!("photos/{p}"))).collect();
    let mut args: Vec<&str> = vec!["run"];
    args.extend(photos.iter().map(String::as_str));
    let (wave, out_dir) = (sample("paintings/hokusai_great_wave.jpg"), dir.path().display().to_string());
    args.extend(["--style", &wave, "--model", model, "--out-dir", &out_dir, "--size", "256", "--strength", strength]);
    let o = stylize(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    photos
        .iter()
        .map(|p| {
            let stem = Path::new(p).file_stem().unwrap().to_string_lossy().into_owned();
            let got = stylize_io::load(&dir.path().join(format!("{stem}_hokusai_great_wave.png")), &Default::default()).unwrap().rgb;
            let photo = stylize_io::resize_to_max_side(&stylize_io::load(Path::new(p), &Default::default()).unwrap().rgb, 256, false);
            (photo, got)
        })
        .collect()
}

/// Mean absolute difference (0..255) between the sample photos and their stylizations by
/// `model` at `strength`.
pub fn distance_to_samples(model: &str, strength: &str) -> f64 {
    let pairs = stylized_samples(model, strength);
    pairs.iter().map(|(photo, out)| pixel_diff(photo, out).0).sum::<f64>() / pairs.len() as f64
}

/// `model` on the sample photos at strengths 0, 0.5 and 1 moves away from the photos in that
/// order, and at 0 (the photos' own features decoded) stays within `max_at_zero` of them.
pub fn assert_strength_order(model: &str, max_at_zero: f64) {
    let d = |s: &str| distance_to_samples(model, s);
    let (none, half, full) = (d("0"), d("0.5"), d("1"));
    let all = format!("{model}: distance to the photos at strength 0 / 0.5 / 1: {none:.1} / {half:.1} / {full:.1}");
    // The figures the model cards quote (`cargo test -- --nocapture` shows them).
    eprintln!("{all}");
    assert!(none < half && half < full, "{all}");
    assert!(none < max_at_zero, "{all} (at most {max_at_zero} at 0)");
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn assert_bad_input(o: &Output, needle: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "exit code for: {err}");
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(errors.len(), 1, "one error line: {err}");
    assert!(errors[0].contains(needle), "the error line names {needle:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// `stylize distill` on the samples with a tiny config (2 examples a step, 64 px crops, a pool
/// of 4 examples in `dir`/pool, half of them at a random strength), into `dir`/`name`.
pub fn distill(dir: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let cfg = dir.join("tiny.toml");
    std::fs::write(&cfg, "steps = 4\nbatch = 2\ncrop = 64\nshort_side = 128\nmin_short_side = 0\npool = 4\nvaried_strength = 0.5\nidentity_weight = 1.0\npreview_every = 1000\nlog_every = 1\n").unwrap();
    let out = dir.join(name);
    let mut args = vec![
        "distill", "--content", &sample("photos"), "--style", &sample("paintings"), "--teacher", "default",
        "--config", cfg.to_str().unwrap(), "--out", out.to_str().unwrap(), "--pool", dir.join("pool").to_str().unwrap(),
    ]
    .into_iter()
    .map(String::from)
    .collect::<Vec<_>>();
    args.extend(extra.iter().map(|s| s.to_string()));
    let o = stylize(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", stderr(&o));
    out
}

/// `stylize train --from default` on the sample photos and paintings for one step with the
/// generator's learning rate at 0, into `dir`/`name`: a fine-tune that is still its parent
/// (bit for bit) and has the 4 sample paintings as its collection.
pub fn fine_tune(dir: &Path, name: &str) -> PathBuf {
    let cfg = dir.join("still.toml");
    std::fs::write(
        &cfg,
        "steps = 1\nbatch = 1\ncrop = 64\nwarmup_crop = 64\nshort_side = 96\nprecision = \"f32\"\n[generator_adam]\nlr = 0.0\nbeta1 = 0.5\nbeta2 = 0.999\n",
    )
    .unwrap();
    let run = dir.join(name);
    let o = stylize(&[
        "train", "--from", "default", "--content", &sample("photos"), "--style", &sample("paintings"),
        "--config", cfg.to_str().unwrap(), "--out", run.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    run
}
