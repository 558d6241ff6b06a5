//! A model as shipped and loaded by `stylize run`: a folder holding the generator's weights
//! and a JSON description (which kind of generator, its architecture, how it was trained).

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use tch::{nn, Device, Tensor};

use crate::fast::{FastConfig, FastNet};
use crate::network::{FastNetwork, StyleNetwork, VggNetwork};
use crate::{DecoderConfig, Generator, ModelError, StyleCode, Vgg16};

pub const MODEL_WEIGHTS_FILE: &str = "generator.safetensors";
pub const MODEL_INFO_FILE: &str = "model.json";

/// Which generator a model folder holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// ImageNet VGG16 encoder, AdaIN and a trained decoder (`models/default`).
    #[default]
    Vgg,
    /// The small student distilled from a VGG16 model (`models/fast`).
    Fast,
}

impl std::fmt::Display for ModelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ModelKind::Vgg => "vgg",
            ModelKind::Fast => "fast",
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelInfo {
    /// Absent in folders written before there was a second kind: those are VGG16 models.
    #[serde(default)]
    pub kind: ModelKind,
    /// The decoder of a VGG16 model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decoder: Option<DecoderConfig>,
    /// The widths of a fast generator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fast: Option<FastConfig>,
    /// Steps trained, and the full training config (as JSON) for reproduction.
    pub steps: u64,
    pub train_config: serde_json::Value,
    pub stylize_version: String,
    /// The model this one learnt from (a fast generator's teacher, a fine-tune's start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// The paintings a fine-tune learnt (their style codes are in `collection.safetensors`):
    /// such a model stylizes without a painting given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection: Option<Collection>,
}

/// A fine-tuned model's own paintings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Collection {
    /// What outputs are named after (the paintings' folder).
    pub name: String,
    /// The paintings' file names, in the order of their codes.
    pub paintings: Vec<String>,
}

pub const COLLECTION_FILE: &str = "collection.safetensors";

/// A small picture of the collection (its first paintings), for the server's gallery.
pub const COLLECTION_THUMBNAIL: &str = "collection.jpg";

/// Writes each painting's style code (in the model's own terms), one row per painting.
pub fn save_collection(dir: &Path, codes: &[StyleCode]) -> Result<(), ModelError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let all = StyleCode::cat(&codes.iter().collect::<Vec<_>>());
    let mut named: Vec<(String, Tensor)> = Vec::new();
    for (l, (m, s)) in all.means.iter().zip(&all.stds).enumerate() {
        named.push((format!("means.{l}"), m.shallow_clone()));
        named.push((format!("stds.{l}"), s.shallow_clone()));
    }
    write_tensors_atomic(dir, COLLECTION_FILE, &named)
}

/// The collection's codes, one per painting (`info.collection` says how many).
pub fn load_collection(dir: &Path, info: &ModelInfo, device: Device) -> Result<Vec<StyleCode>, ModelError> {
    let path = dir.join(COLLECTION_FILE);
    let bad = |reason: String| ModelError::BadWeights { path: path.clone(), reason };
    let Some(collection) = &info.collection else { return Err(bad("model.json names no collection".into())) };
    let map: HashMap<String, Tensor> = Tensor::read_safetensors(&path).map_err(|e| bad(e.to_string()))?.into_iter().collect();
    let n = collection.paintings.len() as i64;
    let (mut means, mut stds) = (Vec::new(), Vec::new());
    for l in 0.. {
        match (map.get(&format!("means.{l}")), map.get(&format!("stds.{l}"))) {
            (Some(m), Some(s)) if m.size().first() == Some(&n) && s.size() == m.size() => {
                means.push(m.to_device(device));
                stds.push(s.to_device(device));
            }
            (None, None) if l > 0 => break,
            _ => return Err(bad(format!("level {l}: not {n} paintings' codes"))),
        }
    }
    let all = StyleCode { means, stds };
    Ok((0..n).map(|i| all.narrow(i, 1)).collect())
}

/// Writes a VGG16 model's weights and description into `dir` (each file atomically).
pub fn save_model(dir: &Path, g: &Generator, info: &ModelInfo) -> Result<(), ModelError> {
    save_weights(dir, &g.vs.variables().into_iter().collect::<Vec<_>>(), info)
}

/// Writes named weights (any kind) and the description into `dir` (each file atomically).
pub fn save_weights(dir: &Path, named: &[(String, Tensor)], info: &ModelInfo) -> Result<(), ModelError> {
    write_tensors_atomic(dir, MODEL_WEIGHTS_FILE, named)?;
    write_info(dir, info)
}

/// Writes `named` as the safetensors file `dir/file`: into a temporary name, then renamed.
fn write_tensors_atomic(dir: &Path, file: &str, named: &[(String, Tensor)]) -> Result<(), ModelError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    // tch picks the file format from the extension: the temporary name must end in .safetensors.
    let tmp = dir.join(format!(".tmp.{file}"));
    Tensor::write_safetensors(named, &tmp)?;
    std::fs::rename(&tmp, dir.join(file)).map_err(io(dir))
}

fn write_info(dir: &Path, info: &ModelInfo) -> Result<(), ModelError> {
    write_atomic(&dir.join(MODEL_INFO_FILE), serde_json::to_string_pretty(info).expect("serialisable").as_bytes())
}

/// A model folder's description. An unknown `kind`, or a kind without its architecture, is
/// an error naming model.json.
pub fn read_info(dir: &Path) -> Result<ModelInfo, ModelError> {
    let info_path = dir.join(MODEL_INFO_FILE);
    if !info_path.exists() {
        return Err(ModelError::ModelMissing { path: dir.to_path_buf() });
    }
    let text = std::fs::read_to_string(&info_path).map_err(io(&info_path))?;
    let bad = |reason: String| ModelError::BadWeights { path: info_path.clone(), reason };
    let info: ModelInfo = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    match info.kind {
        ModelKind::Vgg if info.decoder.is_none() => Err(bad("kind \"vgg\" needs a \"decoder\" entry".into())),
        ModelKind::Fast if info.fast.is_none() => Err(bad("kind \"fast\" needs a \"fast\" entry".into())),
        _ => Ok(info),
    }
}

/// Loads a VGG16 model folder's decoder (training, distillation's teacher).
pub fn load_model(dir: &Path, device: Device) -> Result<(Generator, ModelInfo), ModelError> {
    let info = read_info(dir)?;
    match load_weights(dir, &info, device)? {
        Weights::Vgg(g) => Ok((g, info)),
        Weights::Fast(_) => Err(ModelError::BadWeights { path: dir.to_path_buf(), reason: format!("is a {} model; a VGG16 model is needed here", info.kind) }),
    }
}

/// Loads a fast model folder's student (`stylize distill --from` starts from it).
pub fn load_fast_model(dir: &Path, device: Device) -> Result<(FastNetwork, ModelInfo), ModelError> {
    let info = read_info(dir)?;
    match load_weights(dir, &info, device)? {
        Weights::Fast(f) => Ok((f, info)),
        Weights::Vgg(_) => Err(ModelError::BadWeights { path: dir.to_path_buf(), reason: format!("is a {} model; a fast model is needed here", info.kind) }),
    }
}

/// A model folder's trained weights, of its kind (VGG16 itself not loaded).
enum Weights {
    Vgg(Generator),
    Fast(FastNetwork),
}

/// The weights `info` describes, checked against it.
fn load_weights(dir: &Path, info: &ModelInfo, device: Device) -> Result<Weights, ModelError> {
    let path = dir.join(MODEL_WEIGHTS_FILE);
    Ok(match info.kind {
        ModelKind::Vgg => Weights::Vgg(Generator::load(&path, info.decoder.expect("read_info checked"), device)?),
        ModelKind::Fast => {
            let vs = nn::VarStore::new(device);
            let net = FastNet::new(&vs.root(), info.fast.expect("read_info checked"));
            load_fast_weights(&vs, &path)?;
            crate::fast::weights_channels_last(&vs);
            Weights::Fast(FastNetwork { vs, net })
        }
    })
}

/// Reads a model folder's description and weights without keeping them or loading VGG16: a
/// bad folder fails here, before a server listens.
pub fn check_model(dir: &Path) -> Result<ModelInfo, ModelError> {
    let info = read_info(dir)?;
    load_weights(dir, &info, Device::Cpu)?;
    Ok(info)
}

/// Loads a model folder of any kind behind the one interface. `vgg16` (the converted VGG16
/// weights) is read only if the model uses VGG16.
pub fn load_network(dir: &Path, vgg16: &Path, device: Device) -> Result<(Box<dyn StyleNetwork>, ModelInfo), ModelError> {
    let info = read_info(dir)?;
    let net: Box<dyn StyleNetwork> = match load_weights(dir, &info, device)? {
        Weights::Vgg(generator) => Box::new(VggNetwork { generator, vgg: Vgg16::load(vgg16, device)? }),
        Weights::Fast(fast) => Box::new(fast),
    };
    Ok((net, info))
}

/// Fills a fast generator's variables (all but the training-only feature heads) from a
/// weights file, which must hold exactly those, each of the right shape.
fn load_fast_weights(vs: &nn::VarStore, path: &Path) -> Result<(), ModelError> {
    let bad = |reason: String| ModelError::BadWeights { path: path.to_path_buf(), reason };
    if !path.exists() {
        return Err(bad("missing (a model folder holds model.json and generator.safetensors)".into()));
    }
    let mut file: HashMap<String, Tensor> = Tensor::read_safetensors(path).map_err(|e| bad(e.to_string()))?.into_iter().collect();
    for (name, var) in vs.variables() {
        if name.starts_with("heads.") {
            continue;
        }
        let t = file.remove(&name).ok_or_else(|| bad(format!("no tensor {name}: these are not the weights of a fast generator with this model.json's widths")))?;
        if t.size() != var.size() {
            return Err(bad(format!("{name} has shape {:?}, model.json's widths need {:?}", t.size(), var.size())));
        }
        tch::no_grad(|| var.shallow_clone().copy_(&t));
    }
    if let Some(extra) = file.keys().find(|k| !k.starts_with("heads.")) {
        return Err(bad(format!("unexpected tensor {extra}: not a fast generator's weights")));
    }
    Ok(())
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ModelError + '_ {
    move |source| ModelError::Io { path: path.to_path_buf(), source }
}

pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ModelError> {
    let tmp = path.with_file_name(format!(".{}.tmp", path.file_name().and_then(|n| n.to_str()).unwrap_or("file")));
    std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}
