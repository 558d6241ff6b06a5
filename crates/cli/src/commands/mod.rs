pub mod eval;
pub mod features;
pub mod run;
pub mod setup;
pub mod train;
