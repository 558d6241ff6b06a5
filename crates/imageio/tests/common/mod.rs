//! Builders for the test corpus: every input is generated at test time, no binary
//! fixtures in the repository.
#![allow(dead_code)] // each test binary uses a different subset

use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};
use stylize_io::ImageError;

/// Assert a one-line message that names the file and contains the problem.
pub fn assert_err(err: &ImageError, path: &str, problem: &str) {
    let msg = err.to_string();
    assert!(
        !msg.contains('\n') && !msg.contains('\r'),
        "not one line: {msg:?}"
    );
    assert!(msg.contains(path), "message does not name {path:?}: {msg}");
    assert!(msg.contains(problem), "message lacks {problem:?}: {msg}");
    assert_eq!(err.path(), path);
}

pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Deterministic pseudo-random pixels (a gradient would compress to almost nothing,
/// making truncation tests meaningless).
pub fn noise_rgb(w: u32, h: u32, seed: u32) -> RgbImage {
    let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    RgbImage::from_fn(w, h, |_, _| {
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s >> 24) as u8
        };
        Rgb([next(), next(), next()])
    })
}

/// A smooth image: survives JPEG nearly unchanged, so colours can be checked.
pub fn gradient_rgb(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        Rgb([(x * 255 / w.max(1)) as u8, (y * 255 / h.max(1)) as u8, 128])
    })
}

pub fn encode(img: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut buf = Cursor::new(Vec::new());
    img.write_to(&mut buf, format).unwrap();
    buf.into_inner()
}

pub fn png(img: &DynamicImage) -> Vec<u8> {
    encode(img, ImageFormat::Png)
}

pub fn jpeg(img: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(img)
        .unwrap();
    out
}

/// A PNG chunk with a correct CRC.
pub fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut c = Vec::with_capacity(data.len() + 12);
    c.extend_from_slice(&(data.len() as u32).to_be_bytes());
    c.extend_from_slice(kind);
    c.extend_from_slice(data);
    let mut h = crc32fast::Hasher::new();
    h.update(kind);
    h.update(data);
    c.extend_from_slice(&h.finalize().to_be_bytes());
    c
}

/// A tiny, well-formed PNG whose IHDR claims `w`x`h` RGB pixels (a decompression bomb
/// as far as the header is concerned; the IDAT holds almost nothing).
pub fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB, deflate, adaptive, no interlace
    v.extend(png_chunk(b"IHDR", &ihdr));
    // zlib stream of one empty stored block.
    v.extend(png_chunk(
        b"IDAT",
        &[
            0x78, 0x01, 0x01, 0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x01,
        ],
    ));
    v.extend(png_chunk(b"IEND", &[]));
    v
}

/// Indexed PNG written with the png crate (image cannot write palettes).
pub fn palette_png(w: u32, h: u32, palette: &[u8], trns: Option<&[u8]>, indices: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Indexed);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_palette(palette.to_vec());
        if let Some(t) = trns {
            enc.set_trns(t.to_vec());
        }
        let mut wr = enc.write_header().unwrap();
        wr.write_image_data(indices).unwrap();
        wr.finish().unwrap();
    }
    out
}

/// Two-frame animated GIF: first frame `first`, second `second`.
pub fn animated_gif(w: u32, h: u32, first: [u8; 3], second: [u8; 3]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = image::codecs::gif::GifEncoder::new(&mut out);
        let frame = |c: [u8; 3]| {
            image::Frame::new(RgbaImage::from_pixel(w, h, Rgba([c[0], c[1], c[2], 255])))
        };
        enc.encode_frames(vec![frame(first), frame(second)])
            .unwrap();
    }
    out
}

/// Insert a marker segment right after SOI and the JFIF APP0 (where EXIF belongs).
pub fn jpeg_insert_segment(jpeg: &[u8], marker: u8, payload: &[u8]) -> Vec<u8> {
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
    let mut pos = 2;
    if jpeg[2..4] == [0xFF, 0xE0] {
        pos = 4 + u16::from_be_bytes([jpeg[4], jpeg[5]]) as usize;
    }
    let mut out = jpeg[..pos].to_vec();
    out.extend_from_slice(&[0xFF, marker]);
    out.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(&jpeg[pos..]);
    out
}

/// APP1 payload: EXIF, big-endian TIFF, one IFD entry Orientation (0x0112) = `value`.
pub fn exif_orientation_payload(value: u16) -> Vec<u8> {
    let mut p = b"Exif\0\0".to_vec();
    p.extend_from_slice(b"MM\0\x2A\0\0\0\x08"); // TIFF header, IFD0 at offset 8
    p.extend_from_slice(&1u16.to_be_bytes()); // one entry
    p.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
    p.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    p.extend_from_slice(&1u32.to_be_bytes()); // count
    p.extend_from_slice(&value.to_be_bytes());
    p.extend_from_slice(&[0, 0]); // padding of the 4-byte value field
    p.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    p
}

/// A hand-made baseline CMYK JPEG (image cannot encode CMYK): Adobe APP14 with
/// transform 0, four components without subsampling, a unit quantisation table and
/// DC-only blocks, so every pixel stores exactly `cmyk` (Adobe-style, 255 = no ink).
pub fn cmyk_jpeg(w_blocks: u16, h_blocks: u16, cmyk: [u8; 4]) -> Vec<u8> {
    fn seg(out: &mut Vec<u8>, marker: u8, payload: &[u8]) {
        out.extend_from_slice(&[0xFF, marker]);
        out.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
        out.extend_from_slice(payload);
    }
    let mut out = vec![0xFF, 0xD8];
    seg(&mut out, 0xEE, b"Adobe\x00\x64\x00\x00\x00\x00\x00"); // transform 0 = CMYK
    let mut dqt = vec![0x00];
    dqt.extend_from_slice(&[1u8; 64]);
    seg(&mut out, 0xDB, &dqt);
    let (w, h) = (w_blocks * 8, h_blocks * 8);
    let mut sof = vec![8];
    sof.extend_from_slice(&h.to_be_bytes());
    sof.extend_from_slice(&w.to_be_bytes());
    sof.push(4);
    for id in 1..=4u8 {
        sof.extend_from_slice(&[id, 0x11, 0]);
    }
    seg(&mut out, 0xC0, &sof);
    // DC table: the 12 categories, all with 4-bit codes, so symbol n has code n.
    let mut dht = vec![0x00];
    let mut counts = [0u8; 16];
    counts[3] = 12;
    dht.extend_from_slice(&counts);
    dht.extend(0..12u8);
    seg(&mut out, 0xC4, &dht);
    // AC table: only EOB, code "0".
    let mut dht = vec![0x10];
    let mut counts = [0u8; 16];
    counts[0] = 1;
    dht.extend_from_slice(&counts);
    dht.push(0x00);
    seg(&mut out, 0xC4, &dht);
    let mut sos = vec![4];
    for id in 1..=4u8 {
        sos.extend_from_slice(&[id, 0x00]);
    }
    sos.extend_from_slice(&[0, 63, 0]);
    seg(&mut out, 0xDA, &sos);

    let mut bits = BitWriter::default();
    let mut pred = [0i32; 4];
    for _ in 0..(u32::from(w_blocks) * u32::from(h_blocks)) {
        for c in 0..4 {
            let dc = (i32::from(cmyk[c]) - 128) * 8; // unit quantiser: pixel = DC/8 + 128
            let diff = dc - pred[c];
            pred[c] = dc;
            let cat = 32 - diff.unsigned_abs().leading_zeros();
            bits.put(cat, 4);
            if cat > 0 {
                let extra = if diff > 0 {
                    diff
                } else {
                    diff + (1 << cat) - 1
                };
                bits.put(extra as u32, cat);
            }
            bits.put(0, 1); // EOB
        }
    }
    out.extend(bits.finish());
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

#[derive(Default)]
struct BitWriter {
    out: Vec<u8>,
    acc: u32,
    n: u32,
}

impl BitWriter {
    fn put(&mut self, value: u32, len: u32) {
        for i in (0..len).rev() {
            self.acc = (self.acc << 1) | ((value >> i) & 1);
            self.n += 1;
            if self.n == 8 {
                self.byte();
            }
        }
    }
    fn byte(&mut self) {
        let b = self.acc as u8;
        self.out.push(b);
        if b == 0xFF {
            self.out.push(0x00); // byte stuffing
        }
        self.acc = 0;
        self.n = 0;
    }
    fn finish(mut self) -> Vec<u8> {
        while self.n != 0 {
            self.put(1, 1); // pad with ones
        }
        self.out
    }
}

/// True when file permissions are not enforced for us (root, CAP_DAC_OVERRIDE):
/// then "unreadable"/"unwritable" cases cannot be produced and are skipped.
pub fn permissions_not_enforced(dir: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(".probe");
    std::fs::write(&p, b"x").unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o000)).unwrap();
    let readable = std::fs::File::open(&p).is_ok();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::remove_file(&p).unwrap();
    readable
}

/// Names in `dir`, sorted (to prove no temporary files are left behind).
pub fn list(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Progressive JPEG (several SOS segments), 4:4:4, written with jpeg-encoder since
/// image's encoder only writes baseline.
pub fn progressive_jpeg(img: &RgbImage, quality: u8) -> Vec<u8> {
    jpeg_encoded(img, quality, |enc| enc.set_progressive(true))
}

/// Baseline 4:4:4 JPEG (no chroma subsampling, so flat colour blocks survive exactly),
/// with optional ICC profile (split over APP2 segments by jpeg-encoder).
pub fn jpeg_444(img: &RgbImage, quality: u8, icc: Option<&[u8]>) -> Vec<u8> {
    jpeg_encoded(img, quality, |enc| {
        if let Some(icc) = icc {
            enc.add_icc_profile(icc).unwrap();
        }
    })
}

/// A 4:4:4 JPEG from jpeg-encoder, set up further by `configure`.
fn jpeg_encoded(img: &RgbImage, quality: u8, configure: impl FnOnce(&mut jpeg_encoder::Encoder<&mut Vec<u8>>)) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = jpeg_encoder::Encoder::new(&mut out, quality);
    enc.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_4_4);
    configure(&mut enc);
    let (w, h) = img.dimensions();
    enc.encode(img.as_raw(), w as u16, h as u16, jpeg_encoder::ColorType::Rgb).unwrap();
    out
}

/// Offsets of every marker `FF marker` that starts a segment, walking the JPEG the way
/// a decoder does (segment lengths, then entropy-coded data up to the next marker).
pub fn jpeg_marker_offsets(jpeg: &[u8], marker: u8) -> Vec<usize> {
    let mut found = Vec::new();
    let mut i = 2;
    while i + 4 <= jpeg.len() {
        assert_eq!(jpeg[i], 0xFF, "lost in the JPEG at {i}");
        let m = jpeg[i + 1];
        if m == marker {
            found.push(i);
        }
        if m == 0xD9 {
            break;
        }
        i += 2 + u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]) as usize;
        if m == 0xDA {
            // Skip the scan data: 0xFF is followed by 0x00 (stuffing) or RSTn inside it.
            while i + 1 < jpeg.len()
                && !(jpeg[i] == 0xFF
                    && jpeg[i + 1] != 0x00
                    && !(0xD0..=0xD7).contains(&jpeg[i + 1]))
            {
                i += 1;
            }
        }
    }
    found
}

/// Insert a chunk (with a correct CRC) right before the first IDAT, where ancillary
/// chunks such as iCCP, eXIf and text usually sit.
pub fn png_insert_chunk(png: &[u8], kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let at = png_chunk_offset(png, b"IDAT").expect("a PNG with IDAT");
    let mut out = png[..at].to_vec();
    out.extend(png_chunk(kind, data));
    out.extend_from_slice(&png[at..]);
    out
}

/// Offset of the length field of the first chunk of type `kind`.
pub fn png_chunk_offset(png: &[u8], kind: &[u8; 4]) -> Option<usize> {
    let mut i = 8;
    while i + 8 <= png.len() {
        let len = u32::from_be_bytes(png[i..i + 4].try_into().unwrap()) as usize;
        if &png[i + 4..i + 8] == kind {
            return Some(i);
        }
        i += 12 + len;
    }
    None
}

/// TIFF (big-endian) holding only IFD0 with Orientation = `value`: the body of an EXIF
/// block, as PNG's eXIf chunk stores it (JPEG's APP1 adds "Exif\0\0" in front).
pub fn exif_tiff_orientation(value: u16) -> Vec<u8> {
    exif_orientation_payload(value)[6..].to_vec()
}
