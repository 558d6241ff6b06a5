//! A real server on an ephemeral loopback port, with the real VGG16 and the shipped model.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use stylize_model::load_network;
use stylize_pipeline::{Method, Stylizer};
use stylize_server::{AppState, Gallery, Server, ServerConfig, StylizerFactory};
use tch::Device;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub fn data(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples").join(sub)
}

pub fn photo(name: &str) -> Vec<u8> {
    std::fs::read(data(&format!("photos/{name}"))).expect("photo")
}

pub fn painting(name: &str) -> Vec<u8> {
    std::fs::read(data(&format!("paintings/{name}"))).expect("painting")
}

pub const CAT: &str = "cat.jpg";
pub const WAVE: &str = "hokusai_great_wave.jpg";
pub const GALLERY: [&str; 3] = [
    WAVE,
    "durer_lion.jpg",
    "bazille_ramparts.jpg",
];
/// The id the gallery gives WAVE.
pub const WAVE_ID: &str = "hokusai-great-wave";

pub struct TestServer {
    pub url: String,
    pub state: Arc<AppState>,
    stop: Option<oneshot::Sender<()>>,
    done: JoinHandle<std::io::Result<()>>,
    _styles: tempfile::TempDir,
}

impl TestServer {
    /// Three paintings in the gallery; `config.addr` is replaced by an ephemeral port.
    pub async fn start(mut config: ServerConfig) -> TestServer {
        let styles = tempfile::tempdir().unwrap();
        for p in GALLERY {
            std::os::unix::fs::symlink(data(&format!("paintings/{p}")), styles.path().join(p)).unwrap();
        }
        let gallery = Gallery::load(styles.path(), config.style_size).expect("gallery");
        config.addr = "127.0.0.1:0".parse().unwrap();
        let server = Server::start(config, gallery, "default (test)".into(), factory()).await.expect("server starts");
        let url = format!("http://{}", server.local_addr());
        let state = server.state();
        let (stop, stopped) = oneshot::channel::<()>();
        let done = tokio::spawn(server.run(async move {
            let _ = stopped.await;
        }));
        TestServer { url, state, stop: Some(stop), done, _styles: styles }
    }

    /// Graceful shutdown; returns what `Server::run` returned.
    pub async fn stop(mut self) -> std::io::Result<()> {
        let _ = self.stop.take().unwrap().send(());
        self.done.await.expect("server task")
    }

    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }
}

pub fn factory() -> Arc<StylizerFactory> {
    let model_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/default");
    Arc::new(move || {
        let vgg = stylize_weights::vgg16_path().map_err(|e| e.to_string())?;
        let (net, _) = load_network(&model_dir, &vgg, Device::Cpu).map_err(|e| e.to_string())?;
        Ok(Stylizer::new(Method::Model(net), Device::Cpu))
    })
}

/// A multipart form: `files` as (field, file name, bytes), `texts` as (field, value).
pub fn form(files: &[(&str, &str, Vec<u8>)], texts: &[(&str, &str)]) -> reqwest::multipart::Form {
    let mut f = reqwest::multipart::Form::new();
    for (field, name, bytes) in files {
        f = f.part(field.to_string(), reqwest::multipart::Part::bytes(bytes.clone()).file_name(name.to_string()));
    }
    for (field, value) in texts {
        f = f.text(field.to_string(), value.to_string());
    }
    f
}

pub async fn post(url: &str, form: reqwest::multipart::Form) -> reqwest::Response {
    reqwest::Client::new().post(url).multipart(form).send().await.expect("request")
}

/// The `error` message of a JSON error answer, after checking its status.
pub async fn expect_error(res: reqwest::Response, status: u16) -> String {
    assert_eq!(res.status().as_u16(), status, "status");
    assert_eq!(res.headers()["content-type"], "application/json");
    let body: serde_json::Value = res.json().await.expect("JSON error body");
    body["error"].as_str().expect("an error message").to_string()
}

pub fn decode(bytes: &[u8]) -> stylize_io::RgbImage {
    stylize_io::load_from_bytes(bytes, "answer", &stylize_io::Limits::default()).expect("an image").rgb
}
