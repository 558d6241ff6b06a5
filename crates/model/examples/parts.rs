// Times the parts of a training step in f32 and bf16 (a profiling aid).
use std::time::Instant;
use stylize_model::{with_precision, Decoder, DecoderConfig, Precision, Tap, Vgg16, discriminator::*};
use tch::{nn, Device, Kind, Tensor};

fn time<F: FnMut()>(name: &str, mut f: F) {
    f();
    let t = Instant::now();
    for _ in 0..3 { f(); }
    println!("{name:<40} {:>8.1} ms", t.elapsed().as_secs_f64() * 1000.0 / 3.0);
}

fn main() {
    let vgg = Vgg16::load(&stylize_weights::vgg16_path().unwrap(), Device::Cpu).unwrap();
    let crop: i64 = std::env::args().nth(1).map(|s| s.parse().unwrap()).unwrap_or(256);
    let vs = nn::VarStore::new(Device::Cpu);
    let dec = Decoder::new(vs.root(), &DecoderConfig::default());
    let dvs = nn::VarStore::new(Device::Cpu);
    let d = Discriminator::new(dvs.root(), &DiscriminatorConfig::default());
    let x = Tensor::rand([4, 3, crop, crop], (Kind::Float, Device::Cpu));
    let f = Tensor::rand([4, 512, crop / 8, crop / 8], (Kind::Float, Device::Cpu));
    for p in [Precision::F32, Precision::Bf16] {
        with_precision(p, || {
            time(&format!("{p:?} vgg relu4_1 fwd nograd"), || { tch::no_grad(|| vgg.feature(&x, Tap::Relu4_1)); });
            time(&format!("{p:?} vgg 4 taps fwd+bwd to input"), || {
                let xi = x.detach().set_requires_grad(true);
                let fs = vgg.features(&xi, &[Tap::Relu1_1, Tap::Relu2_1, Tap::Relu3_1, Tap::Relu4_1]);
                fs.iter().map(|t| t.to_kind(Kind::Float).mean(Kind::Float)).sum::<Tensor>().backward();
            });
            time(&format!("{p:?} decoder fwd+bwd"), || { dec.forward(&f).to_kind(Kind::Float).mean(Kind::Float).backward(); });
            time(&format!("{p:?} disc fwd+bwd"), || { d.forward(&x, true).iter().map(|t| t.mean(Kind::Float)).sum::<Tensor>().backward(); });
            time(&format!("{p:?} diffaugment"), || { stylize_model::augment::diff_augment(&x); });
        });
    }
}
