//! Times candidate building blocks for a small, fast generator (issue 13) at the sizes it would
//! run at for a 512x512 photo: 1/4 resolution (128x128) and 1/8 (64x64). Small convnets run far
//! below the GFLOP/s that VGG reaches, and libtorch's CPU kernels differ a lot between conv
//! kinds and memory layouts, so the architecture is picked from these figures, not from MACs.
//!
//!   cargo run --release -p stylize-model --example layers -- [--iters N] [--threads T] [--quick]
//!
//! Each block runs without gradients on a seeded random input; the median of `--iters` timed
//! runs (after 2 warm-up runs) is reported with its GFLOP (2 x MACs) and GFLOP/s, in f32 and in
//! bf16 (CPU autocast), with NCHW tensors and with channels-last strides (an NHWC buffer seen as
//! NCHW, which is how PyTorch marks channels-last: tch 0.26 has no memory-format API).
//! Prints a Markdown table.

use std::time::Instant;

use stylize_model::{with_precision, Precision};
use tch::{Device, Kind, Tensor};

struct Opts {
    iters: usize,
    threads: i32,
    quick: bool,
}

fn parse() -> Opts {
    let mut o = Opts { iters: 15, threads: 2, quick: false };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--iters" => o.iters = val().parse().expect("--iters N"),
            "--threads" => o.threads = val().parse().expect("--threads T"),
            "--quick" => o.quick = true,
            other => panic!("unknown argument {other}"),
        }
    }
    o
}

/// NHWC memory with NCHW shape: what `x.contiguous(memory_format=torch.channels_last)` makes.
fn channels_last(x: &Tensor) -> Tensor {
    x.permute([0, 2, 3, 1]).contiguous().permute([0, 3, 1, 2])
}

/// A conv's weights and bias, seeded; `layout_last` puts the weights in channels-last strides too.
struct Conv {
    w: Tensor,
    b: Tensor,
    stride: i64,
    groups: i64,
}

impl Conv {
    fn new(cin: i64, cout: i64, k: i64, stride: i64, groups: i64, last: bool) -> Conv {
        let w = Tensor::randn([cout, cin / groups, k, k], (Kind::Float, Device::Cpu)) * 0.05;
        let w = if last { channels_last(&w) } else { w };
        Conv { w, b: Tensor::zeros([cout], (Kind::Float, Device::Cpu)), stride, groups }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let k = self.w.size()[2];
        x.conv2d(&self.w, Some(&self.b), [self.stride, self.stride], [k / 2, k / 2], [1, 1], self.groups)
    }

    /// MACs for an input of `h` x `w`.
    fn macs(&self, h: i64, w: i64) -> f64 {
        let s = self.w.size();
        let (oh, ow) = (h / self.stride, w / self.stride);
        (s[0] * s[1] * s[2] * s[3] * oh * ow) as f64
    }
}

/// One candidate block: a name, its input (C, H, W) and the layers it runs.
struct Block {
    name: String,
    input: (i64, i64, i64),
    run: Box<dyn Fn(&Tensor) -> Tensor>,
    gflop: f64,
}

fn blocks(last: bool, quick: bool) -> Vec<Block> {
    let mut v = Vec::new();
    let sizes: &[(i64, &[i64])] = if quick { &[(128, &[32]), (64, &[64])] } else { &[(128, &[32, 48, 64]), (64, &[64, 96, 128])] };
    for &(s, chans) in sizes {
        for &c in chans {
            let res = format!("{s}x{s}");
            let dense = Conv::new(c, c, 3, 1, 1, last);
            let gflop = 2.0 * dense.macs(s, s) / 1e9;
            v.push(Block { name: format!("dense 3x3 {c}->{c} @ {res}"), input: (c, s, s), gflop, run: Box::new(move |x| dense.forward(x).relu()) });
            let g = 4;
            let grouped = Conv::new(c, c, 3, 1, g, last);
            let gflop = 2.0 * grouped.macs(s, s) / 1e9;
            v.push(Block { name: format!("grouped(4) 3x3 {c}->{c} @ {res}"), input: (c, s, s), gflop, run: Box::new(move |x| grouped.forward(x).relu()) });
            let (dw, pw) = (Conv::new(c, c, 3, 1, c, last), Conv::new(c, c, 1, 1, 1, last));
            let gflop = 2.0 * (dw.macs(s, s) + pw.macs(s, s)) / 1e9;
            v.push(Block {
                name: format!("depthwise 3x3 + 1x1 {c}->{c} @ {res}"),
                input: (c, s, s),
                gflop,
                run: Box::new(move |x| pw.forward(&dw.forward(x).relu()).relu()),
            });
            let one = Conv::new(c, c, 1, 1, 1, last);
            let gflop = 2.0 * one.macs(s, s) / 1e9;
            v.push(Block { name: format!("1x1 {c}->{c} @ {res}"), input: (c, s, s), gflop, run: Box::new(move |x| one.forward(x).relu()) });
            // Upsampling x2 to C/2 channels: nearest + 3x3 at the high resolution, against a 3x3
            // to 4 x C/2 channels at the low resolution + pixel shuffle (the same output size).
            let half = c / 2;
            let near = Conv::new(c, half, 3, 1, 1, last);
            let gflop = 2.0 * near.macs(2 * s, 2 * s) / 1e9;
            v.push(Block {
                name: format!("up: nearest x2 + 3x3 {c}->{half} @ {res}"),
                input: (c, s, s),
                gflop,
                run: Box::new(move |x| near.forward(&x.upsample_nearest2d([2 * s, 2 * s], None, None)).relu()),
            });
            let bil = Conv::new(c, half, 3, 1, 1, last);
            let gflop = 2.0 * bil.macs(2 * s, 2 * s) / 1e9;
            v.push(Block {
                name: format!("up: bilinear x2 + 3x3 {c}->{half} @ {res}"),
                input: (c, s, s),
                gflop,
                run: Box::new(move |x| bil.forward(&x.upsample_bilinear2d([2 * s, 2 * s], false, None, None)).relu()),
            });
            let shuf = Conv::new(c, 4 * half, 3, 1, 1, last);
            let gflop = 2.0 * shuf.macs(s, s) / 1e9;
            v.push(Block {
                name: format!("up: 3x3 {c}->{} + pixel shuffle @ {res}", 4 * half),
                input: (c, s, s),
                gflop,
                run: Box::new(move |x| shuf.forward(x).pixel_shuffle(2).relu()),
            });
            // Downsampling x2 to 2C channels.
            let strided = Conv::new(c, 2 * c, 3, 2, 1, last);
            let gflop = 2.0 * strided.macs(s, s) / 1e9;
            v.push(Block { name: format!("down: 3x3 stride 2 {c}->{} @ {res}", 2 * c), input: (c, s, s), gflop, run: Box::new(move |x| strided.forward(x).relu()) });
        }
    }
    v
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn time(block: &Block, x: &Tensor, precision: Precision, iters: usize) -> f64 {
    tch::no_grad(|| {
        with_precision(precision, || {
            for _ in 0..2 {
                let _ = (block.run)(x);
            }
            let times: Vec<f64> = (0..iters)
                .map(|_| {
                    let t = Instant::now();
                    let y = (block.run)(x);
                    let _ = std::hint::black_box(y.size());
                    t.elapsed().as_secs_f64() * 1000.0
                })
                .collect();
            median(times)
        })
    })
}

fn main() {
    let o = parse();
    tch::set_num_threads(o.threads);
    tch::manual_seed(0);
    println!("| block | GFLOP | f32 NCHW ms | f32 NHWC ms | bf16 NCHW ms | bf16 NHWC ms | best GFLOP/s |");
    println!("|---|---|---|---|---|---|---|");
    let (nchw, nhwc) = (blocks(false, o.quick), blocks(true, o.quick));
    for (a, b) in nchw.iter().zip(&nhwc) {
        let (c, h, w) = a.input;
        let x = Tensor::rand([1, c, h, w], (Kind::Float, Device::Cpu));
        let xl = channels_last(&x);
        let ms = [
            time(a, &x, Precision::F32, o.iters),
            time(b, &xl, Precision::F32, o.iters),
            time(a, &x, Precision::Bf16, o.iters),
            time(b, &xl, Precision::Bf16, o.iters),
        ];
        let best = ms.iter().copied().fold(f64::INFINITY, f64::min);
        println!(
            "| {} | {:.3} | {:.2} | {:.2} | {:.2} | {:.2} | {:.1} |",
            a.name,
            a.gflop,
            ms[0],
            ms[1],
            ms[2],
            ms[3],
            a.gflop / (best / 1000.0)
        );
    }
}
