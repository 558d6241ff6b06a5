//! Shift-tolerant LPIPS (Ghildyal & Liu 2022), VGG variant: the content term of ArtFID.
//!
//! It reproduces the forward of `stlpips.LPIPS(net="vgg", variant="shift_tolerant")` from the
//! package `stlpips-pytorch==0.0.2` (checked against it: `tests/stlpips.rs`):
//! - inputs in [-1, 1], then `(x - shift) / scale` (the package's ScalingLayer, version 0.1);
//! - VGG16's 13 3x3 convs (zero padding 1) + ReLU, in five slices tapped at relu1_2, relu2_2,
//!   relu3_3, relu4_3, relu5_3; before slices 2-5 VGG's max-pool is replaced by MaxPool(2,
//!   stride 1) and a blur pool: reflection padding of 2 on every side, the fixed [1,2,1]x[1,2,1]/16
//!   filter per channel, stride 2 (anti-aliasing plus the extra padding are what make it
//!   tolerant of small shifts);
//! - per tap: features divided by their L2 norm over channels (+1e-10), squared difference,
//!   a 1x1 conv without bias ("lin") to one channel, mean over the positions;
//! - the five terms added in order (the package's dropout before each lin is off in eval mode).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use stylize_weights::{STLPIPS_BLURS, STLPIPS_CONVS, STLPIPS_LINS, STLPIPS_SCALING};
use tch::{Device, Kind, Tensor};

#[derive(Debug, thiserror::Error)]
pub enum StLpipsError {
    #[error("ST-LPIPS weights not found at {}: run `stylize setup` first", path.display())]
    Missing { path: PathBuf },
    #[error("{}: {reason}", path.display())]
    BadWeights { path: PathBuf, reason: String },
    #[error("ST-LPIPS compares images of one size: got {a:?} and {b:?}")]
    ShapeMismatch { a: Vec<i64>, b: Vec<i64> },
    #[error("ST-LPIPS needs RGB batches (N,3,H,W) at least {MIN_SIDE} px on each side, got {0:?}")]
    BadInput(Vec<i64>),
}

/// The smallest side the network takes: every blur pool reflection-pads by 2, which needs an
/// input of at least 3 after its max-pool; 18 px is the smallest image for which the fourth
/// blur pool still gets one (`smallest_side_is_18`).
pub const MIN_SIDE: i64 = 18;

/// The last conv index (exclusive) of each of the five slices.
const SLICE_ENDS: [usize; 5] = [2, 4, 7, 10, 13];

/// Side after a stage's MaxPool(2, stride 1) and blur pool (pad 2 + 2, 3x3, stride 2).
pub fn pooled_side(side: i64) -> i64 {
    (side - 1 + 4 - 3) / 2 + 1
}

/// The package's `Downsample(filt_size=3, stride=2, pad_more=True)`: reflection padding of 2,
/// then each channel convolved with `filt` (C,1,3,3) at stride 2.
pub fn blur_pool(x: &Tensor, filt: &Tensor) -> Tensor {
    let channels = x.size()[1];
    x.reflection_pad2d([2, 2, 2, 2]).conv2d(filt, None::<Tensor>, [2, 2], [0, 0], [1, 1], channels)
}

/// Features divided by their L2 norm over channels at every position (`utils.normalize_tensor`).
pub fn unit_normalize(f: &Tensor) -> Tensor {
    let norm = f.square().sum_dim_intlist(1, true, f.kind()).sqrt();
    f / (norm + 1e-10)
}

/// The network, its weights frozen, on one device.
pub struct StLpips {
    shift: Tensor,
    scale: Tensor,
    convs: Vec<(Tensor, Tensor)>,
    blurs: Vec<Tensor>,
    lins: Vec<Tensor>,
    device: Device,
}

impl StLpips {
    /// Loads the weights `stylize setup` converted (`stylize_weights::stlpips_vgg_path()`).
    pub fn load(path: &Path, device: Device) -> Result<Self, StLpipsError> {
        if !path.exists() {
            return Err(StLpipsError::Missing { path: path.to_path_buf() });
        }
        let bad = |reason: String| StLpipsError::BadWeights { path: path.to_path_buf(), reason };
        let mut named: HashMap<String, Tensor> = Tensor::read_safetensors(path).map_err(|e| bad(e.to_string()))?.into_iter().collect();
        let mut take = |key: &str, shape: &[i64]| {
            let t = named.remove(key).ok_or_else(|| bad(format!("missing tensor {key}; run `stylize setup --force`")))?;
            if t.size() != shape {
                return Err(bad(format!("tensor {key} has shape {:?}, expected {shape:?}", t.size())));
            }
            Ok(t.to_kind(Kind::Float).to_device(device).set_requires_grad(false))
        };
        let shift = take(STLPIPS_SCALING[0], &[1, 3, 1, 1])?;
        let scale = take(STLPIPS_SCALING[1], &[1, 3, 1, 1])?;
        let mut convs = Vec::with_capacity(STLPIPS_CONVS.len());
        for (name, cin, cout) in STLPIPS_CONVS {
            let (cin, cout) = (cin as i64, cout as i64);
            convs.push((take(&format!("{name}.weight"), &[cout, cin, 3, 3])?, take(&format!("{name}.bias"), &[cout])?));
        }
        let blurs = STLPIPS_BLURS.iter().map(|&(n, c)| take(n, &[c as i64, 1, 3, 3])).collect::<Result<Vec<_>, _>>()?;
        let lins = STLPIPS_LINS.iter().map(|&(n, c)| take(n, &[1, c as i64, 1, 1])).collect::<Result<Vec<_>, _>>()?;
        Ok(Self { shift, scale, convs, blurs, lins, device })
    }

    /// The five tapped feature maps (relu1_2, relu2_2, relu3_3, relu4_3, relu5_3) of a batch
    /// already in [-1, 1] (N,3,H,W), H and W at least `MIN_SIDE`.
    pub fn features(&self, x: &Tensor) -> Vec<Tensor> {
        let mut h = (x - &self.shift) / &self.scale;
        let mut taps = Vec::with_capacity(SLICE_ENDS.len());
        let mut start = 0;
        for (s, &end) in SLICE_ENDS.iter().enumerate() {
            if s > 0 {
                h = blur_pool(&h.max_pool2d([2, 2], [1, 1], [0, 0], [1, 1], false), &self.blurs[s - 1]);
            }
            for (w, b) in &self.convs[start..end] {
                h = h.conv2d(w, Some(b), [1, 1], [1, 1], [1, 1], 1).relu();
            }
            taps.push(h.shallow_clone());
            start = end;
        }
        taps
    }

    /// An RGB batch in 0..1 as the distance reads it: its unit-normalised features, made once
    /// to compare many images against (`distances_to`).
    pub fn target(&self, b: &Tensor) -> Result<Target, StLpipsError> {
        check(b, b)?;
        // The package's `normalize=True`: [0, 1] -> [-1, 1].
        let features = tch::no_grad(|| self.features(&(b.to_device(self.device).to_kind(Kind::Float) * 2.0 - 1.0)).iter().map(unit_normalize).collect());
        Ok(Target { size: b.size(), features })
    }

    /// The five per-layer terms (N,5) for two RGB batches in 0..1 of one size; their sum in
    /// order is the distance.
    pub fn per_layer(&self, a: &Tensor, b: &Tensor) -> Result<Tensor, StLpipsError> {
        check(a, b)?;
        self.per_layer_to(a, &self.target(b)?)
    }

    /// `per_layer` against a [`Target`].
    fn per_layer_to(&self, a: &Tensor, b: &Target) -> Result<Tensor, StLpipsError> {
        let fa = self.target(a)?;
        if fa.size != b.size {
            return Err(StLpipsError::ShapeMismatch { a: fa.size, b: b.size.clone() });
        }
        Ok(tch::no_grad(|| {
            let terms: Vec<Tensor> = fa
                .features
                .iter()
                .zip(&b.features)
                .zip(&self.lins)
                .map(|((x, y), lin)| (x - y).square().conv2d(lin, None::<Tensor>, [1, 1], [0, 0], [1, 1], 1).mean_dim(&[2i64, 3][..], false, Kind::Float))
                .collect();
            Tensor::cat(&terms, 1)
        }))
    }

    /// One distance per image pair of two RGB batches in 0..1 (N,3,H,W) of one size.
    pub fn distances(&self, a: &Tensor, b: &Tensor) -> Result<Vec<f64>, StLpipsError> {
        check(a, b)?;
        self.distances_to(a, &self.target(b)?)
    }

    /// `distances` against a [`Target`] (the same numbers).
    pub fn distances_to(&self, a: &Tensor, b: &Target) -> Result<Vec<f64>, StLpipsError> {
        let per_layer = self.per_layer_to(a, b)?;
        // Added layer by layer in float32, as the package does.
        let total = (1..per_layer.size()[1]).fold(per_layer.select(1, 0), |acc, l| acc + per_layer.select(1, l));
        Ok(Vec::<f64>::try_from(total.to_kind(Kind::Double).to_device(Device::Cpu)).expect("a 1-d tensor"))
    }

    /// The distance between two images (1,3,H,W) in 0..1; for larger batches, the mean over pairs.
    pub fn distance(&self, a: &Tensor, b: &Tensor) -> Result<f64, StLpipsError> {
        check(a, b)?;
        self.distance_to(a, &self.target(b)?)
    }

    /// `distance` against a [`Target`].
    pub fn distance_to(&self, a: &Tensor, b: &Target) -> Result<f64, StLpipsError> {
        let d = self.distances_to(a, b)?;
        Ok(d.iter().sum::<f64>() / d.len().max(1) as f64)
    }
}

/// An image's features as ST-LPIPS compares them ([`StLpips::target`]).
pub struct Target {
    size: Vec<i64>,
    features: Vec<Tensor>,
}

fn check(a: &Tensor, b: &Tensor) -> Result<(), StLpipsError> {
    let (sa, sb) = (a.size(), b.size());
    if sa != sb {
        return Err(StLpipsError::ShapeMismatch { a: sa, b: sb });
    }
    if sa.len() != 4 || sa[0] < 1 || sa[1] != 3 || sa[2] < MIN_SIDE || sa[3] < MIN_SIDE {
        return Err(StLpipsError::BadInput(sa));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smallest_side_is_18() {
        // Each blur pool's reflection padding (2) must be smaller than its input after the
        // max-pool (side - 1): true at all four stages exactly from 18 px up.
        let fits = |mut side: i64| {
            (0..4).all(|_| {
                let ok = side - 1 > 2;
                side = pooled_side(side);
                ok
            })
        };
        assert!(fits(MIN_SIDE) && !fits(MIN_SIDE - 1));
        // 64 -> 33 -> 17 -> 9 -> 5, as the package's network gives.
        assert_eq!([64, 33, 17, 9].map(pooled_side), [33, 17, 9, 5]);
    }

    #[test]
    fn blur_pool_by_hand() {
        // A constant stays constant (the filter sums to 1, reflection keeps the border value).
        let c = Tensor::full([1, 2, 6, 5], 0.7, (Kind::Float, Device::Cpu));
        let filt = (Tensor::from_slice(&[1.0f32, 2.0, 1.0]).outer(&Tensor::from_slice(&[1.0f32, 2.0, 1.0])) / 16.0).view([1, 1, 3, 3]).repeat([2, 1, 1, 1]);
        let out = blur_pool(&c, &filt);
        // (6 + 4 - 3) / 2 + 1 = 4 and (5 + 4 - 3) / 2 + 1 = 4.
        assert_eq!(out.size(), vec![1, 2, 4, 4]);
        assert!((out - 0.7).abs().max().double_value(&[]) < 1e-6);
        // An impulse at (1,1) of a 4x4 image. Reflection by 2 puts row/column 1 at padded
        // indices 1, 3 and 7; the stride-2 windows start at 0, 2, 4, so windows 0 and 1 see it
        // (at their weight 2/4), window 2 does not: per axis (0.5, 0.5, 0). Zero padding
        // would give (0, 0.5, 0).
        let mut x = vec![0.0f32; 16];
        x[5] = 1.0;
        let out = blur_pool(&Tensor::from_slice(&x).view([1, 1, 4, 4]), &filt.narrow(0, 0, 1));
        let want = Tensor::from_slice(&[0.25f32, 0.25, 0.0, 0.25, 0.25, 0.0, 0.0, 0.0, 0.0]).view([1, 1, 3, 3]);
        assert!((out - want).abs().max().double_value(&[]) < 1e-7);
    }

    #[test]
    fn unit_normalize_makes_channel_vectors_unit_length() {
        // (3,4) at one position -> (0.6, 0.8); zeros stay zeros (the epsilon).
        let f = Tensor::from_slice(&[3.0f32, 0.0, 4.0, 0.0]).view([1, 2, 1, 2]);
        let n = unit_normalize(&f);
        assert!((n.double_value(&[0, 0, 0, 0]) - 0.6).abs() < 1e-6 && (n.double_value(&[0, 1, 0, 0]) - 0.8).abs() < 1e-6);
        assert_eq!(n.double_value(&[0, 0, 0, 1]), 0.0);
    }

    #[test]
    fn inputs_are_checked() {
        let t = |s: &[i64]| Tensor::zeros(s, (Kind::Float, Device::Cpu));
        assert!(check(&t(&[1, 3, 18, 40]), &t(&[1, 3, 18, 40])).is_ok());
        assert!(matches!(check(&t(&[1, 3, 17, 40]), &t(&[1, 3, 17, 40])), Err(StLpipsError::BadInput(_))));
        assert!(matches!(check(&t(&[1, 1, 32, 32]), &t(&[1, 1, 32, 32])), Err(StLpipsError::BadInput(_))));
        let e = check(&t(&[1, 3, 32, 32]), &t(&[1, 3, 32, 33])).unwrap_err();
        assert!(e.to_string().contains("[1, 3, 32, 32] and [1, 3, 32, 33]"), "{e}");
    }
}
