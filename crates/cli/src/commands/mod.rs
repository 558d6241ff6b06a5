pub mod features;
pub mod setup;
