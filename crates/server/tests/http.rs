//! The API over real HTTP: a real server on an ephemeral port, real photos, the shipped model.

mod common;

use std::time::Duration;

use common::*;
use stylize_server::ServerConfig;

fn small() -> ServerConfig {
    ServerConfig { default_size: 256, ..ServerConfig::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stylizes_with_a_gallery_style_and_with_an_uploaded_painting() {
    let s = TestServer::start(small()).await;
    // A client file name that must not end up anywhere.
    let res = post(&s.at("/api/stylize"), form(&[("image", "secret_holiday.jpg", photo(CAT))], &[("style", WAVE_ID)])).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/png");
    assert_eq!(res.headers()["cache-control"], "no-store");
    let secs: f64 = res.headers()["x-stylize-seconds"].to_str().unwrap().parse().unwrap();
    assert!(secs > 0.0);
    let png = res.bytes().await.unwrap();
    assert!(!String::from_utf8_lossy(&png).contains("secret_holiday"));
    let gallery = decode(&png);
    assert_eq!(gallery.dimensions(), (256, 192), "640x480 at the default size 256");

    // The same painting uploaded, as JPEG at 320 px, half strength, photo colours.
    let texts = [("size", "320"), ("format", "jpeg"), ("strength", "0.5"), ("preserve_color", "true")];
    let res = post(&s.at("/api/stylize"), form(&[("image", "a.jpg", photo(CAT)), ("style_image", "b.jpg", painting(WAVE))], &texts)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/jpeg");
    let upload = decode(&res.bytes().await.unwrap());
    assert_eq!(upload.dimensions(), (320, 240));

    // Gallery and upload of the same painting at the same settings give the same picture.
    let res = post(&s.at("/api/stylize"), form(&[("image", "a.jpg", photo(CAT)), ("style_image", "b.jpg", painting(WAVE))], &[])).await;
    let uploaded_same = decode(&res.bytes().await.unwrap());
    assert_eq!(uploaded_same, gallery, "the gallery keeps the painting at the same style size");

    // And a stylized result is not the photo.
    let cat = stylize_io::resize_to_max_side(&decode(&photo(CAT)), 256, true);
    let diff: f64 = cat.as_raw().iter().zip(gallery.as_raw()).map(|(a, b)| (*a as f64 - *b as f64).abs()).sum::<f64>() / cat.as_raw().len() as f64;
    assert!(diff > 20.0, "mean difference from the photo {diff}");
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_has_its_status_and_a_one_line_json_message() {
    let s = TestServer::start(ServerConfig { max_upload_bytes: 60_000, max_pixels: 1_000_000, ..small() }).await;
    let url = s.at("/api/stylize");
    let cat = || ("image", "cat.jpg", photo(CAT));
    let client = reqwest::Client::new();

    // 400: not multipart, no image, no style, both styles, an unknown field.
    let res = client.post(&url).body("hello").send().await.unwrap();
    assert!(expect_error(res, 400).await.contains("multipart"));
    assert!(expect_error(post(&url, form(&[], &[("style", WAVE_ID)])).await, 400).await.contains("image"));
    assert!(expect_error(post(&url, form(&[cat()], &[])).await, 400).await.contains("style"));
    let both = form(&[cat(), ("style_image", "w.jpg", photo(CAT))], &[("style", WAVE_ID)]);
    assert!(expect_error(post(&url, both).await, 400).await.contains("not both"));
    assert!(expect_error(post(&url, form(&[cat()], &[("style", WAVE_ID), ("colour", "1")])).await, 400).await.contains("unknown field"));

    // 404: an unknown thumbnail (no path is ever taken from the client), an unknown route.
    let res = client.get(s.at("/api/styles/..%2F..%2Fetc%2Fpasswd/thumbnail")).send().await.unwrap();
    expect_error(res, 404).await;
    expect_error(client.get(s.at("/nope")).send().await.unwrap(), 404).await;

    // 413: one image over the limit, and a body over the limit.
    let big = painting("van_gogh_starry_night.jpg"); // 239 kB
    let msg = expect_error(post(&url, form(&[("image", "g.jpg", big.clone())], &[("style", WAVE_ID)])).await, 413).await;
    assert!(msg.contains("limit"), "{msg}");
    let two = form(&[("image", "g.jpg", big.clone()), ("style_image", "h.jpg", big)], &[]);
    expect_error(post(&url, two).await, 413).await;

    // 415: not an image, whatever its name says.
    let text = form(&[("image", "cat.jpg", b"definitely not a JPEG".to_vec())], &[("style", WAVE_ID)]);
    assert!(expect_error(post(&url, text).await, 415).await.contains("not an image"));

    // 422: too many pixels (from the header), truncated data, bad values, an unknown style.
    let mut png = Vec::new();
    stylize_io::image::RgbImage::new(1500, 1000)
        .write_to(&mut std::io::Cursor::new(&mut png), stylize_io::image::ImageFormat::Png)
        .unwrap();
    let msg = expect_error(post(&url, form(&[("image", "p.png", png)], &[("style", WAVE_ID)])).await, 422).await;
    assert!(msg.contains("megapixels"), "{msg}");
    let truncated = photo(CAT)[..20_000].to_vec();
    expect_error(post(&url, form(&[("image", "t.jpg", truncated)], &[("style", WAVE_ID)])).await, 422).await;
    for (field, value) in [("strength", "1.5"), ("strength", "x"), ("size", "5000"), ("size", "8"), ("format", "gif"), ("preserve_color", "maybe")] {
        let msg = expect_error(post(&url, form(&[cat()], &[("style", WAVE_ID), (field, value)])).await, 422).await;
        assert!(msg.contains(field), "{field}={value}: {msg}");
    }
    assert!(expect_error(post(&url, form(&[cat()], &[("style", "nope")])).await, 422).await.contains("no style"));
    let tiny = {
        let mut b = Vec::new();
        stylize_io::image::RgbImage::new(8, 8).write_to(&mut std::io::Cursor::new(&mut b), stylize_io::image::ImageFormat::Png).unwrap();
        b
    };
    assert!(expect_error(post(&url, form(&[("image", "t.png", tiny)], &[("style", WAVE_ID)])).await, 422).await.contains("too small"));

    // Nothing was left running or queued by the refusals.
    assert_eq!(s.state.pool.pending(), 0);
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_requests_than_workers_and_queue_are_each_answered_and_none_lost() {
    let s = TestServer::start(ServerConfig { workers: 1, queue: 2, ..small() }).await;
    let url = s.at("/api/stylize");
    let n = 6;
    let requests = (0..n).map(|_| {
        let url = url.clone();
        // 512 px: each job takes far longer than the burst takes to arrive.
        tokio::spawn(async move { post(&url, form(&[("image", "c.jpg", photo(CAT))], &[("style", WAVE_ID), ("size", "512")])).await })
    });
    let (mut ok, mut busy) = (0, 0);
    for r in futures_join(requests.collect()).await {
        match r.status().as_u16() {
            200 => {
                assert_eq!(decode(&r.bytes().await.unwrap()).dimensions(), (512, 384));
                ok += 1;
            }
            429 => {
                let wait: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
                assert!(wait >= 1);
                expect_error(r, 429).await;
                busy += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!((ok, busy), (3, 3), "1 running + 2 queued accepted, the rest refused");
    assert_eq!(s.state.pool.pending(), 0);
    // Capacity is back.
    let res = post(&url, form(&[("image", "c.jpg", photo(CAT))], &[("style", WAVE_ID)])).await;
    assert_eq!(res.status(), 200);
    s.stop().await.unwrap();
}

async fn futures_join(handles: Vec<tokio::task::JoinHandle<reqwest::Response>>) -> Vec<reqwest::Response> {
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_past_its_timeout_gets_503_and_the_workers_move_on() {
    let s = TestServer::start(ServerConfig { timeout_ms: 50, queue: 4, ..small() }).await;
    let url = s.at("/api/stylize");
    let slow = || post(&url, form(&[("image", "c.jpg", photo(CAT))], &[("style", WAVE_ID), ("size", "512")]));
    let (a, b) = tokio::join!(slow(), slow());
    for r in [a, b] {
        assert!(r.headers().contains_key("retry-after"));
        assert!(expect_error(r, 503).await.contains("--timeout"));
    }
    // The running job finishes in the background, the queued one is skipped.
    for _ in 0..600 {
        if s.state.pool.pending() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(s.state.pool.pending(), 0);
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_the_running_request() {
    let s = TestServer::start(small()).await;
    let url = s.at("/api/stylize");
    let request = tokio::spawn(async move { post(&url, form(&[("image", "c.jpg", photo(CAT))], &[("style", WAVE_ID), ("size", "512")])).await });
    while s.state.pool.pending() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let state = s.state.clone();
    s.stop().await.unwrap(); // returns once the workers have exited
    assert!(state.shutting_down.load(std::sync::atomic::Ordering::SeqCst));
    let res = request.await.unwrap();
    assert_eq!(res.status(), 200, "the job that was running when shutdown began is answered");
    assert_eq!(decode(&res.bytes().await.unwrap()).dimensions(), (512, 384));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_gallery_thumbnails_health_and_openapi() {
    let s = TestServer::start(small()).await;
    let client = reqwest::Client::new();
    let res = client.get(s.at("/")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert!(res.headers()["content-security-policy"].to_str().unwrap().contains("default-src 'self'"));
    let html = res.text().await.unwrap();
    for id in ["id=\"photo\"", "id=\"gallery\"", "id=\"style-file\"", "id=\"strength\"", "id=\"preserve-color\"", "id=\"go\"", "id=\"result\"", "id=\"download\""] {
        assert!(html.contains(id), "page has {id}");
    }
    assert!(!html.contains("http://") && !html.contains("https://"), "the page loads nothing from elsewhere");

    let styles: serde_json::Value = client.get(s.at("/api/styles")).send().await.unwrap().json().await.unwrap();
    let list = styles["styles"].as_array().unwrap();
    assert_eq!(list.len(), 3);
    assert!(list.iter().any(|s| s["id"] == WAVE_ID && s["name"] == "hokusai great wave"));
    assert_eq!(styles["limits"]["max_size"], 1024);
    for style in list {
        let res = client.get(s.at(style["thumbnail"].as_str().unwrap())).send().await.unwrap();
        assert_eq!(res.headers()["content-type"], "image/jpeg");
        let (w, h) = decode(&res.bytes().await.unwrap()).dimensions();
        assert_eq!(w.max(h), stylize_server::gallery::THUMBNAIL_SIDE);
    }

    let health: serde_json::Value = client.get(s.at("/healthz")).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["workers"], 1);

    let doc: serde_json::Value = client.get(s.at("/api/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    for path in ["/api/stylize", "/api/styles", "/api/styles/{id}/thumbnail", "/healthz", "/api/openapi.json"] {
        assert!(doc["paths"].get(path).is_some(), "OpenAPI documents {path}");
    }
    for status in ["200", "400", "408", "413", "415", "422", "429", "500", "503"] {
        assert!(doc["paths"]["/api/stylize"]["post"]["responses"].get(status).is_some(), "documents {status}");
    }
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn semantic_and_masks_over_http() {
    let s = TestServer::start(small()).await;
    let url = s.at("/api/stylize");
    let cat = || ("image", "cat.jpg", photo(CAT));
    let png = |img: stylize_io::image::RgbImage| {
        let mut b = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut b), stylize_io::image::ImageFormat::Png).unwrap();
        b
    };
    let get = |res: reqwest::Response| async move {
        assert_eq!(res.status(), 200);
        decode(&res.bytes().await.unwrap())
    };
    let plain = get(post(&url, form(&[cat()], &[("style", WAVE_ID)])).await).await;
    // semantic=1 is the plain result; true (4 regions) is another picture.
    assert_eq!(get(post(&url, form(&[cat()], &[("style", WAVE_ID), ("semantic", "1")])).await).await, plain);
    let regions = get(post(&url, form(&[cat()], &[("style", WAVE_ID), ("semantic", "true")])).await).await;
    assert_eq!(regions.dimensions(), plain.dimensions());
    assert_ne!(regions, plain);
    // A white mask is the plain result, a black one the photo.
    let white = png(stylize_io::image::RgbImage::from_pixel(64, 48, stylize_io::image::Rgb([255; 3])));
    assert_eq!(get(post(&url, form(&[cat(), ("mask", "m.png", white)], &[("style", WAVE_ID)])).await).await, plain);
    let black = png(stylize_io::image::RgbImage::new(64, 48));
    let photo_at_256 = stylize_io::resize_to_max_side(&decode(&photo(CAT)), 256, true);
    assert_eq!(get(post(&url, form(&[cat(), ("mask", "m.png", black)], &[("style", WAVE_ID)])).await).await, photo_at_256);
    // Bad masks and bad semantic values: 422 with a message that says what.
    let square = png(stylize_io::image::RgbImage::new(50, 50));
    let msg = expect_error(post(&url, form(&[cat(), ("mask", "m.png", square)], &[("style", WAVE_ID)])).await, 422).await;
    assert!(msg.contains("aspect ratio"), "{msg}");
    let msg = expect_error(post(&url, form(&[cat(), ("mask", "m.png", b"not an image".to_vec())], &[("style", WAVE_ID)])).await, 422).await;
    assert!(msg.contains("mask") && msg.contains("not an image"), "{msg}");
    for bad in ["9", "maybe", "-1"] {
        let msg = expect_error(post(&url, form(&[cat()], &[("style", WAVE_ID), ("semantic", bad)])).await, 422).await;
        assert!(msg.contains("semantic"), "{bad}: {msg}");
    }
    assert_eq!(s.state.pool.pending(), 0);
    s.stop().await.unwrap();
}
