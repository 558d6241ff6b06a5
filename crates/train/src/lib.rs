//! Training of the stylize generators: the adversarial trainer of the VGG16 model (`stylize
//! train`) and the distillation of the fast generator from it (`stylize distill`).

pub mod checkpoint;
pub mod config;
pub mod data;
pub mod distill;
mod error;
pub mod log;
pub mod pool;
pub mod trainer;

pub use config::{TomlConfig, TrainConfig};
pub use distill::{DistillConfig, Distiller};
pub use error::TrainError;
pub use trainer::{StepLosses, Trainer};
