//! Any bytes as the body of `POST /api/stylize`: the server's multipart parsing
//! (`stylize_server::api::parse_form`, what the route runs), then each uploaded image through
//! the loader and the size check, as the route does before a job is queued. The form parses or
//! gives a 400/413 with a one-line message; nothing panics.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use stylize_io::Limits;
use stylize_pipeline::Sizing;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| tokio::runtime::Builder::new_current_thread().build().expect("runtime"))
}

fuzz_target!(|data: &[u8]| {
    let body = stylize_server::api::parse_form("multipart/form-data; boundary=B", data.to_vec().into(), 1 << 20);
    match runtime().block_on(body) {
        Ok(form) => {
            let limits = Limits { max_pixels: 4_000_000, max_file_bytes: 1 << 20 };
            for (bytes, sizing) in [(form.image, Sizing::AtMost(64)), (form.style_image, Sizing::Exact(48))] {
                if let Some(Ok(img)) = bytes.map(|b| stylize_io::load_from_bytes(&b, "upload", &limits)) {
                    let _ = stylize_pipeline::fit(&img.rgb, sizing);
                }
            }
        }
        Err(e) => {
            assert!(matches!(e.status.as_u16(), 400 | 413), "{}", e.status);
            assert!(!e.message.contains('\n'), "{}", e.message);
        }
    }
});
