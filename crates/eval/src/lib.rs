//! Quality metrics on VGG16 features, and the baselines they are compared with.
//!
//! - content distance: how far the output's relu3_1 and relu4_1 features are from the
//!   photo's, relative to the photo's own feature energy (0 = same content);
//! - ST-LPIPS: shift-tolerant LPIPS (Ghildyal & Liu 2022, VGG variant) from the output to the
//!   photo, the content term of ArtFID, with the published weights (`stlpips.rs`);
//! - style distances to the painting: relative distance of the per-channel mean/std at
//!   relu1_1..relu4_1 (what AdaIN matches), and relative Gram-matrix distance (what Gatys et
//!   al. match, so it is not what our model optimises: a fairer judge);
//! - reconstruction: the photo decoded at strength 0 against the photo, in 0..255 (error and
//!   brightness shift);
//! - the artist proxy: a classifier on style statistics, this artist against others
//!   (`classifier.rs`).

pub mod baselines;
pub mod classifier;
pub mod metrics;
pub mod stlpips;

pub use metrics::{content_distance, gram_distance, pooled_frechet, stat_distance, Reconstruction, Scores};
pub use stlpips::{StLpips, StLpipsError};
