//! Checkpoints: the networks (the discriminator with its spectral-norm vectors) and the Adam
//! states in one safetensors file, plus the step and config as JSON. Written into a fresh
//! folder that then replaces the old one, so a kill at any moment leaves a whole checkpoint.
//! [`write`], [`read_meta`], [`read_tensors`] and [`restore`] hold that format for any run;
//! [`save`] and [`load`] are the adversarial trainer's, `distill` has its own pair on them.

use std::collections::HashMap;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use stylize_model::optim::Adam;
use tch::nn::VarStore;
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

/// A run's state as named tensors: each variable store's variables under its prefix
/// (`<prefix>.<name>`), then each optimiser's state under its own.
pub fn state(vars: &[(&str, &VarStore)], opts: &[(&str, &Adam)]) -> Vec<(String, Tensor)> {
    let mut named: Vec<(String, Tensor)> = Vec::new();
    for (prefix, vs) in vars {
        named.extend(vs.variables().into_iter().map(|(k, v)| (format!("{prefix}.{k}"), v)));
    }
    for (prefix, opt) in opts {
        named.extend(opt.state(prefix));
    }
    named
}

/// Copies what [`state`] wrote (read back as `map` from `dir`) into the variable stores and
/// optimisers under the same prefixes, checking every name and shape.
pub fn restore(dir: &Path, map: &HashMap<String, Tensor>, vars: &[(&str, &VarStore)], opts: &mut [(&str, &mut Adam)]) -> Result<(), TrainError> {
    let path = dir.join(STATE);
    let bad = |reason: String| TrainError::Checkpoint { path: path.clone(), reason };
    for (prefix, vs) in vars {
        for (k, v) in vs.variables() {
            let key = format!("{prefix}.{k}");
            let t = map.get(&key).ok_or_else(|| bad(format!("missing {key}")))?;
            if t.size() != v.size() {
                return Err(bad(format!("{key} has shape {:?}, the model needs {:?}", t.size(), v.size())));
            }
            tch::no_grad(|| v.shallow_clone().copy_(t));
        }
    }
    let get = |k: &str| map.get(k).map(|t| t.shallow_clone());
    for (prefix, opt) in opts.iter_mut() {
        opt.load_state(prefix, &get).map_err(bad)?;
    }
    Ok(())
}

pub fn save(trainer: &Trainer, dir: &Path) -> Result<(), TrainError> {
    let named = state(&[("g", &trainer.g.vs), ("d", &trainer.d_vs)], &[("opt_g", &trainer.opt_g), ("opt_d", &trainer.opt_d)]);
    write(dir, named, trainer.step, &trainer.cfg)
}

/// The config a checkpoint of the adversarial trainer was written with.
pub fn read_config(dir: &Path) -> Result<(TrainConfig, u64), TrainError> {
    read_meta(dir)
}

/// Restores weights, optimiser states and step into a trainer built with the same config.
pub fn load(trainer: &mut Trainer, dir: &Path) -> Result<(), TrainError> {
    let (_, step) = read_config(dir)?;
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
    let (vars, mut opts) = ([("g", &trainer.g.vs), ("d", &trainer.d_vs)], [("opt_g", &mut trainer.opt_g), ("opt_d", &mut trainer.opt_d)]);
    restore(dir, &map, &vars, &mut opts)?;
    trainer.step = step;
    Ok(())
}
