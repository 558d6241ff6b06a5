use serde::Serialize;
use stylize_model::semantic::{cluster_stats, CoClusters, Matching, SemanticConfig};
use stylize_model::style::{StyleCode, STYLE_TAPS};
use stylize_model::{Tap, Vgg16};
use tch::{Kind, Tensor};

use crate::stlpips::{StLpips, StLpipsError, Target};

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

/// Mean (C) and covariance (C,C) of a (1,C,H,W) feature map, spatial positions as samples,
/// in float64.
pub fn gaussian_fit(f: &Tensor) -> (Tensor, Tensor) {
    let (c, h, w) = (f.size()[1], f.size()[2], f.size()[3]);
    let x = f.to_kind(Kind::Double).view([c, h * w]);
    let mu = x.mean_dim(&[1i64][..], true, Kind::Double);
    let xc = &x - &mu;
    let cov = xc.matmul(&xc.tr()) / ((h * w - 1).max(1)) as f64;
    (mu.view([c]), cov)
}

/// Square root of a symmetric positive semi-definite matrix by eigendecomposition; tiny
/// negative eigenvalues from rounding are clipped to 0, so the result is always real.
pub fn sqrtm_psd(m: &Tensor) -> Tensor {
    let sym = (m + m.tr()) / 2.0;
    let (vals, vecs) = sym.linalg_eigh("L");
    vecs.matmul(&vals.clamp_min(0.0).sqrt().diag_embed(0, -2, -1)).matmul(&vecs.tr())
}

/// Frechet distance between Gaussians N(mu1, s1) and N(mu2, s2):
/// |mu1 - mu2|^2 + tr(s1 + s2 - 2 (s1^1/2 s2 s1^1/2)^1/2). The symmetric form needs only
/// square roots of PSD matrices, which `sqrtm_psd` takes stably.
pub fn frechet_distance(mu1: &Tensor, s1: &Tensor, mu2: &Tensor, s2: &Tensor) -> f64 {
    let r1 = sqrtm_psd(s1);
    let cross = sqrtm_psd(&r1.matmul(s2).matmul(&r1));
    let mean_term = (mu1 - mu2).square().sum(Kind::Double).double_value(&[]);
    let trace = (s1.trace() + s2.trace() - cross.trace() * 2.0).double_value(&[]);
    (mean_term + trace).max(0.0)
}

/// Frechet distance between the Gaussian fits of two feature maps (1,C,H,W), per channel and
/// in units of the squared typical activation of `tap`, so that layers are comparable.
pub fn feature_frechet(a: &Tensor, b: &Tensor, tap: Tap) -> f64 {
    let ((m1, s1), (m2, s2)) = (gaussian_fit(a), gaussian_fit(b));
    frechet_distance(&m1, &s1, &m2, &s2) / (a.size()[1] as f64 * stylize_model::losses::feature_scale(tap).powi(2))
}

/// Region-aware style distance: with photo and painting co-clustered into regions (as
/// `stylize run --semantic` does), the `stat_distance` between the output's statistics over
/// each photo region and the painting's over its matching region, at every level of `out` and
/// `painting` (the same taps), averaged over regions by the photo's share. Regions with under
/// `min_share` of the painting are left out, as semantic transfer gives them the global
/// statistics. The output must have the photo's size.
pub fn region_distance(out: &[Tensor], painting: &[Tensor], clusters: &CoClusters, min_share: f64) -> f64 {
    let grid = |t: &Tensor| (t.size()[2], t.size()[3]);
    let k = clusters.photo.size()[1];
    let mut per_region = vec![0.0; k as usize];
    let mut photo_share = Tensor::zeros([k], (Kind::Float, out[0].device()));
    for (o, s) in out.iter().zip(painting) {
        let (om, os, share) = cluster_stats(o, &clusters.photo_at(grid(o)));
        let (sm, ss, _) = cluster_stats(s, &clusters.painting_at(grid(s)));
        let num = (&om - &sm).square().sum_dim_intlist(1, false, Kind::Double) + (&os - &ss).square().sum_dim_intlist(1, false, Kind::Double);
        let den = sm.square().sum_dim_intlist(1, false, Kind::Double) + ss.square().sum_dim_intlist(1, false, Kind::Double);
        let ratio: Vec<f64> = Vec::try_from(num / den.clamp_min(1e-12)).expect("k values");
        for (acc, r) in per_region.iter_mut().zip(ratio) {
            *acc += r / out.len() as f64;
        }
        photo_share = share;
    }
    let photo_share: Vec<f64> = Vec::try_from(photo_share.to_kind(Kind::Double)).expect("k values");
    let painting_share: Vec<f64> = Vec::try_from(clusters.painting_share.to_kind(Kind::Double)).expect("k values");
    let (mut sum, mut weight) = (0.0, 0.0);
    for ((d, w), ps) in per_region.iter().zip(&photo_share).zip(&painting_share) {
        if *ps >= min_share {
            sum += d * w;
            weight += w;
        }
    }
    if weight > 0.0 { sum / weight } else { f64::NAN }
}

/// `feature_frechet` between two sets of images pooled: every spatial position of every
/// image's feature map (1,C,H,W) is one sample of its set's Gaussian. How far a model's outputs
/// are, as a body of work, from an artist's paintings.
pub fn pooled_frechet(a: &[Tensor], b: &[Tensor], tap: Tap) -> f64 {
    let pool = |fs: &[Tensor]| {
        let c = fs[0].size()[1];
        Tensor::cat(&fs.iter().map(|f| f.to_kind(Kind::Double).view([c, -1])).collect::<Vec<_>>(), 1).view([1, c, 1, -1])
    };
    feature_frechet(&pool(a), &pool(b), tap)
}

/// All scores of one output against its photo and painting.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Scores {
    /// `content_distance` at relu3_1 and relu4_1 (0 = the photo's content).
    pub content: f64,
    /// Shift-tolerant LPIPS (VGG) from the output to the photo (0 = the photo).
    pub st_lpips: f64,
    /// `stat_distance` over relu1_1..relu4_1.
    pub style_stats: f64,
    /// `gram_distance` over relu1_1..relu4_1.
    pub style_gram: f64,
    /// `feature_frechet` at relu3_1 and relu4_1, averaged.
    pub style_frechet: f64,
    /// The two terms of `style_frechet`: at relu3_1 (the 1/4 scale) and at relu4_1 (1/8).
    pub style_frechet_taps: [f64; 2],
    /// `region_distance` over relu1_1..relu4_1 (regions as `--semantic` finds them).
    pub style_region: f64,
}

impl Scores {
    /// Mean of each score over pairs.
    pub fn mean(all: &[Scores]) -> Scores {
        let n = all.len().max(1) as f64;
        let avg = |f: fn(&Scores) -> f64| all.iter().map(f).sum::<f64>() / n;
        Scores {
            content: avg(|s| s.content),
            st_lpips: avg(|s| s.st_lpips),
            style_stats: avg(|s| s.style_stats),
            style_gram: avg(|s| s.style_gram),
            style_frechet: avg(|s| s.style_frechet),
            style_frechet_taps: [avg(|s| s.style_frechet_taps[0]), avg(|s| s.style_frechet_taps[1])],
            style_region: avg(|s| s.style_region),
        }
    }

    /// (1 + content) x (1 + style Frechet): shaped like ArtFID = (1 + LPIPS) x (1 + FID), but
    /// on our VGG16 distances, per pair, not on an art-Inception network (which no registry
    /// has), so its values are not comparable with published ArtFID figures.
    pub fn artfid_shaped(&self) -> f64 {
        (1.0 + self.content) * (1.0 + self.style_frechet)
    }
}

/// How far a decoded photo (strength 0) is from the photo, on the 0..255 scale.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Reconstruction {
    /// Mean absolute difference over pixels and channels.
    pub error: f64,
    /// Mean luma (Rec. 601) of the output minus the photo's: negative = darker.
    pub brightness_shift: f64,
}

impl Reconstruction {
    /// `out` and `photo`: (1,3,H,W) in 0..1, the same size.
    pub fn of(out: &Tensor, photo: &Tensor) -> Self {
        let (out, photo) = (out.to_kind(Kind::Double), photo.to_kind(Kind::Double));
        let luma = |t: &Tensor| {
            let w = Tensor::from_slice(&[0.299f64, 0.587, 0.114]).view([1, 3, 1, 1]).to_device(t.device());
            (t * w).sum_dim_intlist(1, false, Kind::Double).mean(Kind::Double).double_value(&[])
        };
        Self {
            error: 255.0 * (&out - &photo).abs().mean(Kind::Double).double_value(&[]),
            brightness_shift: 255.0 * (luma(&out) - luma(&photo)),
        }
    }

    /// Mean of each figure.
    pub fn mean(all: &[Self]) -> Self {
        let n = all.len().max(1) as f64;
        Self { error: all.iter().map(|r| r.error).sum::<f64>() / n, brightness_shift: all.iter().map(|r| r.brightness_shift).sum::<f64>() / n }
    }
}

const CONTENT_TAPS: [Tap; 2] = [Tap::Relu3_1, Tap::Relu4_1];

/// The regions the region-aware distance compares (3, soft memberships at temperature
/// 0.05, regions under 3% of the painting left out): fixed here, not `--semantic`'s
/// defaults, so that figures stay comparable when those change.
fn region_metric() -> SemanticConfig {
    SemanticConfig { clusters: 3, temperature: 0.05, min_share: 0.03, iterations: 25, seed: 0, regional_decoder: true, matching: Matching::Clusters }
}

/// What scoring reads of a photo, made once for every output of it: its VGG16 features at
/// relu3_1, relu4_1 and relu5_1, and its ST-LPIPS features.
pub struct PhotoFeatures {
    vgg: Vec<Tensor>,
    stlpips: Target,
}

impl PhotoFeatures {
    /// `photo`: (1,3,H,W) in 0..1. Fails only when ST-LPIPS cannot take it (sides under
    /// `stlpips::MIN_SIDE`).
    pub fn new(vgg: &Vgg16, stlpips: &StLpips, photo: &Tensor) -> Result<Self, StLpipsError> {
        let stlpips = stlpips.target(photo)?;
        Ok(PhotoFeatures { vgg: tch::no_grad(|| vgg.features(photo, &[CONTENT_TAPS[0], CONTENT_TAPS[1], Tap::Relu5_1])), stlpips })
    }
}

/// A painting's features as scoring reads them (make once per painting): STYLE_TAPS and relu5_1.
pub fn painting_features(vgg: &Vgg16, painting: &Tensor) -> Vec<Tensor> {
    tch::no_grad(|| vgg.features(painting, &[STYLE_TAPS[0], STYLE_TAPS[1], STYLE_TAPS[2], STYLE_TAPS[3], Tap::Relu5_1]))
}

/// What scoring reads of one (photo, painting) pair, made once and shared by every method's
/// output: the photo's features, the painting's, and the regions they share.
pub struct Reference<'a> {
    photo: &'a PhotoFeatures,
    painting: &'a [Tensor],
    clusters: CoClusters,
}

impl<'a> Reference<'a> {
    /// The pair of a photo and a painting's [`painting_features`]; co-clusters them as
    /// `stylize run --semantic` does.
    pub fn new(photo: &'a PhotoFeatures, painting: &'a [Tensor]) -> Self {
        let (fp, fs) = (&photo.vgg, painting);
        let clusters = tch::no_grad(|| CoClusters::new(&[&fp[1], &fp[2]], 0, &[&fs[3], &fs[4]], &region_metric()));
        Reference { photo, painting, clusters }
    }
}

/// Scores `out` (1,3,H,W in 0..1, the photo's size) against its pair. Fails only when
/// ST-LPIPS cannot take it.
pub fn score(vgg: &Vgg16, stlpips: &StLpips, out: &Tensor, pair: &Reference) -> Result<Scores, StLpipsError> {
    let st_lpips = stlpips.distance_to(out, &pair.photo.stlpips)?;
    let (fp, fs) = (&pair.photo.vgg, pair.painting);
    Ok(tch::no_grad(|| {
        let fo = vgg.features(out, &STYLE_TAPS);
        let style = style_distances(&fo, fs);
        Scores {
            style_region: region_distance(&fo, &fs[..4], &pair.clusters, region_metric().min_share),
            content: content_distance(&fo[2..], &fp[..2]),
            st_lpips,
            style_stats: style.stats,
            style_gram: style.gram,
            style_frechet: style.frechet,
            style_frechet_taps: style.frechet_taps,
        }
    }))
}

/// The style part of [`Scores`], which needs no photo.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct StyleDistances {
    pub stats: f64,
    pub gram: f64,
    pub frechet: f64,
    /// `frechet`'s terms at relu3_1 and relu4_1.
    pub frechet_taps: [f64; 2],
}

impl StyleDistances {
    /// Mean of each distance over pairs.
    pub fn mean(all: &[StyleDistances]) -> StyleDistances {
        let n = all.len().max(1) as f64;
        let avg = |f: fn(&StyleDistances) -> f64| all.iter().map(f).sum::<f64>() / n;
        StyleDistances { stats: avg(|d| d.stats), gram: avg(|d| d.gram), frechet: avg(|d| d.frechet), frechet_taps: [avg(|d| d.frechet_taps[0]), avg(|d| d.frechet_taps[1])] }
    }
}

/// Style distances of an image's STYLE_TAPS features `fo` to a painting's (`fs`, STYLE_TAPS
/// first, as [`painting_features`] makes them): `stat_distance` and `gram_distance` over
/// relu1_1..relu4_1, `feature_frechet` at relu3_1 and relu4_1 averaged.
pub fn style_distances(fo: &[Tensor], fs: &[Tensor]) -> StyleDistances {
    let frechet_taps = [0, 1].map(|i| feature_frechet(&fo[2 + i], &fs[2 + i], CONTENT_TAPS[i]));
    StyleDistances {
        frechet_taps,
        stats: stat_distance(&StyleCode::from_features(&fo[..4]), &StyleCode::from_features(&fs[..4])),
        gram: gram_distance(&fo[..4], &fs[..4]),
        frechet: (frechet_taps[0] + frechet_taps[1]) / 2.0,
    }
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
    fn style_distances_are_zero_to_itself_and_grow_with_a_shift() {
        let opts = (Kind::Float, tch::Device::Cpu);
        let f: Vec<Tensor> = (0..4).map(|_| Tensor::rand([1, 4, 6, 6], opts)).collect();
        let same = style_distances(&f, &f);
        assert!(same.stats.abs() < 1e-9 && same.gram.abs() < 1e-9 && same.frechet.abs() < 1e-6, "{same:?}");
        // Every level's features +0.5: each distance positive, and larger for +1 (the Frechet
        // distance, in units of relu3_1's and relu4_1's squared typical activation, 4x: it is
        // the squared shift of the means when the covariances agree).
        let shifted = |d: f64| f.iter().map(|t| t + d).collect::<Vec<_>>();
        let (near, far) = (style_distances(&shifted(0.5), &f), style_distances(&shifted(1.0), &f));
        assert!(near.stats > 0.1 && far.stats > near.stats && near.gram > 0.1 && far.gram > near.gram, "{near:?} {far:?}");
        assert!(near.frechet > 0.0 && (far.frechet / near.frechet - 4.0).abs() < 1e-3, "{near:?} {far:?}");
        let mean = StyleDistances::mean(&[near, far]);
        assert!((mean.frechet - (near.frechet + far.frechet) / 2.0).abs() < 1e-12);
    }

    #[test]
    fn frechet_distance_of_known_gaussians() {
        // Diagonal covariances: FD = |mu1-mu2|^2 + sum (sqrt(a_i) - sqrt(b_i))^2.
        // mu: (0,0) vs (1,2) -> 5; variances (4,9) vs (1,1) -> (2-1)^2 + (3-1)^2 = 5. Total 10.
        let mu1 = Tensor::from_slice(&[0.0f64, 0.0]);
        let mu2 = Tensor::from_slice(&[1.0f64, 2.0]);
        let s1 = Tensor::from_slice(&[4.0f64, 0.0, 0.0, 9.0]).view([2, 2]);
        let s2 = Tensor::eye(2, (Kind::Double, tch::Device::Cpu));
        assert!((frechet_distance(&mu1, &s1, &mu2, &s2) - 10.0).abs() < 1e-9);
        assert!(frechet_distance(&mu1, &s1, &mu1, &s1).abs() < 1e-9);
        // A rotated (non-diagonal) covariance against itself is still 0; against the identity it
        // is tr(S) + 2 - 2 tr(S^1/2) with eigenvalues 4 and 9: 13 + 2 - 2*5 = 5.
        let r = Tensor::from_slice(&[0.6f64, -0.8, 0.8, 0.6]).view([2, 2]);
        let s = r.matmul(&s1).matmul(&r.tr());
        assert!(frechet_distance(&mu1, &s, &mu1, &s).abs() < 1e-9);
        assert!((frechet_distance(&mu1, &s, &mu1, &s2) - 5.0).abs() < 1e-9);
    }

    #[test]
    fn pooling_is_one_gaussian_over_all_positions() {
        let a = Tensor::rand([1, 3, 4, 4], (Kind::Float, tch::Device::Cpu));
        let b = Tensor::rand([1, 3, 2, 8], (Kind::Float, tch::Device::Cpu)) * 2.0;
        // Two halves of one map pool to the map itself.
        let halves = [a.narrow(2, 0, 2), a.narrow(2, 2, 2)];
        let whole = feature_frechet(&a, &b, Tap::Relu3_1);
        assert!((pooled_frechet(&halves, &[b.shallow_clone()], Tap::Relu3_1) - whole).abs() < 1e-9 * whole.max(1.0));
        assert!(pooled_frechet(&halves, &[a.shallow_clone()], Tap::Relu3_1).abs() < 1e-9);
    }

    #[test]
    fn region_distance_sees_regions_that_global_statistics_mix() {
        // Painting: left half 0, right half 10 (one channel); photo regions: the same halves.
        let left_right = |a: f32, b: f32| Tensor::from_slice(&[a, a, b, b, a, a, b, b]).view([1, 1, 2, 4]);
        let painting = left_right(0.0, 10.0);
        let m = Tensor::from_slice(&[1.0f32, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0]).view([1, 2, 2, 4]);
        let clusters = CoClusters { photo: m.shallow_clone(), painting: m, painting_share: Tensor::from_slice(&[0.5f32, 0.5]) };
        // An output with the regions in place matches; one with them swapped has the same
        // global statistics but is far in every region.
        let same = region_distance(&[left_right(0.0, 10.0)], &[painting.shallow_clone()], &clusters, 0.03);
        let swapped = region_distance(&[left_right(10.0, 0.0)], &[painting.shallow_clone()], &clusters, 0.03);
        assert!(same < 1e-9, "{same}");
        assert!(swapped > 0.5, "{swapped}");
        let global = stat_distance(&StyleCode::from_features(&[left_right(10.0, 0.0)]), &StyleCode::from_features(&[painting]));
        assert!(global < 1e-9, "the global statistics cannot tell: {global}");
    }

    #[test]
    fn gaussian_fit_by_hand() {
        // Two channels over 4 positions: (1,2,3,4) and (2,4,6,8): means 2.5, 5; var 5/3, 20/3, cov 10/3.
        let f = t(&[1.0, 2.0, 3.0, 4.0, 2.0, 4.0, 6.0, 8.0], &[1, 2, 2, 2]);
        let (mu, cov) = gaussian_fit(&f);
        assert!((mu.double_value(&[1]) - 5.0).abs() < 1e-12);
        assert!((cov.double_value(&[0, 0]) - 5.0 / 3.0).abs() < 1e-12);
        assert!((cov.double_value(&[0, 1]) - 10.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn reconstruction_by_hand() {
        let photo = Tensor::full([1, 3, 2, 2], 0.5, (Kind::Float, tch::Device::Cpu));
        // 0.1 darker everywhere: error 25.5, shift -25.5. A red-only change of +0.2 moves luma by 0.299 * 0.2.
        let r = Reconstruction::of(&(&photo - 0.1), &photo);
        assert!((r.error - 25.5).abs() < 1e-4 && (r.brightness_shift + 25.5).abs() < 1e-4, "{r:?}");
        let red = Tensor::cat(&[photo.narrow(1, 0, 1) + 0.2, photo.narrow(1, 1, 2)], 1);
        let r = Reconstruction::of(&red, &photo);
        assert!((r.error - 255.0 * 0.2 / 3.0).abs() < 1e-4 && (r.brightness_shift - 255.0 * 0.299 * 0.2).abs() < 1e-4, "{r:?}");
        let m = Reconstruction::mean(&[Reconstruction { error: 1.0, brightness_shift: -2.0 }, Reconstruction { error: 3.0, brightness_shift: 0.0 }]);
        assert_eq!(m, Reconstruction { error: 2.0, brightness_shift: -1.0 });
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
