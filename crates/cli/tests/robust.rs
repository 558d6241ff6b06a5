//! Nothing lost: no output replaces an input, odd sizes and paths get one clean line, a batch
//! killed by any signal leaves only complete outputs and resumes, and shards split a batch.

#[path = "../../imageio/tests/common/mod.rs"]
#[allow(dead_code)]
mod common;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use image::{DynamicImage, ImageBuffer, Rgb};

fn sample(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples").join(sub)
}

fn stylize<S: AsRef<OsStr>>(args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stylize")).args(args).output().expect("run stylize")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exit code 2 and exactly one `error:` line, which names `needle`; no panic.
fn assert_one_line_error(o: &Output, needle: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "exit code for: {err}");
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(errors.len(), 1, "one error line: {err}");
    assert!(errors[0].contains(needle), "the error line names {needle:?}: {err}");
    assert!(!err.contains("panicked") && !err.contains("Exception"), "{err}");
}

#[test]
fn no_output_replaces_an_input() {
    let d = tempfile::tempdir().unwrap();
    let photo = d.path().join("mine.png");
    let style = d.path().join("p.jpg");
    std::fs::copy(sample("photos/cat.jpg"), &photo).unwrap();
    std::fs::copy(sample("paintings/hokusai_great_wave.jpg"), &style).unwrap();
    let hard = d.path().join("hard.png");
    std::fs::hard_link(&photo, &hard).unwrap();
    let (photo_bytes, style_bytes) = (std::fs::read(&photo).unwrap(), std::fs::read(&style).unwrap());
    let dotted = d.path().join(".").join("mine.png");
    for out in [&photo, &style, &hard, &dotted] {
        let o = stylize(&[OsStr::new("run"), photo.as_os_str(), OsStr::new("--style"), style.as_os_str(), OsStr::new("--size"), OsStr::new("64"), OsStr::new("-o"), out.as_os_str()]);
        assert_one_line_error(&o, "refusing to overwrite");
    }
    assert_eq!(std::fs::read(&photo).unwrap(), photo_bytes);
    assert_eq!(std::fs::read(&style).unwrap(), style_bytes);

    // --out-dir is the photos' own folder, and one photo is named like another's output.
    let photos = d.path().join("photos");
    std::fs::create_dir(&photos).unwrap();
    std::fs::copy(sample("photos/cat.jpg"), photos.join("cat.jpg")).unwrap();
    std::fs::copy(sample("photos/bent_pyramid.jpg"), photos.join("cat_p.png")).unwrap();
    let before = std::fs::read(photos.join("cat_p.png")).unwrap();
    let o = stylize(&[OsStr::new("run"), photos.as_os_str(), OsStr::new("--style"), style.as_os_str(), OsStr::new("--size"), OsStr::new("64"), OsStr::new("--out-dir"), photos.as_os_str(), OsStr::new("--overwrite")]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("1 written") && err.contains("1 failed") && err.contains("refusing to overwrite"), "{err}");
    assert_eq!(std::fs::read(photos.join("cat_p.png")).unwrap(), before, "the photo named cat_p.png is intact");
    assert!(photos.join("cat_p_p.png").is_file());
}

#[test]
fn sizes_are_checked_after_the_last_resize_and_name_the_files_own_size() {
    let d = tempfile::tempdir().unwrap();
    let thin = d.path().join("thin.png");
    std::fs::write(&thin, png(&DynamicImage::ImageRgb8(ImageBuffer::from_pixel(20_000, 2, Rgb([200, 30, 30]))))).unwrap();
    let wide = d.path().join("wide.png");
    std::fs::write(&wide, png(&DynamicImage::ImageRgb8(ImageBuffer::from_pixel(2000, 40, Rgb([200, 30, 30]))))).unwrap();
    let out = d.path().join("out.png");
    let cat = sample("photos/cat.jpg");
    let wave = sample("paintings/hokusai_great_wave.jpg");
    let run = |photo: &Path, style: &Path, extra: &[&str]| {
        let mut a: Vec<&OsStr> = vec![OsStr::new("run"), photo.as_os_str(), OsStr::new("--style"), style.as_os_str(), OsStr::new("-o"), out.as_os_str()];
        a.extend(extra.iter().map(OsStr::new));
        stylize(&a)
    };
    // The case: a 20000x2 painting is 512x1 at the style size (a VGG panic before).
    assert_one_line_error(&run(&cat, &thin, &[]), "thin.png: 20000x2 is too small: it would be resized to 512x1");
    assert_one_line_error(&run(&thin, &wave, &[]), "thin.png: 20000x2 is too small: it would be resized to 1024x1");
    // Fine as a file, too small once --max-size shrinks it.
    assert_one_line_error(&run(&wide, &wave, &["--max-size", "512"]), "wide.png: 2000x40 is too small: it would be resized to 512x10");
    assert_one_line_error(&run(&cat, &wave, &["--size", "30000"]), "cat.jpg: 640x480 would be resized to 30000x22500");
    assert_one_line_error(&run(&cat, &wave, &["--style-size", "100000"]), "over the limit of 4096");
    assert!(!out.exists());
}

#[test]
fn odd_paths_work_and_odd_files_get_one_line() {
    let d = tempfile::tempdir().unwrap();
    let spaced = d.path().join("my photos");
    std::fs::create_dir(&spaced).unwrap();
    let dürer = spaced.join("Dürer Löwe.jpg");
    std::fs::copy(sample("photos/cat.jpg"), &dürer).unwrap();
    let raw = spaced.join(OsStr::from_bytes(b"bad\xffname.jpg"));
    std::fs::copy(sample("photos/cat.jpg"), &raw).unwrap();
    let wave = sample("paintings/hokusai_great_wave.jpg");
    let out = d.path().join("out dir");
    let o = stylize(&[OsStr::new("run"), spaced.as_os_str(), OsStr::new("--style"), wave.as_os_str(), OsStr::new("--size"), OsStr::new("64"), OsStr::new("--out-dir"), out.as_os_str()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.join("Dürer Löwe_hokusai_great_wave.png").is_file(), "{:?}", list(&out));
    assert!(out.join(OsStr::from_bytes(b"bad\xffname_hokusai_great_wave.png")).is_file(), "the name keeps its bytes: {:?}", list(&out));

    // A symlink loop, and a FIFO (which must not hang waiting for a writer).
    let (a, b) = (d.path().join("a.jpg"), d.path().join("b.jpg"));
    std::os::unix::fs::symlink(&b, &a).unwrap();
    std::os::unix::fs::symlink(&a, &b).unwrap();
    let fifo = d.path().join("fifo.jpg");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let o1 = d.path().join("o.png");
    for (input, needle) in [(&a, "a.jpg"), (&fifo, "fifo.jpg")] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_stylize"))
            .args([OsStr::new("run"), input.as_os_str(), OsStr::new("--style"), wave.as_os_str(), OsStr::new("-o"), o1.as_os_str()])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while child.try_wait().unwrap().is_none() {
            if started.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                panic!("{} hangs", input.display());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_one_line_error(&child.wait_with_output().unwrap(), needle);
    }
    assert!(!o1.exists());
}

/// A batch of `n` photos (copies of the samples) in `dir/in`.
fn photo_folder(dir: &Path, n: usize) -> PathBuf {
    let inp = dir.join("in");
    std::fs::create_dir(&inp).unwrap();
    let samples = ["cat.jpg", "bent_pyramid.jpg", "berlin_cathedral.jpg"];
    for i in 0..n {
        std::fs::copy(sample(&format!("photos/{}", samples[i % 3])), inp.join(format!("p{i:02}.jpg"))).unwrap();
    }
    inp
}

/// Every file in `out` is a complete image of the batch (no partial, hidden or temporary file).
fn only_complete_outputs(out: &Path) -> usize {
    let names = list(out);
    for n in &names {
        assert!(n.starts_with('p') && n.ends_with("_hokusai_great_wave.png"), "unexpected file {n} in {names:?}");
        let img = stylize_io::load(&out.join(n), &Default::default()).unwrap_or_else(|e| panic!("{n} is not complete: {e}"));
        assert_eq!(img.rgb.width().max(img.rgb.height()), 160, "{n}");
    }
    names.len()
}

#[test]
fn a_killed_batch_leaves_only_complete_outputs_and_resumes() {
    let d = tempfile::tempdir().unwrap();
    let inp = photo_folder(d.path(), 12);
    let out = d.path().join("out");
    let wave = sample("paintings/hokusai_great_wave.jpg");
    let args = [OsStr::new("run"), inp.as_os_str(), OsStr::new("--style"), wave.as_os_str(), OsStr::new("--size"), OsStr::new("160"), OsStr::new("--out-dir"), out.as_os_str()];
    let mut done = 0;
    for (signal, number) in [("INT", libc::SIGINT), ("TERM", libc::SIGTERM), ("KILL", libc::SIGKILL)] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_stylize"));
        cmd.args(args).stderr(Stdio::null());
        // A shell starts background jobs with SIGINT ignored, and children inherit that: give
        // the batch the default disposition a user's Ctrl-C meets.
        // SAFETY: signal(2) is async-signal-safe, which is all pre_exec may call.
        unsafe {
            cmd.pre_exec(|| {
                libc::signal(libc::SIGINT, libc::SIG_DFL);
                libc::signal(libc::SIGTERM, libc::SIG_DFL);
                Ok(())
            });
        }
        let mut child = cmd.spawn().unwrap();
        // Kill it while it works: once it has written one more photo, with more to come.
        let started = Instant::now();
        while out.read_dir().map_or(0, |r| r.count()) <= done {
            assert!(started.elapsed() < Duration::from_secs(120), "no progress before SIG{signal}");
            assert!(child.try_wait().unwrap().is_none(), "the batch ended before SIG{signal}");
            std::thread::sleep(Duration::from_millis(10));
        }
        // SAFETY: kill(2) on our own child's pid, which has not been waited for yet.
        assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, number) }, 0, "SIG{signal}");
        let status = child.wait().unwrap();
        assert!(!status.success(), "SIG{signal} stopped it");
        let now = only_complete_outputs(&out);
        assert!(now > done && now < 12, "after SIG{signal}: {now} outputs");
        done = now;
    }
    // Run again: it skips what is there and finishes the rest.
    let o = stylize(&args);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains(&format!("{} written, {done} skipped", 12 - done)), "{err}");
    assert_eq!(only_complete_outputs(&out), 12);
}

#[test]
fn shards_split_a_batch_between_machines_with_no_overlap() {
    let d = tempfile::tempdir().unwrap();
    let inp = photo_folder(d.path(), 5);
    let out = d.path().join("out");
    let wave = sample("paintings/hokusai_great_wave.jpg");
    let mut written = Vec::new();
    for shard in ["0/2", "1/2"] {
        let o = stylize(&[OsStr::new("run"), inp.as_os_str(), OsStr::new("--style"), wave.as_os_str(), OsStr::new("--size"), OsStr::new("160"), OsStr::new("--out-dir"), out.as_os_str(), OsStr::new("--shard"), OsStr::new(shard)]);
        let err = stderr(&o);
        assert!(o.status.success(), "{err}");
        written.push(list(&out).len());
        assert!(err.contains(&format!("(shard {shard}: ")), "{err}");
    }
    // Photos 0, 2, 4 then 1, 3: together the whole batch, each photo once.
    assert_eq!(written, vec![3, 5]);
    assert_eq!(only_complete_outputs(&out), 5);
    let o = stylize(&[OsStr::new("run"), inp.as_os_str(), OsStr::new("--style"), wave.as_os_str(), OsStr::new("--out-dir"), out.as_os_str(), OsStr::new("--shard"), OsStr::new("2/2")]);
    assert_one_line_error(&o, "--shard");
}
