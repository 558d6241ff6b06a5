//! The shift-tolerant LPIPS weights (VGG16 variant, Ghildyal & Liu 2022, BSD-2-Clause) from the
//! registry package `stlpips-pytorch==0.0.2`: its legacy torch pickle is read in Rust
//! (`pickle.rs`) and written to the cache as safetensors under the package's own tensor names.

use std::collections::HashMap;
use std::path::Path;


use crate::pickle::read_legacy_state_dict;
use crate::vgg16::write_f32_safetensors;
use crate::WeightsError;

pub const STLPIPS_PACKAGE: &str = "stlpips-pytorch==0.0.2";
pub const STLPIPS_PATH_IN_WHEEL: &str = "stlpips_pytorch/weights/vST0.0/vgg_shift_tolerant.pth";
pub const STLPIPS_PTH_BYTES: u64 = 58_907_298;
pub const STLPIPS_PTH_SHA256: &str = "44597da68f49c1837c100ff52299050f274d102eb102e5837178c79be6f0e250";

/// Input scaling: `(x - shift) / scale`, each (1,3,1,1).
pub const STLPIPS_SCALING: [&str; 2] = ["scaling_layer.shift", "scaling_layer.scale"];

/// The 13 3x3 convolutions (module name, in, out), in order; `.weight` and `.bias` each.
/// Module indices follow the package's `vgg16(pad_more=True).features`, where every max-pool
/// became MaxPool(2, stride 1) + a blur pool: two modules, so later indices shift.
pub const STLPIPS_CONVS: [(&str, usize, usize); 13] = [
    ("net.slice1.0", 3, 64),
    ("net.slice1.2", 64, 64),
    ("net.slice2.6", 64, 128),
    ("net.slice2.8", 128, 128),
    ("net.slice3.12", 128, 256),
    ("net.slice3.14", 256, 256),
    ("net.slice3.16", 256, 256),
    ("net.slice4.20", 256, 512),
    ("net.slice4.22", 512, 512),
    ("net.slice4.24", 512, 512),
    ("net.slice5.28", 512, 512),
    ("net.slice5.30", 512, 512),
    ("net.slice5.32", 512, 512),
];

/// The blur-pool filters (C,1,3,3) at the start of slices 2-5: (tensor name, channels).
pub const STLPIPS_BLURS: [(&str, usize); 4] =
    [("net.slice2.5.filt", 64), ("net.slice3.11.filt", 128), ("net.slice4.19.filt", 256), ("net.slice5.27.filt", 512)];

/// The per-layer 1x1 "lin" convolutions (1,C,1,1), no bias: (tensor name, channels).
pub const STLPIPS_LINS: [(&str, usize); 5] = [
    ("lin0.model.1.weight", 64),
    ("lin1.model.1.weight", 128),
    ("lin2.model.1.weight", 256),
    ("lin3.model.1.weight", 512),
    ("lin4.model.1.weight", 512),
];

/// Every tensor the converted file holds, with its shape (37).
pub fn stlpips_tensors() -> Vec<(String, Vec<usize>)> {
    let mut all: Vec<(String, Vec<usize>)> = STLPIPS_SCALING.iter().map(|n| (n.to_string(), vec![1, 3, 1, 1])).collect();
    for (name, cin, cout) in STLPIPS_CONVS {
        all.push((format!("{name}.weight"), vec![cout, cin, 3, 3]));
        all.push((format!("{name}.bias"), vec![cout]));
    }
    all.extend(STLPIPS_BLURS.iter().map(|&(n, c)| (n.to_string(), vec![c, 1, 3, 3])));
    all.extend(STLPIPS_LINS.iter().map(|&(n, c)| (n.to_string(), vec![1, c, 1, 1])));
    all
}

/// Reads the package's `.pth` (legacy torch pickle), checks that it holds exactly the expected
/// tensors and shapes, and writes them as safetensors to `out`, atomically. Returns the number
/// of parameters written.
pub fn convert_stlpips_pth_to_safetensors(pth_path: &Path, pth_bytes: &[u8], out: &Path) -> Result<usize, WeightsError> {
    let bad = |reason: String| WeightsError::BadWeights { path: pth_path.to_path_buf(), reason };
    let tensors = read_legacy_state_dict(pth_bytes).map_err(|reason| WeightsError::NotTorchPickle { path: pth_path.to_path_buf(), reason })?;
    let mut by_name: HashMap<String, (Vec<usize>, Vec<f32>)> = HashMap::new();
    for t in tensors {
        if by_name.insert(t.name.clone(), (t.shape, t.data)).is_some() {
            return Err(bad(format!("tensor {} appears twice", t.name)));
        }
    }
    let expected = stlpips_tensors();
    let mut written: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::with_capacity(expected.len());
    for (name, shape) in expected {
        let (got, data) = by_name.remove(&name).ok_or_else(|| bad(format!("no tensor {name}: not the ST-LPIPS VGG file this setup expects")))?;
        if got != shape {
            return Err(bad(format!("tensor {name} has shape {got:?}, expected {shape:?}")));
        }
        written.push((name, shape, data.iter().flat_map(|v| v.to_le_bytes()).collect()));
    }
    if let Some(extra) = by_name.keys().min() {
        return Err(bad(format!("unexpected tensor {extra}: not the ST-LPIPS VGG file this setup expects")));
    }
    write_f32_safetensors(
        out,
        &written,
        format!("{STLPIPS_PACKAGE} {STLPIPS_PATH_IN_WHEEL} sha256={STLPIPS_PTH_SHA256}; shift-tolerant LPIPS (VGG), Ghildyal & Liu 2022, BSD-2-Clause"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thirty_seven_tensors_with_vgg16_conv_parameters() {
        let all = stlpips_tensors();
        assert_eq!(all.len(), 37);
        let convs: usize = STLPIPS_CONVS.iter().map(|(_, i, o)| o * i * 9 + o).sum();
        // The same conv stack as ImageNet VGG16 (crate::VGG16_CONVS), different weights.
        assert_eq!(convs, 14_714_688);
        let lins: usize = STLPIPS_LINS.iter().map(|(_, c)| c).sum();
        assert_eq!(lins, 1472);
    }

    #[test]
    fn a_pickle_that_is_not_the_stlpips_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let e = convert_stlpips_pth_to_safetensors(Path::new("x.pth"), b"\x80\x02K\x01.", &dir.path().join("o")).unwrap_err();
        assert!(e.to_string().starts_with("x.pth: not a legacy torch pickle"), "{e}");
        assert!(!dir.path().join("o").exists());
    }
}
