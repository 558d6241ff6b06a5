//! Loss plots: one panel per series, stacked vertically, each with its own y range
//! (the losses of a GAN differ by orders of magnitude, so a shared axis would
//! flatten all but the largest). The x range is shared so panels line up by step.

use image::{Rgb, RgbImage};

use crate::fill_rect;
use crate::font::{draw_text, fit_text, text_width, GLYPH_H, LINE_H};

/// One named curve: `(step, value)` points, in any order; non-finite values are skipped.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

impl Series {
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Series {
            name: name.into(),
            points,
        }
    }
}

/// Size, smoothing and colours of [`loss_plot`].
///
/// The image is `width` x (`title_band + n * panel_height`), where `title_band` is
/// `2 * LINE_H + 8` if `title` is a non-empty string, else 0. With no series the
/// height is `title_band + 40` (a "no data" strip).
#[derive(Clone, Debug)]
pub struct PlotOptions {
    pub width: u32,
    pub panel_height: u32,
    /// Moving-average window in points (centred, computed in display space, so a
    /// geometric mean on a log axis); 0 or 1 draws no average.
    pub smooth: usize,
    /// Logarithmic y axis for panels whose finite values are all > 0.
    pub log_y: bool,
    /// Optional title above all panels.
    pub title: Option<String>,
    pub background: Rgb<u8>,
    /// Raw curve: light, so the trend stays readable through the noise.
    pub raw_color: Rgb<u8>,
    /// Moving average: strong.
    pub smooth_color: Rgb<u8>,
    pub axis_color: Rgb<u8>,
    pub grid_color: Rgb<u8>,
    pub text_color: Rgb<u8>,
}

impl Default for PlotOptions {
    fn default() -> Self {
        PlotOptions {
            width: 900,
            panel_height: 180,
            smooth: 25,
            log_y: false,
            title: None,
            background: Rgb([255, 255, 255]),
            raw_color: Rgb([170, 198, 236]),
            smooth_color: Rgb([22, 82, 196]),
            axis_color: Rgb([90, 90, 90]),
            grid_color: Rgb([232, 232, 232]),
            text_color: Rgb([32, 32, 32]),
        }
    }
}

const TITLE_SCALE: u32 = 2;
const TICK_SCALE: u32 = 1;
/// Space above the plot area inside a panel: panel title plus padding.
const PANEL_TOP: u32 = 8 + GLYPH_H * TITLE_SCALE + 8;
/// Space below the plot area: x tick labels plus padding.
const PANEL_BOTTOM: u32 = 6 + GLYPH_H * TICK_SCALE + 8;
const RIGHT_PAD: u32 = 24;

/// Draws one panel per series, stacked vertically. See [`PlotOptions`] for the size.
pub fn loss_plot(series: &[Series], opts: &PlotOptions) -> RgbImage {
    let width = opts.width.max(1);
    let title = opts.title.as_deref().filter(|t| !t.is_empty());
    let title_band = if title.is_some() { 2 * LINE_H + 8 } else { 0 };
    let body = if series.is_empty() {
        40
    } else {
        series.len() as u32 * opts.panel_height
    };
    let mut img = RgbImage::from_pixel(width, (title_band + body).max(1), opts.background);
    if let Some(t) = title {
        let t = fit_text(t, 2, width.saturating_sub(16));
        let x = width.saturating_sub(text_width(&t, 2)) / 2;
        draw_text(&mut img, x as i32, 6, &t, 2, opts.text_color);
    }
    if series.is_empty() {
        draw_text(
            &mut img,
            12,
            title_band as i32 + 16,
            "no data",
            1,
            opts.text_color,
        );
        return img;
    }

    let panels: Vec<Panel> = series.iter().map(|s| Panel::new(s, opts)).collect();

    // Shared x range across panels, so the same step is at the same column everywhere.
    let (mut xmin, mut xmax) = (f64::INFINITY, f64::NEG_INFINITY);
    for p in &panels {
        for &(x, _) in &p.pts {
            xmin = xmin.min(x);
            xmax = xmax.max(x);
        }
    }
    if !(xmin.is_finite() && xmax.is_finite()) {
        (xmin, xmax) = (0.0, 1.0);
    } else if xmax - xmin <= 0.0 {
        (xmin, xmax) = (xmin - 0.5, xmax + 0.5);
    }
    let (xticks, xstep) = nice_ticks(xmin, xmax, 8);
    let xticks: Vec<f64> = xticks
        .into_iter()
        .filter(|t| *t >= xmin && *t <= xmax)
        .collect();

    // One left margin for all panels, so their plot areas line up.
    let left = panels
        .iter()
        .flat_map(|p| p.yticks.iter().map(|(_, l)| text_width(l, TICK_SCALE)))
        .max()
        .unwrap_or(0)
        .max(text_width("0.00", TICK_SCALE))
        + 14;

    for (k, p) in panels.iter().enumerate() {
        let top = title_band + k as u32 * opts.panel_height;
        let rect = Rect {
            x: left as i64,
            y: (top + PANEL_TOP) as i64,
            w: width.saturating_sub(left + RIGHT_PAD).max(2) as i64,
            h: opts
                .panel_height
                .saturating_sub(PANEL_TOP + PANEL_BOTTOM)
                .max(2) as i64,
        };
        let last = k + 1 == panels.len();
        p.draw(
            &mut img,
            top,
            rect,
            (xmin, xmax),
            &xticks,
            xstep,
            last,
            opts,
        );
        if k + 1 < panels.len() {
            let y = (top + opts.panel_height - 1) as i64;
            fill_rect(&mut img, 0, y, width as i64, 1, opts.grid_color);
        }
    }
    img
}

#[derive(Clone, Copy, Debug)]
struct Rect {
    x: i64,
    y: i64,
    w: i64,
    h: i64,
}

/// A series prepared for drawing: finite points sorted by step, values in display
/// space (log10 when the axis is logarithmic), y range and ticks.
struct Panel<'a> {
    name: &'a str,
    pts: Vec<(f64, f64)>,
    smooth: Vec<f64>,
    log: bool,
    skipped: usize,
    ylo: f64,
    yhi: f64,
    yticks: Vec<(f64, String)>,
}

impl<'a> Panel<'a> {
    fn new(s: &'a Series, opts: &PlotOptions) -> Self {
        let mut pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .copied()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .collect();
        let skipped = s.points.len() - pts.len();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        let log = opts.log_y && !pts.is_empty() && pts.iter().all(|p| p.1 > 0.0);
        if log {
            for p in &mut pts {
                p.1 = p.1.log10();
            }
        }
        let smooth = moving_average(&pts, opts.smooth);
        let (ylo, yhi) = y_range(&pts, log);
        let yticks = if pts.is_empty() {
            Vec::new()
        } else if log {
            log_ticks(ylo, yhi)
        } else {
            linear_ticks(ylo, yhi)
        };
        Panel {
            name: &s.name,
            pts,
            smooth,
            log,
            skipped,
            ylo,
            yhi,
            yticks,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn draw(
        &self,
        img: &mut RgbImage,
        top: u32,
        r: Rect,
        (xmin, xmax): (f64, f64),
        xticks: &[f64],
        xstep: f64,
        x_name: bool,
        opts: &PlotOptions,
    ) {
        let title = fit_text(self.name, TITLE_SCALE, (r.w as u32).saturating_sub(200));
        draw_text(
            img,
            r.x as i32,
            top as i32 + 8,
            &title,
            TITLE_SCALE,
            opts.text_color,
        );

        let info = self.info(opts);
        let iw = text_width(&info, TICK_SCALE) as i64;
        let iy = top as i64 + 8 + ((GLYPH_H * TITLE_SCALE - GLYPH_H * TICK_SCALE) / 2) as i64;
        draw_text(
            img,
            (r.x + r.w - iw) as i32,
            iy as i32,
            &info,
            TICK_SCALE,
            opts.text_color,
        );

        let fx = |x: f64| r.x as f64 + (x - xmin) / (xmax - xmin) * (r.w - 1) as f64;
        let fy =
            |y: f64| r.y as f64 + (1.0 - (y - self.ylo) / (self.yhi - self.ylo)) * (r.h - 1) as f64;

        // Grid and tick labels first, so curves are drawn over them.
        for (v, label) in &self.yticks {
            let py = fy(*v).round() as i64;
            if py < r.y || py >= r.y + r.h {
                continue;
            }
            fill_rect(img, r.x, py, r.w, 1, opts.grid_color);
            fill_rect(img, r.x - 4, py, 4, 1, opts.axis_color);
            let lw = text_width(label, TICK_SCALE) as i64;
            let ly = py - (GLYPH_H * TICK_SCALE / 2) as i64 + 1;
            draw_text(
                img,
                (r.x - 7 - lw) as i32,
                ly as i32,
                label,
                TICK_SCALE,
                opts.text_color,
            );
        }
        let mut last_label_end = i64::MIN;
        for &t in xticks {
            let px = fx(t).round() as i64;
            fill_rect(img, px, r.y, 1, r.h, opts.grid_color);
            fill_rect(img, px, r.y + r.h, 1, 4, opts.axis_color);
            let label = format_tick(t, xstep, xmin, xmax);
            let lw = text_width(&label, TICK_SCALE) as i64;
            let lx = (px - lw / 2).min(img.width() as i64 - lw - 2);
            // Skip labels that would overlap their left neighbour.
            if lx > last_label_end + 6 {
                let ly = r.y + r.h + 6;
                draw_text(
                    img,
                    lx as i32,
                    ly as i32,
                    &label,
                    TICK_SCALE,
                    opts.text_color,
                );
                last_label_end = lx + lw;
            }
        }
        if x_name {
            // Name the x axis once, at the bottom right, if the tick labels leave room.
            let lw = text_width("step", TICK_SCALE) as i64;
            let lx = r.x + r.w + RIGHT_PAD as i64 - 4 - lw;
            if lx > last_label_end + 10 {
                let ly = (r.y + r.h + 6) as i32;
                draw_text(img, lx as i32, ly, "step", TICK_SCALE, opts.text_color);
            }
        }

        if self.pts.is_empty() {
            let msg = "no finite values";
            let mx = r.x + (r.w - text_width(msg, 1) as i64) / 2;
            draw_text(
                img,
                mx as i32,
                (r.y + r.h / 2 - 4) as i32,
                msg,
                1,
                opts.text_color,
            );
        } else {
            let raw: Vec<(f64, f64)> = self.pts.iter().map(|&(x, y)| (fx(x), fy(y))).collect();
            let has_avg = !self.smooth.is_empty();
            let raw_color = if has_avg {
                opts.raw_color
            } else {
                opts.smooth_color
            };
            draw_polyline(img, r, &raw, 1.0, raw_color);
            if has_avg {
                let avg: Vec<(f64, f64)> = self
                    .pts
                    .iter()
                    .zip(&self.smooth)
                    .map(|(&(x, _), &y)| (fx(x), fy(y)))
                    .collect();
                // A lone point would be a barely visible dot at line width.
                let w = if avg.len() == 1 { 5.0 } else { 2.0 };
                draw_polyline(img, r, &avg, w, opts.smooth_color);
            }
        }

        // Axes last, so curves touching the range limits do not hide them.
        fill_rect(img, r.x - 1, r.y, 1, r.h + 1, opts.axis_color);
        fill_rect(img, r.x - 1, r.y + r.h, r.w + 1, 1, opts.axis_color);
    }

    /// Right-hand summary in the title line: last averaged value, minimum, notes.
    fn info(&self, opts: &PlotOptions) -> String {
        let undo = |v: f64| if self.log { 10f64.powf(v) } else { v };
        let mut parts = Vec::new();
        if let Some(&last) = self.smooth.last().or(self.pts.last().map(|p| &p.1)) {
            let what = if self.smooth.is_empty() {
                "last"
            } else {
                "last avg"
            };
            parts.push(format!("{what} {}", format_compact(undo(last))));
        }
        if let Some(min) = self.pts.iter().map(|p| p.1).reduce(f64::min) {
            parts.push(format!("min {}", format_compact(undo(min))));
        }
        if !self.smooth.is_empty() {
            parts.push(format!("window {}", opts.smooth));
        }
        if self.log {
            parts.push("log y".into());
        }
        if self.skipped > 0 {
            parts.push(format!("{} non-finite", self.skipped));
        }
        parts.join("   ")
    }
}

/// Centred moving average over `window` points (shrinking at the ends, so the
/// curve does not lag behind the data); empty when `window` <= 1.
fn moving_average(pts: &[(f64, f64)], window: usize) -> Vec<f64> {
    if window <= 1 || pts.is_empty() {
        return Vec::new();
    }
    let mut prefix = Vec::with_capacity(pts.len() + 1);
    prefix.push(0.0);
    for p in pts {
        prefix.push(prefix.last().unwrap() + p.1);
    }
    let n = pts.len();
    let before = (window - 1) / 2;
    let after = window - 1 - before;
    (0..n)
        .map(|i| {
            let a = i.saturating_sub(before);
            let b = (i + after + 1).min(n);
            (prefix[b] - prefix[a]) / (b - a) as f64
        })
        .collect()
}

/// Display range of the values: the 0.5%..99.5% quantiles when there are many
/// points (one early spike must not flatten the whole curve), padded by 6%.
fn y_range(pts: &[(f64, f64)], log: bool) -> (f64, f64) {
    if pts.is_empty() {
        return (0.0, 1.0);
    }
    let mut v: Vec<f64> = pts.iter().map(|p| p.1).collect();
    v.sort_by(f64::total_cmp);
    let (lo, hi) = if v.len() >= 200 {
        let q = |f: f64| v[((v.len() - 1) as f64 * f).round() as usize];
        (q(0.005), q(0.995))
    } else {
        (v[0], v[v.len() - 1])
    };
    let span = hi - lo;
    if span <= 1e-12 * lo.abs().max(1e-300) {
        // Flat series: centre it with a visible margin.
        let d = if log {
            0.5
        } else if lo != 0.0 {
            lo.abs() * 0.1
        } else {
            1.0
        };
        return (lo - d, hi + d);
    }
    (lo - 0.06 * span, hi + 0.06 * span)
}

/// 1, 2 or 5 times a power of ten, about `target` ticks over [lo, hi]; also the step.
fn nice_ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, f64) {
    let raw = (hi - lo) / target.max(1) as f64;
    if !(raw.is_finite() && raw > 0.0) {
        return (vec![lo], 1.0);
    }
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let step = mag
        * if norm < 1.5 {
            1.0
        } else if norm < 3.0 {
            2.0
        } else if norm < 7.0 {
            5.0
        } else {
            10.0
        };
    let mut ticks = Vec::new();
    let mut t = (lo / step).ceil() * step;
    while t <= hi + step * 1e-9 && ticks.len() < 100 {
        // Snap near-zero values so "0" does not print as "-1e-17".
        ticks.push(if t.abs() < step * 1e-9 { 0.0 } else { t });
        t += step;
    }
    (ticks, step)
}

fn linear_ticks(lo: f64, hi: f64) -> Vec<(f64, String)> {
    let (ticks, step) = nice_ticks(lo, hi, 4);
    ticks
        .into_iter()
        .map(|t| (t, format_tick(t, step, lo, hi)))
        .collect()
}

/// Ticks for a log10 axis given in display space: 1-2-5, 1-3 or whole decades
/// depending on how many decades are shown; nice linear values (mapped into log
/// space) when the range is under a decade or so.
fn log_ticks(lo: f64, hi: f64) -> Vec<(f64, String)> {
    let decades = hi - lo;
    let mantissas: &[f64] = if decades > 2.5 {
        &[1.0]
    } else if decades > 1.4 {
        &[1.0, 3.0]
    } else {
        &[1.0, 2.0, 5.0]
    };
    // Whole decades are thinned so that at most about six remain.
    let every = ((decades / 6.0).ceil() as i64).max(1);
    let mut ticks = Vec::new();
    for k in (lo.floor() as i64)..=(hi.ceil() as i64) {
        if mantissas.len() == 1 && k.rem_euclid(every) != 0 {
            continue;
        }
        for &m in mantissas {
            let v = m * 10f64.powi(k as i32);
            let t = v.log10();
            if t >= lo && t <= hi {
                ticks.push((t, format_compact(v)));
            }
        }
    }
    if ticks.len() >= 3 || (ticks.len() == 2 && decades > 1.0) {
        return ticks;
    }
    let (vlo, vhi) = (10f64.powf(lo), 10f64.powf(hi));
    let (lin, step) = nice_ticks(vlo, vhi, 4);
    lin.into_iter()
        .filter(|t| *t > 0.0)
        .map(|t| (t.log10(), format_tick(t, step, vlo, vhi)))
        .collect()
}

fn trim_zeros(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Compact number with about three significant digits: `0`, `0.0123`, `12.5`,
/// `1.2k`, `3.4M`, `3.4e-3`. Meant for labels where space is short.
pub fn format_compact(v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-2..1e15).contains(&a) {
        let s = format!("{v:.2e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        return format!("{}e{e}", trim_zeros(m.to_string()));
    }
    if a >= 1e3 {
        for (div, suffix) in [(1e3, "k"), (1e6, "M"), (1e9, "G"), (1e12, "T")] {
            let m = v / div;
            let s = trim_zeros(format!("{:.*}", sig_decimals(m.abs()), m));
            // 999.96k rounds to "1000k": move on to the next suffix instead.
            if s.trim_start_matches('-').parse::<f64>().unwrap_or(0.0) < 1000.0 || suffix == "T" {
                return format!("{s}{suffix}");
            }
        }
    }
    trim_zeros(format!("{:.*}", sig_decimals(a), v))
}

/// Decimals giving three significant digits for a magnitude in [1e-2, 1e3).
fn sig_decimals(a: f64) -> usize {
    match a {
        a if a >= 100.0 => 0,
        a if a >= 10.0 => 1,
        a if a >= 1.0 => 2,
        a if a >= 0.1 => 3,
        _ => 4,
    }
}

/// Tick label with just enough decimals to tell ticks `step` apart, in the same
/// compact style as [`format_compact`] (k/M suffixes, exponent for tiny ranges).
fn format_tick(v: f64, step: f64, lo: f64, hi: f64) -> String {
    if v.abs() < step * 1e-6 {
        return "0".into();
    }
    let decimals = |unit: f64| ((-(step / unit).log10() - 1e-9).ceil().clamp(0.0, 6.0)) as usize;
    let mag = lo.abs().max(hi.abs());
    if !(1e-2..1e15).contains(&mag) {
        let e = v.abs().log10().floor() as i32;
        let unit = 10f64.powi(e);
        let d = decimals(unit).min(3);
        return format!("{}e{e}", trim_zeros(format!("{:.*}", d, v / unit)));
    }
    if mag >= 1e3 {
        let (unit, suffix) = [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")]
            .into_iter()
            .find(|(u, _)| mag >= *u)
            .unwrap_or((1e3, "k"));
        return format!(
            "{}{suffix}",
            trim_zeros(format!("{:.*}", decimals(unit), v / unit))
        );
    }
    format!("{:.*}", decimals(1.0), v)
}

/// Anti-aliased polyline clipped to `clip`. Coverage is accumulated with `max`
/// before blending, so joints between segments are not blended twice.
fn draw_polyline(img: &mut RgbImage, clip: Rect, pts: &[(f64, f64)], width: f64, c: Rgb<u8>) {
    if clip.w <= 0 || clip.h <= 0 || pts.is_empty() {
        return;
    }
    let (cw, ch) = (clip.w as usize, clip.h as usize);
    let mut cov = vec![0f32; cw * ch];
    let half = width / 2.0 + 0.5;
    let mut seg = |(x0, y0): (f64, f64), (x1, y1): (f64, f64)| {
        let bx0 = ((x0.min(x1) - half).floor() as i64).max(clip.x);
        let bx1 = ((x0.max(x1) + half).ceil() as i64).min(clip.x + clip.w - 1);
        let by0 = ((y0.min(y1) - half).floor() as i64).max(clip.y);
        let by1 = ((y0.max(y1) + half).ceil() as i64).min(clip.y + clip.h - 1);
        let (dx, dy) = (x1 - x0, y1 - y0);
        let len2 = dx * dx + dy * dy;
        for py in by0..=by1 {
            for px in bx0..=bx1 {
                let (qx, qy) = (px as f64 - x0, py as f64 - y0);
                let t = if len2 > 0.0 {
                    ((qx * dx + qy * dy) / len2).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                let (ex, ey) = (qx - t * dx, qy - t * dy);
                let a = (half - (ex * ex + ey * ey).sqrt()).clamp(0.0, 1.0) as f32;
                if a > 0.0 {
                    let i = (py - clip.y) as usize * cw + (px - clip.x) as usize;
                    cov[i] = cov[i].max(a);
                }
            }
        }
    };
    if pts.len() == 1 {
        seg(pts[0], pts[0]);
    }
    for w in pts.windows(2) {
        // Segments far outside the panel (clipped outliers) still cost only their
        // clipped bounding box, which is empty.
        seg(w[0], w[1]);
    }
    for (i, &a) in cov.iter().enumerate() {
        if a <= 0.0 {
            continue;
        }
        let (px, py) = ((i % cw) as i64 + clip.x, (i / cw) as i64 + clip.y);
        if px < 0 || py < 0 || px >= img.width() as i64 || py >= img.height() as i64 {
            continue;
        }
        let p = img.get_pixel_mut(px as u32, py as u32);
        for k in 0..3 {
            p[k] = (p[k] as f32 * (1.0 - a) + c[k] as f32 * a).round() as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_numbers() {
        assert_eq!(format_compact(0.0), "0");
        assert_eq!(format_compact(1234.0), "1.23k");
        assert_eq!(format_compact(1200.0), "1.2k");
        assert_eq!(format_compact(0.0034), "3.4e-3");
        assert_eq!(format_compact(12.5), "12.5");
        assert_eq!(format_compact(-0.25), "-0.25");
        assert_eq!(format_compact(3.4e6), "3.4M");
        assert_eq!(format_compact(999_999.0), "1M");
        assert_eq!(format_compact(f64::NAN), "nan");
    }

    #[test]
    fn tick_labels() {
        assert_eq!(format_tick(0.15, 0.05, 0.0, 1.0), "0.15");
        assert_eq!(format_tick(2000.0, 1000.0, 0.0, 10000.0), "2k");
        assert_eq!(format_tick(2500.0, 500.0, 0.0, 10000.0), "2.5k");
        assert_eq!(format_tick(0.0, 0.5, -1.0, 1.0), "0");
        assert_eq!(format_tick(0.004, 0.001, 0.0, 0.005), "4e-3");
        let (t, s) = nice_ticks(0.0, 10.0, 4);
        assert_eq!(s, 2.0);
        assert_eq!(t, vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
    }

    #[test]
    fn moving_average_is_centred() {
        let pts: Vec<(f64, f64)> = (0..5).map(|i| (i as f64, i as f64)).collect();
        let m = moving_average(&pts, 3);
        assert_eq!(m, vec![0.5, 1.0, 2.0, 3.0, 3.5]);
        assert!(moving_average(&pts, 1).is_empty());
    }
}
