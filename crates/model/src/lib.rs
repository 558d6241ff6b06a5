//! The networks of stylize: the frozen ImageNet VGG16 encoder, and (built on it) the
//! generator, discriminator and losses.

pub mod autocast;
pub mod convert;
mod error;
pub mod vgg;

pub use error::ModelError;
pub use vgg::{Tap, Vgg16};
