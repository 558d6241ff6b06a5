//! VGG16 features against the original framework: onnxruntime running the original ONNX graph
//! (fixture made by scripts/make_vgg_fixture.py from a real photo).

mod common;

use std::collections::HashMap;

use stylize_model::Tap;
use tch::{Kind, Tensor};

fn fixture() -> HashMap<String, Tensor> {
    Tensor::read_safetensors(common::fixture("vgg16_reference.safetensors")).expect("fixture").into_iter().collect()
}

/// max |a - b| relative to max |reference|.
fn rel_err(ours: &Tensor, reference: &Tensor) -> f64 {
    assert_eq!(ours.size(), reference.size());
    let scale = reference.abs().max().double_value(&[]).max(1e-12);
    (ours - reference).abs().max().double_value(&[]) / scale
}

#[test]
fn features_match_onnxruntime_to_1e_4() {
    let fx = fixture();
    let vgg = common::vgg();
    let input = &fx["input"];
    assert_eq!(input.size(), [1, 3, 96, 128]);
    let feats = tch::no_grad(|| vgg.features(input, &Tap::ALL));
    for (tap, f) in Tap::ALL.iter().zip(&feats) {
        let mean = f.mean_dim(&[0i64, 2, 3][..], false, Kind::Float);
        let err = rel_err(&mean, &fx[&format!("{tap}.mean")]);
        assert!(err < 1e-4, "{tap} channel means differ from onnxruntime: rel err {err:e}");
    }
    let f = |t: Tap| &feats[Tap::ALL.iter().position(|&x| x == t).unwrap()];
    let slices = [
        (Tap::Relu1_1, f(Tap::Relu1_1).narrow(1, 0, 8).narrow(2, 40, 8).narrow(3, 60, 8).squeeze_dim(0)),
        (Tap::Relu3_1, f(Tap::Relu3_1).narrow(1, 0, 8).squeeze_dim(0)),
        (Tap::Relu4_1, f(Tap::Relu4_1).narrow(1, 0, 8).squeeze_dim(0)),
        (Tap::Relu5_1, f(Tap::Relu5_1).narrow(1, 0, 8).squeeze_dim(0)),
    ];
    for (tap, ours) in slices {
        let err = rel_err(&ours, &fx[&format!("{tap}.slice")]);
        assert!(err < 1e-4, "{tap} activations differ from onnxruntime: rel err {err:e}");
    }
    assert_eq!(f(Tap::Relu4_1).size(), [1, 512, 12, 16]);
    assert_eq!(f(Tap::Relu5_1).size(), [1, 512, 6, 8]);
}

#[test]
fn stops_at_the_deepest_tap_and_keeps_the_order_asked() {
    let fx = fixture();
    let vgg = common::vgg();
    let input = &fx["input"];
    let both = tch::no_grad(|| vgg.features(input, &[Tap::Relu3_1, Tap::Relu1_1]));
    assert_eq!(both[0].size(), [1, 256, 24, 32]);
    assert_eq!(both[1].size(), [1, 64, 96, 128]);
    let alone = tch::no_grad(|| vgg.feature(input, Tap::Relu1_1));
    assert_eq!(rel_err(&alone, &both[1]), 0.0);
}

#[test]
fn input_gradients_match_finite_differences() {
    // f64 so central differences are exact to ~1e-8; a tiny real crop keeps it fast.
    let fx = fixture();
    let vgg = common::vgg().to_kind(Kind::Double);
    let x = fx["input"].narrow(2, 30, 12).narrow(3, 50, 12).to_kind(Kind::Double).detach().set_requires_grad(true);
    let probe = Tensor::randn([1, 128, 6, 6], (Kind::Double, tch::Device::Cpu));
    let loss_of = |x: &Tensor| (vgg.feature(x, Tap::Relu2_1) * &probe).sum(Kind::Double);
    let loss = loss_of(&x);
    let grad = Tensor::run_backward(&[&loss], &[&x], false, false).pop().unwrap();
    assert!(grad.abs().sum(Kind::Double).double_value(&[]) > 0.0, "gradient must reach the input");
    let eps = 1e-6;
    let mut worst: f64 = 0.0;
    for &(c, i, j) in &[(0i64, 0i64, 0i64), (1, 5, 7), (2, 11, 3), (0, 6, 6), (1, 2, 10), (2, 9, 9)] {
        let bump = |d: f64| {
            let y = x.detach().copy();
            let _ = y.get(0).get(c).get(i).get(j).fill_(x.double_value(&[0, c, i, j]) + d);
            tch::no_grad(|| loss_of(&y)).double_value(&[])
        };
        let numeric = (bump(eps) - bump(-eps)) / (2.0 * eps);
        let analytic = grad.double_value(&[0, c, i, j]);
        let rel = (numeric - analytic).abs() / analytic.abs().max(1e-3);
        worst = worst.max(rel);
    }
    assert!(worst < 1e-4, "finite differences disagree with autograd: rel {worst:e}");
}

#[test]
fn weights_are_frozen() {
    let fx = fixture();
    let vgg = common::vgg();
    let x = fx["input"].narrow(2, 0, 16).narrow(3, 0, 16).detach().set_requires_grad(true);
    let y = vgg.feature(&x, Tap::Relu1_2);
    assert!(y.requires_grad(), "output must carry gradients to the input");
    assert!(!vgg.to_kind(Kind::Float).feature(&x.detach(), Tap::Relu1_2).requires_grad(), "weights must not require grad");
}

#[test]
fn the_coarse_block_5_context_has_relu5_1s_shape_and_follows_it() {
    let fx = fixture();
    let vgg = common::vgg();
    let input = &fx["input"];
    let (f4, f5) = tch::no_grad(|| {
        let f = vgg.features(input, &[Tap::Relu4_1, Tap::Relu5_1]);
        (f[0].shallow_clone(), f[1].shallow_clone())
    });
    let coarse = tch::no_grad(|| vgg.relu5_1_coarse(&f4));
    assert_eq!(coarse.size(), f5.size());
    // The same channels light up: the channel means of the two correlate (Pearson; 0.82 on
    // this 96x128 photo, whose relu4_1 is only 12x16).
    let means = |t: &Tensor| t.mean_dim(&[0i64, 2, 3][..], false, Kind::Float);
    let (a, b) = (means(&coarse), means(&f5));
    let (a, b) = (&a - a.mean(Kind::Float), &b - b.mean(Kind::Float));
    let r = (&a * &b).sum(Kind::Float).double_value(&[]) / (a.norm().double_value(&[]) * b.norm().double_value(&[]));
    assert!(r > 0.7, "the coarse context's channel means correlate {r:.3} with relu5_1's");
}
