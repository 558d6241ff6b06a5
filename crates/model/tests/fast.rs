//! The fast generator learning from the shipped model (stage A of the distillation: the
//! teacher's output and its VGG16 features, no VGG16 on the student) on real photos and
//! paintings from samples/: a short run lowers both terms of the loss.

mod common;

use std::path::Path;

use stylize_model::fast::{distill_loss, FastConfig, FastNet};
use stylize_model::optim::{Adam, AdamConfig};
use stylize_model::style::STYLE_TAPS;
use stylize_model::{load_model, StyleCode};
use tch::{nn, Device, Tensor};

/// The centre 64x64 of each sample image, read at 96 px on the short side, as one batch.
fn crops(names: &[&str]) -> Tensor {
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples");
    let t: Vec<Tensor> = names
        .iter()
        .map(|n| {
            let img = stylize_io::load(&samples.join(n), &Default::default()).unwrap().rgb;
            let img = stylize_io::resize_to_short_side(&img, 96, true);
            let (w, h) = img.dimensions();
            let c = stylize_io::image::imageops::crop_imm(&img, (w - 64) / 2, (h - 64) / 2, 64, 64).to_image();
            stylize_model::convert::rgb8_to_tensor(c.as_raw(), 64, 64)
        })
        .collect();
    Tensor::cat(&t, 0)
}

/// libtorch's random generator is one per process: each test that seeds it holds this while it
/// draws, so a test running beside it on another thread does not change its draws.
static SEEDED: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn a_short_distillation_from_the_shipped_model_lowers_the_loss() {
    let _seeded = SEEDED.lock().unwrap_or_else(|e| e.into_inner());
    tch::manual_seed(0);
    let vgg = common::vgg();
    let (teacher, _) = load_model(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/default"), Device::Cpu).unwrap();
    let photos = crops(&["photos/cat.jpg", "photos/bent_pyramid.jpg"]);
    let paintings = crops(&["paintings/hokusai_great_wave.jpg", "paintings/durer_lion.jpg"]);
    let (teacher_out, vgg_feats) = tch::no_grad(|| {
        let code = StyleCode::from_images(&vgg, &paintings);
        (teacher.stylize(&vgg, &photos, &code, 1.0), vgg.features(&photos, &STYLE_TAPS))
    });

    let vs = nn::VarStore::new(Device::Cpu);
    let net = FastNet::new(&vs.root(), FastConfig::default());
    let mut opt = Adam::new(&vs, AdamConfig { lr: 2e-3, beta1: 0.9, beta2: 0.999 });
    let mut history = Vec::new();
    for _ in 0..60 {
        let feats = net.encode(&photos);
        let own = StyleCode::from_features(&feats.0);
        let out = net.decode(&feats, &own, &net.style_code(&paintings), 1.0);
        let (total, pixels, features) = distill_loss(&out, &teacher_out, &net.predict_vgg(&feats), &vgg_feats, 1.0);
        opt.zero_grad();
        total.backward();
        opt.step();
        history.push((pixels.double_value(&[]), features.double_value(&[])));
    }
    let (first, last) = (history[0], history[history.len() - 1]);
    eprintln!("L1 to the teacher {:.4} -> {:.4}, feature heads {:.4} -> {:.4}", first.0, last.0, first.1, last.1);
    assert!(last.0 < 0.6 * first.0, "L1 to the teacher: {:.4} -> {:.4}", first.0, last.0);
    assert!(last.1 < 0.6 * first.1, "feature heads: {:.4} -> {:.4}", first.1, last.1);
}

/// The cat photo at `width` px as HWC pixels.
fn cat_pixels(width: u32) -> (Vec<u8>, u32, u32) {
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples");
    let img = stylize_io::load(&samples.join("photos/cat.jpg"), &Default::default()).unwrap().rgb;
    let img = stylize_io::fit(&img, stylize_io::Sizing::Exact(width), 16, 1 << 26).unwrap();
    let (w, h) = img.dimensions();
    (img.into_raw(), w, h)
}

#[test]
fn fast_tiles_with_the_whole_images_statistics_equal_the_untiled_result() {
    use stylize_model::tiling::fast_halo;
    // The measured shape, and one grown by two blocks at 1/4 and the photo skip (a larger halo).
    for shape in [FastConfig::default(), FastConfig { blocks4: 2, photo_skip: true, ..FastConfig::default() }] {
        fast_tiles_equal_the_untiled_result(shape, fast_halo(&shape));
    }
}

fn fast_tiles_equal_the_untiled_result(shape: FastConfig, halo: u32) {
    use stylize_model::tiling::{stylize_tiled_fast, Rgb8, TileConfig};
    let _seeded = SEEDED.lock().unwrap_or_else(|e| e.into_inner());
    tch::manual_seed(3);
    let vs = nn::VarStore::new(Device::Cpu);
    let net = FastNet::new(&vs.root(), shape);
    // Default initialisation gives a nearly flat grey image; larger weights make the output
    // vary, so that a seam or a wrong statistic shows. Parts that start at zero get weights.
    let added = shape.parts_added_to(&FastConfig::default());
    tch::no_grad(|| {
        for (name, mut v) in vs.variables() {
            if added.contains(&name) && v.abs().max().double_value(&[]) == 0.0 {
                let _ = v.copy_(&(v.randn_like() * 0.05));
            }
            let _ = v.g_mul_scalar_(2.0);
        }
    });
    let (px, w, h) = cat_pixels(330);
    let photo = stylize_model::convert::rgb8_to_tensor(&px, h, w);
    let style = tch::no_grad(|| net.style_code(&crops(&["paintings/hokusai_great_wave.jpg"])));
    for strength in [1.0, 0.6] {
        let (whole, _, _) = stylize_model::convert::tensor_to_rgb8(&net.stylize(&photo, &style, strength));
        let spread = whole.iter().map(|&v| v as i32).max().unwrap() - whole.iter().map(|&v| v as i32).min().unwrap();
        assert!(spread > 60, "the output should vary: spread {spread}");
        let tiled = |halo: u32| {
            let cfg = TileConfig { tile: 96, halo, ..Default::default() };
            let mut passes = 0;
            let out = stylize_tiled_fast(&net, Device::Cpu, Rgb8 { pixels: &px, width: w, height: h }, &style, strength, &cfg, &mut |d, _| passes = d);
            // 330x248 padded to 336x248 (no margin for the fast generator): 4x3 tiles, 4
            // passes over them.
            assert_eq!(passes, 4 * 3 * 4);
            out.iter().zip(&whole).map(|(a, b)| (*a as i32 - *b as i32).abs()).max().unwrap()
        };
        let exact = tiled(halo);
        assert!(exact <= 1, "strength {strength}: tiled vs whole differ by {exact}/255 with the full halo");
        let short = tiled(16);
        assert!(short > 4, "strength {strength}: a halo short of the receptive field should show ({short}/255)");
    }

    // Semantic transfer: the regions found once for the whole image, their statistics summed
    // over the tiles.
    use stylize_model::semantic::SemanticConfig;
    use stylize_model::tiling::{stylize_tiled_semantic_fast, SemanticRequest};
    let style = net.semantic_style(&crops(&["paintings/hokusai_great_wave.jpg"]));
    let cfg = SemanticConfig::default();
    let semantic = net.stylize_semantic(&photo, &style, &cfg, 0.8, None);
    let (whole, _, _) = stylize_model::convert::tensor_to_rgb8(&semantic);
    let (plain, _, _) = stylize_model::convert::tensor_to_rgb8(&net.stylize(&photo, &style.code, 0.8));
    let moved = whole.iter().zip(&plain).filter(|(a, b)| a != b).count();
    assert!(moved > whole.len() / 4, "regions should change the result: {moved} of {} values", whole.len());
    let tiles = TileConfig { tile: 96, halo, ..Default::default() };
    let out = stylize_tiled_semantic_fast(&net, Device::Cpu, Rgb8 { pixels: &px, width: w, height: h }, SemanticRequest { style: &style, cfg: &cfg, regions: None }, 0.8, &tiles, &mut |_, _| {});
    let worst = out.iter().zip(&whole).map(|(a, b)| (*a as i32 - *b as i32).abs()).max().unwrap();
    assert!(worst <= 3, "semantic: tiled vs whole differ by {worst}/255");
}
