//! Baselines a stylized image should beat.

use tch::{Kind, Tensor};

/// Colour-statistics transfer: each RGB channel of the photo takes the painting's mean and
/// std (the cheapest "style transfer"; a model whose style distance does not beat it has
/// learned nothing beyond colour).
pub fn colour_transfer(photo: &Tensor, painting: &Tensor) -> Tensor {
    let stats = |x: &Tensor| {
        let (mean, var) = stylize_model::adain::mean_var(&x.to_kind(Kind::Float), &[2, 3]);
        (mean, (var + 1e-8).sqrt())
    };
    let ((pm, ps), (sm, ss)) = (stats(photo), stats(painting));
    ((photo - pm) / ps * ss + sm).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_transfer_takes_the_painting_statistics() {
        let photo = Tensor::rand([1, 3, 16, 16], (Kind::Float, tch::Device::Cpu)) * 0.2 + 0.1;
        let painting = Tensor::rand([1, 3, 8, 8], (Kind::Float, tch::Device::Cpu)) * 0.4 + 0.5;
        let out = colour_transfer(&photo, &painting);
        let m = |x: &Tensor| x.mean_dim(&[2i64, 3][..], false, Kind::Float);
        assert!((m(&out) - m(&painting)).abs().max().double_value(&[]) < 1e-4);
    }
}
