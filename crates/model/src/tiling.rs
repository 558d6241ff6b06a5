//! Stylizing large images in bounded memory: tiles whose halo covers the networks' receptive
//! field, normalised with the whole image's statistics, so the core of every tile comes out as
//! the untiled network would make it and no seam can show (no blending is needed: the halo is
//! decoded and thrown away).
//!
//! The same holds for the fast generator ([`stylize_tiled_fast`]), with its own passes.
//!
//! Passes over the tiles (VGG16 model):
//! 1. VGG16 features of each tile, kept (relu4_1 only); the whole image's statistics at the
//!    style layers (its own style code, and relu4_1's mean/std for AdaIN) summed over cores;
//! 2. for a multi-level decoder, each stage's normalisation statistics, the same way;
//! 3. decoding; each core is written into the output.
//!
//! Receptive field: VGG16 to relu4_1 sees about 30 px to each side, the decoder about 26 px,
//! so a 64 px halo covers both. Tile edges fall on multiples of 8, VGG's pooling grid. The
//! image is padded as `Generator::stylize` pads it (edge margin, multiple of 8) before tiling.

use tch::{Kind, Tensor};

use crate::adain::{adain_given, blend, EPS};
use crate::convert::rgb8_to_tensor;
use crate::style::STYLE_TAPS;
use crate::fast::{channels_last, FastNet, Features, NORM_STAGES};
use crate::decoder::{StageNorm, SKIP_TAPS, STAGE_TAPS};
use crate::semantic::{region_target, regional_adain, style_regions, CoClusters, RegionMoments, Regions, SemanticConfig, SemanticStyle, PROXY_SIDE};
use crate::generator::Padding;
use crate::{Generator, StyleCode, Tap, Vgg16};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TileConfig {
    /// Core size in pixels (a multiple of 8).
    pub tile: u32,
    /// Context on each side of a core (a multiple of 8, at least the receptive field).
    pub halo: u32,
    /// Kept relu4_1 features above this many bytes are stored in bf16 (half the memory;
    /// about 0.4% relative rounding of the features).
    pub cache_budget: usize,
}

impl Default for TileConfig {
    fn default() -> Self {
        Self { tile: 512, halo: 64, cache_budget: 1 << 30 }
    }
}

/// One tile: its core (written to the output) and the larger region it is computed on, in
/// pixels of the image padded to a multiple of 8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tile {
    pub core: Rect,
    pub region: Rect,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

/// The tiles covering a `width` x `height` image (both multiples of 8).
pub fn plan(width: u32, height: u32, cfg: &TileConfig) -> Vec<Tile> {
    assert!(width % 8 == 0 && height % 8 == 0 && cfg.tile % 8 == 0 && cfg.halo % 8 == 0 && cfg.tile > 0, "tiles align to 8 px");
    let mut tiles = Vec::new();
    for y in (0..height).step_by(cfg.tile as usize) {
        for x in (0..width).step_by(cfg.tile as usize) {
            let core = Rect { x, y, w: cfg.tile.min(width - x), h: cfg.tile.min(height - y) };
            let (rx, ry) = (x.saturating_sub(cfg.halo), y.saturating_sub(cfg.halo));
            let region = Rect { x: rx, y: ry, w: (x + core.w + cfg.halo).min(width) - rx, h: (y + core.h + cfg.halo).min(height) - ry };
            tiles.push(Tile { core, region });
        }
    }
    tiles
}

/// Pads HWC RGB pixels by reflection as `Generator::stylize` pads its tensor: `p.margin` on
/// every side, and up to a multiple of 8 on the right and bottom.
pub fn pad(pixels: &[u8], p: &Padding) -> Vec<u8> {
    let (width, height, m) = (p.width as i64, p.height as i64, p.margin as i64);
    let (pw, ph) = p.padded();
    assert!(p.right() < p.width && p.bottom() < p.height && p.margin < p.width.min(p.height), "reflection needs a larger image");
    let reflect = |i: i64, n: i64| if i < 0 { -i } else if i < n { i } else { 2 * (n - 1) - i };
    let mut out = Vec::with_capacity(pw as usize * ph as usize * 3);
    for y in 0..ph as i64 {
        let row = reflect(y - m, height) as usize * width as usize * 3;
        for x in 0..pw as i64 {
            let px = row + reflect(x - m, width) as usize * 3;
            out.extend_from_slice(&pixels[px..px + 3]);
        }
    }
    out
}

/// Per-channel sums over many tile cores, for the whole image's mean and std.
struct Moments {
    sum: Tensor,
    sumsq: Tensor,
    n: f64,
}

impl Default for Moments {
    fn default() -> Self {
        Self::new()
    }
}

impl Moments {
    fn new() -> Self {
        let z = Tensor::zeros([1], (Kind::Double, tch::Device::Cpu));
        Self { sum: z.shallow_clone(), sumsq: z, n: 0.0 }
    }

    /// Adds the core of `x` (1,C,h,w), a tile's features at 1/`scale` of its pixel size.
    fn add(&mut self, x: &Tensor, tile: &Tile, scale: u32) {
        let core = core_of(x, tile, scale).to_kind(Kind::Double).to_device(tch::Device::Cpu);
        self.sum = &self.sum + core.sum_dim_intlist(&[0i64, 2, 3][..], false, Kind::Double);
        self.sumsq = &self.sumsq + core.square().sum_dim_intlist(&[0i64, 2, 3][..], false, Kind::Double);
        self.n += (core.size()[2] * core.size()[3]) as f64;
    }

    /// (mean, std) as (1,C,1,1) f32 on `device`, as `adain::mean_std` would give on the whole.
    fn mean_std(&self, device: tch::Device) -> (Tensor, Tensor) {
        let mean = &self.sum / self.n;
        let var = (&self.sumsq / self.n - mean.square()).clamp_min(0.0);
        let shape = [1, -1, 1, 1];
        let f = |t: Tensor| t.to_kind(Kind::Float).view(shape).to_device(device);
        (f(mean), f((var + EPS).sqrt()))
    }
}

/// The padded image and its tiles: cut regions out as tensors, write cores back as pixels.
struct Canvas {
    padding: Padding,
    padded: Vec<u8>,
    tiles: Vec<Tile>,
    device: tch::Device,
}

impl Canvas {
    fn new(pixels: &[u8], padding: Padding, cfg: &TileConfig, device: tch::Device) -> Canvas {
        let padded = pad(pixels, &padding);
        let (pw, ph) = padding.padded();
        Canvas { padding, padded, tiles: plan(pw, ph, cfg), device }
    }

    /// Tile `i`'s region of the padded image as a (1,3,h,w) tensor in 0..1.
    fn region(&self, i: usize) -> Tensor {
        let r = self.tiles[i].region;
        let pw = self.padding.padded().0 as usize;
        let mut buf = Vec::with_capacity(r.w as usize * r.h as usize * 3);
        for y in r.y..r.y + r.h {
            let start = (y as usize * pw + r.x as usize) * 3;
            buf.extend_from_slice(&self.padded[start..start + r.w as usize * 3]);
        }
        rgb8_to_tensor(&buf, r.h, r.w).to_device(self.device)
    }

    /// Writes the core of `y` (tile `i`'s output, the size of its region) into `out` (the
    /// photo's HWC pixels), less the margin.
    fn write_core(&self, out: &mut [u8], i: usize, y: &Tensor) {
        let t = self.tiles[i];
        let (m, width, height) = (self.padding.margin, self.padding.width, self.padding.height);
        let (cx, cy) = (t.core.x - t.region.x, t.core.y - t.region.y);
        let core = y.narrow(2, cy as i64, t.core.h as i64).narrow(3, cx as i64, t.core.w as i64);
        let (px, _, w) = crate::convert::tensor_to_rgb8(&core);
        // Padded columns x0..x1 of this core are inside the photo.
        let (x0, x1) = (t.core.x.max(m), (t.core.x + t.core.w).min(m + width));
        for row in 0..t.core.h {
            let py = t.core.y + row;
            if x0 >= x1 || py < m || py >= m + height {
                continue;
            }
            let n = (x1 - x0) as usize * 3;
            let src = (row as usize * w as usize + (x0 - t.core.x) as usize) * 3;
            let dst = ((py - m) as usize * width as usize + (x0 - m) as usize) * 3;
            out[dst..dst + n].copy_from_slice(&px[src..src + n]);
        }
    }

    fn output(&self) -> Vec<u8> {
        vec![0u8; self.padding.width as usize * self.padding.height as usize * 3]
    }
}

/// Counts finished tile passes for a progress callback.
fn ticker(total: usize, progress: &mut dyn FnMut(usize, usize)) -> impl FnMut() + '_ {
    let mut done = 0;
    move || {
        done += 1;
        progress(done, total)
    }
}

/// A large photo as 8-bit HWC RGB pixels, what the tiled functions read.
#[derive(Clone, Copy)]
pub struct Rgb8<'a> {
    pub pixels: &'a [u8],
    pub width: u32,
    pub height: u32,
}

/// What a semantic stylization paints with: the painting, the settings, and the regions a
/// person drew (which replace the clustering), if any.
#[derive(Clone, Copy)]
pub struct SemanticRequest<'a> {
    pub style: &'a SemanticStyle,
    pub cfg: &'a SemanticConfig,
    pub regions: Option<&'a Regions>,
}

/// Stylizes a large image tile by tile; same result as `Generator::stylize` on the whole (up
/// to float rounding, and bf16 rounding of the kept features past `cache_budget`).
/// `progress(done, total)` is called after each tile of each pass. Returns HWC RGB pixels.
pub fn stylize_tiled(
    g: &Generator,
    vgg: &Vgg16,
    photo: Rgb8,
    style: &StyleCode,
    strength: f64,
    cfg: &TileConfig,
    progress: &mut dyn FnMut(usize, usize),
) -> Vec<u8> {
    tch::no_grad(|| {
        let device = g.vs.device();
        let canvas = Canvas::new(photo.pixels, Padding::new(photo.width, photo.height), cfg, device);
        let tiles = &canvas.tiles;
        let stages = g.decoder.stages();
        let mut tick = ticker(tiles.len() * (2 + stages), progress);

        // Pass 1: features, and the image's own statistics at the style layers.
        let bytes_f32: usize = tiles.iter().map(|t| (t.region.w / 8 * t.region.h / 8) as usize * 512 * 4).sum();
        let keep = if bytes_f32 > cfg.cache_budget { Kind::BFloat16 } else { Kind::Float };
        let mut own: Vec<Moments> = STYLE_TAPS.iter().map(|_| Moments::new()).collect();
        let mut kept = Vec::with_capacity(tiles.len());
        for (i, t) in tiles.iter().enumerate() {
            let feats = vgg.features(&canvas.region(i), &STYLE_TAPS);
            for (l, f) in feats.iter().enumerate() {
                own[l].add(f, t, 1 << l);
            }
            kept.push(feats[3].to_kind(keep));
            tick();
        }
        let (means, stds) = own.iter().map(|m| m.mean_std(device)).unzip();
        let own = StyleCode { means, stds };
        let (style_mean, style_std) = style.bottleneck();
        let code = StyleCode::blend(&own, style, strength);
        let target = |i: usize| {
            let c = kept[i].to_kind(Kind::Float);
            blend(&c, &adain_given(&c, &own.means[3], &own.stds[3], style_mean, style_std), strength)
        };
        // A decoder with content skips also takes the tile's shallower features, normalised
        // with the whole image's statistics; recomputed per pass rather than kept (they would
        // take 6x the memory of relu4_1).
        let skips = |i: usize| -> Vec<Tensor> {
            if !g.decoder.has_skips() {
                return Vec::new();
            }
            g.skip_targets(&vgg.features(&canvas.region(i), &STYLE_TAPS[..3]), &own, style, strength)
        };

        decode_in_passes(
            &canvas,
            stages,
            |i, norms, stop_at| g.decoder.forward_with(&target(i), &code, &skips(i), &StageNorm::Given(norms), stop_at),
            |m: &mut Moments, _, i, x| m.add(x, &tiles[i], tiles[i].region.h / x.size()[2] as u32),
            |m| m.mean_std(device),
            &mut tick,
        )
    })
}

/// Passes 2 and 3 of the VGG16 model's tiling, plain or semantic: each decoder stage's
/// statistics gathered over all tiles given the earlier stages' (`gather(acc, stage, tile,
/// features)` adds one tile's, `finish` turns the sums into (mean, std)); then every tile
/// decoded with all of them, its core written. `decode(tile, stats so far, stop_at)` runs a
/// tile's decoder.
fn decode_in_passes<A: Default>(
    canvas: &Canvas,
    stages: usize,
    decode: impl Fn(usize, &[(Tensor, Tensor)], Option<usize>) -> Tensor,
    gather: impl Fn(&mut A, usize, usize, &Tensor),
    finish: impl Fn(&A) -> (Tensor, Tensor),
    tick: &mut impl FnMut(),
) -> Vec<u8> {
    let mut stats: Vec<(Tensor, Tensor)> = Vec::new();
    for stage in 0..stages {
        let mut acc = A::default();
        for i in 0..canvas.tiles.len() {
            gather(&mut acc, stage, i, &decode(i, &stats, Some(stage)));
            tick();
        }
        stats.push(finish(&acc));
    }
    let mut out = canvas.output();
    for i in 0..canvas.tiles.len() {
        canvas.write_core(&mut out, i, &decode(i, &stats, None));
        tick();
    }
    out
}

/// HWC RGB pixels averaged over `f` x `f` blocks (the last partial blocks dropped).
pub fn box_downscale(pixels: &[u8], width: u32, height: u32, f: u32) -> (Vec<u8>, u32, u32) {
    let (w, h) = (width / f, height / f);
    let mut out = Vec::with_capacity(w as usize * h as usize * 3);
    for by in 0..h {
        for bx in 0..w {
            let mut acc = [0u32; 3];
            for y in by * f..(by + 1) * f {
                let row = (y as usize * width as usize + (bx * f) as usize) * 3;
                for px in pixels[row..row + f as usize * 3].chunks_exact(3) {
                    for c in 0..3 {
                        acc[c] += u32::from(px[c]);
                    }
                }
            }
            out.extend(acc.map(|a| ((a + f * f / 2) / (f * f)) as u8));
        }
    }
    (out, w, h)
}

/// The regions of a padded image (the canvas's) and the painting, as the untiled
/// `stylize_semantic` finds them: the drawn `regions` if given, else clustered from the image's
/// cluster parts (`parts`: the network's, the 1/8 grid first), on the whole image when it is at
/// most [`PROXY_SIDE`] on its longer side, else on a copy shrunk to that size, whose
/// memberships are then upsampled. Photo memberships come on the padded image's 1/8 grid.
fn whole_image_regions(canvas: &Canvas, parts: impl Fn(&Tensor) -> Vec<Tensor>, style: &SemanticStyle, cfg: &SemanticConfig, regions: Option<&Regions>) -> CoClusters {
    let (pw, ph) = canvas.padding.padded();
    if let Some(r) = regions {
        let grid = |t: &Tensor| (t.size()[2], t.size()[3]);
        return CoClusters::from_regions(r, |t| canvas.padding.apply_to_grid(t), ((ph / 8) as i64, (pw / 8) as i64), grid(&style.cluster[0]));
    }
    let f = pw.max(ph).div_ceil(PROXY_SIDE).max(1);
    let (px, w, h) = if f == 1 { (canvas.padded.clone(), pw, ph) } else { box_downscale(&canvas.padded, pw, ph, f) };
    let feats = parts(&rgb8_to_tensor(&px, h, w).to_device(canvas.device));
    let margin = (canvas.padding.margin / f) as i64;
    let mut clusters = CoClusters::new(&feats.iter().collect::<Vec<_>>(), margin, &style.cluster.iter().collect::<Vec<_>>(), cfg);
    if f > 1 {
        clusters.photo = clusters.photo_at(((ph / 8) as i64, (pw / 8) as i64));
    }
    clusters
}

/// Tile `t`'s memberships at 1/2^l of full resolution (the VGG16 model's level l), cut from
/// the whole image's 1/8-grid memberships and upsampled as the untiled path upsamples the whole.
fn tile_memberships(m4: &Tensor, t: &Tile, l: usize) -> Tensor {
    let r = t.region;
    let cut = m4.narrow(2, (r.y / 8) as i64, (r.h / 8) as i64).narrow(3, (r.x / 8) as i64, (r.w / 8) as i64);
    let s = 1u32 << l;
    if l == 3 { cut } else { cut.upsample_bilinear2d([(r.h / s) as i64, (r.w / s) as i64], false, None, None) }
}

/// The core of a tile's map `x` at 1/`scale` of its pixel size.
fn core_of(x: &Tensor, t: &Tile, scale: u32) -> Tensor {
    let (cx, cy) = ((t.core.x - t.region.x) / scale, (t.core.y - t.region.y) / scale);
    x.narrow(2, cy as i64, (t.core.h / scale) as i64).narrow(3, cx as i64, (t.core.w / scale) as i64)
}

/// Semantic transfer tile by tile: `Generator::stylize_semantic` on a large image in bounded
/// memory. The regions are found once for the whole image (`whole_image_regions`), or taken
/// from `regions` (drawn), every region's statistics are summed over all tiles (content at
/// each level, then each decoder stage's, one pass each), and each tile spreads them with its
/// own cut of the memberships; so the result equals the untiled one up to float rounding.
pub fn stylize_tiled_semantic(
    g: &Generator,
    vgg: &Vgg16,
    photo: Rgb8,
    SemanticRequest { style, cfg: scfg, regions }: SemanticRequest,
    strength: f64,
    cfg: &TileConfig,
    progress: &mut dyn FnMut(usize, usize),
) -> Vec<u8> {
    tch::no_grad(|| {
        let device = g.vs.device();
        let canvas = Canvas::new(photo.pixels, Padding::new(photo.width, photo.height), cfg, device);
        let tiles = &canvas.tiles;
        let stages = g.decoder.stages();
        let mut tick = ticker(tiles.len() * (2 + stages), progress);
        let clusters = whole_image_regions(
            &canvas,
            |x| {
                let f4 = vgg.feature(x, Tap::Relu4_1);
                let deep = vgg.relu5_1_coarse(&f4);
                vec![f4, deep]
            },
            style,
            scfg,
            regions,
        );
        let m4 = &clusters.photo;

        // Pass 1: features, the image's own statistics, and each region's at every level.
        let mut own: Vec<Moments> = STYLE_TAPS.iter().map(|_| Moments::new()).collect();
        let mut regions: Vec<RegionMoments> = STYLE_TAPS.iter().map(|_| RegionMoments::default()).collect();
        let mut kept = Vec::with_capacity(tiles.len());
        for (i, t) in tiles.iter().enumerate() {
            let feats = vgg.features(&canvas.region(i), &STYLE_TAPS);
            for (l, f) in feats.iter().enumerate() {
                own[l].add(f, t, 1 << l);
                regions[l].add(&core_of(f, t, 1 << l), &core_of(&tile_memberships(m4, t, l), t, 1 << l));
            }
            kept.push(feats[3].shallow_clone());
            tick();
        }
        let (means, stds) = own.iter().map(|m| m.mean_std(device)).unzip();
        let own = StyleCode { means, stds };
        let content: Vec<(Tensor, Tensor)> = regions.iter().map(|r| r.stats(device)).collect();
        let style_stats = style_regions(style, &clusters, scfg);
        let styled = |f: &Tensor, m: &Tensor, l: usize| {
            let ((cm, cs), (sm, ss)) = (&content[l], &style_stats[l]);
            blend(f, &regional_adain(f, m, (cm, cs), (sm, ss)), strength)
        };
        let target = |i: usize| styled(&kept[i], &tile_memberships(m4, &tiles[i], 3), 3);
        let skips = |i: usize| -> Vec<Tensor> {
            if !g.decoder.has_skips() {
                return Vec::new();
            }
            let feats = vgg.features(&canvas.region(i), &STYLE_TAPS[..3]);
            SKIP_TAPS.iter().map(|&l| styled(&feats[l], &tile_memberships(m4, &tiles[i], l), l)).collect()
        };
        // The decoder's targets: each region's statistics blended with the image's own.
        let stage_targets: Vec<(Tensor, Tensor)> = STAGE_TAPS.iter().map(|&l| region_target(&style_stats[l], &own, l, strength)).collect();
        // Each tile restyles a decoder stage region by region, with the whole image's region
        // statistics there and its own cut of the memberships.
        let decode = |i: usize, stage_stats: &[(Tensor, Tensor)], stop_at: Option<usize>| {
            let memberships: Vec<Tensor> = STAGE_TAPS.iter().map(|&l| tile_memberships(m4, &tiles[i], l)).collect();
            let norm = StageNorm::Regions { memberships: &memberships, target: &stage_targets, content: stage_stats };
            g.decoder.forward_with(&target(i), &style.code, &skips(i), &norm, stop_at)
        };
        decode_in_passes(
            &canvas,
            stages,
            decode,
            |rm: &mut RegionMoments, stage, i, x| {
                let (t, scale) = (&tiles[i], tiles[i].region.h / x.size()[2] as u32);
                rm.add(&core_of(x, t, scale), &core_of(&tile_memberships(m4, t, STAGE_TAPS[stage]), t, scale));
            },
            |rm| rm.stats(device),
            &mut tick,
        )
    })
}

/// The fast generator's receptive field reaches 63 px to each side (its encoder 27, its
/// decoder 36 more, counted at full resolution); the halo is the next multiple of 8 past it.
pub const FAST_HALO: u32 = 72;

/// The halo a fast generator of `cfg`'s shape needs: [`FAST_HALO`], and 8 px more for each
/// block at 1/4 (two 3x3 convs there reach 2 px, 8 px at full resolution). The photo skip
/// reaches 1 px, inside the rest.
pub fn fast_halo(cfg: &crate::fast::FastConfig) -> u32 {
    FAST_HALO + 8 * cfg.blocks4
}

/// The fast generator tile by tile, with the whole image's statistics; same result as
/// `FastNet::stylize` on the whole up to float rounding, if `cfg.halo` >= [`fast_halo`].
/// Nothing is kept between passes (the encoder is cheap: it runs again in each pass), so
/// memory is one tile's. Returns HWC RGB pixels.
pub fn stylize_tiled_fast(
    net: &FastNet,
    device: tch::Device,
    photo: Rgb8,
    style: &StyleCode,
    strength: f64,
    cfg: &TileConfig,
    progress: &mut dyn FnMut(usize, usize),
) -> Vec<u8> {
    tch::no_grad(|| {
        let canvas = Canvas::new(photo.pixels, Padding::to_multiple_of_8(photo.width, photo.height), cfg, device);
        let tiles = &canvas.tiles;
        let mut tick = ticker(tiles.len() * (2 + NORM_STAGES.len()), progress);
        let encode = |i: usize| net.encode(&channels_last(&canvas.region(i)));

        // Pass 1: the image's own statistics at the encoder's three levels (1/2 only if used).
        let levels: &[usize] = if net.needs_level0(strength) { &[0, 1, 2] } else { &[1, 2] };
        let mut own: Vec<Moments> = (0..3).map(|_| Moments::new()).collect();
        for (i, t) in tiles.iter().enumerate() {
            let Features(f, _) = encode(i);
            for &l in levels {
                own[l].add(&f[l], t, 2 << l);
            }
            tick();
        }
        let (means, stds): (Vec<Tensor>, Vec<Tensor>) = (0..3)
            .map(|l| if levels.contains(&l) { own[l].mean_std(device) } else { (style.means[l].shallow_clone(), style.stds[l].shallow_clone()) })
            .unzip();
        let own = StyleCode { means, stds };

        // Pass 2: the decoder's normalising stages, each given the earlier ones.
        let mut norms: Vec<(Tensor, Tensor)> = Vec::new();
        for (stage, &scale) in NORM_STAGES.iter().enumerate() {
            let mut m = Moments::new();
            for (i, t) in tiles.iter().enumerate() {
                let x = net.decode_with(&encode(i), &own, style, strength, &StageNorm::Given(&norms), Some(stage));
                m.add(&x, t, scale);
                tick();
            }
            norms.push(m.mean_std(device));
        }

        // Pass 3: decode, keep the cores.
        let mut out = canvas.output();
        for i in 0..tiles.len() {
            let y = net.decode_with(&encode(i), &own, style, strength, &StageNorm::Given(&norms), None).clamp(0.0, 1.0);
            canvas.write_core(&mut out, i, &y);
            tick();
        }
        out
    })
}

/// The fast generator's semantic transfer tile by tile, as [`stylize_tiled_semantic`] is the
/// VGG16 model's: the regions found once on the whole image (on the photo encoder's 1/8
/// features), each region's statistics summed over all tiles at the encoder's three levels and
/// then at each decoder stage, and each tile spreading them with its own cut of the
/// memberships. Same result as `FastNet::stylize_semantic` up to float rounding, if
/// `cfg.halo` >= [`fast_halo`].
pub fn stylize_tiled_semantic_fast(
    net: &FastNet,
    device: tch::Device,
    photo: Rgb8,
    SemanticRequest { style, cfg: scfg, regions }: SemanticRequest,
    strength: f64,
    cfg: &TileConfig,
    progress: &mut dyn FnMut(usize, usize),
) -> Vec<u8> {
    tch::no_grad(|| {
        let canvas = Canvas::new(photo.pixels, Padding::to_multiple_of_8(photo.width, photo.height), cfg, device);
        let tiles = &canvas.tiles;
        let mut tick = ticker(tiles.len() * (2 + NORM_STAGES.len()), progress);
        let encode = |i: usize| net.encode(&channels_last(&canvas.region(i)));
        let clusters = whole_image_regions(&canvas, |x| vec![net.encode(&channels_last(x)).0[2].shallow_clone()], style, scfg, regions);
        let m8 = &clusters.photo;
        // Memberships at 1/scale of full resolution (the encoder's level l is at 1/2^(l+1)).
        let memberships = |t: &Tile, scale: u32| tile_memberships(m8, t, scale.trailing_zeros() as usize);
        let spread = |m: &Tensor, stats: &Tensor| crate::semantic::mix(m, stats);

        // Pass 1: each region's statistics at the encoder's three levels.
        let mut regions: Vec<RegionMoments> = (0..3).map(|_| RegionMoments::default()).collect();
        for (i, t) in tiles.iter().enumerate() {
            let Features(f, _) = encode(i);
            for (l, (rm, f)) in regions.iter_mut().zip(&f).enumerate() {
                let scale = 2 << l;
                rm.add(&core_of(f, t, scale), &core_of(&memberships(t, scale), t, scale));
            }
            tick();
        }
        let content: Vec<(Tensor, Tensor)> = regions.iter().map(|r| r.stats(device)).collect();
        let style_stats = style_regions(style, &clusters, scfg);
        let per_tile = |i: usize, stats: &[(Tensor, Tensor)], scales: &mut dyn Iterator<Item = u32>| -> Vec<(Tensor, Tensor)> {
            stats.iter().zip(scales).map(|((m, s), scale)| { let mem = memberships(&tiles[i], scale); (spread(&mem, m), spread(&mem, s)) }).collect()
        };
        let code = |i: usize, stats: &[(Tensor, Tensor)]| {
            let (means, stds) = per_tile(i, stats, &mut (0..3).map(|l| 2u32 << l)).into_iter().unzip();
            StyleCode { means, stds }
        };
        decode_in_passes(
            &canvas,
            NORM_STAGES.len(),
            |i, stats, stop_at| {
                let norms = per_tile(i, stats, &mut NORM_STAGES.into_iter());
                net.decode_with(&encode(i), &code(i, &content), &code(i, &style_stats), strength, &StageNorm::Given(&norms), stop_at)
            },
            |rm: &mut RegionMoments, stage, i, x| {
                let (t, scale) = (&tiles[i], NORM_STAGES[stage]);
                rm.add(&core_of(x, t, scale), &core_of(&memberships(t, scale), t, scale));
            },
            |rm| rm.stats(device),
            &mut tick,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_covers_the_image_once_with_aligned_halos() {
        let cfg = TileConfig { tile: 64, halo: 16, ..Default::default() };
        let tiles = plan(200, 136, &cfg);
        assert_eq!(tiles.len(), 4 * 3);
        let mut covered = vec![0u8; 200 * 136];
        for t in &tiles {
            for v in [t.core.x, t.core.y, t.core.w, t.core.h, t.region.x, t.region.y, t.region.w, t.region.h] {
                assert_eq!(v % 8, 0);
            }
            assert!(t.region.x <= t.core.x && t.region.x + t.region.w >= t.core.x + t.core.w);
            assert!(t.core.x - t.region.x == 16 || t.region.x == 0);
            for y in t.core.y..t.core.y + t.core.h {
                for x in t.core.x..t.core.x + t.core.w {
                    covered[(y * 200 + x) as usize] += 1;
                }
            }
        }
        assert!(covered.iter().all(|&c| c == 1));
    }

    #[test]
    fn box_downscale_averages_blocks() {
        // 4x2 grey pixels 0, 10, 20, 30 / 40, 50, 60, 70 by 2: (0+10+40+50)/4 = 25, (20+30+60+70)/4 = 45.
        let px: Vec<u8> = [0u8, 10, 20, 30, 40, 50, 60, 70].iter().flat_map(|&v| [v; 3]).collect();
        let (out, w, h) = box_downscale(&px, 4, 2, 2);
        assert_eq!((w, h), (2, 1));
        assert_eq!(out, vec![25, 25, 25, 45, 45, 45]);
    }

    #[test]
    fn pad_reflects_rows_and_columns() {
        // 10x9 grey image whose value is 10*y + x: padded to 16x16, column 10 reflects column
        // 8, row 9 reflects row 7.
        let px: Vec<u8> = (0..9u8).flat_map(|y| (0..10u8).flat_map(move |x| [10 * y + x; 3])).collect();
        let p = Padding { width: 10, height: 9, margin: 0 };
        let out = pad(&px, &p);
        assert_eq!(p.padded(), (16, 16));
        let at = |x: usize, y: usize| out[(y * 16 + x) * 3];
        assert_eq!(at(9, 0), 9);
        assert_eq!(at(10, 0), 8);
        assert_eq!(at(15, 0), 3);
        assert_eq!(at(0, 9), 70);
        assert_eq!(at(10, 9), 78);
        // With a 2 px margin the photo starts at (2, 2); (0, 0) mirrors (2, 2).
        let p = Padding { width: 10, height: 9, margin: 2 };
        let out = pad(&px, &p);
        let at = |x: usize, y: usize| out[(y * 16 + x) * 3];
        assert_eq!(at(2, 2), 0);
        assert_eq!(at(0, 0), 22);
        assert_eq!(at(1, 2), 1);
        assert_eq!(at(12, 2), 8);
    }
}
