//! Between interleaved 8-bit RGB pixels and (1,3,H,W) float tensors in 0..1.

use tch::{Kind, Tensor};

/// HWC `u8` pixels (row-major, RGB) to a (1,3,H,W) f32 tensor in 0..1.
pub fn rgb8_to_tensor(pixels: &[u8], height: u32, width: u32) -> Tensor {
    assert_eq!(pixels.len(), height as usize * width as usize * 3, "pixel buffer does not match {width}x{height}");
    Tensor::from_slice(pixels)
        .view([height as i64, width as i64, 3])
        .permute([2, 0, 1])
        .unsqueeze(0)
        .to_kind(Kind::Float)
        / 255.0
}

/// A (1,3,H,W) or (3,H,W) tensor in 0..1 to HWC `u8` pixels (clamped, rounded), with (H, W).
pub fn tensor_to_rgb8(t: &Tensor) -> (Vec<u8>, u32, u32) {
    let t = if t.dim() == 4 { t.squeeze_dim(0) } else { t.shallow_clone() };
    let (h, w) = (t.size()[1], t.size()[2]);
    let hwc = (t.to_kind(Kind::Float).clamp(0.0, 1.0) * 255.0).round().to_kind(Kind::Uint8).permute([1, 2, 0]).contiguous().to_device(tch::Device::Cpu);
    let mut out = vec![0u8; (h * w * 3) as usize];
    let n = out.len();
    hwc.copy_data(&mut out, n);
    (out, h as u32, w as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_is_exact() {
        let px: Vec<u8> = (0..2 * 3 * 3).map(|i| (i * 13 % 256) as u8).collect();
        let t = rgb8_to_tensor(&px, 2, 3);
        assert_eq!(t.size(), [1, 3, 2, 3]);
        // Pixel (row 0, col 1) green = px[1*3 + 1].
        assert!((t.double_value(&[0, 1, 0, 1]) - px[4] as f64 / 255.0).abs() < 1e-7);
        assert_eq!(tensor_to_rgb8(&t), (px, 2, 3));
    }
}
