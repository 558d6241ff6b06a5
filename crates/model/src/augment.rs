//! Differentiable augmentation (DiffAugment, Zhao et al. 2020) applied to both real and fake
//! images before the discriminator: with a few dozen paintings, it keeps D from memorising
//! them, and since it is differentiable, G still gets gradients through it.

use tch::{Kind, Tensor};

/// Colour (brightness, saturation, contrast; if `colour`), translation by up to 1/8, and
/// cutout of 1/2.
pub fn diff_augment(x: &Tensor, colour: bool) -> Tensor {
    let x = if colour { jitter(x) } else { x.shallow_clone() };
    cutout(&translate(&x, 0.125), 0.5)
}

fn rand_like_batch(x: &Tensor) -> Tensor {
    Tensor::rand([x.size()[0], 1, 1, 1], (Kind::Float, x.device()))
}

fn jitter(x: &Tensor) -> Tensor {
    let x = x + (rand_like_batch(x) - 0.5);
    let mean = x.mean_dim(&[1i64][..], true, Kind::Float);
    let x = (&x - &mean) * (rand_like_batch(&x) * 2.0) + &mean;
    let mean = x.mean_dim(&[1i64, 2, 3][..], true, Kind::Float);
    (&x - &mean) * (rand_like_batch(&x) + 0.5) + &mean
}

fn randint(hi: i64) -> i64 {
    Tensor::randint(hi.max(1), [1], (Kind::Int64, tch::Device::Cpu)).int64_value(&[0])
}

/// Shifts each image by a random offset, filling with zeros.
fn translate(x: &Tensor, ratio: f64) -> Tensor {
    let (h, w) = (x.size()[2], x.size()[3]);
    let (sh, sw) = (((h as f64) * ratio) as i64, ((w as f64) * ratio) as i64);
    let shifted: Vec<Tensor> = (0..x.size()[0])
        .map(|i| {
            let padded = x.narrow(0, i, 1).constant_pad_nd([sw, sw, sh, sh]);
            padded.narrow(2, randint(2 * sh + 1), h).narrow(3, randint(2 * sw + 1), w)
        })
        .collect();
    Tensor::cat(&shifted, 0)
}

/// Zeroes one random rectangle of `ratio` times the size in each image.
fn cutout(x: &Tensor, ratio: f64) -> Tensor {
    let (n, h, w) = (x.size()[0], x.size()[2], x.size()[3]);
    let (ch, cw) = (((h as f64) * ratio) as i64, ((w as f64) * ratio) as i64);
    let mask = Tensor::ones([n, 1, h, w], (Kind::Float, x.device()));
    for i in 0..n {
        let (top, left) = (randint(h - ch + 1), randint(w - cw + 1));
        let _ = mask.get(i).narrow(1, top, ch).narrow(2, left, cw).fill_(0.0);
    }
    x * mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_shape_and_passes_gradients() {
        tch::manual_seed(1);
        let x = Tensor::rand([3, 3, 32, 40], (Kind::Float, tch::Device::Cpu)).set_requires_grad(true);
        let y = diff_augment(&x, true);
        assert_eq!(y.size(), x.size());
        y.sum(Kind::Float).backward();
        assert!(x.grad().abs().sum(Kind::Float).double_value(&[]) > 0.0);
        // Cutout zeroes a quarter of each image.
        let zeros = y.eq(0.0).to_kind(Kind::Float).mean(Kind::Float).double_value(&[]);
        assert!((0.25..0.5).contains(&zeros), "share of zeroed pixels {zeros}");
    }
}
