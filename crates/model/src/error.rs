use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("VGG16 weights not found at {}: run `stylize setup` first", path.display())]
    VggMissing { path: PathBuf },
    #[error("{}: {reason}", path.display())]
    BadWeights { path: PathBuf, reason: String },
    #[error("unknown layer '{0}': expected one of relu1_1, relu1_2, relu2_1, relu2_2, relu3_1, relu3_3, relu4_1, relu4_3, relu5_1")]
    UnknownTap(String),
    #[error("no model at {}: expected model.json and generator.safetensors (a folder written by `stylize train`)", path.display())]
    ModelMissing { path: PathBuf },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Torch(#[from] tch::TchError),
}
