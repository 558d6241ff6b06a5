//! The generator's plumbing, on a real photo (the fixture's input) and real VGG16 weights.

mod common;

use stylize_model::{Generator, StyleCode};
use tch::{Device, Kind, Tensor};

fn photo() -> Tensor {
    Tensor::read_safetensors(common::fixture("vgg16_reference.safetensors")).unwrap().into_iter().find(|(k, _)| k == "input").unwrap().1
}

#[test]
fn strength_zero_is_the_reconstruction_of_the_photo_own_features() {
    tch::manual_seed(0);
    let vgg = common::vgg();
    let g = Generator::new(Device::Cpu, Default::default());
    let x = photo();
    let style = StyleCode::from_images(&vgg, &x.flip([3]).narrow(2, 0, 64));
    let out = g.stylize(&vgg, &x, &style, 0.0);
    let (padded, padding) = Generator::pad(&x);
    let (feats, own) = tch::no_grad(|| Generator::encode(&vgg, &padded));
    // AdaIN of features with their own statistics returns them (up to the std's epsilon).
    let reconstruction = padding.crop(&tch::no_grad(|| g.decode(&feats[3], &own, &[]))).clamp(0.0, 1.0);
    let diff = (&out - &reconstruction).abs().max().double_value(&[]);
    assert!(diff < 1e-4, "strength 0 differs from the reconstruction by {diff}");
    let styled = g.stylize(&vgg, &x, &style, 1.0);
    assert!((&styled - &out).abs().mean(Kind::Float).double_value(&[]) > 1e-4, "strength 1 must differ");
}

#[test]
fn output_has_the_input_size_even_off_multiples_of_8() {
    let vgg = common::vgg();
    let g = Generator::new(Device::Cpu, Default::default());
    let x = photo().narrow(2, 0, 61).narrow(3, 0, 75);
    let style = StyleCode::from_images(&vgg, &x);
    let out = g.stylize(&vgg, &x, &style, 0.7);
    assert_eq!(out.size(), [1, 3, 61, 75]);
    assert!(out.min().double_value(&[]) >= 0.0 && out.max().double_value(&[]) <= 1.0);
}
