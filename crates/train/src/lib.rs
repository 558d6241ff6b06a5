//! Adversarial training of the stylize generator (`stylize train`).

pub mod checkpoint;
pub mod config;
pub mod data;
mod error;
pub mod log;
pub mod trainer;

pub use config::TrainConfig;
pub use error::TrainError;
pub use trainer::{StepLosses, Trainer};
