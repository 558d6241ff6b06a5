//! The fast generator (issue 13): a small student of the VGG16 model, with no VGG16 at
//! inference. Its shape follows `bench/layers.md`, measured on these 2 cores: dense 3x3 convs
//! (grouped and depthwise ones run far below their FLOP savings), the work at 1/4 and 1/8 of
//! the resolution (48 and 96 channels, where convs reach 130-290 GFLOP/s), thin layers at 1/2
//! and none at full resolution, stride-2 convs down and pixel shuffle up (no transposed convs;
//! the last shuffle makes the RGB image), zero padding inside the convs so channels-last
//! tensors stay channels-last.
//!
//! - Two encoders of the same shape: one reads the photo, one the painting (at ~256 px). Each
//!   gives features at 1/2 (16 channels), 1/4 (48) and 1/8 (96).
//! - A style is the mean/std of the style encoder's features at those three levels (a
//!   [`StyleCode`] of three levels, the 1/8 one last).
//! - The decoder takes AdaIN of the photo's 1/8 features, then injects the style's statistics
//!   at 1/4 and 1/2 as the VGG16 model's decoder does at relu3_1..relu1_1, with the photo's
//!   1/4 features (given the style's statistics) added through a zero-initialised 1x1 conv.
//! - Feature heads (1x1 convs, training only) map the photo encoder's features onto VGG16's
//!   relu1_1..relu4_1, so the student is taught VGG-grade features by the teacher.

use serde::{Deserialize, Serialize};
use tch::{nn, Kind, Reduction, Tensor};

use crate::adain::{adain_affine, blend, mean_std, mean_var};
use crate::decoder::StageNorm;
use crate::semantic::{attention_stats, semantic_maps, Matching, Regions, SemanticConfig, SemanticStyle};
use crate::init::conv2d_padded;
use crate::losses::feature_scale;
use crate::style::{StyleCode, STYLE_TAPS};
use crate::generator::Padding;
use crate::Tap;

/// Channel widths; the defaults are the measured design (0.86 M parameters, 7.6 GFLOP at 512x512).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FastConfig {
    /// Channels at 1/2, 1/4 and 1/8 of the resolution.
    pub channels: [i64; 3],
    /// The photo's 1/2 features (with the style's statistics) into the decoder too, through a
    /// zero-initialised 1x1 conv, as its 1/4 features are: the finest detail the photo encoder
    /// keeps (the teacher's decoder takes relu2_1 likewise). Zero at first, so it can be added
    /// to a trained student without changing its output.
    #[serde(default)]
    pub skip2: bool,
    /// Residual blocks at 1/4 after the decoder's 1/4 stage: depth where the teacher's decoder
    /// paints (four 256-channel convs at relu3_1's resolution, against one 48-channel conv
    /// here). Each block's second conv starts at zero, so blocks can be added to a trained
    /// student without changing its output.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub blocks4: u32,
    /// The photo at full resolution into the output through a zero-initialised 3x3 conv: the
    /// only full-resolution layer, so the output can keep the photo's finest edges, which the
    /// last pixel shuffle from 1/2 otherwise draws blocky. Zero at first, as the 1/2 skip.
    #[serde(default, skip_serializing_if = "is_false")]
    pub photo_skip: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Default for FastConfig {
    fn default() -> Self {
        FastConfig { channels: [16, 48, 96], skip2: false, blocks4: 0, photo_skip: false }
    }
}

impl FastConfig {
    /// Whether `self` is `from` with parts added that start at zero (the skips, blocks at
    /// 1/4): a student of `from`'s shape continues in it with the same output.
    pub fn grows(&self, from: &FastConfig) -> bool {
        self.channels == from.channels && (self.skip2 || !from.skip2) && (self.photo_skip || !from.photo_skip) && self.blocks4 >= from.blocks4
    }

    /// The variables (sorted by name) a network of this shape has and one of `from`'s lacks:
    /// when `self` grows `from`, the parts added, which start as nothing. Read off the two
    /// networks themselves, so no list of names is kept beside the decoder's.
    pub fn parts_added_to(&self, from: &FastConfig) -> Vec<String> {
        let names = |cfg: FastConfig| {
            let vs = nn::VarStore::new(tch::Device::Cpu);
            FastNet::new(&vs.root(), cfg);
            vs.variables().into_keys().collect::<std::collections::BTreeSet<String>>()
        };
        let had = names(*from);
        names(*self).into_iter().filter(|k| !had.contains(k)).collect()
    }
}

/// One 3x3 conv with zero padding (stride 1 or 2), PyTorch's initialisation.
#[derive(Debug)]
struct Conv {
    conv: nn::Conv2D,
    cin: i64,
    cout: i64,
    k: i64,
    stride: i64,
}

impl Conv {
    fn new(vs: nn::Path, cin: i64, cout: i64, k: i64, stride: i64) -> Conv {
        Conv { conv: conv2d_padded(vs, cin, cout, k, stride, k / 2), cin, cout, k, stride }
    }

    /// A k x k conv (zero padding, stride 1) whose weights and bias start at zero.
    fn zeroed(vs: nn::Path, cin: i64, cout: i64, k: i64) -> Conv {
        let zero = nn::ConvConfig { ws_init: nn::Init::Const(0.0), bs_init: nn::Init::Const(0.0), padding: k / 2, ..Default::default() };
        Conv { conv: nn::conv2d(vs, cin, cout, k, zero), cin, cout, k, stride: 1 }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        x.apply(&self.conv)
    }

    /// Multiply-adds for an input of `h` x `w`.
    fn macs(&self, h: i64, w: i64) -> i64 {
        self.cin * self.cout * self.k * self.k * (h / self.stride) * (w / self.stride)
    }
}

/// Features at 1/2, 1/4 and 1/8 of the input's resolution, and the input itself (centred on
/// 0), which the photo skip reads at full resolution.
pub struct Features(pub [Tensor; 3], pub Tensor);

#[derive(Debug)]
struct Encoder {
    /// 3 -> c2 (stride 2), c2 -> c4 (stride 2), c4 -> c4, c4 -> c8 (stride 2), then a residual
    /// block of two c8 -> c8 convs.
    convs: [Conv; 6],
}

impl Encoder {
    fn new(vs: nn::Path, cfg: &FastConfig) -> Encoder {
        let [c2, c4, c8] = cfg.channels;
        let plan = [(3, c2, 2), (c2, c4, 2), (c4, c4, 1), (c4, c8, 2), (c8, c8, 1), (c8, c8, 1)];
        let mut i = 0;
        Encoder {
            convs: plan.map(|(cin, cout, s)| {
                i += 1;
                Conv::new(&vs / format!("conv{}", i - 1), cin, cout, 3, s)
            }),
        }
    }

    fn forward(&self, rgb: &Tensor) -> Features {
        let [c0, c1, c2, c3, r0, r1] = &self.convs;
        let f2 = relu_(c0.forward(rgb));
        let f4 = relu_(c2.forward(&relu_(c1.forward(&f2))));
        let x = relu_(c3.forward(&f4));
        Features([f2, f4, residual(&x, r0, r1)], rgb.shallow_clone())
    }

    fn macs(&self, h: i64, w: i64) -> i64 {
        let [c0, c1, c2, c3, r0, r1] = &self.convs;
        c0.macs(h, w) + c1.macs(h / 2, w / 2) + c2.macs(h / 4, w / 4) + c3.macs(h / 4, w / 4) + r0.macs(h / 8, w / 8) + r1.macs(h / 8, w / 8)
    }
}

#[derive(Debug)]
struct Decoder {
    /// The residual block at 1/8.
    res: [Conv; 2],
    /// 3x3 to 4x the next level's channels, then pixel shuffle: 1/8 -> 1/4 -> 1/2 -> RGB at
    /// full resolution (the last one makes 4 x 3 channels, as ESPCN does: no layer runs at full
    /// resolution, where thin convs measured slowest).
    up: [Conv; 3],
    /// A 3x3 conv after the 1/4 and the 1/2 injections.
    mid: [Conv; 2],
    /// The photo's 1/4 features (with the style's statistics) into the decoder.
    skip: Conv,
    /// The photo's 1/2 features likewise, if the config has them.
    skip2: Option<Conv>,
    /// `blocks4` residual blocks at 1/4, after `mid[0]`; the second conv of each starts at zero.
    blocks4: Vec<[Conv; 2]>,
    /// The photo into the output at full resolution (a 3x3 conv starting at zero), if the config has it.
    photo_skip: Option<Conv>,
}

impl Decoder {
    fn new(vs: nn::Path, cfg: &FastConfig) -> Decoder {
        let [c2, c4, c8] = cfg.channels;
        Decoder {
            res: [Conv::new(&vs / "res0", c8, c8, 3, 1), Conv::new(&vs / "res1", c8, c8, 3, 1)],
            up: [Conv::new(&vs / "up8", c8, 4 * c4, 3, 1), Conv::new(&vs / "up4", c4, 4 * c2, 3, 1), Conv::new(&vs / "up2", c2, 4 * 3, 3, 1)],
            mid: [Conv::new(&vs / "mid4", c4, c4, 3, 1), Conv::new(&vs / "mid2", c2, c2, 3, 1)],
            skip: Conv::zeroed(&vs / "skip4", c4, c4, 1),
            skip2: cfg.skip2.then(|| Conv::zeroed(&vs / "skip2", c2, c2, 1)),
            photo_skip: cfg.photo_skip.then(|| Conv::zeroed(&vs / "photo_skip", 3, 3, 3)),
            blocks4: (0..cfg.blocks4).map(|i| [Conv::new(&vs / format!("block4_{i}") / "conv0", c4, c4, 3, 1), Conv::zeroed(&vs / format!("block4_{i}") / "conv1", c4, c4, 3)]).collect(),
        }
    }

    fn macs(&self, h: i64, w: i64) -> i64 {
        let [r0, r1] = &self.res;
        let [u8, u4, u2] = &self.up;
        let [m4, m2] = &self.mid;
        let (h8, w8, h4, w4, h2, w2) = (h / 8, w / 8, h / 4, w / 4, h / 2, w / 2);
        let skip2 = self.skip2.as_ref().map_or(0, |s| s.macs(h2, w2));
        let blocks4: i64 = self.blocks4.iter().map(|[a, b]| a.macs(h4, w4) + b.macs(h4, w4)).sum();
        let photo = self.photo_skip.as_ref().map_or(0, |s| s.macs(h, w));
        r0.macs(h8, w8) + r1.macs(h8, w8) + u8.macs(h8, w8) + u4.macs(h4, w4) + u2.macs(h2, w2) + m4.macs(h4, w4) + m2.macs(h2, w2) + self.skip.macs(h4, w4) + skip2 + blocks4 + photo
    }
}

/// 1x1 convs from the photo encoder's features to VGG16's relu1_1..relu4_1 (64, 128, 256, 512
/// channels): relu1_1 and relu2_1 predicted at 1/2 (relu1_1's target average-pooled by 2),
/// relu3_1 at 1/4, relu4_1 at 1/8. Used in training only.
#[derive(Debug)]
struct Heads([Conv; 4]);

/// The student: two encoders, the decoder and the feature heads, in one VarStore.
#[derive(Debug)]
pub struct FastNet {
    pub cfg: FastConfig,
    content: Encoder,
    style: Encoder,
    decoder: Decoder,
    heads: Heads,
}

/// The decoder's normalising stages: the downscale factor each works at.
pub const NORM_STAGES: [u32; 2] = [4, 2];

/// Which level of the encoders' features each feature head reads (0 = 1/2, 1 = 1/4, 2 = 1/8).
pub const HEAD_LEVELS: [usize; 4] = [0, 0, 1, 2];

impl FastNet {
    pub fn new(vs: &nn::Path, cfg: FastConfig) -> FastNet {
        let [c2, c4, c8] = cfg.channels;
        let heads = Heads([
            Conv::new(vs / "heads" / "relu1_1", c2, 64, 1, 1),
            Conv::new(vs / "heads" / "relu2_1", c2, 128, 1, 1),
            Conv::new(vs / "heads" / "relu3_1", c4, 256, 1, 1),
            Conv::new(vs / "heads" / "relu4_1", c8, 512, 1, 1),
        ]);
        FastNet { cfg, content: Encoder::new(vs / "content", &cfg), style: Encoder::new(vs / "style", &cfg), decoder: Decoder::new(vs / "decoder", &cfg), heads }
    }

    /// The photo encoder's features of `rgb` (N,3,H,W in 0..1, H and W multiples of 8).
    pub fn encode(&self, rgb: &Tensor) -> Features {
        self.content.forward(&(rgb - 0.5))
    }

    /// A painting's style: the mean/std of the style encoder's features at the three levels.
    pub fn style_code(&self, rgb: &Tensor) -> StyleCode {
        let Features(f, _) = self.style.forward(&(rgb - 0.5));
        StyleCode::from_features(&f)
    }

    /// Photo (N,3,H,W, H and W multiples of 8) to an image of the same size, unclamped:
    /// `strength` 0 decodes the photo's own features, 1 takes the style fully.
    pub fn forward(&self, rgb: &Tensor, style: &StyleCode, strength: f64) -> Tensor {
        let feats = self.encode(rgb);
        let own = self.own_statistics(&feats, style, strength);
        self.decode(&feats, &own, style, strength)
    }

    /// Photo (N,3,H,W in 0..1, any size) to its stylization in 0..1, without gradients:
    /// reflection-padded to a multiple of 8 ([`Padding::to_multiple_of_8`]: no margin),
    /// channels-last.
    pub fn stylize(&self, rgb: &Tensor, style: &StyleCode, strength: f64) -> Tensor {
        tch::no_grad(|| {
            let p = Padding::to_multiple_of_8(rgb.size()[3] as u32, rgb.size()[2] as u32);
            let out = self.forward(&channels_last(&p.apply(rgb)), style, strength);
            p.crop(&out).clamp(0.0, 1.0).contiguous()
        })
    }

    /// The decoder on encoded features; `own` holds their statistics (the whole image's, when
    /// the features are a tile's).
    pub fn decode(&self, feats: &Features, own: &StyleCode, style: &StyleCode, strength: f64) -> Tensor {
        self.decode_with(feats, own, style, strength, &StageNorm::Own, None)
    }

    /// A painting (1,3,H,W in 0..1) for [`FastNet::stylize_semantic`]: the style encoder's
    /// three levels, and the photo encoder's 1/8 features to find its regions on (a photo's
    /// regions are found on the same encoder's, so both images are clustered in one space).
    pub fn semantic_style(&self, rgb: &Tensor) -> SemanticStyle {
        tch::no_grad(|| {
            let rgb = channels_last(rgb);
            let Features(levels, _) = self.style.forward(&(&rgb - 0.5));
            let Features([_, _, f8], _) = self.encode(&rgb);
            let code = StyleCode::from_features(&levels);
            SemanticStyle::new(levels.into_iter().collect(), vec![f8], code, (rgb.size()[2], rgb.size()[3]))
        })
    }

    /// `stylize` with semantic transfer, as the VGG16 model's: each region of the photo takes
    /// the statistics of the painting's matching region at the three levels and in the
    /// decoder's stages (or, with attention, each position its own). One region is `stylize`.
    pub fn stylize_semantic(&self, rgb: &Tensor, style: &SemanticStyle, cfg: &SemanticConfig, strength: f64, regions: Option<&Regions>) -> Tensor {
        if cfg.clusters <= 1 {
            return self.stylize(rgb, &style.code, strength);
        }
        tch::no_grad(|| {
            let p = Padding::to_multiple_of_8(rgb.size()[3] as u32, rgb.size()[2] as u32);
            let feats = self.encode(&channels_last(&p.apply(rgb)));
            let f = &feats.0;
            let as_code = |stats: Vec<(Tensor, Tensor)>| {
                let (means, stds) = stats.into_iter().unzip();
                StyleCode { means, stds }
            };
            let out = if let (Matching::Attention { temperature }, None) = (cfg.matching, regions) {
                let target = as_code(attention_stats(f, &[&f[2]], style, temperature));
                self.decode(&feats, &as_code(f.iter().map(stats).collect()), &target, strength)
            } else {
                let pad = |t: &Tensor| p.apply_to_grid(t);
                let maps = semantic_maps(f, &[&f[2]], 0, style, cfg, regions.map(|r| (r, &pad as &dyn Fn(&Tensor) -> Tensor)));
                let spread = |stats: &[(Tensor, Tensor)]| as_code(stats.iter().enumerate().map(|(l, (m, s))| (maps.spread(l, m), maps.spread(l, s))).collect());
                // Stage k works at 1/NORM_STAGES[k]: level 1 (1/4), then level 0 (1/2).
                let stages: Vec<Tensor> = NORM_STAGES.iter().map(|&d| maps.memberships[d.trailing_zeros() as usize - 1].shallow_clone()).collect();
                let norm = if cfg.regional_decoder { StageNorm::Regional(&stages) } else { StageNorm::Own };
                self.decode_with(&feats, &spread(&maps.content), &spread(&maps.style), strength, &norm, None)
            };
            p.crop(&out).clamp(0.0, 1.0).contiguous()
        })
    }

    /// `decode`, where normalising stage k (of [`NORM_STAGES`]: after the 1/4 and the 1/2
    /// upsampling) normalises as `norm` says, and `stop_at = Some(k)` returns stage k's
    /// features just before normalisation. Tiling uses both to give every tile the whole
    /// image's statistics; semantic transfer normalises each region with its own.
    pub fn decode_with(&self, feats: &Features, own: &StyleCode, style: &StyleCode, strength: f64, norm: &StageNorm, stop_at: Option<usize>) -> Tensor {
        let Features([_, f4, f8], input) = feats;
        let target = StyleCode::blend(own, style, strength);
        let d = &self.decoder;
        let norm = |k: usize, x: &Tensor| norm.at(k, x, stats);
        // The photo's features with the style's statistics, blended by strength.
        let styled = |f: &Tensor, l: usize| {
            let t = adain_affine(f, &own.means[l], &own.stds[l], &style.means[l], &style.stds[l]);
            if strength == 1.0 { t } else { blend(f, &t, strength) }
        };
        let x = residual(&styled(f8, 2), &d.res[0], &d.res[1]);
        // 1/8 -> 1/4: the style's 1/4 statistics, and the photo's 1/4 features through the skip.
        let x = d.up[0].forward(&x).pixel_shuffle(2);
        if stop_at == Some(0) {
            return x;
        }
        let (m, s) = norm(0, &x);
        let mut y = adain_affine(&x, &m, &s, &target.means[1], &target.stds[1]);
        let _ = y.g_add_(&d.skip.forward(&styled(f4, 1)));
        let mut x = relu_(d.mid[0].forward(&relu_(y)));
        for [b0, b1] in &d.blocks4 {
            x = residual(&x, b0, b1);
        }
        // 1/4 -> 1/2: the style's 1/2 statistics.
        let x = d.up[1].forward(&x).pixel_shuffle(2);
        if stop_at == Some(1) {
            return x;
        }
        let (m, s) = norm(1, &x);
        let mut y = adain_affine(&x, &m, &s, &target.means[0], &target.stds[0]);
        if let Some(skip2) = &d.skip2 {
            let _ = y.g_add_(&skip2.forward(&styled(&feats.0[0], 0)));
        }
        let x = relu_(d.mid[1].forward(&relu_(y)));
        // 1/2 -> RGB at full resolution, with the photo's own detail if the config has it.
        let mut out = d.up[2].forward(&x).pixel_shuffle(2);
        if let Some(photo_skip) = &d.photo_skip {
            let _ = out.g_add_(&photo_skip.forward(input));
        }
        out + 0.5
    }

    /// The feature heads' predictions of VGG16's relu1_1..relu4_1 from the photo's features,
    /// divided by each tap's `feature_scale` (relu1_1 at half its resolution; see [`HEAD_LEVELS`]).
    pub fn predict_vgg(&self, feats: &Features) -> Vec<Tensor> {
        self.heads.0.iter().zip(HEAD_LEVELS).map(|(h, l)| h.forward(&feats.0[l])).collect()
    }

    /// Multiply-adds of one photo of `h` x `w` (the style encoder runs once per painting and is
    /// not counted; the heads run in training only).
    pub fn macs(&self, h: i64, w: i64) -> i64 {
        self.content.macs(h, w) + self.decoder.macs(h, w)
    }

    /// Multiply-adds of the style encoder on an `h` x `w` painting.
    pub fn style_macs(&self, h: i64, w: i64) -> i64 {
        self.style.macs(h, w)
    }
}

impl FastNet {
    /// Whether the decoder reads the photo's own statistics at 1/2 at `strength`: with the 1/2
    /// skip always; else only blended with the style's by a strength below 1 (at 1 the style's
    /// stand in for them, and the largest of the three reductions is skipped).
    pub fn needs_level0(&self, strength: f64) -> bool {
        self.cfg.skip2 || strength < 1.0
    }

    /// The photo's own statistics at the three levels (at 1/2 the style's, where
    /// [`FastNet::needs_level0`] says they are not read).
    pub fn own_statistics(&self, feats: &Features, style: &StyleCode, strength: f64) -> StyleCode {
        let (mut means, mut stds): (Vec<Tensor>, Vec<Tensor>) = feats.0.iter().skip(1).map(stats).unzip();
        let (m0, s0) = if self.needs_level0(strength) { stats(&feats.0[0]) } else { (style.means[0].shallow_clone(), style.stds[0].shallow_clone()) };
        means.insert(0, m0);
        stds.insert(0, s0);
        StyleCode { means, stds }
    }
}

/// ReLU in place on a tensor nothing else holds (a conv's fresh output): one pass, no new
/// buffer; the autograd of training keeps working (a conv's backward does not read its output).
fn relu_(mut t: Tensor) -> Tensor {
    t.relu_()
}

/// relu(x + r1(relu(r0(x)))), the residual block at 1/8, adding in place into r1's output.
fn residual(x: &Tensor, r0: &Conv, r1: &Conv) -> Tensor {
    let mut y = r1.forward(&relu_(r0.forward(x)));
    let _ = y.g_add_(x);
    relu_(y)
}

/// Per-channel mean and std over H and W, as `adain::mean_std`, reading a channels-last tensor
/// in its own order: reduced over (N, H*W, C) it is a contiguous reduction, where reducing
/// H and W of the NCHW view strides through memory (measured 9 ms for the three levels at 512
/// px the strided way).
fn stats(x: &Tensor) -> (Tensor, Tensor) {
    let [n, c, h, w] = x.size()[..] else { return mean_std(x) };
    if x.stride()[1] != 1 || c == 1 {
        return mean_std(x);
    }
    let flat = x.to_kind(Kind::Float).permute([0, 2, 3, 1]).reshape([n, h * w, c]);
    let (mean, var) = mean_var(&flat, &[1]);
    let shape = [n, c, 1, 1];
    (mean.reshape(shape), (var + crate::adain::EPS).sqrt().reshape(shape))
}

/// Distillation, stage A (no VGG16 on the student's output): L1 to the teacher's stylization of
/// the same photo and painting, plus the feature heads' MSE to VGG16's features of the photo
/// (relu1_1..relu4_1, from the teacher's own encoding), each tap in units of its typical
/// activation like every feature loss here (the heads predict in those units). relu1_1 is compared at half resolution (2x2
/// average), where its head predicts it. Returns the weighted total and its two terms.
pub fn distill_loss(out: &Tensor, teacher_out: &Tensor, predicted: &[Tensor], vgg: &[Tensor], feature_weight: f64) -> (Tensor, Tensor, Tensor) {
    assert_eq!(predicted.len(), STYLE_TAPS.len(), "one prediction per style tap");
    let pixels = out.to_kind(Kind::Float).l1_loss(&teacher_out.to_kind(Kind::Float), Reduction::Mean);
    let features = predicted
        .iter()
        .zip(vgg)
        .zip(STYLE_TAPS)
        .map(|((p, v), tap)| {
            let v = v.to_kind(Kind::Float);
            let v = if tap == Tap::Relu1_1 { v.avg_pool2d([2, 2], [2, 2], [0, 0], false, true, None::<i64>) } else { v };
            // The heads predict in units of the tap's typical activation, so they output O(1).
            p.to_kind(Kind::Float).mse_loss(&(v / feature_scale(tap)), Reduction::Mean)
        })
        .reduce(|a, b| a + b)
        .expect("four taps");
    (&pixels + &features * feature_weight, pixels, features)
}

/// NHWC memory with NCHW shape: libtorch then runs the convs channels-last, which measured
/// 1.5-2x faster than NCHW for these layer sizes (`bench/layers.md`). tch 0.26 has no
/// memory-format API; this is what `x.contiguous(memory_format=torch.channels_last)` makes.
pub fn channels_last(x: &Tensor) -> Tensor {
    x.permute([0, 2, 3, 1]).contiguous().permute([0, 3, 1, 2])
}

/// Stores every 4-d weight of `vs` channels-last (in place), as the inputs are: with NCHW
/// weights libtorch reorders them on every conv call.
pub fn weights_channels_last(vs: &nn::VarStore) {
    tch::no_grad(|| {
        for (_, mut v) in vs.variables() {
            if v.dim() == 4 {
                let cl = channels_last(&v);
                v.set_data(&cl);
            }
        }
    });
}

/// Trainable parameters under `prefix` ("content", "style", "decoder", "heads"), or all.
pub fn parameters(vs: &nn::VarStore, prefix: Option<&str>) -> i64 {
    vs.variables().iter().filter(|(name, _)| prefix.is_none_or(|p| name.starts_with(p))).map(|(_, t)| t.numel() as i64).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    fn net() -> (nn::VarStore, FastNet) {
        tch::manual_seed(0);
        let vs = nn::VarStore::new(Device::Cpu);
        let net = FastNet::new(&vs.root(), FastConfig::default());
        (vs, net)
    }

    /// Copies every variable of `from` that `to` has too (a grown network's original parts).
    fn copy_shared(from: &nn::VarStore, to: &nn::VarStore) {
        let from = from.variables();
        tch::no_grad(|| {
            for (k, mut v) in to.variables() {
                if let Some(t) = from.get(&k) {
                    v.copy_(t);
                }
            }
        });
    }

    #[test]
    fn shapes_parameters_and_flops_are_within_the_budget() {
        let (vs, net) = net();
        let photo = Tensor::rand([2, 3, 48, 64], (Kind::Float, Device::Cpu));
        let painting = Tensor::rand([1, 3, 40, 40], (Kind::Float, Device::Cpu));
        let code = net.style_code(&painting);
        assert_eq!(code.means.iter().map(|m| m.size()[1]).collect::<Vec<_>>(), vec![16, 48, 96]);
        let out = net.forward(&photo, &code, 1.0);
        assert_eq!(out.size(), [2, 3, 48, 64]);
        let feats = net.encode(&photo);
        let sizes: Vec<Vec<i64>> = net.predict_vgg(&feats).iter().map(|t| t.size()).collect();
        assert_eq!(sizes, vec![vec![2, 64, 24, 32], vec![2, 128, 24, 32], vec![2, 256, 12, 16], vec![2, 512, 6, 8]]);

        // Encoder: 3*16*9 + 16*48*9 + 48*48*9 + 48*96*9 + 2*96*96*9 weights, plus biases.
        let encoder = 432 + 6_912 + 20_736 + 41_472 + 2 * 82_944 + (16 + 48 + 48 + 96 + 96 + 96);
        assert_eq!(parameters(&vs, Some("content")), encoder);
        assert_eq!(parameters(&vs, Some("style")), encoder);
        // Decoder: res 2*(96*96*9+96), up 96*192*9+192, 48*64*9+64, 16*12*9+12,
        // mid 48*48*9+48, 16*16*9+16, skip 48*48+48.
        let decoder = 2 * 83_040 + 166_080 + 27_712 + 1_740 + 20_784 + 2_320 + 2_352;
        assert_eq!(parameters(&vs, Some("decoder")), decoder);
        // What ships (the heads are for training): under the 1.5 M.
        let shipped = 2 * encoder + decoder;
        assert_eq!(parameters(&vs, None) - parameters(&vs, Some("heads")), shipped);
        assert!(shipped < 1_500_000, "{shipped} parameters");
        // ~7.5 GFLOP per 512x512 photo (the budget: 12), ~9.5 with the 32 px margin.
        let gflop = 2.0 * net.macs(512, 512) as f64 / 1e9;
        assert!((7.0..9.0).contains(&gflop), "{gflop:.2} GFLOP");
        assert!(2.0 * net.macs(576, 576) as f64 / 1e9 < 12.0);
    }

    #[test]
    fn the_shipped_shape_is_within_the_budget() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/fast");
        let cfg = crate::model_dir::read_info(&dir).unwrap().fast.expect("models/fast is a fast generator");
        let vs = nn::VarStore::new(Device::Cpu);
        let net = FastNet::new(&vs.root(), cfg);
        // 900,672 parameters and 9.0 GFLOP per 512x512 photo (models/fast/MODEL_CARD.md);
        // the budget is 1.5 M and 12.
        let shipped = parameters(&vs, None) - parameters(&vs, Some("heads"));
        assert!(shipped < 1_500_000, "{shipped} parameters");
        let gflop = 2.0 * net.macs(512, 512) as f64 / 1e9;
        assert!(gflop < 12.0, "{gflop:.2} GFLOP");
    }

    #[test]
    fn channels_last_statistics_match_adain_s() {
        let x = Tensor::rand([2, 5, 6, 7], (Kind::Float, Device::Cpu)) * 3.0;
        let ((m1, s1), (m2, s2)) = (mean_std(&x), stats(&channels_last(&x)));
        assert_eq!(m2.size(), [2, 5, 1, 1]);
        assert!((m1 - m2).abs().max().double_value(&[]) < 1e-6 && (s1 - s2).abs().max().double_value(&[]) < 1e-6);
    }

    #[test]
    fn channels_last_gives_the_same_result() {
        let (_vs, net) = net();
        let photo = Tensor::rand([1, 3, 32, 40], (Kind::Float, Device::Cpu));
        let code = net.style_code(&Tensor::rand([1, 3, 32, 32], (Kind::Float, Device::Cpu)));
        let a = tch::no_grad(|| net.forward(&photo, &code, 0.7));
        let b = tch::no_grad(|| net.forward(&channels_last(&photo), &code, 0.7));
        assert!((a - b).abs().max().double_value(&[]) < 1e-5);
    }

    #[test]
    fn semantic_transfer_with_one_region_is_the_plain_result() {
        let (_vs, net) = net();
        tch::manual_seed(5);
        let photo = Tensor::rand([1, 3, 44, 60], (Kind::Float, Device::Cpu));
        let style = net.semantic_style(&Tensor::rand([1, 3, 40, 56], (Kind::Float, Device::Cpu)));
        assert_eq!((style.levels.len(), style.cluster.len(), style.size), (3, 1, (40, 56)));
        let plain = net.stylize(&photo, &style.code, 0.8);
        let run = |cfg: SemanticConfig| net.stylize_semantic(&photo, &style, &cfg, 0.8, None);
        assert!(plain.equal(&run(SemanticConfig { clusters: 1, ..Default::default() })));
        for cfg in [SemanticConfig::default(), SemanticConfig { matching: Matching::Attention { temperature: 0.1 }, ..Default::default() }] {
            let out = run(cfg);
            assert_eq!(out.size(), plain.size());
            let diff = (&out - &plain).abs().max().double_value(&[]);
            assert!(diff > 1e-4 && out.min().double_value(&[]) >= 0.0 && out.max().double_value(&[]) <= 1.0, "{cfg:?}: {diff}");
        }
    }

    #[test]
    fn the_half_resolution_skip_starts_at_zero_and_then_adds_the_photos_detail() {
        let (vs, net) = net();
        let vs2 = nn::VarStore::new(Device::Cpu);
        let with = FastNet::new(&vs2.root(), FastConfig { skip2: true, ..FastConfig::default() });
        assert_eq!(parameters(&vs2, Some("decoder")) - parameters(&vs, Some("decoder")), 16 * 16 + 16);
        // The other weights copied: the same output, with the photo's own 1/2 statistics read.
        copy_shared(&vs, &vs2);
        let photo = Tensor::rand([1, 3, 32, 40], (Kind::Float, Device::Cpu));
        let code = net.style_code(&Tensor::rand([1, 3, 32, 32], (Kind::Float, Device::Cpu)));
        assert!(with.needs_level0(1.0) && !net.needs_level0(1.0));
        for strength in [1.0, 0.6] {
            let (a, b) = tch::no_grad(|| (net.forward(&photo, &code, strength), with.forward(&photo, &code, strength)));
            assert!((&a - &b).abs().max().double_value(&[]) < 1e-6, "strength {strength}");
        }
        tch::no_grad(|| {
            for (k, mut v) in vs2.variables() {
                if k.starts_with("decoder.skip2") {
                    let _ = v.fill_(0.1);
                }
            }
        });
        let (a, b) = tch::no_grad(|| (net.forward(&photo, &code, 1.0), with.forward(&photo, &code, 1.0)));
        assert!((a - b).abs().max().double_value(&[]) > 1e-4, "a non-zero skip changes the output");
    }

    #[test]
    fn blocks_at_a_quarter_and_the_photo_skip_start_as_nothing_and_grow_a_student() {
        let (vs, net) = net();
        let grown_cfg = FastConfig { blocks4: 2, photo_skip: true, ..FastConfig::default() };
        assert!(grown_cfg.grows(&net.cfg) && !net.cfg.grows(&grown_cfg));
        assert!(!FastConfig { channels: [16, 48, 128], ..grown_cfg }.grows(&net.cfg));
        let vs2 = nn::VarStore::new(Device::Cpu);
        let grown = FastNet::new(&vs2.root(), grown_cfg);
        // Two blocks of two 48 -> 48 3x3 convs and a 3 -> 3 one at full resolution: the
        // parameters and multiply-adds they add.
        assert_eq!(parameters(&vs2, Some("decoder")) - parameters(&vs, Some("decoder")), 4 * (48 * 48 * 9 + 48) + 3 * 3 * 9 + 3);
        assert_eq!(grown.macs(64, 64) - net.macs(64, 64), 4 * 48 * 48 * 9 * 16 * 16 + 3 * 3 * 9 * 64 * 64);
        let added = grown_cfg.parts_added_to(&net.cfg);
        let mut missing: Vec<String> = vs2.variables().into_keys().filter(|k| !vs.variables().contains_key(k)).collect();
        missing.sort();
        assert!(added == missing && added.len() == 10, "{added:?}");
        assert!(added.iter().all(|k| k.starts_with("decoder.block4_") || k.starts_with("decoder.photo_skip")), "{added:?}");
        copy_shared(&vs, &vs2);
        let photo = Tensor::rand([1, 3, 32, 40], (Kind::Float, Device::Cpu));
        let code = net.style_code(&Tensor::rand([1, 3, 32, 32], (Kind::Float, Device::Cpu)));
        let (a, b) = tch::no_grad(|| (net.forward(&photo, &code, 1.0), grown.forward(&photo, &code, 1.0)));
        assert!((&a - &b).abs().max().double_value(&[]) < 1e-6, "zero blocks leave the output as it was");
        // Each zero part made non-zero alone (the blocks' first convs are random from the start).
        for part in ["decoder.block4_1.conv1", "decoder.photo_skip"] {
            tch::no_grad(|| {
                for (k, mut v) in vs2.variables() {
                    if k.starts_with(part) {
                        let _ = v.fill_(0.01);
                    } else if added.contains(&k) && !k.contains(".conv0.") {
                        let _ = v.zero_();
                    }
                }
            });
            let c = tch::no_grad(|| grown.forward(&photo, &code, 1.0));
            assert!((&a - c).abs().max().double_value(&[]) > 1e-4, "a non-zero {part} changes the output");
        }
    }

    #[test]
    fn zero_skip_and_strength_zero_keep_the_photos_own_statistics() {
        // At strength 0 the target statistics are the photo's own: the 1/8 AdaIN is the
        // identity, so decoding does not depend on the style at all.
        let (_vs, net) = net();
        let photo = Tensor::rand([1, 3, 32, 32], (Kind::Float, Device::Cpu));
        let s1 = net.style_code(&Tensor::rand([1, 3, 32, 32], (Kind::Float, Device::Cpu)));
        let s2 = net.style_code(&(Tensor::rand([1, 3, 32, 32], (Kind::Float, Device::Cpu)) * 0.2));
        let a = tch::no_grad(|| net.forward(&photo, &s1, 0.0));
        let b = tch::no_grad(|| net.forward(&photo, &s2, 0.0));
        assert!((&a - &b).abs().max().double_value(&[]) < 1e-5);
        let c = tch::no_grad(|| net.forward(&photo, &s2, 1.0));
        assert!((a - c).abs().max().double_value(&[]) > 1e-4, "the style matters at strength 1");
    }
}
