pub mod features;
pub mod setup;
pub mod train;
