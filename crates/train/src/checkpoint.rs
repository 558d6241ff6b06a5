//! Checkpoints: the networks (the discriminator with its spectral-norm vectors) and the Adam
//! states in one safetensors file, plus the step and config as JSON. Written into a fresh
//! folder that then replaces the old one, so a kill at any moment leaves a whole checkpoint.
//! [`write`] and [`read`] hold that format for any run; [`save`] and [`load`] are the
//! adversarial trainer's, `distill` has its own pair on the same format.

use std::collections::HashMap;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tch::Tensor;

use crate::error::io;
use crate::{TrainConfig, TrainError, Trainer};

const STATE: &str = "state.safetensors";
const META: &str = "state.json";

#[derive(Serialize, Deserialize)]
struct Meta<C> {
    step: u64,
    config: C,
}

/// Writes `named` tensors, the step and the config as a whole checkpoint folder `dir`.
pub fn write<C: Serialize>(dir: &Path, mut named: Vec<(String, Tensor)>, step: u64, config: &C) -> Result<(), TrainError> {
    let tmp = dir.with_extension("tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    named.sort_by(|a, b| a.0.cmp(&b.0));
    Tensor::write_safetensors(&named, tmp.join(STATE))?;
    let meta = Meta { step, config };
    std::fs::write(tmp.join(META), serde_json::to_string_pretty(&meta).expect("serialisable")).map_err(io(&tmp))?;
    let old = dir.with_extension("old");
    let _ = std::fs::remove_dir_all(&old);
    if dir.exists() {
        std::fs::rename(dir, &old).map_err(io(dir))?;
    }
    std::fs::rename(&tmp, dir).map_err(io(dir))?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}

/// The config a checkpoint was written with, and its step (a resumed run keeps the config).
pub fn read_meta<C: DeserializeOwned>(dir: &Path) -> Result<(C, u64), TrainError> {
    let path = dir.join(META);
    if !path.exists() {
        return Err(TrainError::Checkpoint { path: dir.to_path_buf(), reason: "no checkpoint there (state.json missing)".into() });
    }
    let text = std::fs::read_to_string(&path).map_err(io(&path))?;
    let meta: Meta<C> = serde_json::from_str(&text).map_err(|e| TrainError::Checkpoint { path, reason: e.to_string() })?;
    Ok((meta.config, meta.step))
}

/// The checkpoint's tensors by name.
pub fn read_tensors(dir: &Path) -> Result<HashMap<String, Tensor>, TrainError> {
    let path = dir.join(STATE);
    let map = Tensor::read_safetensors(&path).map_err(|e| TrainError::Checkpoint { path: path.clone(), reason: e.to_string() })?;
    Ok(map.into_iter().collect())
}

/// Copies `map[<prefix>.<name>]` into every variable of `vs`, checking shapes.
pub fn restore_vars(vs: &tch::nn::VarStore, prefix: &str, map: &HashMap<String, Tensor>, path: &Path) -> Result<(), TrainError> {
    let bad = |reason: String| TrainError::Checkpoint { path: path.to_path_buf(), reason };
    for (k, v) in vs.variables() {
        let key = format!("{prefix}.{k}");
        let t = map.get(&key).ok_or_else(|| bad(format!("missing {key}")))?;
        if t.size() != v.size() {
            return Err(bad(format!("{key} has shape {:?}, the model needs {:?}", t.size(), v.size())));
        }
        tch::no_grad(|| v.shallow_clone().copy_(t));
    }
    Ok(())
}

pub fn save(trainer: &Trainer, dir: &Path) -> Result<(), TrainError> {
    let mut named: Vec<(String, Tensor)> = Vec::new();
    named.extend(trainer.g.vs.variables().into_iter().map(|(k, v)| (format!("g.{k}"), v)));
    named.extend(trainer.d_vs.variables().into_iter().map(|(k, v)| (format!("d.{k}"), v)));
    named.extend(trainer.opt_g.state("opt_g"));
    named.extend(trainer.opt_d.state("opt_d"));
    write(dir, named, trainer.step, &trainer.cfg)
}

/// The config a checkpoint of the adversarial trainer was written with.
pub fn read_config(dir: &Path) -> Result<(TrainConfig, u64), TrainError> {
    read_meta(dir)
}

/// Restores weights, optimiser states and step into a trainer built with the same config.
pub fn load(trainer: &mut Trainer, dir: &Path) -> Result<(), TrainError> {
    let (_, step) = read_config(dir)?;
    let path = dir.join(STATE);
    let bad = |reason: String| TrainError::Checkpoint { path: path.clone(), reason };
    let mut map = read_tensors(dir)?;
    // Content skips added to a decoder trained without them (`[decoder] skips`): their convs,
    // and Adam's moments for them, start at zero, so the model resumes exactly as it was.
    for (k, v) in trainer.g.vs.variables() {
        if k.starts_with("decoder.skip") && !map.contains_key(&format!("g.{k}")) {
            for key in [format!("g.{k}"), format!("opt_g.m.{k}"), format!("opt_g.v.{k}")] {
                map.insert(key, v.zeros_like());
            }
        }
    }
    restore_vars(&trainer.g.vs, "g", &map, &path)?;
    restore_vars(&trainer.d_vs, "d", &map, &path)?;
    let get = |k: &str| map.get(k).map(|t| t.shallow_clone());
    trainer.opt_g.load_state("opt_g", &get).map_err(bad)?;
    trainer.opt_d.load_state("opt_d", &get).map_err(bad)?;
    trainer.step = step;
    Ok(())
}
