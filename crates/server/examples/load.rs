//! A bounded load generator for `stylize serve` (run by `bench/load.sh`).
//!
//!   cargo run --release -p stylize-server --example load -- URL PHOTO STYLE_ID CLIENTS SECONDS SIZE
//!
//! CLIENTS closed-loop clients send the same photo for SECONDS; a client refused with 429
//! waits 0.2 s (less than Retry-After, to keep the queue full) and tries again. Every answer is
//! checked: 200 must be a PNG of the expected size, 429 must carry Retry-After, anything else
//! is wrong; a request with no answer at all is lost. Prints one JSON object: counts, throughput, and p50/p99 latency of the 200s.

use std::time::{Duration, Instant};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    assert_eq!(a.len(), 6, "usage: load URL PHOTO STYLE_ID CLIENTS SECONDS SIZE");
    let (url, photo, style) = (a[0].clone(), std::fs::read(&a[1]).expect("photo"), a[2].clone());
    let (clients, seconds, size): (usize, f64, u32) = (a[3].parse().unwrap(), a[4].parse().unwrap(), a[5].parse().unwrap());
    let expected = stylize_io::resize_to_max_side(
        &stylize_io::load_from_bytes(&photo, "photo", &stylize_io::Limits::default()).unwrap().rgb,
        size,
        false,
    )
    .dimensions();
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (client, url, photo, style) = (client.clone(), url.clone(), photo.clone(), style.clone());
            tokio::spawn(async move {
                let (mut ok_ms, mut busy, mut wrong, mut sent) = (Vec::new(), 0usize, Vec::new(), 0usize);
                while Instant::now() < deadline {
                    let form = reqwest::multipart::Form::new()
                        .part("image", reqwest::multipart::Part::bytes(photo.clone()).file_name("p.jpg"))
                        .text("style", style.clone())
                        .text("size", size.to_string());
                    let t = Instant::now();
                    sent += 1;
                    let res = match client.post(&url).multipart(form).send().await {
                        Ok(r) => r,
                        Err(_) => continue, // no answer: counted as lost below

                    };
                    match res.status().as_u16() {
                        200 => {
                            let body = res.bytes().await.unwrap_or_default();
                            match stylize_io::load_from_bytes(&body, "answer", &stylize_io::Limits::default()) {
                                Ok(img) if img.dimensions() == expected => ok_ms.push(t.elapsed().as_secs_f64() * 1000.0),
                                Ok(img) => wrong.push(format!("200 with size {:?}", img.dimensions())),
                                Err(e) => wrong.push(format!("200 with a bad image: {e}")),
                            }
                        }
                        429 if res.headers().contains_key("retry-after") => {
                            busy += 1;
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                        s => wrong.push(format!("status {s}")),
                    }
                }
                (ok_ms, busy, wrong, sent)
            })
        })
        .collect();
    let (mut ok_ms, mut busy, mut wrong, mut sent) = (Vec::new(), 0, Vec::new(), 0);
    for t in tasks {
        let (o, b, w, s) = t.await.unwrap();
        ok_ms.extend(o);
        busy += b;
        wrong.extend(w);
        sent += s;
    }
    let wall = started.elapsed().as_secs_f64();
    ok_ms.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| if ok_ms.is_empty() { f64::NAN } else { ok_ms[((ok_ms.len() - 1) as f64 * p).round() as usize] };
    let answered = ok_ms.len() + busy + wrong.len();
    println!(
        "{}",
        serde_json::json!({
            "clients": clients, "seconds": wall, "size": size,
            "sent": sent, "answered": answered, "lost": sent - answered,
            "ok": ok_ms.len(), "busy_429": busy, "wrong": wrong.len(), "wrong_examples": wrong.iter().take(5).collect::<Vec<_>>(),
            "throughput_per_s": ok_ms.len() as f64 / wall,
            "p50_ms": pct(0.5), "p99_ms": pct(0.99), "max_ms": pct(1.0),
        })
    );
}
