//! The networks of stylize: the frozen ImageNet VGG16 encoder, AdaIN, the decoder that makes
//! the generator, the fast generator distilled from it, the multi-scale PatchGAN
//! discriminator, and the training losses.

pub mod adain;
pub mod augment;
pub mod autocast;
pub mod convert;
pub mod decoder;
pub mod discriminator;
mod error;
pub mod fast;
pub mod generator;
mod init;
pub mod losses;
pub mod model_dir;
pub mod network;
pub mod optim;
pub mod optimize;
pub mod semantic;
pub mod style;
pub mod tiling;
pub mod vgg;

pub use autocast::{with_precision, Precision};
pub use decoder::{Decoder, DecoderConfig};
pub use discriminator::{Discriminator, DiscriminatorConfig, DiscriminatorKind};
pub use error::ModelError;
pub use generator::Generator;
pub use model_dir::{load_model, load_network, save_model, Collection, ModelInfo, ModelKind};
pub use network::StyleNetwork;
pub use style::StyleCode;
pub use vgg::{Tap, Vgg16};
