//! Semantic style transfer: each region of the photo takes the statistics of the matching
//! region of the painting, where plain AdaIN gives every position the painting's one mean.
//!
//! 1. **Co-clustering.** The photo's and the painting's relu4_1 features, with VGG16's
//!    block-5 context (`Vgg16::relu5_1_coarse`) upsampled beside them, are standardised per
//!    image (so the two images' clusters are about *what* is where, not about one image being
//!    a photo and the other a painting), L2-normalised per position, and clustered together
//!    by k-means (`kmeans`).
//! 2. **Memberships.** Every position of either image gets a soft membership in each cluster
//!    (`memberships`: a softmax of negative squared distances), upsampled to every level's
//!    resolution. They sum to 1 everywhere.
//! 3. **Statistics per cluster** at every level the decoder takes (`cluster_stats`): the
//!    painting's (the style) and the photo's (the content), membership-weighted. A cluster
//!    with too little painting area takes the painting's global statistics instead (as the
//!    validity rule of FastPhotoStyle's masked WCT skips labels one image barely has).
//! 4. **Spatially varying AdaIN.** Each position's statistics are its membership-weighted
//!    mixture of the clusters' (`mix`): maps of shape (1,C,H,W) that broadcast where the
//!    global (1,C,1,1) statistics did, through AdaIN, the content skips and the decoder's
//!    stages alike.

use tch::{Kind, Tensor};

use crate::adain::{affine_coefficients, mean_var, multiply_add, EPS};
use crate::style::StyleCode;

/// The longest side (of the padded photo) the clustering reads: a larger photo, which is
/// stylized in tiles, is clustered on a copy shrunk to this and its memberships upsampled.
pub const PROXY_SIDE: u32 = 1088;

/// Settings of semantic transfer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SemanticConfig {
    /// Regions (clusters); 1 is plain AdaIN.
    pub clusters: usize,
    /// Softness of memberships: the softmax temperature on squared distances between unit
    /// vectors (0..4). Lower is harder.
    pub temperature: f64,
    /// A cluster covering less than this share of the painting takes its global statistics.
    /// With soft memberships a thin cluster's statistics are still a weighted mean over the
    /// painting's positions nearest to it, so only a nearly empty one needs the fallback (a
    /// drawn region with no painting area, say).
    pub min_share: f64,
    pub iterations: usize,
    pub seed: u64,
    /// The decoder's stages normalise each region with its own statistics (else the whole
    /// image's, as plain AdaIN does).
    pub regional_decoder: bool,
    /// How photo positions find their painting statistics.
    pub matching: Matching,
}

/// How semantic transfer matches the photo's positions to the painting's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Matching {
    /// Co-clustered regions (`clusters` of them), each with its region's statistics.
    Clusters,
    /// Attention as in AdaAttN (Liu et al. 2021) with identity projections: each photo
    /// position takes the attention-weighted mean and std of the painting's positions
    /// ([`attention_stats`]); softmax temperature on cosine similarities.
    Attention { temperature: f64 },
}

/// The share of the painting under which a region takes the painting's global statistics.
/// Measured on the 8 x 8 eval pairs at 512 px (README): 0.03 (FastPhotoStyle-like) gave region
/// distance 0.069, 0.01 0.069, 0.005 0.060, 0 0.059, content a little closer as it fell.
pub const MIN_SHARE: f64 = 0.001;

/// Regions when none are asked for (`--semantic` alone, the API's `semantic=true`).
/// Chosen with the temperature on the first 4 x 4 pairs of the eval set at 256 px, then
/// checked on all 8 x 8 (README): 4 regions at 0.1 matched regions better and kept more
/// content than 3 at 0.05 (region distance 0.061 against 0.070, ST-LPIPS 0.545 against 0.559).
pub const DEFAULT_REGIONS: usize = 4;

impl Default for SemanticConfig {
    fn default() -> Self {
        SemanticConfig { clusters: DEFAULT_REGIONS, temperature: 0.1, min_share: MIN_SHARE, iterations: 25, seed: 0, regional_decoder: true, matching: Matching::Clusters }
    }
}

/// Rows (N, D) of one image's clustering features from feature maps `parts` (1,C,h,w), the
/// first setting the grid (the VGG16 model's: relu4_1, then its block-5 context at half its
/// resolution):
/// each part resized to the grid, each channel standardised over the image, each part
/// L2-normalised per position, concatenated into unit rows.
pub fn cluster_features(parts: &[&Tensor]) -> Tensor {
    let (h, w) = (parts[0].size()[2], parts[0].size()[3]);
    let part = |f: &Tensor| {
        let f = resize_maps(&f.to_kind(Kind::Float), (h, w));
        let (mean, var) = mean_var(&f, &[2, 3]);
        let std = (var + EPS).sqrt();
        let z = ((f - mean) / std).flatten(2, 3).squeeze_dim(0).tr(); // (h*w, C)
        &z / z.norm_scalaropt_dim(2, [1i64], true).clamp_min(1e-6)
    };
    Tensor::cat(&parts.iter().map(|f| part(f)).collect::<Vec<_>>(), 1) / (parts.len() as f64).sqrt()
}

/// A (N,C,H,W) map without `m` cells at each edge (all of it when that would leave nothing).
pub fn cut_margin(t: &Tensor, m: i64) -> Tensor {
    let (h, w) = (t.size()[2], t.size()[3]);
    if m <= 0 || h <= 2 * m || w <= 2 * m {
        return t.shallow_clone();
    }
    t.narrow(2, m, h - 2 * m).narrow(3, m, w - 2 * m)
}

/// k-means on the rows of `x` (N, D): k-means++ seeding from a fixed seed, then Lloyd
/// iterations. Returns the centroids (k, D), or (N, D) when there are fewer rows than k (a
/// tiny image). Deterministic for the same input.
pub fn kmeans(x: &Tensor, k: usize, iterations: usize, seed: u64) -> Tensor {
    let n = x.size()[0];
    assert!(k >= 1 && n >= 1, "k-means needs a cluster and a row");
    let k = k.min(n as usize);
    let x = x.to_kind(Kind::Float);
    // k-means++: the first centre is row seed mod n, each next one the row farthest (in
    // squared distance) from its nearest centre, which is deterministic and spreads them.
    let mut centres = vec![x.get((seed as i64).rem_euclid(n))];
    while centres.len() < k {
        let c = Tensor::stack(&centres, 0);
        let d = sq_dist(&x, &c).min_dim(1, false).0;
        centres.push(x.get(d.argmax(0, false).int64_value(&[])));
    }
    let mut c = Tensor::stack(&centres, 0);
    let mut last: Option<Tensor> = None;
    for _ in 0..iterations {
        let assign = nearest(&x, &c);
        // Converged: the same assignment gives the same centres.
        if last.as_ref().is_some_and(|l| l.equal(&assign)) {
            break;
        }
        let onehot = assign.one_hot(k as i64).to_kind(Kind::Float); // (N, k)
        let counts = onehot.sum_dim_intlist(0, false, Kind::Float); // (k)
        let sums = onehot.tr().matmul(&x); // (k, D)
        // An empty cluster keeps its centre.
        let empty = counts.eq(0.0).unsqueeze(1);
        c = (sums / counts.clamp_min(1.0).unsqueeze(1)).where_self(&empty.logical_not(), &c);
        last = Some(assign);
    }
    c
}

/// Rows k-means fits on at most: a few clusters are found as well from a few thousand
/// positions as from all of them, at a fraction of the cost (every position still gets its
/// memberships).
pub const KMEANS_ROWS: i64 = 4096;

/// At most [`KMEANS_ROWS`] rows of `x`, evenly strided (so photo and painting keep their shares).
fn fit_rows(x: &Tensor) -> Tensor {
    let n = x.size()[0];
    let step = (n + KMEANS_ROWS - 1) / KMEANS_ROWS;
    if step <= 1 { x.shallow_clone() } else { x.index_select(0, &Tensor::arange_start_step(0, n, step, (Kind::Int64, x.device()))) }
}

/// Each row's nearest centre (N): argmin over centres of |c|^2 - 2 x.c, the squared distance
/// less |x|^2, which is the same for every centre.
fn nearest(x: &Tensor, c: &Tensor) -> Tensor {
    let c2 = c.square().sum_dim_intlist(1, true, Kind::Float).tr();
    (c2 - x.matmul(&c.tr()) * 2.0).argmin(1, false)
}

/// Squared distances (N, k) between rows of `x` (N, D) and centres `c` (k, D).
fn sq_dist(x: &Tensor, c: &Tensor) -> Tensor {
    let x2 = x.square().sum_dim_intlist(1, true, Kind::Float);
    let c2 = c.square().sum_dim_intlist(1, true, Kind::Float).tr();
    (x2 + c2 - x.matmul(&c.tr()) * 2.0).clamp_min(0.0)
}

/// Soft memberships (N, k) of rows in clusters: softmax over clusters of
/// -squared distance / temperature. Each row sums to 1.
pub fn memberships(x: &Tensor, centres: &Tensor, temperature: f64) -> Tensor {
    (sq_dist(&x.to_kind(Kind::Float), centres) / -temperature.max(1e-6)).softmax(1, Kind::Float)
}

/// Memberships (N = h*w, k) as maps (1,k,h,w), resized (bilinearly, so they still sum to 1)
/// to `size`.
pub fn membership_maps(m: &Tensor, h: i64, w: i64, size: (i64, i64)) -> Tensor {
    let k = m.size()[1];
    resize_maps(&m.tr().reshape([1, k, h, w]), size)
}

/// Membership-weighted mean and std of a feature map `f` (1,C,H,W) in each cluster of `m`
/// (1,k,H,W): two (k,C) tensors, and each cluster's share of the image (k).
/// The same sums as a tiled image's [`RegionMoments`], so tiled and untiled agree.
pub fn cluster_stats(f: &Tensor, m: &Tensor) -> (Tensor, Tensor, Tensor) {
    let mut moments = RegionMoments::default();
    moments.add(f, m);
    let (mean, std) = moments.stats(f.device());
    let k = m.size()[1];
    let share = m.to_kind(Kind::Float).reshape([k, -1]).mean_dim(&[1i64][..], false, Kind::Float);
    (mean, std, share)
}

/// Per-position statistics (1,C,H,W): the membership-weighted mixture of the clusters'
/// `stats` (k,C) under `m` (1,k,H,W).
pub fn mix(m: &Tensor, stats: &Tensor) -> Tensor {
    let (k, h, w) = (m.size()[1], m.size()[2], m.size()[3]);
    stats.tr().matmul(&m.reshape([k, h * w])).reshape([1, -1, h, w])
}

/// Spatially varying AdaIN as a mixture of the regions' own: region r takes `x` (1,C,H,W) to
/// (x - cm_r) / cs_r * ts_r + tm_r (its `content` statistics to its `target`'s: each a
/// (mean, std) pair of (k,C)), and every position takes its memberships' (`m`, (1,k,H,W))
/// mixture of those results: x * A + B, with A = mix(m, ts/cs) and B = mix(m, tm - cm ts/cs).
/// Two maps, where normalising with mixed statistics takes four; with hard memberships the
/// two agree.
pub fn regional_adain(x: &Tensor, m: &Tensor, content: (&Tensor, &Tensor), target: (&Tensor, &Tensor)) -> Tensor {
    let (a, b) = affine_coefficients(content, target);
    multiply_add(x, &mix(m, &a), &mix(m, &b))
}

/// The decoder's target at level `l`: each region's style statistics `style` ((mean, std),
/// each (k,C)) blended by `strength` with the photo's own whole-image ones (`own`), as the
/// plain path blends the global ones.
pub fn region_target((mean, std): &(Tensor, Tensor), own: &StyleCode, l: usize, strength: f64) -> (Tensor, Tensor) {
    let at = |region: &Tensor, own: &Tensor| region * strength + own.reshape([1, -1]) * (1.0 - strength);
    (at(mean, &own.means[l]), at(std, &own.stds[l]))
}

/// Cluster statistics with too little support replaced by `global` (1,C,1,1): rows of
/// `stats` (k,C) whose `share` (k) is under `min_share`.
pub fn with_fallback(stats: &Tensor, share: &Tensor, global: &Tensor, min_share: f64) -> Tensor {
    let thin = share.lt(min_share).unsqueeze(1);
    global.reshape([1, -1]).expand_as(stats).where_self(&thin, stats)
}

/// Photo and painting co-clustered: each one's soft memberships as maps (1,k,h,w) at its
/// relu4_1 resolution (they sum to 1 at every position), and the painting's share of each
/// region (k).
pub struct CoClusters {
    pub photo: Tensor,
    pub painting: Tensor,
    pub painting_share: Tensor,
}

/// Regions a person drew, used instead of the clustering: region i of the photo takes the
/// style of region i of the painting. Each is (1,k,H,W) in 0..1 and sums to 1 everywhere (the
/// one-hot masks of a label image): the photo's on its 1/8 grid (ceil(height/8) x
/// ceil(width/8) cells: small at any photo size, so tiles take them whole), the painting's at
/// its pixel size.
pub struct Regions {
    pub photo: Tensor,
    pub painting: Tensor,
}

impl CoClusters {
    /// Memberships from [`Regions`]: the photo's padded by `pad` as the photo was (its padded
    /// 1/8 grid: `photo_grid`), the painting's averaged over every cell of its features' grid
    /// (`painting_grid`).
    pub fn from_regions(regions: &Regions, pad: impl Fn(&Tensor) -> Tensor, photo_grid: (i64, i64), painting_grid: (i64, i64)) -> Self {
        let cells = |m: &Tensor, (h, w): (i64, i64)| m.to_kind(Kind::Float).adaptive_avg_pool2d([h, w]);
        let photo = cells(&pad(&regions.photo), photo_grid);
        let painting = cells(&regions.painting, painting_grid);
        let painting_share = painting.mean_dim(&[0i64, 2, 3][..], false, Kind::Float);
        CoClusters { photo, painting, painting_share }
    }

    /// Clusters the photo (its [`cluster_features`] parts, the first at 1/8 of its pixels, with
    /// a reflection margin of `photo_margin` pixels that is left out of the clustering but gets
    /// memberships) together with the painting (the same parts, margin already cut).
    pub fn new(photo: &[&Tensor], photo_margin: i64, painting: &[&Tensor], cfg: &SemanticConfig) -> Self {
        let zp = cluster_features(photo);
        let zs = cluster_features(painting);
        let (ph, pw) = (photo[0].size()[2], photo[0].size()[3]);
        let inner = cut_margin(&Tensor::arange(ph * pw, (Kind::Int64, photo[0].device())).reshape([1, 1, ph, pw]), photo_margin / 8).flatten(0, -1);
        let rows = Tensor::cat(&[zp.index_select(0, &inner), zs.shallow_clone()], 0);
        let centres = kmeans(&fit_rows(&rows), cfg.clusters, cfg.iterations, cfg.seed);
        let (sh, sw) = (painting[0].size()[2], painting[0].size()[3]);
        let painting = membership_maps(&memberships(&zs, &centres, cfg.temperature), sh, sw, (sh, sw));
        let painting_share = painting.mean_dim(&[0i64, 2, 3][..], false, Kind::Float);
        CoClusters { photo: membership_maps(&memberships(&zp, &centres, cfg.temperature), ph, pw, (ph, pw)), painting, painting_share }
    }

    /// The photo's memberships resized to `size` (h, w).
    pub fn photo_at(&self, size: (i64, i64)) -> Tensor {
        resize_maps(&self.photo, size)
    }

    /// The painting's memberships resized to `size` (h, w).
    pub fn painting_at(&self, size: (i64, i64)) -> Tensor {
        resize_maps(&self.painting, size)
    }
}

/// The adjoint of [`resize_maps`] from `grid` to `t`'s size, applied to `t` (1,n,H,W): a
/// (1,n,h,w) map with Sum_q m(q) out(q) = Sum_p resize(m)(p) t(p) for every m on the grid.
/// Bilinear resizing is separable, resize(m) = Uh m Uw^T, so this is Uh^T t Uw: two matrix
/// products (libtorch's own backward of the resize measured 4x slower on a 64 x 576 x 576 map).
fn resize_adjoint(t: &Tensor, (h, w): (i64, i64)) -> Tensor {
    let (n, hh, ww) = (t.size()[1], t.size()[2], t.size()[3]);
    // Row i of Uh^T is the 1-d resize of the i-th unit vector (a width 1 stays 1).
    let basis = |k: i64, to: i64| Tensor::eye(k, (Kind::Float, t.device())).reshape([1, k, k, 1]).upsample_bilinear2d([to, 1], false, None, None).reshape([k, to]);
    let (uh_t, uw_t) = (basis(h, hh), basis(w, ww)); // (h,H), (w,W)
    uh_t.matmul(&t.to_kind(Kind::Float).reshape([n, hh, ww]).matmul(&uw_t.tr())).reshape([1, n, h, w])
}

/// Membership maps (1,k,h,w) resized bilinearly (so they still sum to 1).
fn resize_maps(m: &Tensor, size: (i64, i64)) -> Tensor {
    if (m.size()[2], m.size()[3]) == size { m.shallow_clone() } else { m.upsample_bilinear2d([size.0, size.1], false, None, None) }
}

/// The painting's features at STYLE_TAPS and its block-5 context without a reflection margin
/// of `margin` pixels.
pub fn cut_painting_margin(painting: &[Tensor], margin: i64) -> Vec<Tensor> {
    painting.iter().enumerate().map(|(l, f)| cut_margin(f, margin >> l.min(4))).collect()
}

/// A painting ready for semantic transfer, made once per painting by a network's kind (without
/// any reflection margin the features were computed with).
pub struct SemanticStyle {
    /// Its features at every level the network takes statistics at (the VGG16 model's
    /// STYLE_TAPS, the fast generator's three style-encoder levels), finest first.
    pub levels: Vec<Tensor>,
    /// The [`cluster_features`] parts its regions are found on, as the photo's are made.
    pub cluster: Vec<Tensor>,
    /// Its global style code (what one region uses).
    pub code: StyleCode,
    /// The painting's size in pixels (height, width): drawn regions are rasterised to it.
    pub size: (i64, i64),
    /// Each level's moments gathered onto the clustering grid (`cluster[0]`'s), for
    /// [`style_regions`].
    pub moments: Vec<GridMoments>,
}

impl SemanticStyle {
    pub fn new(levels: Vec<Tensor>, cluster: Vec<Tensor>, code: StyleCode, size: (i64, i64)) -> Self {
        let grid = (cluster[0].size()[2], cluster[0].size()[3]);
        let moments = levels.iter().map(|f| GridMoments::new(f, grid)).collect();
        SemanticStyle { levels, cluster, code, size, moments }
    }

    fn cluster_parts(&self) -> Vec<&Tensor> {
        self.cluster.iter().collect()
    }
}

/// Semantic transfer's statistics for one photo and painting at every level: each region's
/// statistics, and where the regions are. [`SemanticMaps::spread`] turns a region's
/// statistics into per-position maps (1,C,H,W); statistics are combined (blended by strength)
/// per region first, at (k,C) cost, which is the same as combining the maps since the
/// memberships sum to 1.
pub struct SemanticMaps {
    /// The photo's memberships (1,k,H,W) at each level's resolution.
    pub memberships: Vec<Tensor>,
    /// Per level, each region's style statistics (mean, std), each (k,C): the painting's
    /// matching region's, or its global ones for a region it barely has.
    pub style: Vec<(Tensor, Tensor)>,
    /// Per level, each region's content statistics (mean, std), each (k,C): the photo's own.
    pub content: Vec<(Tensor, Tensor)>,
}

impl SemanticMaps {
    /// Per-region statistics `stats` (k,C) as per-position maps (1,C,H,W) at level `l`.
    pub fn spread(&self, l: usize, stats: &Tensor) -> Tensor {
        mix(&self.memberships[l], stats)
    }
}

/// The photo's regions and statistics against a painting: the photo's features at the
/// painting's levels (`photo`) and its cluster parts (`cluster`). The photo comes with a
/// reflection margin of `photo_margin` pixels (VGG16's zero padding makes an image's outer
/// ring a "region" of its own; in the margin, it falls outside the image): it is left out of
/// the clustering but gets memberships, since the decoder paints it too. `regions`, if given,
/// replace the clustering (`pad` pads the photo's masks as the photo was).
pub fn semantic_maps(photo: &[Tensor], cluster: &[&Tensor], photo_margin: i64, painting: &SemanticStyle, cfg: &SemanticConfig, regions: Option<(&Regions, &dyn Fn(&Tensor) -> Tensor)>) -> SemanticMaps {
    let grid = |t: &Tensor| (t.size()[2], t.size()[3]);
    let clusters = match regions {
        Some((r, pad)) => CoClusters::from_regions(r, pad, grid(cluster[0]), grid(&painting.cluster[0])),
        None => CoClusters::new(cluster, photo_margin, &painting.cluster_parts(), cfg),
    };
    maps_for(photo, painting, &clusters, cfg)
}

/// Semantic transfer's statistics for regions already found (clustered, or drawn), at every
/// level of `photo` and `painting` (the same levels).
pub fn maps_for(photo: &[Tensor], painting: &SemanticStyle, clusters: &CoClusters, cfg: &SemanticConfig) -> SemanticMaps {
    assert_eq!(photo.len(), painting.levels.len(), "the same levels of photo and painting");
    let grid = |t: &Tensor| (t.size()[2], t.size()[3]);
    let mut maps = SemanticMaps { memberships: vec![], style: style_regions(painting, clusters, cfg), content: vec![] };
    for f in photo {
        let photo_maps = clusters.photo_at(grid(f));
        let (cm, cs, _) = cluster_stats(f, &photo_maps);
        maps.content.push((cm, cs));
        maps.memberships.push(photo_maps);
    }
    maps
}

/// Each region's style statistics (mean, std), each (k,C), at every level of `painting`: the
/// painting's matching region's, or its global ones for a region it barely has (its share on
/// the clustering grid decides, at every level). From the painting's gathered moments: no pass
/// over its features here.
pub fn style_regions(painting: &SemanticStyle, clusters: &CoClusters, cfg: &SemanticConfig) -> Vec<(Tensor, Tensor)> {
    let whole = Tensor::ones([1, 1, clusters.painting.size()[2], clusters.painting.size()[3]], (Kind::Float, clusters.painting.device()));
    painting
        .moments
        .iter()
        .map(|g| {
            let (gm, gs) = g.stats(&whole);
            let (sm, ss) = g.stats(&clusters.painting);
            let share = &clusters.painting_share;
            (with_fallback(&sm, share, &gm, cfg.min_share), with_fallback(&ss, share, &gs, cfg.min_share))
        })
        .collect()
}

/// Painting positions that attention reads at most (AdaAttN samples its style positions
/// likewise): a larger painting's relu4_1 grid is average-pooled to fit, each cell keeping
/// its first and second moments at every level, so no statistics are lost, only resolution.
pub const ATTENTION_BANK: i64 = 4096;

/// Per-position style statistics by attention (AdaAttN with identity projections): the
/// photo's and the painting's [`cluster_features`] (unit vectors; the photo's from `cluster`)
/// are compared by cosine; each photo position's softmax over painting positions (at
/// `temperature`) weighs the painting's moments at every level. Returns per level (mean, std)
/// maps (1,C,H,W) at the photo's resolution there (`photo`: its features at the painting's
/// levels). A high temperature tends to the painting's global statistics.
pub fn attention_stats(photo: &[Tensor], cluster: &[&Tensor], painting: &SemanticStyle, temperature: f64) -> Vec<(Tensor, Tensor)> {
    let grid = |t: &Tensor| (t.size()[2], t.size()[3]);
    let ((ph, pw), (sh, sw)) = (grid(cluster[0]), grid(&painting.cluster[0]));
    let shrink = (ATTENTION_BANK as f64 / (sh * sw) as f64).sqrt().min(1.0);
    let bank = (((sh as f64 * shrink) as i64).max(1), ((sw as f64 * shrink) as i64).max(1));
    let cells = |t: &Tensor| t.adaptive_avg_pool2d([bank.0, bank.1]);
    let query = cluster_features(cluster);
    let d = query.size()[1];
    let keys = cells(&cluster_features(&painting.cluster_parts()).tr().reshape([1, d, sh, sw])).reshape([d, -1]).tr();
    let keys = &keys / keys.norm_scalaropt_dim(2, [1i64], true).clamp_min(1e-6);
    let attention = (query.matmul(&keys.tr()) / temperature.max(1e-6)).softmax(1, Kind::Float); // (Np, Nk)
    (0..photo.len())
        .map(|l| {
            let f = painting.levels[l].to_kind(Kind::Float);
            let c = f.size()[1];
            let moment = |t: &Tensor| attention.matmul(&cells(t).reshape([c, -1]).tr()); // (Np, C)
            let mean = moment(&f);
            let std = ((moment(&f.square()) - mean.square()).clamp_min(0.0) + EPS).sqrt();
            let map = |t: Tensor| resize_maps(&t.tr().reshape([1, c, ph, pw]), grid(&photo[l]));
            (map(mean), map(std))
        })
        .collect()
}

/// Per-region moments summed over pieces of an image (tile cores): what [`cluster_stats`]
/// gives for one whole map, for an image seen tile by tile.
#[derive(Default)]
pub struct RegionMoments {
    sums: Option<(Tensor, Tensor, Tensor)>,
}

impl RegionMoments {
    /// Adds features `f` (1,C,h,w) under memberships `m` (1,k,h,w) of the same pixels.
    /// The products run in f32 about the piece's own channel means (so no precision is lost
    /// to large means), and are moved back to moments about 0 in f64, where pieces add up.
    pub fn add(&mut self, f: &Tensor, m: &Tensor) {
        let (c, k) = (f.size()[1], m.size()[1]);
        let f = f.to_kind(Kind::Float).reshape([c, -1]);
        let shift = f.mean_dim(&[1i64][..], true, Kind::Float); // (C,1)
        let g = &f - &shift;
        let m = m.to_kind(Kind::Float).reshape([k, -1]).to_device(f.device());
        self.add_sums(m.matmul(&g.tr()), m.matmul(&g.square().tr()), m.sum_dim_intlist(1, false, Kind::Float), &shift);
    }

    /// Adds a painting level's moments under memberships `m` (1,k,h,w) on the grid `g` was
    /// gathered onto: what `add` gives for `m` resized to the level.
    pub fn add_gathered(&mut self, g: &GridMoments, m: &Tensor) {
        let k = m.size()[1];
        let m = m.to_kind(Kind::Float).reshape([k, -1]);
        self.add_sums(m.matmul(&g.s1.tr()), m.matmul(&g.s2.tr()), m.matmul(&g.weight).squeeze_dim(1), &g.shift);
    }

    /// Adds per-region sums (k,C) of m g and m g^2, with g = f - `shift` (C,1), and the
    /// regions' weights (k).
    fn add_sums(&mut self, s1: Tensor, s2: Tensor, w: Tensor, shift: &Tensor) {
        let d = |t: Tensor| t.to_kind(Kind::Double);
        let (s1, s2, w) = (d(s1), d(s2), d(w));
        // Sum m f = Sum m g + s Sum m; Sum m f^2 = Sum m g^2 + 2 s Sum m g + s^2 Sum m.
        let (shift, wk) = (d(shift.tr()), w.unsqueeze(1)); // (1,C), (k,1)
        let sum = &s1 + &shift * &wk;
        let sumsq = s2 + &s1 * &shift * 2.0 + shift.square() * &wk;
        let piece = (sum, sumsq, w);
        self.sums = Some(match self.sums.take() {
            Some((a, b, w)) => (a + piece.0, b + piece.1, w + piece.2),
            None => piece,
        });
    }

    /// Each region's (mean, std), each (k,C) in f32 on `device`, as `cluster_stats` computes them.
    pub fn stats(&self, device: tch::Device) -> (Tensor, Tensor) {
        let (sum, sumsq, weight) = self.sums.as_ref().expect("at least one piece");
        let denom = weight.clamp_min(1e-6).unsqueeze(1);
        let mean = sum / &denom;
        let std = ((sumsq / &denom - mean.square()).clamp_min(0.0) + EPS).sqrt();
        let f = |t: Tensor| t.to_kind(Kind::Float).to_device(device);
        (f(mean), f(std))
    }
}

/// A feature map's moments (about its channel means) gathered onto a coarser grid by the
/// adjoint of the bilinear resize that brings memberships from that grid to the map: for any
/// memberships m on the grid, Sum_p resize(m)(p) g(p) = Sum_q m(q) gathered(q). So a painting's
/// region statistics under any clustering are small products on its clustering grid, and the
/// full-resolution pass happens once per painting, not once per photo.
pub struct GridMoments {
    /// Channel means (C,1) the moments are about.
    shift: Tensor,
    /// Gathered g and g^2 (C, h*w), g = f - shift.
    s1: Tensor,
    s2: Tensor,
    /// Gathered ones (h*w, 1): each grid cell's weight.
    weight: Tensor,
}

impl GridMoments {
    /// The moments of `f` (1,C,H,W) gathered onto a grid of `grid` (h, w).
    pub fn new(f: &Tensor, grid: (i64, i64)) -> Self {
        let (c, h, w) = (f.size()[1], f.size()[2], f.size()[3]);
        let f = f.to_kind(Kind::Float);
        let shift = f.mean_dim(&[2i64, 3][..], true, Kind::Float);
        let gather = |t: &Tensor| {
            let n = t.size()[1];
            // A copy on the grid itself: `g` is squared in place below.
            let t = if (h, w) == grid { t.copy() } else { resize_adjoint(t, grid) };
            t.reshape([n, -1])
        };
        let mut g = &f - &shift;
        let s1 = gather(&g);
        let _ = g.square_();
        let s2 = gather(&g);
        let weight = gather(&Tensor::ones([1, 1, h, w], (Kind::Float, f.device()))).tr();
        GridMoments { shift: shift.reshape([c, 1]), s1, s2, weight }
    }

    /// Each region's (mean, std), each (k,C), under memberships `m` (1,k,h,w) on the grid.
    pub fn stats(&self, m: &Tensor) -> (Tensor, Tensor) {
        let mut moments = RegionMoments::default();
        moments.add_gathered(self, m);
        moments.stats(m.device())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adain::adain_given;
    use tch::Device;

    fn f(v: &[f32], shape: &[i64]) -> Tensor {
        Tensor::from_slice(v).view(shape)
    }

    #[test]
    fn a_margin_is_cut_from_each_edge() {
        let t = Tensor::arange(2 * 3 * 8 * 10, (Kind::Float, Device::Cpu)).view([2, 3, 8, 10]);
        let c = cut_margin(&t, 2);
        assert_eq!(c.size(), [2, 3, 4, 6]);
        assert_eq!(c.double_value(&[0, 0, 0, 0]), t.double_value(&[0, 0, 2, 2]));
        assert!(cut_margin(&t, 0).equal(&t) && cut_margin(&t, 4).equal(&t), "nothing to cut, or nothing left");
    }

    #[test]
    fn kmeans_finds_two_obvious_groups() {
        let x = f(&[0.0, 0.0, 0.1, 0.0, 0.0, 0.1, 5.0, 5.0, 5.1, 5.0, 5.0, 5.1], &[6, 2]);
        let c = kmeans(&x, 2, 10, 0);
        let m = memberships(&x, &c, 0.05);
        let a = m.argmax(1, false);
        let a: Vec<i64> = Vec::try_from(a).unwrap();
        assert!(a[0] == a[1] && a[1] == a[2] && a[3] == a[4] && a[4] == a[5] && a[0] != a[3], "{a:?}");
    }

    #[test]
    fn memberships_sum_to_one_at_every_resolution() {
        tch::manual_seed(1);
        let x = Tensor::randn([48, 8], (Kind::Float, Device::Cpu));
        let c = kmeans(&x, 3, 5, 0);
        let m = memberships(&x, &c, 0.5);
        assert!((m.sum_dim_intlist(1, false, Kind::Float) - 1.0).abs().max().double_value(&[]) < 1e-5);
        let maps = membership_maps(&m, 6, 8, (24, 32));
        assert_eq!(maps.size(), [1, 3, 24, 32]);
        assert!((maps.sum_dim_intlist(1, false, Kind::Float) - 1.0).abs().max().double_value(&[]) < 1e-5);
    }

    #[test]
    fn cluster_stats_and_mix_by_hand() {
        // One channel over 4 positions: 1, 3 in cluster 0; 10, 20 in cluster 1 (hard memberships).
        let feat = f(&[1.0, 3.0, 10.0, 20.0], &[1, 1, 2, 2]);
        let m = f(&[1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0], &[1, 2, 2, 2]);
        let (mean, std, share) = cluster_stats(&feat, &m);
        assert!((mean.double_value(&[0, 0]) - 2.0).abs() < 1e-5 && (mean.double_value(&[1, 0]) - 15.0).abs() < 1e-5);
        assert!((std.double_value(&[0, 0]) - (1.0f64 + EPS).sqrt()).abs() < 1e-4 && (std.double_value(&[1, 0]) - (25.0f64 + EPS).sqrt()).abs() < 1e-4);
        assert!((share.double_value(&[0]) - 0.5).abs() < 1e-6);
        // Mixed back: each position gets its cluster's mean.
        let map = mix(&m, &mean);
        assert_eq!(Vec::<f32>::try_from(map.flatten(0, -1)).unwrap(), vec![2.0, 2.0, 15.0, 15.0]);
        // A thin cluster falls back to the global value.
        let fb = with_fallback(&mean, &f(&[0.5, 0.01], &[2]), &f(&[7.0], &[1, 1, 1, 1]), 0.03);
        assert_eq!(Vec::<f32>::try_from(fb.flatten(0, -1)).unwrap(), vec![2.0, 7.0]);
    }

    #[test]
    fn regional_adain_mixes_the_regions_own_results() {
        tch::manual_seed(5);
        let x = Tensor::rand([1, 3, 4, 5], (Kind::Float, Device::Cpu)) * 4.0;
        let stats = |lo: f64| Tensor::rand([2, 3], (Kind::Float, Device::Cpu)) + lo;
        let (cm, cs, tm, ts) = (stats(0.0), stats(0.5), stats(-1.0), stats(0.5));
        // Region r's own AdaIN, everywhere.
        let alone = |r: i64| adain_given(&x, &cm.get(r).view([1, 3, 1, 1]), &cs.get(r).view([1, 3, 1, 1]), &tm.get(r).view([1, 3, 1, 1]), &ts.get(r).view([1, 3, 1, 1]));
        let diff = |a: &Tensor, b: &Tensor| (a - b).abs().max().double_value(&[]);
        // Hard memberships: each position is its region's AdaIN; soft: the mixture of both.
        let hard = Tensor::cat(&[Tensor::ones([1, 1, 4, 5], (Kind::Float, Device::Cpu)), Tensor::zeros([1, 1, 4, 5], (Kind::Float, Device::Cpu))], 1);
        assert!(diff(&regional_adain(&x, &hard, (&cm, &cs), (&tm, &ts)), &alone(0)) < 1e-5);
        let p = Tensor::rand([1, 1, 4, 5], (Kind::Float, Device::Cpu));
        let soft = Tensor::cat(&[p.shallow_clone(), 1.0 - &p], 1);
        let mixed = &p * alone(0) + (1.0 - &p) * alone(1);
        assert!(diff(&regional_adain(&x, &soft, (&cm, &cs), (&tm, &ts)), &mixed) < 1e-4);
    }

    #[test]
    fn region_moments_over_pieces_are_the_whole_maps_statistics() {
        tch::manual_seed(3);
        let feat = Tensor::rand([1, 4, 6, 8], (Kind::Float, Device::Cpu)) * 10.0;
        let m = Tensor::rand([1, 2, 6, 8], (Kind::Float, Device::Cpu)).softmax(1, Kind::Float);
        let (mean, std, _) = cluster_stats(&feat, &m);
        let mut rm = RegionMoments::default();
        rm.add(&feat.narrow(3, 0, 3), &m.narrow(3, 0, 3));
        rm.add(&feat.narrow(3, 3, 5), &m.narrow(3, 3, 5));
        let (pm, ps) = rm.stats(Device::Cpu);
        assert!((pm - mean).abs().max().double_value(&[]) < 1e-4);
        assert!((ps - std).abs().max().double_value(&[]) < 1e-4);
    }

    #[test]
    fn attention_at_a_high_temperature_is_global_and_at_a_low_one_finds_the_match() {
        // A painting of two halves: features (and so stats) differ left and right. A photo
        // whose left half looks like the painting's right half should take the right half's
        // statistics there at a low temperature, and the global ones at a high temperature.
        tch::manual_seed(4);
        let half = |a: f64, w: i64, c: i64, h: i64| Tensor::rand([1, c, h, w], (Kind::Float, Device::Cpu)) * 0.1 + a;
        let level = |c: i64, h: i64, w: i64, swap: bool| {
            let (x, y) = (half(1.0, w / 2, c, h), half(5.0, w / 2, c, h));
            // Channel 0 tells the halves apart in direction, not only size.
            let (x, y) = (x.index_fill(1, &Tensor::from_slice(&[0i64]), 0.0), y.index_fill(1, &Tensor::from_slice(&[1i64]), 0.0));
            if swap { Tensor::cat(&[y, x], 3) } else { Tensor::cat(&[x, y], 3) }
        };
        let sizes = [(4, 32, 32), (4, 16, 16), (4, 8, 8), (4, 4, 4), (4, 2, 2)];
        let painting: Vec<Tensor> = sizes.iter().map(|&(c, h, w)| level(c, h, w, false)).collect();
        let photo: Vec<Tensor> = sizes.iter().map(|&(c, h, w)| level(c, h, w, true)).collect();
        let clones = |ts: &[Tensor]| ts.iter().map(|t| t.shallow_clone()).collect::<Vec<_>>();
        let style = SemanticStyle::new(clones(&painting[..4]), clones(&painting[3..]), StyleCode::from_features(&painting[..4]), (32, 32));
        let attend = |t: f64| attention_stats(&photo[..4], &[&photo[3], &photo[4]], &style, t);
        let sharp = attend(0.01);
        let (mean, _) = &sharp[3];
        assert_eq!(mean.size(), [1, 4, 4, 4]);
        // Photo's left half (like the painting's right, ~5 off channel 1) takes ~5.05 in channel 2.
        let left = mean.narrow(3, 0, 2).mean(Kind::Float).double_value(&[]);
        let right = mean.narrow(3, 2, 2).mean(Kind::Float).double_value(&[]);
        assert!(left > 3.5 && right < 1.5, "left {left} right {right}");
        let flat = attend(1e4);
        let (gm, gs) = crate::adain::mean_std(&painting[0]);
        assert!((&flat[0].0 - gm).abs().max().double_value(&[]) < 0.05);
        assert!((&flat[0].1 - gs).abs().max().double_value(&[]) < 0.05);
    }

    #[test]
    fn gathered_moments_give_the_statistics_under_resized_memberships() {
        tch::manual_seed(4);
        // Grids that divide the map exactly and ones that do not (a padded photo's levels).
        for ((h, w), (gh, gw)) in [((40, 56), (5, 7)), ((45, 38), (6, 5)), ((6, 5), (6, 5))] {
            let f = Tensor::rand([1, 3, h, w], (Kind::Float, Device::Cpu)) * 4.0 + 2.0;
            let m = (Tensor::rand([1, 4, gh, gw], (Kind::Float, Device::Cpu)) * 5.0).softmax(1, Kind::Float);
            let (mean, std, _) = cluster_stats(&f, &resize_maps(&m, (h, w)));
            let (gm, gs) = GridMoments::new(&f, (gh, gw)).stats(&m);
            assert!((&mean - gm).abs().max().double_value(&[]) < 1e-4, "mean at {h}x{w} from {gh}x{gw}");
            assert!((&std - gs).abs().max().double_value(&[]) < 1e-4, "std at {h}x{w} from {gh}x{gw}");
        }
    }

    #[test]
    fn one_cluster_gives_the_global_statistics_everywhere() {
        tch::manual_seed(2);
        let feat = Tensor::rand([1, 4, 6, 5], (Kind::Float, Device::Cpu)) * 10.0;
        let m = Tensor::ones([1, 1, 6, 5], (Kind::Float, Device::Cpu));
        let (mean, std, _) = cluster_stats(&feat, &m);
        let (gm, gs) = crate::adain::mean_std(&feat);
        assert!((mean.reshape([1, 4, 1, 1]) - gm).abs().max().double_value(&[]) < 1e-4);
        assert!((std.reshape([1, 4, 1, 1]) - gs).abs().max().double_value(&[]) < 1e-3);
    }
}
