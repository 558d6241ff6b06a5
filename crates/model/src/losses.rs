//! Training losses. VGG16 features here are on Caffe's scale (activations in the tens to
//! hundreds), so each layer's distances are divided by that layer's typical activation squared;
//! the loss weights in the config then mean what they mean in the AdaIN paper, whose VGG was
//! normalised to unit mean activations.

use tch::{Kind, Reduction, Tensor};

use crate::style::{StyleCode, STYLE_TAPS};
use crate::Tap;

/// Mean activation per tap on a photo (the cat in shared/data, 512 px, `stylize features`),
/// rounded: the unit in which feature distances are measured.
pub fn feature_scale(tap: Tap) -> f64 {
    match tap {
        Tap::Relu1_1 => 27.0,
        Tap::Relu1_2 => 135.0,
        Tap::Relu2_1 => 160.0,
        Tap::Relu2_2 => 134.0,
        Tap::Relu3_1 => 170.0,
        Tap::Relu3_3 => 104.0,
        Tap::Relu4_1 => 94.0,
        Tap::Relu4_3 => 13.0,
        Tap::Relu5_1 => 13.0,
    }
}

fn mse(a: &Tensor, b: &Tensor) -> Tensor {
    a.to_kind(Kind::Float).mse_loss(&b.to_kind(Kind::Float), Reduction::Mean)
}

/// Content: the output's relu4_1 against the AdaIN target it was decoded from.
pub fn content_loss(out_relu4_1: &Tensor, target: &Tensor) -> Tensor {
    mse(out_relu4_1, target) / feature_scale(Tap::Relu4_1).powi(2)
}

/// Style: mean and std matching at relu1_1..relu4_1, summed over layers.
pub fn style_loss(out: &StyleCode, target: &StyleCode) -> Tensor {
    STYLE_TAPS
        .iter()
        .enumerate()
        .map(|(l, &tap)| (mse(&out.means[l], &target.means[l]) + mse(&out.stds[l], &target.stds[l])) / feature_scale(tap).powi(2))
        .reduce(|a, b| a + b)
        .expect("four layers")
}

/// Perceptual distance between two images' VGG16 features at the same taps (relu1_1..relu4_1
/// here): MSE per tap in its typical activation's units, summed. Distillation compares the
/// student's output with the teacher's this way, which keeps the teacher's texture where an L1
/// on pixels averages it into blur.
pub fn feature_loss(a: &[Tensor], b: &[Tensor], taps: &[Tap]) -> Tensor {
    assert!(a.len() == taps.len() && b.len() == taps.len(), "one feature map per tap");
    a.iter()
        .zip(b)
        .zip(taps)
        .map(|((x, y), &tap)| mse(x, y) / feature_scale(tap).powi(2))
        .reduce(|x, y| x + y)
        .expect("at least one tap")
}

/// Covariance of a feature map's channels over its positions (N,C,H,W -> N,C,C), in the tap's
/// units: the second-order statistics that the mean/std terms leave out and that the
/// evaluation's Frechet distance compares.
pub fn covariance(x: &Tensor, tap: Tap) -> Tensor {
    let (n, c) = (x.size()[0], x.size()[1]);
    let f = x.to_kind(Kind::Float).reshape([n, c, -1]) / feature_scale(tap);
    let centred = &f - f.mean_dim(Some(&[2i64][..]), true, Kind::Float);
    centred.matmul(&centred.transpose(1, 2)) / f.size()[2] as f64
}

/// Texture: MSE between two images' feature covariances at each tap, summed over taps. The
/// distiller matches the student's output to the teacher's output this way: the teacher's
/// texture statistics, with no penalty for strokes that sit a few pixels elsewhere (which the
/// pointwise [`feature_loss`] charges, and which a small student cannot avoid).
pub fn covariance_loss(a: &[Tensor], b: &[Tensor], taps: &[Tap]) -> Tensor {
    assert!(a.len() == taps.len() && b.len() == taps.len(), "one feature map per tap");
    a.iter()
        .zip(b)
        .zip(taps)
        .map(|((x, y), &tap)| mse(&covariance(x, tap), &covariance(y, tap)))
        .reduce(|x, y| x + y)
        .expect("at least one tap")
}

/// Hinge loss for the discriminator, averaged over scales.
pub fn hinge_d(real: &[Tensor], fake: &[Tensor]) -> Tensor {
    let n = real.len() as f64;
    real.iter()
        .zip(fake)
        .map(|(r, f): (&Tensor, &Tensor)| (-r + 1.0).relu().mean(Kind::Float) + (f + 1.0).relu().mean(Kind::Float))
        .reduce(|a, b| a + b)
        .expect("at least one scale")
        / n
}

/// Hinge loss for the generator: raise the discriminator's score of fakes.
pub fn hinge_g(fake: &[Tensor]) -> Tensor {
    let n = fake.len() as f64;
    fake.iter().map(|f| -f.mean(Kind::Float)).reduce(|a, b| a + b).expect("at least one scale") / n
}

/// Identity: decoding a photo's own features returns the photo (L1 on pixels, 0..1).
pub fn identity_loss(out: &Tensor, photo: &Tensor) -> Tensor {
    out.to_kind(Kind::Float).l1_loss(&photo.to_kind(Kind::Float), Reduction::Mean)
}

/// Colour: L1 between 8x8 block means of the output and the photo (0..1). The block means
/// carry a picture's colours and brightness but not its texture, so this term corrects a
/// colour drift that the pixel L1 leaves behind among the texture errors, whose signs vary.
pub fn colour_loss(out: &Tensor, photo: &Tensor) -> Tensor {
    let blocks = |t: &Tensor| t.to_kind(Kind::Float).avg_pool2d([8, 8], [8, 8], [0, 0], false, true, None::<i64>);
    blocks(out).l1_loss(&blocks(photo), Reduction::Mean)
}

/// Share of patch logits on the right side of 0, averaged over scales: D's accuracy.
pub fn d_accuracy(real: &[Tensor], fake: &[Tensor]) -> f64 {
    let acc = |ts: &[Tensor], sign: f64| {
        ts.iter().map(|t| (t * sign).gt(0.0).to_kind(Kind::Float).mean(Kind::Float).double_value(&[])).sum::<f64>() / ts.len() as f64
    };
    (acc(real, 1.0) + acc(fake, -1.0)) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(v: f64, shape: &[i64]) -> Tensor {
        Tensor::full(shape, v, (Kind::Float, tch::Device::Cpu))
    }

    #[test]
    fn hinge_by_hand() {
        // Real logits 0.5 -> relu(1 - 0.5) = 0.5; fake -2 -> relu(1 - 2) = 0. Two scales agree.
        let d = hinge_d(&[full(0.5, &[1, 1, 2, 2]), full(0.5, &[1, 1, 1, 1])], &[full(-2.0, &[1, 1, 2, 2]), full(-2.0, &[1, 1, 1, 1])]);
        assert!((d.double_value(&[]) - 0.5).abs() < 1e-6);
        assert!((hinge_g(&[full(-2.0, &[1, 1, 2, 2])]).double_value(&[]) - 2.0).abs() < 1e-6);
        assert_eq!(d_accuracy(&[full(0.5, &[1, 1, 2, 2])], &[full(-2.0, &[1, 1, 2, 2])]), 1.0);
    }

    #[test]
    fn colour_loss_sees_a_shift_but_not_texture() {
        let photo = Tensor::rand([1, 3, 16, 16], (Kind::Float, tch::Device::Cpu));
        assert_eq!(colour_loss(&photo, &photo).double_value(&[]), 0.0);
        // A uniform shift of 0.1 is a block-mean error of 0.1.
        assert!((colour_loss(&(&photo - 0.1), &photo).double_value(&[]) - 0.1).abs() < 1e-6);
        // A +-0.2 checkerboard averages out inside each 8x8 block.
        let idx = Tensor::arange(16, (Kind::Float, tch::Device::Cpu));
        let checker = ((idx.view([16, 1]) + idx.view([1, 16])).remainder(2.0) * 0.4 - 0.2).view([1, 1, 16, 16]);
        assert!(colour_loss(&(&photo + checker), &photo).double_value(&[]).abs() < 1e-6);
    }

    #[test]
    fn feature_loss_sums_each_tap_in_its_units() {
        let taps = [Tap::Relu1_1, Tap::Relu4_1];
        let a = [full(0.0, &[1, 64, 4, 4]), full(0.0, &[1, 512, 1, 1])];
        assert_eq!(feature_loss(&a, &a, &taps).double_value(&[]), 0.0);
        // A difference of one typical activation at each tap costs 1 per tap.
        let b = [full(27.0, &[1, 64, 4, 4]), full(94.0, &[1, 512, 1, 1])];
        assert!((feature_loss(&a, &b, &taps).double_value(&[]) - 2.0).abs() < 1e-6);
    }

    #[test]
    fn covariance_by_hand_and_blind_to_where_things_are() {
        // Two channels over four positions: a = (1, -1, 1, -1) x 94, b = 2a. In units of 94:
        // var a = 1, cov(a, b) = 2, var b = 4.
        let a = Tensor::from_slice(&[1.0f32, -1.0, 1.0, -1.0]) * 94.0;
        let x = Tensor::stack(&[&a, &(&a * 2.0)], 0).view([1, 2, 2, 2]);
        let c = covariance(&x, Tap::Relu4_1);
        let want = Tensor::from_slice(&[1.0f32, 2.0, 2.0, 4.0]).view([1, 2, 2]);
        assert!(c.allclose(&want, 1e-5, 1e-6, false));
        // The same values in another order (a texture shifted) cost nothing; a pointwise
        // feature distance charges them.
        let shifted = x.roll([1], [3]);
        let taps = [Tap::Relu4_1];
        assert!(covariance_loss(&[x.shallow_clone()], &[shifted.shallow_clone()], &taps).double_value(&[]) < 1e-10);
        assert!(feature_loss(&[x.shallow_clone()], &[shifted], &taps).double_value(&[]) > 1.0);
        // Twice the contrast is four times the covariance: (4 - 1)^2, (8 - 2)^2 x 2, (16 - 4)^2 over 4.
        let loss = covariance_loss(&[&x * 2.0], &[x.shallow_clone()], &taps).double_value(&[]);
        assert!((loss - (9.0 + 72.0 + 144.0) / 4.0).abs() < 1e-4, "{loss}");
    }

    #[test]
    fn content_loss_is_zero_on_the_target_and_scaled() {
        let t = full(94.0, &[1, 512, 2, 2]);
        assert_eq!(content_loss(&t, &t).double_value(&[]), 0.0);
        // A difference of one unit of scale gives loss 1.
        assert!((content_loss(&(&t * 2.0), &t).double_value(&[]) - 1.0).abs() < 1e-6);
    }
}
