//! The fast generator through the binary: `stylize distill` makes a model folder of the fast
//! kind, `stylize run --model` uses it (whole and in tiles), and model folders that are not
//! what they claim are refused with one line and exit code 2.

mod common;

use std::path::{Path, PathBuf};

use common::{assert_bad_input, distill, sample, stderr, stylize};

/// A fast model from a 4-step distillation on the samples.
fn distilled(dir: &Path) -> PathBuf {
    let model = distill(dir, "run", &[]).join("model");
    let pooled = std::fs::read_dir(dir.join("pool")).unwrap().next().unwrap().unwrap().path();
    let files: Vec<PathBuf> = std::fs::read_dir(pooled).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 4, "the pool holds its 4 examples");
    // safetensors headers are JSON: an example at a strength below 1 names its "strength".
    let varied = files.iter().filter(|f| std::fs::read(f).unwrap().windows(10).any(|w| w == b"\"strength\"")).count();
    assert!((1..4).contains(&varied), "{varied} of 4 examples at a varied strength (share 0.5)");
    model
}

#[test]
fn an_interrupted_distillation_resumes_to_the_same_weights() {
    let dir = tempfile::tempdir().unwrap();
    let straight = distill(dir.path(), "straight", &[]);
    distill(dir.path(), "resumed", &["--steps", "2"]);
    let resumed = distill(dir.path(), "resumed", &["--resume"]);
    let weights = |run: &Path| std::fs::read(run.join("model/generator.safetensors")).unwrap();
    assert!(weights(&straight) == weights(&resumed), "4 steps straight and 2 + 2 resumed differ");
    let log = std::fs::read_to_string(resumed.join("log.csv")).unwrap();
    assert_eq!(log.lines().count(), 1 + 4, "one log row per step, none repeated: {log}");

    // The 1/2 skip and a block at 1/4 added on resume (`[fast] skip2 = true`, `blocks4 = 1`)
    // start as nothing and the identity: they change neither the output nor any other weight's
    // gradient, so after one more step every other weight is the straight run's, and only the
    // added parts have learnt.
    let straight = distill(dir.path(), "straight3", &["--steps", "3"]);
    distill(dir.path(), "skip2", &["--steps", "2"]);
    let cfg = dir.path().join("skip2.toml");
    std::fs::write(&cfg, std::fs::read_to_string(dir.path().join("tiny.toml")).unwrap() + "[fast]\nchannels = [16, 48, 96]\nskip2 = true\nblocks4 = 1\n").unwrap();
    let skip2 = dir.path().join("skip2");
    let o = stylize(&[
        "distill", "--content", &sample("photos"), "--style", &sample("paintings"), "--teacher", "default", "--config", cfg.to_str().unwrap(),
        "--out", skip2.to_str().unwrap(), "--pool", dir.path().join("pool").to_str().unwrap(), "--resume", "--steps", "3",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let tensors = |run: &Path| tch::Tensor::read_safetensors(run.join("model/generator.safetensors")).unwrap().into_iter().collect::<std::collections::HashMap<_, _>>();
    let (plain, with) = (tensors(&straight), tensors(&skip2));
    assert_eq!(with.len(), plain.len() + 2 + 4, "the skip's weight and bias, the block's two convs'");
    for (name, t) in &with {
        match plain.get(name) {
            Some(p) => assert!(p.equal(t), "{name} differs"),
            None => assert!((name.contains("skip2") || name.contains("block4_0")) && t.abs().max().double_value(&[]) > 0.0, "{name}"),
        }
    }
    // The run records them as grown (they learn at `grown_lr_scale`, as parts added by --from).
    let info: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(skip2.join("model/model.json")).unwrap()).unwrap();
    let mut grown: Vec<&str> = info["train_config"]["grown"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    grown.sort();
    let mut added: Vec<&String> = with.keys().filter(|k| !plain.contains_key(*k)).collect();
    added.sort();
    assert_eq!(grown, added, "the parts added on resume are the run's grown ones");
}

#[test]
fn distill_from_a_fast_model_starts_from_it_and_remembers_its_paintings() {
    let dir = tempfile::tempdir().unwrap();
    let start = distill(dir.path(), "start", &[]).join("model");
    // From it at learning rate 0: after a step the student is still its start, bit for bit.
    let still = dir.path().join("still.toml");
    std::fs::write(&still, std::fs::read_to_string(dir.path().join("tiny.toml")).unwrap() + "[adam]\nlr = 0.0\nbeta1 = 0.5\nbeta2 = 0.999\n").unwrap();
    let out = dir.path().join("from");
    let args = |extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = ["distill", "--content", &sample("photos"), "--style", &sample("paintings"), "--teacher", "default", "--pool", dir.path().join("pool").to_str().unwrap()]
            .iter()
            .map(|s| s.to_string())
            .collect();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let run = |extra: &[&str]| stylize(&args(extra).iter().map(String::as_str).collect::<Vec<_>>());
    let o = run(&["--from", start.to_str().unwrap(), "--config", still.to_str().unwrap(), "--steps", "1", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let weights = |m: &Path| std::fs::read(m.join("generator.safetensors")).unwrap();
    let model = out.join("model");
    assert!(weights(&model) == weights(&start), "a step at learning rate 0 changed the student");
    let info: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(model.join("model.json")).unwrap()).unwrap();
    assert_eq!(info["collection"]["paintings"].as_array().map(Vec::len), Some(4), "{info}");
    assert_eq!(info["train_config"]["from"].as_str(), Some(start.to_str().unwrap()));
    // Its collection is its style: no --style needed.
    let png = dir.path().join("cat.png");
    let o = stylize(&["run", &sample("photos/cat.jpg"), "--model", model.to_str().unwrap(), "--size", "64", "-o", png.to_str().unwrap()]);
    assert!(o.status.success() && png.exists(), "{}", stderr(&o));
    // A config that grows the start (a block at 1/4, which starts as the identity) keeps the
    // new part, and at learning rate 0 the grown student paints exactly as its start.
    let grow = dir.path().join("grow.toml");
    std::fs::write(&grow, std::fs::read_to_string(&still).unwrap() + "[fast]\nchannels = [16, 48, 96]\nblocks4 = 1\n").unwrap();
    let grown = dir.path().join("grown");
    let o = run(&["--from", start.to_str().unwrap(), "--config", grow.to_str().unwrap(), "--steps", "1", "--out", grown.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let info: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(grown.join("model/model.json")).unwrap()).unwrap();
    assert_eq!(info["fast"]["blocks4"].as_u64(), Some(1), "{info}");
    // The run records what it grew (those variables learn at `grown_lr_scale` x the rate).
    let grown_parts: Vec<&str> = info["train_config"]["grown"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(grown_parts, ["decoder.block4_0.conv0.bias", "decoder.block4_0.conv0.weight", "decoder.block4_0.conv1.bias", "decoder.block4_0.conv1.weight"]);
    let paint = |m: &Path, name: &str| {
        let png = dir.path().join(name);
        let o = stylize(&["run", &sample("photos/cat.jpg"), "--style", &sample("paintings/hokusai_great_wave.jpg"), "--model", m.to_str().unwrap(), "--size", "96", "-o", png.to_str().unwrap()]);
        assert!(o.status.success(), "{}", stderr(&o));
        load_rgb(&png)
    };
    assert!(paint(&start, "start.png") == paint(&grown.join("model"), "grown.png"), "the grown student paints otherwise");
    // A VGG16 model cannot be a student's start; --from does not go with --resume.
    assert_bad_input(&run(&["--from", "default", "--out", dir.path().join("vgg").to_str().unwrap()]), "a fast model is needed here");
    assert_bad_input(&run(&["--from", start.to_str().unwrap(), "--resume", "--out", out.to_str().unwrap()]), "--from starts a run");
    // `train --from` a fast model says how a fast model is fine-tuned.
    let o = stylize(&["train", "--from", start.to_str().unwrap(), "--content", &sample("photos"), "--style", &sample("paintings"), "--out", dir.path().join("t").to_str().unwrap()]);
    assert_bad_input(&o, "a fast model learns from a teacher");
}

fn load_rgb(p: &Path) -> stylize_io::RgbImage {
    stylize_io::load(p, &Default::default()).unwrap().rgb
}

#[test]
fn distill_makes_a_fast_model_that_run_uses_whole_and_in_tiles() {
    let dir = tempfile::tempdir().unwrap();
    let model = distilled(dir.path());
    let info: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(model.join("model.json")).unwrap()).unwrap();
    assert_eq!((info["kind"].as_str(), info["steps"].as_u64(), info["parent"].as_str()), (Some("fast"), Some(4), Some("default")));
    // The strength-0 term is logged: the student's distance to the photo, in 0..1.
    let log = std::fs::read_to_string(model.parent().unwrap().join("log.csv")).unwrap();
    let column = log.lines().next().unwrap().split(',').position(|c| c == "identity").expect("an identity column");
    let identity: Vec<f64> = log.lines().skip(1).map(|l| l.split(',').nth(column).unwrap().parse().unwrap()).collect();
    assert!(log.starts_with("step,"), "{log}");
    assert!(identity.len() == 4 && identity.iter().all(|v| *v > 0.0 && *v < 1.0), "{identity:?}");

    let (whole, tiled) = (dir.path().join("whole.png"), dir.path().join("tiled.png"));
    for (out, tile) in [(&whole, "0"), (&tiled, "128")] {
        let o = stylize(&["run", &sample("photos/cat.jpg"), "--style", &sample("paintings/hokusai_great_wave.jpg"), "--model", model.to_str().unwrap(), "--size", "400", "--tile", tile, "-o", out.to_str().unwrap()]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let (a, b) = (load_rgb(&whole), load_rgb(&tiled));
    assert_eq!(a.dimensions(), (400, 300));
    let max = a.as_raw().iter().zip(b.as_raw()).map(|(x, y)| x.abs_diff(*y)).max().unwrap();
    assert!(max <= 1, "tiled vs whole: {max}/255");

    // eval scores each --model as a method row.
    let report = dir.path().join("report");
    let o = stylize(&[
        "eval", "--content", &sample("photos"), "--style", &sample("paintings"), "--photos", "1", "--paintings", "1", "--size", "64",
        "--model", "default", "--model", model.to_str().unwrap(), "--out", report.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(report.join("report.json")).unwrap()).unwrap();
    let rows: Vec<&str> = json["methods"].as_array().unwrap().iter().map(|m| m["method"].as_str().unwrap()).collect();
    assert!(rows.contains(&"stylize default (vgg)") && rows.contains(&"stylize run (fast)"), "{rows:?}");
}

#[test]
fn model_folders_that_are_not_what_they_claim_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let default = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/default");
    let folder = |name: &str, json: &str, weights: Option<&Path>| {
        let d = dir.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("model.json"), json).unwrap();
        if let Some(w) = weights {
            std::fs::copy(w, d.join("generator.safetensors")).unwrap();
        }
        d.display().to_string()
    };
    let out = dir.path().join("out.png");
    let run = |model: &str| stylize(&["run", &sample("photos/cat.jpg"), "--style", &sample("paintings/durer_lion.jpg"), "--model", model, "--size", "64", "-o", out.to_str().unwrap()]);

    let unknown = folder("unknown", r#"{"kind": "diffusion", "steps": 1, "train_config": {}, "stylize_version": "9"}"#, None);
    assert_bad_input(&run(&unknown), "unknown variant `diffusion`, expected `vgg` or `fast`");
    // The VGG16 model's decoder weights under a fast model's description.
    let json = r#"{"kind": "fast", "fast": {"channels": [16, 48, 96]}, "steps": 1, "train_config": {}, "stylize_version": "9"}"#;
    let mismatched = folder("mismatched", json, Some(&default.join("generator.safetensors")));
    assert_bad_input(&run(&mismatched), "not the weights of a fast generator");
    let no_arch = folder("no_arch", r#"{"kind": "fast", "steps": 1, "train_config": {}, "stylize_version": "9"}"#, None);
    assert_bad_input(&run(&no_arch), "kind \"fast\" needs a \"fast\" entry");
    assert!(!out.exists(), "no output for a refused model");
}
