//! Behaviour of the public drawing API.

use stylize_report::image::{Rgb, RgbImage};
use stylize_report::*;

const RED: Rgb<u8> = Rgb([255, 0, 0]);
const BLUE: Rgb<u8> = Rgb([0, 0, 255]);
const GREEN: Rgb<u8> = Rgb([0, 200, 0]);

fn solid(w: u32, h: u32, c: Rgb<u8>) -> RgbImage {
    RgbImage::from_pixel(w, h, c)
}

fn close(a: Rgb<u8>, b: Rgb<u8>, tol: i32) -> bool {
    (0..3).all(|k| (a[k] as i32 - b[k] as i32).abs() <= tol)
}

#[test]
fn sheet_size_without_labels() {
    let opts = SheetOptions {
        cell: 50,
        gap: 4,
        margin: 8,
        ..Default::default()
    };
    let grid = vec![vec![None, None, None], vec![None, None, None]];
    let img = contact_sheet(&grid, &opts);
    // 2*8 + 3*50 + 2*4 by 2*8 + 2*50 + 1*4
    assert_eq!(img.dimensions(), (174, 120));
}

#[test]
fn sheet_size_with_labels_and_title() {
    let opts = SheetOptions {
        cell: 50,
        gap: 4,
        margin: 8,
        label_scale: 1,
        title_scale: 2,
        col_label_lines: 2,
        row_label_width: 60,
        col_labels: vec!["a".into(), "b".into(), "c".into()],
        row_labels: vec!["r0".into(), "r1".into()],
        title: Some("Title".into()),
        ..Default::default()
    };
    let grid = vec![vec![None, None, None], vec![None, None]];
    let img = contact_sheet(&grid, &opts);
    // width: 2*8 + (60 + 4) + 3*50 + 2*4 = 238
    // height: 2*8 + (10*2 + 8) + (2*10*1 + 4) + 2*50 + 4 = 172
    assert_eq!(img.dimensions(), (238, 172));
}

#[test]
fn empty_grid_is_a_small_valid_image() {
    let img = contact_sheet(&[], &SheetOptions::default());
    assert!(img.width() >= 1 && img.height() >= 1);
    assert!(img.width() <= 64 && img.height() <= 64);
}

#[test]
fn red_cell_is_letterboxed_on_background() {
    let opts = SheetOptions {
        cell: 100,
        gap: 4,
        margin: 10,
        ..Default::default()
    };
    let bg = opts.background;
    // 2:1 image: fitted to 100x50, so rows 0..25 and 75..100 of the cell are letterbox.
    let grid = vec![vec![Some(solid(200, 100, RED))]];
    let img = contact_sheet(&grid, &opts);
    assert_eq!(img.dimensions(), (120, 120));
    let (cx, cy) = (10, 10);
    assert!(close(*img.get_pixel(cx + 50, cy + 50), RED, 2));
    assert_eq!(*img.get_pixel(cx + 50, cy + 5), bg);
    assert_eq!(*img.get_pixel(cx + 50, cy + 95), bg);
    assert!(close(*img.get_pixel(cx + 2, cy + 50), RED, 2));
    // Tall image: letterbox left and right instead.
    let grid = vec![vec![Some(solid(30, 90, RED))]];
    let img = contact_sheet(&grid, &opts);
    assert!(close(*img.get_pixel(cx + 50, cy + 50), RED, 2));
    assert_eq!(*img.get_pixel(cx + 5, cy + 50), bg);
    assert_eq!(*img.get_pixel(cx + 95, cy + 50), bg);
}

#[test]
fn missing_cell_draws_a_cross() {
    let opts = SheetOptions {
        cell: 40,
        gap: 2,
        margin: 0,
        ..Default::default()
    };
    let img = contact_sheet(&[vec![None]], &opts);
    assert_eq!(*img.get_pixel(20, 20), opts.missing_color);
    assert_eq!(*img.get_pixel(10, 10), opts.missing_color);
    assert_eq!(*img.get_pixel(20, 10), opts.background);
}

#[test]
fn header_sheet_layout() {
    let opts = SheetOptions {
        cell: 40,
        gap: 4,
        margin: 6,
        ..Default::default()
    };
    let photos = vec![solid(40, 40, RED), solid(40, 30, RED)];
    let styles = vec![solid(40, 40, BLUE)];
    let results = vec![vec![solid(40, 40, GREEN)]]; // photo 1 has no result
    let img = header_sheet(&photos, &styles, &results, &opts);
    let step = 44;
    // 3 rows x 2 columns.
    assert_eq!(img.dimensions(), (12 + 2 * 40 + 4, 12 + 3 * 40 + 2 * 4));
    let at = |r: u32, c: u32| *img.get_pixel(6 + c * step + 20, 6 + r * step + 20);
    assert_eq!(at(0, 0), opts.background, "corner is blank");
    assert!(close(at(0, 1), BLUE, 2), "style in row 0");
    assert!(close(at(1, 0), RED, 2), "photo in column 0");
    assert!(close(at(2, 0), RED, 2), "photo in column 0");
    assert!(close(at(1, 1), GREEN, 2), "result at (photo 0, style 0)");
    assert_eq!(at(2, 1), opts.missing_color, "missing result has a cross");
}

#[test]
fn header_sheet_labels_shift_past_header() {
    let opts = SheetOptions {
        cell: 40,
        gap: 4,
        margin: 6,
        col_labels: vec!["style".into()],
        row_labels: vec!["photo".into()],
        ..Default::default()
    };
    let img = header_sheet(&[solid(8, 8, RED)], &[solid(8, 8, BLUE)], &[], &opts);
    let w = 12 + opts.row_label_width + 4 + 2 * 40 + 4;
    let h = 12 + opts.col_label_lines * LINE_H * opts.label_scale + 4 + 2 * 40 + 4;
    assert_eq!(img.dimensions(), (w, h));
    // The column label sits over column 1 (the style), not over the blank corner.
    let gx = 6 + opts.row_label_width + 4;
    let label_row = 6 + opts.col_label_lines * LINE_H * opts.label_scale - 4;
    let dark_in = |x0: u32, x1: u32| {
        (6..label_row).any(|y| (x0..x1).any(|x| *img.get_pixel(x, y) == opts.text_color))
    };
    assert!(!dark_in(gx, gx + 40));
    assert!(dark_in(gx + 44, gx + 84));
}

#[test]
fn text_changes_only_pixels_in_its_box() {
    let bg = Rgb([250, 250, 250]);
    let ink = Rgb([10, 20, 30]);
    for (text, scale) in [("Hello, gy(x)=42%", 2), ("a\nbc_/", 3), ("W", 1)] {
        let mut img = RgbImage::from_pixel(200, 100, bg);
        let (x, y) = (7, 11);
        draw_text(&mut img, x, y, text, scale, ink);
        let (w, h) = (text_width(text, scale), text_height(text, scale));
        let mut inked = 0;
        for (px, py, p) in img.enumerate_pixels() {
            let inside = px >= x as u32 && px < x as u32 + w && py >= y as u32 && py < y as u32 + h;
            if *p != bg {
                assert!(inside, "{text:?}: pixel ({px},{py}) outside {w}x{h} box");
                inked += 1;
            }
        }
        assert!(inked > 0);
        // The box is tight horizontally: ink touches the first and last column.
        let col_has_ink = |cx: u32| (0..100).any(|py| *img.get_pixel(cx, py) != bg);
        assert!(col_has_ink(x as u32) || text.starts_with('a'));
        assert!(col_has_ink(x as u32 + w - 1) || text.contains('\n'));
    }
}

#[test]
fn text_is_clipped_at_edges() {
    let mut img = RgbImage::new(10, 10);
    draw_text(&mut img, -5, -3, "Clip me", 2, Rgb([255, 255, 255]));
    draw_text(&mut img, 8, 8, "edge", 4, Rgb([255, 255, 255]));
    assert_eq!(text_width("", 3), 0);
}

fn decreasing(n: usize) -> Vec<(f64, f64)> {
    (0..n)
        .map(|i| {
            let noise = ((i * 7919) % 13) as f64 / 13.0 - 0.5;
            (
                i as f64 * 10.0,
                5.0 * (-(i as f64) / 150.0).exp() + 0.5 + 0.3 * noise,
            )
        })
        .collect()
}

#[test]
fn plot_size() {
    let opts = PlotOptions::default();
    let s = vec![
        Series::new("a", decreasing(50)),
        Series::new("b", decreasing(10)),
    ];
    let img = loss_plot(&s, &opts);
    assert_eq!(img.dimensions(), (opts.width, 2 * opts.panel_height));
    let titled = PlotOptions {
        title: Some("run".into()),
        ..PlotOptions::default()
    };
    let img = loss_plot(&s, &titled);
    assert_eq!(
        img.dimensions(),
        (opts.width, 2 * LINE_H + 8 + 2 * opts.panel_height)
    );
}

#[test]
fn decreasing_series_is_drawn_high_left_low_right() {
    for log_y in [false, true] {
        let opts = PlotOptions {
            log_y,
            ..PlotOptions::default()
        };
        let img = loss_plot(&[Series::new("loss_g", decreasing(600))], &opts);
        let strong = opts.smooth_color;
        // Mean row of the strong (moving average) colour in the left and right
        // fifths of the image, below the panel title.
        let mean_y = |x0: u32, x1: u32| {
            let (mut sum, mut n) = (0u64, 0u64);
            for x in x0..x1 {
                for y in 40..img.height() {
                    if *img.get_pixel(x, y) == strong {
                        sum += y as u64;
                        n += 1;
                    }
                }
            }
            assert!(n > 0, "no strong-colour pixels in columns {x0}..{x1}");
            sum as f64 / n as f64
        };
        let w = img.width();
        let (left, right) = (mean_y(0, w / 5), mean_y(4 * w / 5, w));
        assert!(
            left + 40.0 < right,
            "log_y={log_y}: left {left} right {right}"
        );
    }
}

#[test]
fn non_finite_values_do_not_panic() {
    let mut pts = decreasing(100);
    pts[3].1 = f64::NAN;
    pts[10].1 = f64::INFINITY;
    pts[20].0 = f64::NAN;
    let series = vec![
        Series::new("mixed", pts),
        Series::new("all nan", vec![(0.0, f64::NAN), (1.0, f64::NAN)]),
        Series::new("empty", vec![]),
        Series::new("single", vec![(5.0, 1.0)]),
        Series::new("flat", vec![(0.0, 2.0), (1.0, 2.0), (2.0, 2.0)]),
        Series::new("negative log", vec![(0.0, -1.0), (1.0, 0.0), (2.0, 3.0)]),
    ];
    for log_y in [false, true] {
        let opts = PlotOptions {
            log_y,
            ..PlotOptions::default()
        };
        let img = loss_plot(&series, &opts);
        assert_eq!(img.dimensions(), (900, 6 * 180));
    }
    let tiny = PlotOptions {
        width: 3,
        panel_height: 2,
        smooth: 0,
        ..PlotOptions::default()
    };
    let img = loss_plot(&series, &tiny);
    assert_eq!(img.dimensions(), (3, 12));
}

#[test]
fn empty_series_list_gives_small_valid_image() {
    let img = loss_plot(&[], &PlotOptions::default());
    assert_eq!(img.width(), 900);
    assert!(img.height() >= 1 && img.height() <= 64);
}

/// Writes example images for a human look: a header sheet from real data and a
/// plot of synthetic GAN-like losses.
#[test]
fn example_images() {
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/../../samples");
    let load = |p: &str| image::open(format!("{data}/{p}")).ok().map(|i| i.to_rgb8());
    let cat = load("photos/cat.jpg");
    let wave = load(
        "paintings/hokusai_great_wave.jpg",
    );
    let (Some(cat), Some(wave)) = (cat, wave) else {
        eprintln!("example data not found under {data}; skipping the example sheet");
        return;
    };
    let dir = std::env::temp_dir();
    let dim = |im: &RgbImage| {
        let mut o = im.clone();
        for p in o.pixels_mut() {
            for k in 0..3 {
                p[k] = (p[k] as u16 * 3 / 5) as u8;
            }
        }
        o
    };
    let gray = image::imageops::grayscale(&cat);
    let gray = image::DynamicImage::ImageLuma8(gray).to_rgb8();
    let opts = SheetOptions {
        title: Some("Evaluation: photos x paintings (step 12000)".into()),
        col_labels: vec![
            "Katsushika_Hokusai_The_Great_Wave_off_Kanagawa_1823_1829".into(),
            "grayscale (test)".into(),
        ],
        row_labels: vec!["explore_farm_animals_cat".into(), "darker cat".into()],
        ..Default::default()
    };
    let sheet = header_sheet(
        &[cat.clone(), dim(&cat)],
        &[wave.clone(), gray.clone()],
        &[vec![dim(&wave), gray.clone()], vec![cat.clone()]],
        &opts,
    );
    sheet.save(dir.join("stylize_report_sheet.png")).unwrap();

    let n = 3000;
    // Deterministic uniform noise in [-0.5, 0.5) (splitmix64 of the index).
    let noise = |i: usize, k: usize| {
        let mut z = (i as u64 * 4 + k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) as f64 / u64::MAX as f64 - 0.5
    };
    let mut d_loss: Vec<(f64, f64)> = (0..n)
        .map(|i| {
            (
                i as f64 * 4.0,
                1.4 * (-(i as f64) / 400.0).exp() + 0.6 + 0.35 * noise(i, 1),
            )
        })
        .collect();
    d_loss[1500].1 = f64::NAN;
    let series = vec![
        Series::new(
            "loss_g_adv",
            (0..n)
                .map(|i| {
                    (
                        i as f64 * 4.0,
                        0.7 + 0.2 * (i as f64 / 300.0).sin() + 0.4 * noise(i, 2),
                    )
                })
                .collect(),
        ),
        Series::new("loss_d", d_loss),
        Series::new(
            "loss_content",
            (0..n)
                .map(|i| {
                    (
                        i as f64 * 4.0,
                        3400.0 * (-(i as f64) / 700.0).exp() + 120.0 + 80.0 * noise(i, 3),
                    )
                })
                .collect(),
        ),
        Series::new(
            "loss_style",
            (0..n)
                .map(|i| {
                    (
                        i as f64 * 4.0,
                        0.05 * (-(i as f64) / 500.0).exp() + 0.002 + 0.003 * noise(i, 4),
                    )
                })
                .collect(),
        ),
    ];
    let plot = loss_plot(
        &series,
        &PlotOptions {
            title: Some("training losses".into()),
            ..Default::default()
        },
    );
    plot.save(dir.join("stylize_report_plot.png")).unwrap();
    let logp = loss_plot(
        &series,
        &PlotOptions {
            log_y: true,
            ..Default::default()
        },
    );
    logp.save(dir.join("stylize_report_plot_log.png")).unwrap();
    let edge = vec![
        Series::new("all nan", vec![(0.0, f64::NAN), (1.0, f64::NAN)]),
        Series::new("single", vec![(5.0, 1.0)]),
        Series::new("flat", vec![(0.0, 2.0), (10.0, 2.0), (20.0, 2.0)]),
    ];
    let edgep = loss_plot(
        &edge,
        &PlotOptions {
            panel_height: 120,
            ..Default::default()
        },
    );
    edgep
        .save(dir.join("stylize_report_plot_edge.png"))
        .unwrap();

    // Font specimen: all glyphs at scales 1..3.
    let specimen = "ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789\nabcdefghijklmnopqrstuvwxyz\n.,:;-_/\\()[]{}%=+*<>!?'\"#&|^~@$`";
    let mut img = RgbImage::from_pixel(720, 220, Rgb([255, 255, 255]));
    let mut y = 4;
    for s in 1..=3 {
        draw_text(&mut img, 4, y, specimen, s, Rgb([0, 0, 0]));
        y += text_height(specimen, s) as i32 + 8;
    }
    img.save(dir.join("stylize_report_font.png")).unwrap();
}
