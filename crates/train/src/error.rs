use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("{}: {reason}", path.display())]
    Folder { path: PathBuf, reason: String },
    #[error("{}: bad config: {reason}", path.display())]
    Config { path: PathBuf, reason: String },
    #[error("{}: cannot resume: {reason}", path.display())]
    Checkpoint { path: PathBuf, reason: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Model(#[from] stylize_model::ModelError),
    #[error(transparent)]
    Image(#[from] stylize_io::ImageError),
    #[error(transparent)]
    Torch(#[from] tch::TchError),
}

pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Io { path: path.to_path_buf(), source }
}
