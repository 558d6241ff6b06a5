//! Shared by the model tests: the real VGG16 weights from the cache that `stylize setup` fills.
#![allow(dead_code)]

use stylize_model::Vgg16;
use tch::Device;

pub fn vgg() -> Vgg16 {
    let path = stylize_weights::vgg16_path().expect("cache dir");
    Vgg16::load(&path, Device::Cpu).unwrap_or_else(|e| panic!("{e} (these tests need the real weights)"))
}

pub fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}
