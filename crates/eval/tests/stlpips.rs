//! ST-LPIPS (crates/eval/src/stlpips.rs) against the package's own implementation:
//! `tests/fixtures/stlpips_reference.safetensors` holds real image pairs and the distances
//! `stlpips-pytorch==0.0.2` computed for them (scripts/make_stlpips_fixture.py says how to
//! rerun it). The weights are the real ones `stylize setup` converts into the cache.

use std::collections::HashMap;
use std::path::Path;

use stylize_eval::stlpips::MIN_SIDE;
use stylize_eval::{StLpips, StLpipsError};
use tch::{Device, Kind, Tensor};

/// Relative error allowed against the package, on the distance and on each layer's term. Both
/// sides run float32 on the same libtorch; what remains is summation order inside kernels.
const REL_TOL: f64 = 1e-4;

fn metric() -> StLpips {
    let path = stylize_weights::stlpips_vgg_path().expect("cache dir");
    StLpips::load(&path, Device::Cpu).unwrap_or_else(|e| panic!("{e} (these tests need the real ST-LPIPS weights: run `stylize setup`)"))
}

fn fixture() -> HashMap<String, Tensor> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/stlpips_reference.safetensors");
    Tensor::read_safetensors(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).into_iter().collect()
}

/// A fixture image (1,3,H,W uint8) as RGB in 0..1, as the script feeds the package.
fn image(f: &HashMap<String, Tensor>, key: &str) -> Tensor {
    f[key].to_kind(Kind::Float) / 255.0
}

fn values(t: &Tensor) -> Vec<f64> {
    Vec::<f64>::try_from(t.to_kind(Kind::Double).flatten(0, -1)).unwrap()
}

fn rel(got: f64, want: f64) -> f64 {
    (got - want).abs() / want.abs().max(1e-12)
}

const PAIRS: usize = 3;

#[test]
fn distances_match_the_package() {
    let (m, f) = (metric(), fixture());
    let mut worst = 0.0f64;
    for k in 0..PAIRS {
        let (a, b) = (image(&f, &format!("pair{k}.a")), image(&f, &format!("pair{k}.b")));
        let want = values(&f[&format!("pair{k}.distance")])[0];
        let got = m.distance(&a, &b).unwrap();
        let want_layers = values(&f[&format!("pair{k}.per_layer")]);
        let got_layers = values(&m.per_layer(&a, &b).unwrap());
        eprintln!("pair{k} {:?}: rust {got:.7} package {want:.7} (rel {:.1e}); layers rust {got_layers:.6?} package {want_layers:.6?}", a.size(), rel(got, want));
        assert!(rel(got, want) < REL_TOL, "pair{k}: {got} vs the package's {want}");
        for (l, (g, w)) in got_layers.iter().zip(&want_layers).enumerate() {
            assert!(rel(*g, *w) < REL_TOL, "pair{k} layer {l}: {g} vs the package's {w}");
            worst = worst.max(rel(*g, *w));
        }
        worst = worst.max(rel(got, want));
    }
    eprintln!("max relative error against the package: {worst:.2e} (tolerance {REL_TOL:.0e})");
}

#[test]
fn a_batch_gives_the_pairs_distances() {
    // Pairs 0 and 1 share a size (64x96): one batch of two.
    let (m, f) = (metric(), fixture());
    let a = Tensor::cat(&[image(&f, "pair0.a"), image(&f, "pair1.a")], 0);
    let b = Tensor::cat(&[image(&f, "pair0.b"), image(&f, "pair1.b")], 0);
    let batch = m.distances(&a, &b).unwrap();
    assert_eq!(batch.len(), 2);
    for (k, d) in batch.iter().enumerate() {
        let want = values(&f[&format!("pair{k}.distance")])[0];
        assert!(rel(*d, want) < REL_TOL, "pair{k} in a batch: {d} vs {want}");
    }
}

#[test]
fn zero_for_the_same_image_symmetric_and_tolerant_of_a_shift() {
    let (m, f) = (metric(), fixture());
    let (photo, shifted, painting) = (image(&f, "pair0.a"), image(&f, "pair0.b"), image(&f, "pair1.b"));
    assert_eq!(m.distance(&photo, &photo).unwrap(), 0.0);
    assert_eq!(m.distance(&photo, &shifted).unwrap(), m.distance(&shifted, &photo).unwrap());
    // The cat moved by 1 px down and 2 px right against the cat next to the Great Wave.
    let (shift, other) = (m.distance(&photo, &shifted).unwrap(), m.distance(&photo, &painting).unwrap());
    assert!(shift < 0.05 * other, "a 1x2 px shift ({shift:.4}) should be far closer than another image ({other:.4})");
}

#[test]
fn the_smallest_images_and_bad_shapes() {
    let m = metric();
    let x = |h: i64, w: i64| Tensor::rand([1, 3, h, w], (Kind::Float, Device::Cpu));
    let (a, b) = (x(MIN_SIDE, MIN_SIDE + 5), x(MIN_SIDE, MIN_SIDE + 5));
    assert!(m.distance(&a, &b).unwrap() > 0.0);
    assert!(matches!(m.distance(&x(MIN_SIDE - 1, 40), &x(MIN_SIDE - 1, 40)), Err(StLpipsError::BadInput(_))));
    assert!(matches!(m.distance(&x(32, 32), &x(32, 40)), Err(StLpipsError::ShapeMismatch { .. })));
}

#[test]
fn missing_weights_name_the_command_to_run() {
    let e = StLpips::load(Path::new("/nonexistent/stlpips_vgg.safetensors"), Device::Cpu).err().expect("no file, no network");
    assert!(e.to_string().contains("run `stylize setup`"), "{e}");
}
