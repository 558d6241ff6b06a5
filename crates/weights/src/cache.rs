use std::path::PathBuf;

use crate::WeightsError;

/// Where converted weights live: `$STYLIZE_HOME`, else `$XDG_CACHE_HOME/stylize`, else
/// `~/.cache/stylize`.
pub fn cache_dir() -> Result<PathBuf, WeightsError> {
    let non_empty = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(home) = non_empty("STYLIZE_HOME") {
        return Ok(home);
    }
    if let Some(xdg) = non_empty("XDG_CACHE_HOME") {
        return Ok(xdg.join("stylize"));
    }
    non_empty("HOME").map(|h| h.join(".cache").join("stylize")).ok_or(WeightsError::NoCacheDir)
}

/// The converted VGG16 weights (safetensors) inside the cache.
pub fn vgg16_path() -> Result<PathBuf, WeightsError> {
    Ok(cache_dir()?.join("vgg16.safetensors"))
}

/// The converted shift-tolerant LPIPS (VGG) weights (safetensors) inside the cache.
pub fn stlpips_vgg_path() -> Result<PathBuf, WeightsError> {
    Ok(cache_dir()?.join("stlpips_vgg.safetensors"))
}
