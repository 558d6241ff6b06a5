//! Times this project's networks for bench/run.sh, which runs bench/reference.py (the same
//! networks in PyTorch) interleaved with it.
//!
//!   bench vgg      [--precision f32|bf16] [--iters N] [--warmup N] [--size S] [--threads T]
//!   bench stylize  --model DIR [same options]
//!   bench decoder  --model DIR [same options]
//!   bench fast     [same options]  (the fast generator, issue 13; seeded random weights in
//!                                   --model's shape, or the default shape)
//!   bench dump     --model DIR --out FILE.safetensors [--size S] [--threads T]
//!   bench paths    (the VGG16 weights file, as JSON)
//!
//! vgg:     VGG16 (real ImageNet weights from the cache) up to relu4_1 on a seeded random
//!          1x3xSxS image, without gradients.
//! stylize: Generator::stylize, the whole forward of `stylize run` minus image I/O: encode to
//!          relu4_1 (and the photo's own statistics), AdaIN with a precomputed style code (from
//!          a second seeded random image), decoder (multi-level injection if the model has it),
//!          clamp.
//! decoder: the decoder alone on a seeded random 1x512x(S/8)x(S/8) target (not in the default
//!          run.sh workloads; helps split stylize's time).
//! dump:    the inputs and outputs of both, in f32 and bf16, for reference.py's agreement check.
//!
//! Prints one JSON line: median and every timing in milliseconds.

use std::path::PathBuf;
use std::time::Instant;

use stylize_model::style::STYLE_TAPS;
use stylize_model::{load_model, with_precision, Generator, Precision, StyleCode, Tap, Vgg16};
use tch::{Device, Kind, Tensor};

struct Opts {
    cmd: String,
    precision: Precision,
    iters: usize,
    warmup: usize,
    size: i64,
    threads: i32,
    model: Option<PathBuf>,
    out: Option<PathBuf>,
}

fn usage(msg: &str) -> ! {
    eprintln!("bench: {msg}\nusage: bench vgg|stylize|decoder|fast|dump|paths [--precision f32|bf16] [--iters N] [--warmup N] [--size S] [--threads T] [--model DIR] [--out FILE]");
    std::process::exit(2)
}

fn parse() -> Opts {
    let mut args = std::env::args().skip(1);
    let cmd = args.next().unwrap_or_else(|| usage("missing subcommand"));
    let mut o = Opts { cmd, precision: Precision::F32, iters: 5, warmup: 1, size: 512, threads: 2, model: None, out: None };
    while let Some(flag) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        match flag.as_str() {
            "--precision" => o.precision = val().parse().unwrap_or_else(|e: String| usage(&e)),
            "--iters" => o.iters = val().parse().unwrap_or_else(|_| usage("bad --iters")),
            "--warmup" => o.warmup = val().parse().unwrap_or_else(|_| usage("bad --warmup")),
            "--size" => o.size = val().parse().unwrap_or_else(|_| usage("bad --size")),
            "--threads" => o.threads = val().parse().unwrap_or_else(|_| usage("bad --threads")),
            "--model" => o.model = Some(PathBuf::from(val())),
            "--out" => o.out = Some(PathBuf::from(val())),
            _ => usage(&format!("unknown argument {flag}")),
        }
    }
    if o.iters == 0 || o.size % 8 != 0 || o.size < 16 {
        usage("--iters must be >= 1 and --size a multiple of 8, at least 16");
    }
    o
}

/// Seeded uniform 0..1 images: the photo (seed 0) and the style image (seed 1).
fn image(seed: i64, size: i64) -> Tensor {
    tch::manual_seed(seed);
    Tensor::rand([1, 3, size, size], (Kind::Float, Device::Cpu))
}

fn load_vgg() -> Vgg16 {
    let path = stylize_weights::vgg16_path().expect("cache dir");
    Vgg16::load(&path, Device::Cpu).unwrap_or_else(|e| usage(&format!("{e} (run `stylize setup` first)")))
}

fn load_generator(o: &Opts) -> Generator {
    let dir = o.model.as_ref().unwrap_or_else(|| usage("--model DIR is required"));
    load_model(dir, Device::Cpu).unwrap_or_else(|e| usage(&e.to_string())).0
}

/// The style code exactly as `stylize run` makes it (in f32, outside the timed region).
fn style_code(vgg: &Vgg16, size: i64) -> StyleCode {
    StyleCode::from_images(vgg, &image(1, size))
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = s.len();
    if n % 2 == 1 { s[n / 2] } else { (s[n / 2 - 1] + s[n / 2]) / 2.0 }
}

fn time(o: &Opts, mut f: impl FnMut()) {
    for _ in 0..o.warmup {
        f();
    }
    let times: Vec<f64> = (0..o.iters)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    let precision = match o.precision {
        Precision::F32 => "f32",
        Precision::Bf16 => "bf16",
    };
    let line = serde_json::json!({
        "impl": "stylize",
        "workload": o.cmd,
        "precision": precision,
        "size": o.size,
        "threads": tch::get_num_threads(),
        "warmup": o.warmup,
        "median_ms": median(&times),
        "min_ms": times.iter().cloned().fold(f64::INFINITY, f64::min),
        "times_ms": times,
    });
    println!("{line}");
}

fn main() {
    let o = parse();
    tch::set_num_threads(o.threads);
    match o.cmd.as_str() {
        "paths" => {
            let vgg = stylize_weights::vgg16_path().expect("cache dir");
            println!("{}", serde_json::json!({ "vgg16": vgg }));
        }
        "vgg" => {
            let vgg = load_vgg();
            let x = image(0, o.size);
            time(&o, || {
                let _ = std::hint::black_box(with_precision(o.precision, || tch::no_grad(|| vgg.feature(&x, Tap::Relu4_1))));
            });
        }
        "stylize" => {
            let vgg = load_vgg();
            let g = load_generator(&o);
            let code = style_code(&vgg, o.size);
            let x = image(0, o.size);
            time(&o, || {
                let _ = std::hint::black_box(with_precision(o.precision, || g.stylize(&vgg, &x, &code, 1.0)));
            });
        }
        "decoder" => {
            // The decoder alone, on a seeded random relu4_1-sized target (1x512xS/8xS/8).
            let vgg = load_vgg();
            let g = load_generator(&o);
            let code = style_code(&vgg, o.size);
            tch::manual_seed(2);
            let t = Tensor::rand([1, 512, o.size / 8, o.size / 8], (Kind::Float, Device::Cpu));
            // Content skips, for a decoder that takes them: relu3_1 at S/4, relu2_1 at S/2.
            let skips: Vec<Tensor> = if g.decoder.has_skips() {
                stylize_model::decoder::SKIP_TAPS
                    .iter()
                    .map(|&l| Tensor::rand([1, stylize_model::style::STYLE_TAPS[l].channels(), o.size >> l, o.size >> l], (Kind::Float, Device::Cpu)))
                    .collect()
            } else {
                Vec::new()
            };
            time(&o, || {
                let _ = std::hint::black_box(with_precision(o.precision, || tch::no_grad(|| g.decode(&t, &code, &skips))));
            });
        }
        "fast" => {
            // The fast generator's forward at SxS with seeded random weights (its time does not
            // depend on their values), channels-last as it runs; the style code from a 256 px
            // image outside the timed region. The shape is --model's (bench/run.sh passes the
            // fast model that PyTorch loads), else the default one.
            let shape = o.model.as_ref().map_or_else(Default::default, |dir| {
                let info = stylize_model::model_dir::read_info(dir).unwrap_or_else(|e| usage(&e.to_string()));
                info.fast.unwrap_or_else(|| usage(&format!("{} is not a fast model", dir.display())))
            });
            tch::manual_seed(3);
            let vs = tch::nn::VarStore::new(Device::Cpu);
            let net = stylize_model::fast::FastNet::new(&vs.root(), shape);
            let code = tch::no_grad(|| net.style_code(&image(1, 256)));
            let x = stylize_model::fast::channels_last(&image(0, o.size));
            time(&o, || {
                let _ = std::hint::black_box(with_precision(o.precision, || tch::no_grad(|| net.forward(&x, &code, 1.0))));
            });
        }
        "fast-first" => {
            // A one-photo process: the fast generator's first calls (style encoder on a 512 px
            // painting, then the photo) against later ones. Run once per process: kernels made
            // on a first call stay cached for the rest of the process.
            tch::manual_seed(3);
            let vs = tch::nn::VarStore::new(Device::Cpu);
            let net = stylize_model::fast::FastNet::new(&vs.root(), Default::default());
            let nhwc = o.out.as_ref().is_none_or(|p| p.as_os_str() != "nchw");
            if o.out.as_ref().is_some_and(|p| p.as_os_str() == "nhwc-weights") {
                stylize_model::fast::weights_channels_last(&vs);
            }
            let layout = |t: Tensor| if nhwc { stylize_model::fast::channels_last(&t) } else { t };
            let ms = |f: &mut dyn FnMut()| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64() * 1000.0
            };
            let style = layout(image(1, 512));
            let mut code = None;
            let style_first = ms(&mut || code = Some(tch::no_grad(|| net.style_code(&style))));
            let code = code.expect("computed");
            let x = layout(image(0, o.size));
            let calls: Vec<f64> = (0..4).map(|_| ms(&mut || { let _ = std::hint::black_box(tch::no_grad(|| net.forward(&x, &code, 1.0))); })).collect();
            println!("{}", serde_json::json!({"workload": "fast-first", "layout": if nhwc { "nhwc" } else { "nchw" }, "size": o.size, "style_first_ms": style_first, "forward_ms": calls}));
        }
        "dump" => {
            let vgg = load_vgg();
            let g = load_generator(&o);
            let out = o.out.clone().unwrap_or_else(|| usage("--out FILE is required"));
            let (x, style) = (image(0, o.size), image(1, o.size));
            let code = style_code(&vgg, o.size);
            let mut named: Vec<(String, Tensor)> = vec![("input".into(), x.shallow_clone()), ("style_input".into(), style)];
            for (i, tap) in STYLE_TAPS.iter().enumerate() {
                named.push((format!("style_mean_{tap}"), code.means[i].shallow_clone()));
                named.push((format!("style_std_{tap}"), code.stds[i].shallow_clone()));
            }
            for (p, tag) in [(Precision::F32, "f32"), (Precision::Bf16, "bf16")] {
                let feat = with_precision(p, || tch::no_grad(|| vgg.feature(&x, Tap::Relu4_1)));
                let img = with_precision(p, || g.stylize(&vgg, &x, &code, 1.0));
                named.push((format!("relu4_1_{tag}"), feat.to_kind(Kind::Float)));
                named.push((format!("stylized_{tag}"), img.to_kind(Kind::Float)));
            }
            Tensor::write_safetensors(&named, &out).unwrap_or_else(|e| usage(&format!("{}: {e}", out.display())));
            println!("{}", serde_json::json!({ "dump": out }));
        }
        other => usage(&format!("unknown subcommand {other}")),
    }
}
