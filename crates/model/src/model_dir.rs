//! A model as shipped and loaded by `stylize run`: a folder holding the decoder weights and a
//! JSON description (architecture, how it was trained).

use std::path::Path;

use serde::{Deserialize, Serialize};
use tch::Device;

use crate::{DecoderConfig, Generator, ModelError};

pub const MODEL_WEIGHTS_FILE: &str = "generator.safetensors";
pub const MODEL_INFO_FILE: &str = "model.json";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelInfo {
    pub decoder: DecoderConfig,
    /// Steps trained, and the full training config (as JSON) for reproduction.
    pub steps: u64,
    pub train_config: serde_json::Value,
    pub stylize_version: String,
}

/// Writes weights and description into `dir` (each file atomically).
pub fn save_model(dir: &Path, g: &Generator, info: &ModelInfo) -> Result<(), ModelError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    // tch picks the file format from the extension: the temporary name must end in .safetensors.
    let tmp = dir.join(format!(".tmp.{MODEL_WEIGHTS_FILE}"));
    g.save(&tmp)?;
    std::fs::rename(&tmp, dir.join(MODEL_WEIGHTS_FILE)).map_err(io(dir))?;
    write_atomic(&dir.join(MODEL_INFO_FILE), serde_json::to_string_pretty(info).expect("serialisable").as_bytes())
}

/// Loads a model folder.
pub fn load_model(dir: &Path, device: Device) -> Result<(Generator, ModelInfo), ModelError> {
    let info_path = dir.join(MODEL_INFO_FILE);
    if !info_path.exists() {
        return Err(ModelError::ModelMissing { path: dir.to_path_buf() });
    }
    let text = std::fs::read_to_string(&info_path).map_err(io(&info_path))?;
    let info: ModelInfo =
        serde_json::from_str(&text).map_err(|e| ModelError::BadWeights { path: info_path.clone(), reason: e.to_string() })?;
    let g = Generator::load(&dir.join(MODEL_WEIGHTS_FILE), info.decoder, device)?;
    Ok((g, info))
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ModelError + '_ {
    move |source| ModelError::Io { path: path.to_path_buf(), source }
}

pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ModelError> {
    let tmp = path.with_file_name(format!(".{}.tmp", path.file_name().and_then(|n| n.to_str()).unwrap_or("file")));
    std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}
