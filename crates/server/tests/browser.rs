//! The web page in a real browser: headless Chromium, driven over WebDriver, uploads a photo,
//! picks a style, clicks Stylize and gets the result; screenshots at desktop and phone size.
//!
//! Needs `chromedriver` (Debian: chromium and chromium-driver; `.ci/run` installs them). Where
//! it is missing the test says so and passes, except under CI (`CI` set), where it fails.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use fantoccini::{ClientBuilder, Locator};
use stylize_server::ServerConfig;

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn chromedriver() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join("chromedriver")).find(|p| p.is_file())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_stylizes_a_photo_in_headless_chromium() {
    let Some(driver_bin) = chromedriver() else {
        assert!(std::env::var_os("CI").is_none(), "chromedriver is not on PATH (CI installs chromium-driver)");
        eprintln!("SKIPPED: chromedriver not on PATH; install chromium and chromium-driver to run this test");
        return;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let _driver = Driver(
        Command::new(driver_bin).arg(format!("--port={port}")).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("start chromedriver"),
    );
    let server = TestServer::start(ServerConfig { default_size: 256, ..ServerConfig::default() }).await;

    let caps: serde_json::Map<String, serde_json::Value> = serde_json::from_value(serde_json::json!({
        "goog:chromeOptions": { "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000"] }
    }))
    .unwrap();
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let started = Instant::now();
    let c = loop {
        match ClientBuilder::new(connector.clone()).capabilities(caps.clone()).connect(&format!("http://127.0.0.1:{port}")).await {
            Ok(c) => break c,
            Err(e) if started.elapsed() < Duration::from_secs(30) => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            Err(e) => panic!("cannot start a WebDriver session: {e}"),
        }
    };

    c.goto(&server.url).await.unwrap();
    let tiles = c.wait().at_most(Duration::from_secs(30)).for_element(Locator::Css("#gallery button.style")).await.unwrap();
    let _ = tiles;
    let all = c.find_all(Locator::Css("#gallery button.style")).await.unwrap();
    assert_eq!(all.len(), 3, "the gallery shows the three paintings");
    all[1].click().await.unwrap();
    assert_eq!(all[1].attr("aria-pressed").await.unwrap().as_deref(), Some("true"));

    let cat = data(&format!("photos/{CAT}")).canonicalize().unwrap();
    c.find(Locator::Id("photo")).await.unwrap().send_keys(cat.to_str().unwrap()).await.unwrap();
    c.find(Locator::Id("go")).await.unwrap().click().await.unwrap();

    // The result appears: a decoded image of the requested size (default 256 here).
    let started = Instant::now();
    let width = loop {
        let w = c.execute("const r = document.getElementById('result'); return r.complete ? r.naturalWidth : 0;", vec![]).await.unwrap();
        let w = w.as_u64().unwrap_or(0);
        if w > 0 {
            break w;
        }
        let err = c.find(Locator::Id("error")).await.unwrap().text().await.unwrap();
        assert!(err.trim().is_empty(), "the page shows an error: {err}");
        assert!(started.elapsed() < Duration::from_secs(180), "no result within 3 minutes");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(width, 256);
    let href = c.find(Locator::Id("download")).await.unwrap().attr("href").await.unwrap().unwrap_or_default();
    assert!(href.starts_with("blob:"), "the download link points at the result: {href:?}");

    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::write(dir.join("browser-desktop.png"), c.screenshot().await.unwrap()).unwrap();
    // A phone-sized screen: nothing wider than the viewport.
    c.set_window_size(390, 844).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fits = c.execute("return document.documentElement.scrollWidth <= window.innerWidth + 1;", vec![]).await.unwrap();
    assert_eq!(fits, serde_json::Value::Bool(true), "no horizontal scrolling on a phone");
    std::fs::write(dir.join("browser-phone.png"), c.screenshot().await.unwrap()).unwrap();
    eprintln!("screenshots in {}", dir.display());

    c.close().await.unwrap();
    server.stop().await.unwrap();
}
