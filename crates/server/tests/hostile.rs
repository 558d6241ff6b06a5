//! Clients that misbehave, on purpose: images that cannot be stylized, idle and trickling
//! connections, clients that vanish mid-request, huge headers. Raw sockets where reqwest
//! cannot express the abuse. Every test is bounded in time (short read timeouts).

mod common;

use std::time::{Duration, Instant};

use common::*;
use stylize_server::ServerConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const READ_TIMEOUT_MS: u64 = 1500;

fn config() -> ServerConfig {
    ServerConfig { default_size: 128, read_timeout_ms: READ_TIMEOUT_MS, ..ServerConfig::default() }
}

fn png(w: u32, h: u32) -> Vec<u8> {
    let mut b = Vec::new();
    stylize_io::image::RgbImage::new(w, h).write_to(&mut std::io::Cursor::new(&mut b), stylize_io::image::ImageFormat::Png).unwrap();
    b
}

/// A whole `POST /api/stylize` request as bytes: `files` as (field, bytes), `texts` as (field, value).
fn raw_request(files: &[(&str, &[u8])], texts: &[(&str, &str)]) -> Vec<u8> {
    let boundary = "hostile-boundary-7d1c";
    let mut body: Vec<u8> = Vec::new();
    for (field, bytes) in files {
        body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"x\"\r\n\r\n").as_bytes());
        body.extend(*bytes);
        body.extend(b"\r\n");
    }
    for (field, value) in texts {
        body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"\r\n\r\n{value}\r\n").as_bytes());
    }
    body.extend(format!("--{boundary}--\r\n").as_bytes());
    let mut req = format!(
        "POST /api/stylize HTTP/1.1\r\nHost: test\r\nContent-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend(body);
    req
}

fn addr(s: &TestServer) -> String {
    s.url.trim_start_matches("http://").to_string()
}

/// `/healthz` answers 200, within a second.
async fn assert_healthy(s: &TestServer) {
    let t = Instant::now();
    let res = tokio::time::timeout(Duration::from_secs(5), reqwest::get(s.at("/healthz"))).await.expect("healthz answers").unwrap();
    assert_eq!(res.status(), 200);
    assert!(t.elapsed() < Duration::from_secs(1), "healthz took {:?}", t.elapsed());
}

async fn wait_for_pending(s: &TestServer, n: usize, within: Duration) {
    let t = Instant::now();
    while s.state.pool.pending() != n {
        assert!(t.elapsed() < within, "pending is {}, expected {n}", s.state.pool.pending());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_too_thin_once_resized_get_422_with_one_line_and_no_internal_text() {
    let s = TestServer::start(config()).await;
    let url = s.at("/api/stylize");
    let thin = png(20000, 2); // 512x1 at the style size: libtorch's pooling would fail on it
    let cases = [
        (form(&[("image", "c.jpg", photo(CAT)), ("style_image", "s.png", thin.clone())], &[]), "style_image: 20000x2 is too small"),
        (form(&[("image", "p.png", thin.clone())], &[("style", WAVE_ID)]), "image: 20000x2 is too small"),
        (form(&[("image", "p.png", png(3, 4000))], &[("style", WAVE_ID)]), "image: 3x4000 is too small"),
    ];
    for (form, start) in cases {
        let res = post(&url, form).await;
        assert_eq!(res.status(), 422);
        assert_eq!(res.headers()["x-request-id"].len(), 16);
        let body = res.text().await.unwrap();
        assert!(!body.contains('\n') && !body.contains("Exception") && !body.contains('/'), "{body}");
        let msg = serde_json::from_str::<serde_json::Value>(&body).unwrap()["error"].as_str().unwrap().to_string();
        assert!(msg.starts_with(start), "{msg}");
    }
    assert_eq!(s.state.pool.pending(), 0);
    s.stop().await.unwrap();
}

/// One slow client: trickles `head` then `body`, a byte a second, until the server answers or
/// closes. Returns how long that took and what came back.
async fn trickle(addr: String, head: Vec<u8>, fast_head: bool) -> (Duration, String) {
    let stream = TcpStream::connect(&addr).await.unwrap();
    let (mut r, mut w) = stream.into_split();
    let started = Instant::now();
    let mut pending: Vec<u8> = head;
    if fast_head {
        let end = pending.windows(4).position(|x| x == b"\r\n\r\n").unwrap() + 4;
        w.write_all(&pending[..end]).await.unwrap();
        pending.drain(..end);
    }
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let (mut got, mut buf) = (Vec::new(), [0u8; 4096]);
    loop {
        tokio::select! {
            n = r.read(&mut buf) => match n {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend(&buf[..n]),
            },
            _ = tick.tick() => {
                let Some(byte) = (!pending.is_empty()).then(|| pending.remove(0)) else { continue };
                if w.write_all(&[byte]).await.is_err() {
                    break;
                }
            }
        }
    }
    (started.elapsed(), String::from_utf8_lossy(&got).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_and_slow_uploaders_neither_block_health_nor_stay() {
    let s = TestServer::start(config()).await;
    let mut idle = Vec::new();
    for _ in 0..200 {
        idle.push(TcpStream::connect(addr(&s)).await.unwrap());
    }
    let request = raw_request(&[("image", &photo(CAT))], &[("style", WAVE_ID)]);
    // One trickles its headers; two send their headers at once and trickle the body.
    let slow: Vec<_> = [false, true, true].into_iter().map(|fast_head| tokio::spawn(trickle(addr(&s), request.clone(), fast_head))).collect();
    for _ in 0..3 {
        assert_healthy(&s).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let limit = Duration::from_millis(READ_TIMEOUT_MS + 1500);
    for (i, h) in slow.into_iter().enumerate() {
        let (took, answer) = tokio::time::timeout(limit + Duration::from_secs(2), h).await.expect("cut off").unwrap();
        assert!(took < limit, "slow client {i} cut off after {took:?}");
        // Headers never complete: the connection is closed; a trickled body: 408.
        if i == 0 {
            assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 408"), "{answer}");
        } else {
            assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
            assert!(answer.contains("read timeout") && answer.to_ascii_lowercase().contains("x-request-id"), "{answer}");
        }
    }
    // The idle connections were closed by the server too: none holds a place for ever.
    for mut c in idle {
        let n = tokio::time::timeout(Duration::from_secs(2), c.read(&mut [0u8; 64])).await.expect("closed by the server");
        assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
    }
    assert_healthy(&s).await;
    assert_eq!(s.state.pool.pending(), 0);
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_gone_mid_upload_or_while_queued_frees_its_place_at_once() {
    let s = TestServer::start(ServerConfig { workers: 1, queue: 1, ..config() }).await;
    let url = s.at("/api/stylize");

    // Gone mid-upload: half the body, then the socket closes.
    let request = raw_request(&[("image", &photo(CAT))], &[("style", WAVE_ID), ("size", "64")]);
    let mut c = TcpStream::connect(addr(&s)).await.unwrap();
    c.write_all(&request[..request.len() / 2]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(c);
    assert_eq!(s.state.pool.pending(), 0);

    // A slow job runs; a second one waits behind it, and its client goes away.
    let running = {
        let url = url.clone();
        tokio::spawn(async move { post(&url, form(&[("image", "c.jpg", photo(CAT))], &[("style", WAVE_ID), ("size", "512")])).await })
    };
    wait_for_pending(&s, 1, Duration::from_secs(10)).await;
    let mut queued = TcpStream::connect(addr(&s)).await.unwrap();
    queued.write_all(&raw_request(&[("image", &photo(CAT))], &[("style", WAVE_ID), ("size", "64")])).await.unwrap();
    wait_for_pending(&s, 2, Duration::from_secs(5)).await;
    let gone = Instant::now();
    drop(queued);
    // hyper sees the EOF, drops the handler, and the dropped ticket withdraws the job.
    wait_for_pending(&s, 1, Duration::from_secs(2)).await;
    eprintln!("place freed {:?} after the client left", gone.elapsed());
    assert!(!running.is_finished(), "freed while the running job still runs, not when a worker reached it");

    // The place is usable at once: this one is queued, not refused.
    let next = post(&url, form(&[("image", "c.jpg", photo(CAT))], &[("style", WAVE_ID), ("size", "64")])).await;
    assert_eq!(next.status(), 200);
    assert_eq!(running.await.unwrap().status(), 200);
    assert_eq!(s.state.pool.pending(), 0);
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_megabytes_of_headers_are_refused_and_the_server_stays_healthy() {
    let s = TestServer::start(config()).await;
    let stream = TcpStream::connect(addr(&s)).await.unwrap();
    let (mut r, mut w) = stream.into_split();
    let total = 50_000_000;
    let writer = tokio::spawn(async move {
        let line = format!("X-Padding: {}\r\n", "a".repeat(1000)).into_bytes();
        let mut sent = 0;
        if w.write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\n").await.is_err() {
            return sent;
        }
        while sent < total {
            if w.write_all(&line).await.is_err() {
                break;
            }
            sent += line.len();
        }
        sent
    });
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), r.read_to_end(&mut answer)).await.expect("the server answers or closes");
    let answer = String::from_utf8_lossy(&answer);
    assert!(read.is_err() || answer.is_empty() || answer.starts_with("HTTP/1.1 431"), "{read:?} {answer}");
    let sent = tokio::time::timeout(Duration::from_secs(10), writer).await.expect("the writer stops").unwrap();
    assert!(sent < total, "the server read all {sent} bytes of headers");
    eprintln!("refused after {sent} bytes of headers: {:?}", answer.lines().next());
    assert_healthy(&s).await;
    s.stop().await.unwrap();
}

#[test]
fn gallery_names_keep_their_letters_and_odd_file_names_load() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(data("paintings/durer_lion.jpg"), dir.path().join("Dürer_Löwe.jpg")).unwrap();
    std::fs::copy(data("paintings/hokusai_great_wave.jpg"), dir.path().join(std::ffi::OsStr::from_bytes(b"wave \xff.jpg"))).unwrap();
    let gallery = stylize_server::Gallery::load(dir.path(), 512).expect("gallery");
    let names: Vec<(&str, &str)> = gallery.styles().iter().map(|s| (s.name.as_str(), s.id.as_str())).collect();
    assert_eq!(names, vec![("Dürer Löwe", "d-rer-l-we"), ("wave \u{fffd}", "wave")]);
}
