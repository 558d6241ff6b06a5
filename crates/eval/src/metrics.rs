use serde::Serialize;
use stylize_model::style::{StyleCode, STYLE_TAPS};
use stylize_model::{Tap, Vgg16};
use tch::{Kind, Tensor};

/// mean((a - b)^2) / mean(b^2): 0 for identical features, 1 for features as far from b as
/// b is from zero.
pub fn relative_sq(a: &Tensor, b: &Tensor) -> f64 {
    let (a, b) = (a.to_kind(Kind::Double), b.to_kind(Kind::Double));
    let num = (&a - &b).square().mean(Kind::Double).double_value(&[]);
    let den = b.square().mean(Kind::Double).double_value(&[]).max(1e-12);
    num / den
}

/// Content distance between output and photo features at relu3_1 and relu4_1 (averaged).
pub fn content_distance(out: &[Tensor], photo: &[Tensor]) -> f64 {
    out.iter().zip(photo).map(|(a, b)| relative_sq(a, b)).sum::<f64>() / out.len() as f64
}

/// Relative distance of mean/std statistics, averaged over the style layers.
pub fn stat_distance(out: &StyleCode, style: &StyleCode) -> f64 {
    let n = out.means.len();
    (0..n)
        .map(|l| {
            let num = (&out.means[l] - &style.means[l]).square().sum(Kind::Double) + (&out.stds[l] - &style.stds[l]).square().sum(Kind::Double);
            let den = style.means[l].square().sum(Kind::Double) + style.stds[l].square().sum(Kind::Double);
            num.double_value(&[]) / den.double_value(&[]).max(1e-12)
        })
        .sum::<f64>()
        / n as f64
}

/// Gram matrix F F^T / (H W) of one image's features (1,C,H,W) -> (C,C).
pub fn gram(f: &Tensor) -> Tensor {
    let (c, h, w) = (f.size()[1], f.size()[2], f.size()[3]);
    let m = f.to_kind(Kind::Double).view([c, h * w]);
    m.matmul(&m.tr()) / (h * w) as f64
}

/// Relative Frobenius distance of Gram matrices, averaged over layers.
pub fn gram_distance(out: &[Tensor], style: &[Tensor]) -> f64 {
    out.iter()
        .zip(style)
        .map(|(a, b)| {
            let (ga, gb) = (gram(a), gram(b));
            (&ga - &gb).square().sum(Kind::Double).sqrt().double_value(&[]) / gb.square().sum(Kind::Double).sqrt().double_value(&[]).max(1e-12)
        })
        .sum::<f64>()
        / out.len() as f64
}

/// All scores of one output against its photo and painting.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Scores {
    pub content: f64,
    pub style_stats: f64,
    pub style_gram: f64,
}

const CONTENT_TAPS: [Tap; 2] = [Tap::Relu3_1, Tap::Relu4_1];

/// Scores `out` (1,3,H,W in 0..1) against the photo and the painting.
pub fn score(vgg: &Vgg16, out: &Tensor, photo: &Tensor, painting: &Tensor) -> Scores {
    tch::no_grad(|| {
        let taps = [Tap::Relu1_1, Tap::Relu2_1, Tap::Relu3_1, Tap::Relu4_1];
        let fo = vgg.features(out, &taps);
        let fp = vgg.features(photo, &CONTENT_TAPS);
        let fs = vgg.features(painting, &STYLE_TAPS);
        Scores {
            content: content_distance(&fo[2..], &fp),
            style_stats: stat_distance(&StyleCode::from_features(&fo), &StyleCode::from_features(&fs)),
            style_gram: gram_distance(&fo, &fs),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: &[f64], shape: &[i64]) -> Tensor {
        Tensor::from_slice(v).view(shape)
    }

    #[test]
    fn identical_features_have_zero_distances() {
        let f = Tensor::rand([1, 4, 3, 3], (Kind::Float, tch::Device::Cpu));
        assert_eq!(content_distance(&[f.shallow_clone()], &[f.shallow_clone()]), 0.0);
        assert_eq!(gram_distance(&[f.shallow_clone()], &[f.shallow_clone()]), 0.0);
    }

    #[test]
    fn gram_and_relative_distances_by_hand() {
        // One channel holding 1,2,3,4: Gram = (1+4+9+16)/4 = 7.5. Doubling it: 30. |30-7.5|/7.5 = 3.
        let a = t(&[1.0, 2.0, 3.0, 4.0], &[1, 1, 2, 2]);
        assert!((gram(&a).double_value(&[0, 0]) - 7.5).abs() < 1e-12);
        assert!((gram_distance(&[&a * 2.0], &[a.shallow_clone()]) - 3.0).abs() < 1e-9);
        // mean((2a - a)^2) / mean(a^2) = 1.
        assert!((relative_sq(&(&a * 2.0), &a) - 1.0).abs() < 1e-9);
    }
}
