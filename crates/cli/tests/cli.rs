//! The `stylize` binary end to end: real photos in, images out, clean errors for bad input.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::{assert_bad_input, assert_strength_order, pixel_diff, stderr, stylize};

fn data(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples").join(sub)
}

fn cat() -> String {
    data("photos/cat.jpg").display().to_string()
}

fn wave() -> String {
    data("paintings/hokusai_great_wave.jpg").display().to_string()
}

#[test]
fn help_lists_the_commands_with_examples() {
    let o = stylize(&["--help"]);
    let out = String::from_utf8_lossy(&o.stdout);
    for cmd in ["setup", "run", "train", "features", "Examples"] {
        assert!(out.contains(cmd), "--help should mention {cmd}: {out}");
    }
}

#[test]
fn features_reports_vgg_shapes_of_a_real_photo() {
    let o = stylize(&["features", &cat(), "--layer", "relu1_1,relu4_1", "--size", "256"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    // 640x480 resized to 256x192; relu4_1 is at 1/8.
    assert!(out.contains("[1, 64, 192, 256]") && out.contains("[1, 512, 24, 32]"), "{out}");
    assert_bad_input(&stylize(&["features", &cat(), "--layer", "relu9_9"]), "unknown layer 'relu9_9'");
}

#[test]
fn run_stylizes_a_real_photo_at_the_right_size_with_its_settings_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cat_wave.png");
    let o = stylize(&["run", &cat(), "--style", &wave(), "-o", out.to_str().unwrap(), "--size", "320", "--strength", "0.8"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let img = stylize_io::load(&out, &Default::default()).unwrap();
    assert_eq!(img.rgb.dimensions(), (320, 240));
    let bytes = std::fs::read(&out).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("stylize:strength") && text.contains("hokusai_great_wave"), "settings in the PNG text chunks");
    // Nothing else left in the folder (no temporary files).
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn lower_strength_stays_closer_to_the_photo() {
    // Strength 0 decodes the photos' own features (the model was trained to invert them with
    // the identity term); more style moves the result away from the photo. Averaged over three
    // photos: models up to step 10,570 darkened the cat's red background at strength 0 more
    // than at 0.5 (see models/default/MODEL_CARD.md).
    // The bound at 0 guards the shipped model (models/default/MODEL_CARD.md has its value).
    assert_strength_order("default", MAX_RECONSTRUCTION_ERROR);
}

/// The shipped model's strength-0 error on these photos: 21.2 measured at step 16,588, + 10%.
const MAX_RECONSTRUCTION_ERROR: f64 = 23.3;

#[test]
fn mixing_two_styles_differs_from_either() {
    let dir = tempfile::tempdir().unwrap();
    let (cat, wave) = (cat(), wave());
    let lion = data("paintings/durer_lion.jpg").display().to_string();
    let runs: [(&str, Vec<&str>); 3] = [
        ("a.png", vec!["--style", &wave]),
        ("b.png", vec!["--style", &lion]),
        ("ab.png", vec!["--style", &wave, "--style", &lion, "--mix", "0.5,0.5"]),
    ];
    for (name, styles) in &runs {
        let out = dir.path().join(name).display().to_string();
        let mut args = vec!["run", cat.as_str(), "--size", "128", "-o", out.as_str()];
        args.extend(styles);
        let o = stylize(&args);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let load = |n: &str| stylize_io::load(&dir.path().join(n), &Default::default()).unwrap().rgb.into_raw();
    let (a, b, ab) = (load("a.png"), load("b.png"), load("ab.png"));
    assert_ne!(ab, a);
    assert_ne!(ab, b);
}

#[test]
fn bad_input_gets_one_clear_line_exit_2_and_no_output_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.png");
    let o = out.to_str().unwrap();
    let text = dir.path().join("notes.jpg");
    std::fs::write(&text, "hello, not an image").unwrap();
    let empty = dir.path().join("empty.png");
    std::fs::write(&empty, b"").unwrap();

    assert_bad_input(&stylize(&["run", "/nonexistent/photo.jpg", "--style", &wave(), "-o", o]), "/nonexistent/photo.jpg");
    assert_bad_input(&stylize(&["run", text.to_str().unwrap(), "--style", &wave(), "-o", o]), "notes.jpg");
    assert_bad_input(&stylize(&["run", empty.to_str().unwrap(), "--style", &wave(), "-o", o]), "empty");
    assert_bad_input(&stylize(&["run", &cat(), "--style", "/nonexistent/style.jpg", "-o", o]), "style.jpg");
    assert_bad_input(&stylize(&["run", &cat(), "--style", &wave(), "-o", o, "--strength", "1.5"]), "--strength");
    assert_bad_input(&stylize(&["run", &cat(), "--style", &wave(), "-o", o, "--mix", "0.5,0.5"]), "2 weights for 1 styles");
    assert_bad_input(&stylize(&["run", &cat(), "--style", &wave(), "-o", &format!("{o}.gif")]), "unknown output format");
    assert_bad_input(&stylize(&["run", dir.path().to_str().unwrap(), "--style", &wave(), "-o", o]), "is a directory");
    assert_bad_input(&stylize(&["run", &cat(), "--style", &wave(), "-o", o, "--mix", "0,0", "--style", &wave()]), "sum to a positive");
    assert_bad_input(&stylize(&["run", &cat(), "--style", &wave(), "-o", o, "--strength=-0.1"]), "--strength");
    assert_bad_input(&stylize(&["run", &cat(), "--style", &wave(), "-o", o, "--tile", "100"]), "--tile");
    assert_bad_input(&stylize(&["run", &cat(), "--style", &wave(), "-o", o, "--style-scale", "0"]), "--style-scale");
    assert_bad_input(&stylize(&["run", &cat(), "--style", &wave(), "--model", "/nonexistent/model", "-o", o]), "no model at /nonexistent/model");
    let missing_dir = dir.path().join("no/such/dir/out.png");
    let r = stylize(&["run", &cat(), "--style", &wave(), "--size", "64", "-o", missing_dir.to_str().unwrap()]);
    assert_ne!(r.status.code(), Some(0));
    assert!(stderr(&r).contains("no/such/dir"), "{}", stderr(&r));
    assert!(!out.exists(), "no output file after failures");
}

fn load_rgb(p: &Path) -> stylize_io::RgbImage {
    stylize_io::load(p, &Default::default()).unwrap().rgb
}

/// A temporary folder for one test, and `stylize run` writing into it.
struct Scratch(tempfile::TempDir);

impl Scratch {
    fn new() -> Self {
        Scratch(tempfile::tempdir().unwrap())
    }

    fn path(&self, name: &str) -> String {
        self.0.path().join(name).display().to_string()
    }

    /// `stylize run ARGS -o NAME`, which must succeed; the output as read back.
    fn run(&self, args: &[&str], out: &str) -> stylize_io::RgbImage {
        let o = stylize(&[&["run"][..], args, &["-o", &self.path(out)][..]].concat());
        assert!(o.status.success(), "{}", stderr(&o));
        load_rgb(Path::new(&self.path(out)))
    }

    /// A black-and-white label image or mask: white where `white(x, y)`.
    fn two_tone(&self, name: &str, w: u32, h: u32, white: &dyn Fn(u32, u32) -> bool) -> String {
        image::RgbImage::from_fn(w, h, |x, y| image::Rgb([if white(x, y) { 255 } else { 0 }; 3])).save(self.path(name)).unwrap();
        self.path(name)
    }
}

#[test]
fn tiled_result_matches_the_untiled_one() {
    // 400x300 in 128 px tiles (halo 64): 4x3 tiles. The halo covers the receptive field and
    // the tiles share the whole image's statistics, so only float rounding may differ.
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("whole.png"), dir.path().join("tiled.png"));
    // In f32: bf16 (`--precision auto` on CPUs with AVX512-BF16) rounds each path more coarsely.
    for (out, tile) in [(&a, "0"), (&b, "128")] {
        let o = stylize(&["run", &cat(), "--style", &wave(), "--size", "400", "--tile", tile, "--precision", "f32", "-o", out.to_str().unwrap()]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let (mean, max) = pixel_diff(&load_rgb(&a), &load_rgb(&b));
    assert!(mean < 0.01 && max <= 2, "tiled vs untiled: mean {mean:.4}, max {max} (of 255)");
}

#[test]
fn auto_precision_is_bf16_where_the_cpu_has_it_and_stays_near_f32() {
    // `--precision auto` (the default) is bf16 on CPUs with AVX512-BF16, f32 elsewhere (where
    // this compares f32 with itself). bf16 measured here: mean 0.3-0.6, max 9-30 of 255.
    let native = stylize_model::Precision::native() == stylize_model::Precision::Bf16;
    let dir = tempfile::tempdir().unwrap();
    for model in ["default", "fast"] {
        let (f32_out, auto_out) = (dir.path().join(format!("{model}-f32.png")), dir.path().join(format!("{model}-auto.png")));
        for (out, precision) in [(&f32_out, "f32"), (&auto_out, "auto")] {
            let o = stylize(&["run", &cat(), "--style", &wave(), "--model", model, "--size", "256", "--precision", precision, "--timings", "-o", out.to_str().unwrap()]);
            assert!(o.status.success(), "{}", stderr(&o));
            if precision == "auto" {
                let want = if native { "timings (bf16)" } else { "timings (f32)" };
                assert!(stderr(&o).contains(want), "{model}: expected {want}: {}", stderr(&o));
            }
        }
        let (mean, max) = pixel_diff(&load_rgb(&f32_out), &load_rgb(&auto_out));
        eprintln!("{model}: auto against f32: mean {mean:.3}, max {max} (of 255)");
        assert!(mean < 1.5 && max <= 64, "{model}: auto against f32: mean {mean:.3}, max {max} (of 255)");
    }
}

#[test]
fn preserve_color_keeps_the_photos_chroma() {
    let dir = tempfile::tempdir().unwrap();
    let (plain, kept) = (dir.path().join("plain.png"), dir.path().join("kept.png"));
    for (out, extra) in [(&plain, None), (&kept, Some("--preserve-color"))] {
        let mut args = vec!["run", &cat(), "--style", &wave(), "--size", "160", "-o", out.to_str().unwrap()].into_iter().map(String::from).collect::<Vec<_>>();
        args.extend(extra.map(String::from));
        let o = stylize(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let photo = stylize_io::resize_to_max_side(&load_rgb(Path::new(&cat())), 160, true);
    // Chroma distance (Cb, Cr of BT.601) to the photo, mean over pixels.
    let chroma = |img: &stylize_io::RgbImage| {
        let c = |p: &[u8]| {
            let (r, g, b) = (p[0] as f64, p[1] as f64, p[2] as f64);
            (-0.1687 * r - 0.3313 * g + 0.5 * b, 0.5 * r - 0.4187 * g - 0.0813 * b)
        };
        img.as_raw().chunks(3).zip(photo.as_raw().chunks(3)).map(|(a, b)| {
            let ((a1, a2), (b1, b2)) = (c(a), c(b));
            (a1 - b1).abs() + (a2 - b2).abs()
        }).sum::<f64>() / (img.width() * img.height()) as f64
    };
    let (d_plain, d_kept) = (chroma(&load_rgb(&plain)), chroma(&load_rgb(&kept)));
    // Not 0: where the painting's luminance and the photo's colour fall outside RGB together,
    // the result is clipped (measured: plain 54.9, preserved 4.7).
    assert!(d_kept < d_plain / 5.0, "chroma distance to the photo: plain {d_plain:.1}, preserved {d_kept:.1}");
}

#[test]
fn batch_writes_named_outputs_skips_existing_and_reports_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let photos = dir.path().join("photos");
    std::fs::create_dir(&photos).unwrap();
    std::fs::copy(cat(), photos.join("cat.jpg")).unwrap();
    std::fs::copy(data("photos/cat.jpg"), photos.join("cat2.jpg")).unwrap();
    std::fs::write(photos.join("broken.jpg"), "not a jpeg").unwrap();
    let out = dir.path().join("out");
    let wave = wave();
    let args = |extra: &[&str]| {
        let mut a = vec!["run", photos.to_str().unwrap(), "--style", &wave, "--size", "96", "--out-dir", out.to_str().unwrap(), "--format", "jpg"];
        a.extend_from_slice(extra);
        a.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let run = |extra: &[&str]| {
        let a = args(extra);
        stylize(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let o = run(&[]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "a failed file makes the batch fail: {err}");
    assert!(err.contains("broken.jpg") && err.contains("2 written, 0 skipped") && err.contains("1 failed"), "{err}");
    let wave_stem = Path::new(&wave).file_stem().unwrap().to_string_lossy().into_owned();
    for name in ["cat", "cat2"] {
        let f = out.join(format!("{name}_{wave_stem}.jpg"));
        assert_eq!(load_rgb(&f).dimensions(), (96, 72), "{}", f.display());
    }
    assert!(!out.join(format!("broken_{wave_stem}.jpg")).exists());
    assert!(stderr(&run(&[])).contains("0 written, 2 skipped"));
    assert!(stderr(&run(&["--overwrite"])).contains("2 written, 0 skipped"));
    // A folder with -o, or without --out-dir, is refused before any work.
    assert_bad_input(&stylize(&["run", photos.to_str().unwrap(), "--style", &wave]), "--out-dir");
}

#[test]
fn optimize_method_runs_without_a_model() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("g.png");
    let o = stylize(&["run", &cat(), "--style", &wave(), "--method", "optimize", "--steps", "20", "--size", "64", "--model", "/nonexistent", "-o", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let got = load_rgb(&out);
    assert_eq!(got.dimensions(), (64, 48));
    let photo = stylize_io::resize_to_max_side(&load_rgb(Path::new(&cat())), 64, true);
    let (mean, _) = pixel_diff(&got, &photo);
    assert!(mean > 1.0, "20 steps of style should change the photo (mean diff {mean:.2})");
}

#[test]
fn eval_scores_every_method_and_writes_its_report() {
    let dir = tempfile::tempdir().unwrap();
    let (photos, paintings) = (dir.path().join("photos"), dir.path().join("paintings"));
    std::fs::create_dir(&photos).unwrap();
    std::fs::create_dir(&paintings).unwrap();
    std::fs::copy(cat(), photos.join("cat.jpg")).unwrap();
    std::fs::copy(wave(), paintings.join("wave.jpg")).unwrap();
    std::fs::copy(data("paintings/durer_lion.jpg"), paintings.join("lion.jpg")).unwrap();
    // An "external method" that returns the photo: its content distance must be 0.
    let ext = dir.path().join("ext");
    std::fs::create_dir(&ext).unwrap();
    // The photo at eval's working size (64 px, the same resize), saved losslessly.
    let small = stylize_io::resize_to_max_side(&load_rgb(Path::new(&cat())), 64, true);
    for p in ["wave", "lion"] {
        stylize_io::save(&ext.join(format!("cat__{p}.png")), &small, None, &Default::default()).unwrap();
    }
    let out = dir.path().join("report");
    let o = stylize(&[
        "eval", "--content", photos.to_str().unwrap(), "--style", paintings.to_str().unwrap(), "--size", "64", "--gatys", "1",
        "--gatys-steps", "3", "--external", &format!("same={}", ext.display()), "--out", out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let methods = report["methods"].as_array().unwrap();
    let names: Vec<&str> = methods.iter().map(|m| m["method"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 7, "{names:?}");
    let by = |n: &str| methods.iter().find(|m| m["method"].as_str().unwrap().starts_with(n)).unwrap();
    assert_eq!((by("photo")["mean"]["content"].as_f64(), by("photo")["mean"]["st_lpips"].as_f64()), (Some(0.0), Some(0.0)));
    assert!(by("same")["mean"]["content"].as_f64().unwrap() < 1e-9, "the external photo copy is the photo");
    assert!(by("same")["mean"]["st_lpips"].as_f64().unwrap() < 1e-6);
    assert_eq!(by("Gatys")["pairs"].as_array().unwrap().len(), 1);
    // The model row is named for the model and its kind.
    assert_eq!(by("stylize default (vgg)")["pairs"].as_array().unwrap().len(), 2);
    let model = by("stylize default (vgg)");
    assert!(model["mean"]["st_lpips"].as_f64().unwrap() > 0.05, "stylized is not the photo");
    let m = &model["mean"];
    let artfid = (1.0 + m["content"].as_f64().unwrap()) * (1.0 + m["style_frechet"].as_f64().unwrap());
    assert!((model["artfid_shaped"].as_f64().unwrap() - artfid).abs() < 1e-9);
    // Sheet: header row + 1 photo row, blank corner + 2 painting columns.
    let sheet = load_rgb(&out.join("sheet.png"));
    assert!(sheet.width() > sheet.height(), "3 columns x 2 rows: {:?}", sheet.dimensions());
    assert!(std::fs::read_to_string(out.join("report.md")).unwrap().contains("ArtFID-shaped"));
    // Strength 0 decodes the cat back: 30.1 of 255 at 64 px with the step-16,588 model, + 10%.
    let recon = &report["reconstruction_at_strength_0"];
    let error = recon["error"].as_f64().unwrap();
    assert!(error > 0.0 && error < 33.1 && recon["brightness_shift"].is_f64(), "{recon}");
}

#[test]
fn eval_artist_compares_models_and_scores_real_paintings_as_yardsticks() {
    // The wave plays the artist, learnt and held out at once (the same file), so the
    // artist's yardstick row must be exactly 0; the other two sample paintings and copies of
    // them are the others (the classifier keeps every 4th for its test).
    let dir = tempfile::tempdir().unwrap();
    let folder = |name: &str, files: &[(&str, PathBuf)]| -> String {
        let d = dir.path().join(name);
        std::fs::create_dir(&d).unwrap();
        for (to, from) in files {
            std::fs::copy(from, d.join(to)).unwrap();
        }
        d.display().to_string()
    };
    let (lion, ramparts) = (data("paintings/durer_lion.jpg"), data("paintings/bazille_ramparts.jpg"));
    let photos = folder("photos", &[("cat.jpg", data("photos/cat.jpg"))]);
    let artist = folder("artist", &[("wave.jpg", PathBuf::from(wave()))]);
    let held_out = folder("held-out", &[("wave.jpg", PathBuf::from(wave()))]);
    let others = folder("others", &[("a.jpg", lion.clone()), ("b.jpg", ramparts.clone()), ("c.jpg", lion), ("d.jpg", ramparts)]);
    let out = dir.path().join("report");
    // At --size 512, the size paintings are read at, so the yardstick sees the same tensor.
    let args = ["eval-artist", "--content", &photos, "--artist", &artist, "--held-out", &held_out, "--photos", "1", "--size", "512", "--crops", "2"];
    let o = stylize(&[&args[..], &["--others", &others, "--model", "default", "--model", "default", "--out", out.to_str().unwrap()]].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let models = report["models"].as_array().unwrap();
    assert_eq!(models.len(), 2);
    assert_eq!(models[0]["held_out"], models[1]["held_out"], "one model twice scores the same");
    assert_eq!(models[0]["classified_as_artist"].as_array().unwrap().len(), 2, "a share per classifier");
    let classifiers: Vec<&str> = report["classifiers"].as_array().unwrap().iter().map(|c| c["features"].as_str().unwrap()).collect();
    assert_eq!(classifiers, ["mean/std", "correlations"]);
    let yard = report["yardsticks"].as_array().unwrap();
    let (own, rest) = (&yard[0]["held_out"], &yard[1]["held_out"]);
    for k in ["stats", "gram", "frechet"] {
        assert!(own[k].as_f64().unwrap().abs() < 1e-9, "the held-out painting against itself: {own}");
        assert!(rest[k].as_f64().unwrap() > 0.01, "other paintings are not the wave: {rest}");
    }
    assert!(yard[0]["pooled_frechet"].as_f64().unwrap().abs() < 1e-6 && yard[1]["pooled_frechet"].as_f64().unwrap() > 0.01, "{yard:?}");
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("(yardstick)") && md.contains("held-out mean/std +0.0%"), "{md}");
    // Too few others for the classifier's test: one line, exit 2.
    let two = folder("two", &[("a.jpg", data("paintings/durer_lion.jpg")), ("b.jpg", data("paintings/bazille_ramparts.jpg"))]);
    assert_bad_input(&stylize(&[&args[..], &["--others", &two, "--model", "default", "--out", out.to_str().unwrap()]].concat()), "at least 4 other paintings");
}

#[test]
fn train_rejects_bad_folders_and_configs() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let run = dir.path().join("run");
    let (e, r) = (empty.to_str().unwrap(), run.to_str().unwrap());
    let photos = data("photos").display().to_string();
    assert_bad_input(&stylize(&["train", "--content", &photos, "--style", e, "--out", r]), "no image files");
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "stepz = 3\n").unwrap();
    assert_bad_input(&stylize(&["train", "--content", &photos, "--style", &photos, "--out", r, "--config", cfg.to_str().unwrap()]), "stepz");
    assert_bad_input(&stylize(&["train", "--content", &photos, "--style", &photos, "--out", r, "--resume"]), "no checkpoint");
    // The shipped fine-tune's discriminator warm-up is 300 steps: --steps 100 leaves no
    // generator step, which would export the parent unchanged.
    let finetune = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/finetune.toml");
    let short_run = dir.path().join("short");
    let short = stylize(&["train", "--from", "default", "--content", &photos, "--style", &photos, "--out", short_run.to_str().unwrap(), "--config", finetune.to_str().unwrap(), "--steps", "100"]);
    assert_bad_input(&short, "d_only_steps = 300");
    assert!(!short_run.exists(), "nothing is written for a config that cannot run");
}

#[test]
fn train_from_a_model_starts_exactly_at_it_and_records_it() {
    // One step with the generator's learning rate at 0: the exported model must still be the
    // parent, bit for bit, so its output equals the parent's. Runs are in f32, where a
    // collection's stored codes and the same paintings given with --style agree bit for bit.
    let dir = tempfile::tempdir().unwrap();
    let run = common::fine_tune(dir.path(), "run");
    assert!(run.join("model/collection.jpg").exists(), "a thumbnail for the server's gallery");
    let info: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(run.join("model/model.json")).unwrap()).unwrap();
    assert_eq!((info["parent"].as_str(), info["kind"].as_str()), (Some("default"), Some("vgg")));
    let (a, b) = (dir.path().join("parent.png"), dir.path().join("child.png"));
    for (model, out) in [("default", &a), (run.join("model").to_str().unwrap(), &b)] {
        let o = stylize(&["run", &cat(), "--style", &wave(), "--model", model, "--size", "96", "--precision", "f32", "-o", out.to_str().unwrap()]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    assert!(load_rgb(&a) == load_rgb(&b), "the fine-tune's start differs from its parent");
    // The fine-tune remembers its paintings: without --style it takes their equal mix, which
    // is what its parent makes of the same paintings given with --style (sorted by name).
    let info: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(run.join("model/model.json")).unwrap()).unwrap();
    assert_eq!(info["collection"]["name"].as_str(), Some("paintings"));
    assert_eq!(info["collection"]["paintings"].as_array().unwrap().len(), 4);
    let (own, mixed) = (dir.path().join("own.png"), dir.path().join("mixed.png"));
    let o = stylize(&["run", &cat(), "--model", run.join("model").to_str().unwrap(), "--size", "96", "--precision", "f32", "-o", own.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut args = vec!["run".to_string(), cat(), "--size".into(), "96".into(), "--precision".into(), "f32".into(), "-o".into(), mixed.display().to_string()];
    for p in ["bazille_ramparts", "durer_lion", "hokusai_great_wave", "van_gogh_starry_night"] {
        args.extend(["--style".to_string(), data(&format!("paintings/{p}.jpg")).display().to_string()]);
    }
    let o = stylize(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(load_rgb(&own) == load_rgb(&mixed), "the collection's style is its paintings' mix");
    // --variation N: N renderings, each a mix of the paintings recorded in its metadata,
    // which --mix reproduces bit for bit; a variation's number is the same rendering again.
    let o = stylize(&["run", &cat(), "--model", run.join("model").to_str().unwrap(), "--size", "96", "--precision", "f32", "--variation", "2", "-o", own.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (v1, v2) = (dir.path().join("own_v1.png"), dir.path().join("own_v2.png"));
    assert!(load_rgb(&v1) != load_rgb(&v2), "two variations, two renderings");
    let mix = png_text(&v2, "stylize:mix");
    assert_eq!(mix.split(',').count(), 4, "{mix}");
    let o = stylize(&args.iter().map(String::as_str).chain(["--mix", &mix]).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(load_rgb(&v2) == load_rgb(&mixed), "variation 2 is its recorded mix");
    assert_bad_input(&stylize(&["run", &cat(), "--style", &wave(), "--variation", "2", "-o", own.to_str().unwrap()]), "--variation draws from a model's own collection");
    // Without a collection, --style is required.
    assert_bad_input(&stylize(&["run", &cat(), "-o", own.to_str().unwrap()]), "--style is required");
    // --from names a model; a folder that is none, or --resume with --from, is refused.
    let r2 = dir.path().join("run2");
    let photos = data("photos").display().to_string();
    assert_bad_input(&stylize(&["train", "--from", dir.path().to_str().unwrap(), "--content", &photos, "--style", &photos, "--out", r2.to_str().unwrap()]), "no model at");
    assert_bad_input(&stylize(&["train", "--from", "default", "--resume", "--content", &photos, "--style", &photos, "--out", run.to_str().unwrap()]), "--from starts a fine-tune");
}

#[test]
fn setup_from_a_bad_file_names_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let junk = dir.path().join("junk.onnx");
    std::fs::write(&junk, vec![7u8; 1000]).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_stylize"))
        .args(["setup", "--from", junk.to_str().unwrap()])
        .env("STYLIZE_HOME", &home)
        .output()
        .unwrap();
    assert_bad_input(&o, "truncated");
    assert!(!home.join("vgg16.safetensors").exists());
    // Commands that need VGG say which command to run.
    let o = Command::new(env!("CARGO_BIN_EXE_stylize")).args(["features", &cat()]).env("STYLIZE_HOME", &home).output().unwrap();
    assert_bad_input(&o, "stylize setup");
}

/// A PNG's tEXt value for `key`.
fn png_text(path: &Path, key: &str) -> String {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let reader = decoder.read_info().unwrap();
    let chunk = reader.info().uncompressed_latin1_text.iter().find(|c| c.keyword == key);
    chunk.unwrap_or_else(|| panic!("{} has no {key}", path.display())).text.clone()
}

#[test]
fn a_mask_stylizes_only_where_it_is_white() {
    let t = Scratch::new();
    let (cat, wave) = (cat(), wave());
    let base = ["--style", wave.as_str(), "--size", "96"];
    let run = |extra: &[&str], out: &str| t.run(&[&[cat.as_str()][..], &base[..], extra].concat(), out);
    let plain = run(&[], "plain.png");
    assert!(run(&["--mask", &t.two_tone("white.png", 64, 48, &|_, _| true)], "white.out.png") == plain, "an all-white mask is the plain result");
    let black = t.two_tone("black.png", 64, 48, &|_, _| false);
    let o = stylize(&[&["run", cat.as_str()][..], &base[..], &["--mask", &black, "-o", &t.path("black.out.png")]].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    let photo = stylize_io::fit(&stylize_io::load(Path::new(&cat), &Default::default()).unwrap().rgb, stylize_io::Sizing::Exact(96), 16, u64::MAX).unwrap();
    assert!(load_rgb(Path::new(&t.path("black.out.png"))) == photo, "an all-black mask is the photo");
    assert!(stderr(&o).contains("has no white"), "and says so: {}", stderr(&o));
    // White on the right half: the photo on the left, the result on the right, away from the edge.
    let half = run(&["--mask", &t.two_tone("half.png", 64, 48, &|x, _| x >= 32), "--feather", "2"], "half.out.png");
    for y in 0..72 {
        for x in 0..96 {
            if x < 40 {
                assert_eq!(half.get_pixel(x, y), photo.get_pixel(x, y), "({x}, {y})");
            } else if x >= 56 {
                assert_eq!(half.get_pixel(x, y), plain.get_pixel(x, y), "({x}, {y})");
            }
        }
    }
    // Bad masks: one line, exit code 2, no output.
    let out = t.path("bad.png");
    let text = t.path("notes.txt");
    std::fs::write(&text, "not an image").unwrap();
    let square = t.two_tone("square.png", 50, 50, &|_, _| true);
    for (m, needle) in [(text.as_str(), "not an image"), (square.as_str(), "the photo's aspect ratio"), ("/nonexistent/mask.png", "no such file")] {
        assert_bad_input(&stylize(&["run", &cat, "--style", &wave, "--size", "96", "--mask", m, "-o", &out]), needle);
        assert!(!Path::new(&out).exists());
    }
    assert_bad_input(&stylize(&["run", &cat, &cat, "--style", &wave, "--mask", &square, "--out-dir", &t.path("batch")]), "--mask and --regions are for one photo");
    assert_bad_input(&stylize(&["run", &cat, "--style", &wave, "--mask", &square, "--feather=-1", "-o", &out]), "--feather");
}

#[test]
fn semantic_transfer_matches_regions_and_one_region_is_the_plain_result() {
    let t = Scratch::new();
    let (photo, wave) = (data("photos/berlin_cathedral.jpg").display().to_string(), wave());
    // In f32, where the regional and the plain paths agree bit for bit (bf16 rounds them apart).
    let run = |extra: &[&str], out: &str| t.run(&[&[photo.as_str(), "--style", &wave, "--size", "192", "--precision", "f32"][..], extra].concat(), out);
    let plain = run(&[], "plain.png");
    assert!(run(&["--semantic", "1"], "one.png") == plain, "one region is plain AdaIN");
    let three = run(&["--semantic"], "three.png");
    let (mean, _) = pixel_diff(&three, &plain);
    assert!(mean > 2.0, "three regions change the result: mean difference {mean:.2} of 255");
    let out = t.path("bad.png");
    assert_bad_input(&stylize(&["run", &photo, "--style", &wave, "--style", &wave, "--semantic", "-o", &out]), "exactly one --style");
    assert_bad_input(&stylize(&["run", &photo, "--style", &wave, "--semantic", "9", "-o", &out]), "--semantic takes 1-8");
    assert_bad_input(&stylize(&["run", &photo, "--style", &wave, "--semantic", "--method", "optimize", "-o", &out]), "not --method optimize");
    assert!(!Path::new(&out).exists());
    // In 128 px tiles (4x3 at 400 px), with the regions found on the whole image and their
    // statistics summed over the tiles, the result is the untiled one up to float rounding.
    let whole = t.run(&[photo.as_str(), "--style", &wave, "--size", "400", "--semantic", "--tile", "0", "--precision", "f32"], "whole.png");
    let tiled = t.run(&[photo.as_str(), "--style", &wave, "--size", "400", "--semantic", "--tile", "128", "--precision", "f32"], "tiled.png");
    let (mean, max) = pixel_diff(&whole, &tiled);
    assert!(mean < 0.02 && max <= 3, "semantic, tiled vs untiled: mean {mean:.4}, max {max} (of 255)");
}

#[test]
fn a_label_image_gives_each_region_its_painting() {
    let t = Scratch::new();
    let (cat, wave, lion) = (cat(), wave(), data("paintings/durer_lion.jpg").display().to_string());
    let run = |extra: &[&str], out: &str| t.run(&[&[cat.as_str(), "--size", "96"][..], extra].concat(), out);
    let wave_only = run(&["--style", &wave], "wave.png");
    let lion_only = run(&["--style", &lion], "lion.png");
    // Top half black (the first painting), bottom half white (the second), at another size.
    let labels = t.two_tone("labels.png", 64, 48, &|_, y| y >= 24);
    let both = run(&["--regions", &labels, "--style", &wave, "--style", &lion, "--feather", "1"], "both.png");
    for y in (0..72).filter(|y| !(30..42).contains(y)) {
        for x in 0..96 {
            let want = if y < 36 { wave_only.get_pixel(x, y) } else { lion_only.get_pixel(x, y) };
            assert_eq!(both.get_pixel(x, y), want, "({x}, {y})");
        }
    }
    let out = t.path("bad.png");
    assert_bad_input(&stylize(&["run", &cat, "--regions", &labels, "--style", &wave, "-o", &out]), "has 2 colours for 1 painting:");
    assert_bad_input(&stylize(&["run", &cat, "--regions", &labels, "--style", &wave, "--style", &lion, "--mix", "1,2", "-o", &out]), "--regions takes");
    assert!(!Path::new(&out).exists());
}

#[test]
fn drawn_regions_pair_photo_and_painting_regions() {
    let t = Scratch::new();
    let (photo, wave) = (data("photos/berlin_cathedral.jpg").display().to_string(), wave());
    let run = |extra: &[&str], out: &str| t.run(&[&[photo.as_str(), "--style", &wave, "--size", "192", "--precision", "f32"][..], extra].concat(), out);
    let plain = run(&[], "plain.png");
    // One region each (a single colour) is the plain result.
    let (one_p, one_s) = (t.two_tone("one_p.png", 30, 20, &|_, _| false), t.two_tone("one_s.png", 40, 27, &|_, _| true));
    assert!(run(&["--photo-regions", &one_p, "--painting-regions", &one_s], "one.png") == plain);
    // The photo's top half takes the wave's left half, its bottom half the wave's right half;
    // swapping the painting's halves gives another picture.
    let top = t.two_tone("top.png", 30, 20, &|_, y| y >= 10);
    let (left, right) = (t.two_tone("left.png", 40, 27, &|x, _| x >= 20), t.two_tone("right.png", 40, 27, &|x, _| x < 20));
    let a = run(&["--photo-regions", &top, "--painting-regions", &left], "a.png");
    let b = run(&["--photo-regions", &top, "--painting-regions", &right], "b.png");
    assert!(a != plain && a != b);
    // In tiles, the drawn regions and their statistics are the whole image's.
    let drawn = ["--photo-regions", top.as_str(), "--painting-regions", left.as_str(), "--size", "400", "--precision", "f32"];
    let whole = t.run(&[&[photo.as_str(), "--style", &wave][..], &drawn, &["--tile", "0"]].concat(), "whole.png");
    let tiled = t.run(&[&[photo.as_str(), "--style", &wave][..], &drawn, &["--tile", "128"]].concat(), "tiled.png");
    let (mean, max) = pixel_diff(&whole, &tiled);
    assert!(mean < 0.02 && max <= 3, "drawn regions, tiled vs untiled: mean {mean:.4}, max {max} (of 255)");
    let out = t.path("bad.png");
    image::RgbImage::from_fn(40, 27, |x, _| image::Rgb([(x / 14 * 100) as u8; 3])).save(t.path("three.png")).unwrap();
    assert_bad_input(&stylize(&["run", &photo, "--style", &wave, "--photo-regions", &top, "--painting-regions", &t.path("three.png"), "-o", &out]), "has 3");
    let o = stylize(&["run", &photo, "--style", &wave, "--photo-regions", &top, "-o", &out]);
    assert_eq!(o.status.code(), Some(2), "--photo-regions needs --painting-regions");
    assert!(!Path::new(&out).exists());
}
