//! `stylize serve` as a user starts it: the binary on an ephemeral port, plain HTTP/1.1 over a
//! socket, SIGTERM to stop. The API in depth is tested in stylize-server's tests.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

mod common;

fn data(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples").join(sub)
}

const WAVE: &str = "hokusai_great_wave.jpg";

/// One request on a fresh connection; returns (status, headers, body).
fn http(addr: &str, request: &[u8]) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    s.write_all(request).unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).unwrap();
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").expect("headers end");
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head, answer[split + 4..].to_vec())
}

fn multipart_post(addr: &str, path: &str, file_name: &str, image: &[u8], style: &str) -> (u16, String, Vec<u8>) {
    let b = "stylize-test-boundary";
    let mut body: Vec<u8> = Vec::new();
    body.extend(format!("--{b}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"{file_name}\"\r\nContent-Type: image/jpeg\r\n\r\n").as_bytes());
    body.extend_from_slice(image);
    body.extend(format!("\r\n--{b}\r\nContent-Disposition: form-data; name=\"style\"\r\n\r\n{style}\r\n").as_bytes());
    body.extend(format!("--{b}\r\nContent-Disposition: form-data; name=\"size\"\r\n\r\n256\r\n--{b}--\r\n").as_bytes());
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: multipart/form-data; boundary={b}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend(body);
    http(addr, &req)
}

#[test]
fn serve_answers_over_http_keeps_client_names_out_of_the_log_and_stops_on_sigterm() {
    let log = serve_one_photo(&[]);
    assert!(log.contains("default (vgg, "), "the model and its kind are logged: {log}");
}

#[test]
fn serve_runs_a_fast_model() {
    let dir = tempfile::tempdir().unwrap();
    let model = common::distill(dir.path(), "run", &[]).join("model");
    let log = serve_one_photo(&["--model", model.to_str().unwrap()]);
    assert!(log.contains("model (fast, 4 steps)"), "{log}");
}

#[test]
fn serve_offers_a_fine_tunes_collection_first_in_its_gallery() {
    let dir = tempfile::tempdir().unwrap();
    let model = common::fine_tune(dir.path(), "run").join("model");
    let answer = dir.path().join("answer.png");
    let log = serve_photo(&["--model", model.to_str().unwrap()], "paintings-collection", Some(&answer));
    assert!(log.contains("2 styles"), "the wave and the collection: {log}");
    // What `stylize run` makes with the model's collection at the same size.
    let cli = dir.path().join("cli.png");
    let o = common::stylize(&["run", &common::sample("photos/cat.jpg"), "--model", model.to_str().unwrap(), "--size", "256", "-o", cli.to_str().unwrap()]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let load = |p: &Path| stylize_io::load(p, &Default::default()).unwrap().rgb;
    assert!(load(&answer) == load(&cli), "the server's collection style is the CLI's");
}

/// Starts `stylize serve` with `extra` arguments, stylizes the cat with the wave at 256 px over
/// HTTP, checks the answer, stops the server with SIGTERM and returns its log.
fn serve_one_photo(extra: &[&str]) -> String {
    serve_photo(extra, "hokusai-great-wave", None)
}

/// As `serve_one_photo` with gallery style `id` (which /api/styles must list first or second),
/// writing the answer to `keep` if given.
fn serve_photo(extra: &[&str], id: &str, keep: Option<&Path>) -> String {
    let styles = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(data(&format!("paintings/{WAVE}")), styles.path().join(WAVE)).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_stylize"))
        .args(["serve", "--addr", "127.0.0.1:0", "--styles", styles.path().to_str().unwrap()])
        .args(extra)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Collect the log on a thread; the address comes from its "listening on" line.
    let (tx, rx) = mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut log = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line.clone());
            log.push_str(&line);
            log.push('\n');
        }
        log
    });
    let addr = loop {
        let line = rx.recv_timeout(Duration::from_secs(120)).expect("the server starts");
        if let Some(url) = line.strip_prefix("listening on http://") {
            break url.to_string();
        }
    };
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");

    let (status, _, body) = http(&addr, format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes());
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&body).contains("\"ok\""));

    let (status, _, body) = http(&addr, format!("GET /api/styles HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes());
    assert_eq!(status, 200);
    let styles: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let listed: Vec<(&str, &str)> = styles["styles"].as_array().unwrap().iter().map(|s| (s["id"].as_str().unwrap(), s["kind"].as_str().unwrap())).collect();
    assert!(listed.contains(&("hokusai-great-wave", "painting")) && listed.iter().any(|(i, _)| *i == id), "{listed:?}");
    if listed.len() > 1 {
        assert_eq!(listed[0], (id, "collection"), "a model's own collection comes first");
    }
    let (status, head, thumb) = http(&addr, format!("GET /api/styles/{id}/thumbnail HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes());
    assert_eq!(status, 200, "{head}");
    assert!(stylize_io::load_from_bytes(&thumb, "thumbnail", &stylize_io::Limits::default()).is_ok());

    let photo = std::fs::read(data("photos/cat.jpg")).unwrap();
    let (status, head, png) = multipart_post(&addr, "/api/stylize", "secret_holiday.jpg", &photo, id);
    assert_eq!(status, 200, "{head}");
    assert!(head.to_ascii_lowercase().contains("content-type: image/png"), "{head}");
    let img = stylize_io::load_from_bytes(&png, "answer", &stylize_io::Limits::default()).unwrap();
    assert_eq!(img.dimensions(), (256, 192));
    if let Some(path) = keep {
        std::fs::write(path, &png).unwrap();
    }

    // SIGTERM: a clean exit, with a log of requests that names no client file.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    let log = reader.join().unwrap();
    assert!(status.success(), "exit status {status}: {log}");
    assert!(log.contains("POST /api/stylize 200"), "{log}");
    assert!(log.contains("stopped"), "{log}");
    assert!(!log.contains("secret_holiday"), "client file names stay out of the log: {log}");
    log
}

#[test]
fn serve_refuses_a_missing_styles_folder() {
    let o = Command::new(env!("CARGO_BIN_EXE_stylize")).args(["serve", "--addr", "127.0.0.1:0", "--styles", "/nonexistent/paintings"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("/nonexistent/paintings"), "{err}");
}
