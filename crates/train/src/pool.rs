//! The teacher pool: a fixed, numbered set of distillation examples (a photo crop, a painting
//! crop and the teacher's stylization of the pair), made on first use and kept on disk as 8-bit
//! images. The teacher costs ~8x a student step on these 2 cores; made once, an example serves
//! every later epoch, stage and session.
//!
//! Example `i` depends only on (data, crop settings, seed, i), so a pool can be filled by any
//! run and read by any other with the same key; it lives in the cache directory, never in the
//! repository.

use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use stylize_model::{Generator, StyleCode, Vgg16};
use tch::{Kind, Tensor};

use crate::data::ImageSet;
use crate::error::io;
use crate::TrainError;

/// How the examples are drawn: part of the pool's key.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolSpec {
    pub crop: u32,
    pub min_zoom: f64,
    pub seed: u64,
    /// The share of examples stylized at a random strength in [0, 1) instead of 1, so the
    /// student learns the teacher's strengths too (at 0 the teacher gives the photo back).
    pub varied_strength: f64,
}

pub struct TeacherPool {
    dir: PathBuf,
    spec: PoolSpec,
}

/// One batch of examples, as (N,3,S,S) f32 tensors in 0..1, and each one's strength.
pub struct Examples {
    pub photos: Tensor,
    pub paintings: Tensor,
    pub teacher: Tensor,
    pub strengths: Vec<f64>,
}

impl TeacherPool {
    /// The pool for `spec` under `root`, in a folder named by a hash of everything its examples
    /// depend on: the teacher's weights, the image names, the crop settings and the seed.
    pub fn open(root: &Path, teacher_weights: &Path, content: &ImageSet, style: &ImageSet, spec: PoolSpec) -> Result<Self, TrainError> {
        let weights = std::fs::read(teacher_weights).map_err(io(teacher_weights))?;
        let mut h = Fnv::default();
        h.write(&weights);
        for name in content.names.iter().chain(&style.names) {
            h.write(name.as_bytes());
            h.write(&[0]);
        }
        h.write(format!("{}|{}|{}|{}|{}", spec.crop, spec.min_zoom, spec.seed, content.len(), style.len()).as_bytes());
        // Pools made before strengths varied keep their key.
        if spec.varied_strength > 0.0 {
            h.write(format!("|strength {}", spec.varied_strength).as_bytes());
        }
        let dir = root.join(format!("{:016x}", h.0));
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        Ok(Self { dir, spec })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, i: u64) -> PathBuf {
        self.dir.join(format!("{i:07}.safetensors"))
    }

    /// Examples `indices`, made by the teacher (and stored) where missing.
    pub fn get(&self, indices: &[u64], content: &ImageSet, style: &ImageSet, teacher: &Generator, vgg: &Vgg16) -> Result<Examples, TrainError> {
        let mut rows: Vec<Option<Example>> = indices.iter().map(|&i| read_example(&self.path(i))).collect();
        let missing: Vec<usize> = (0..indices.len()).filter(|&k| rows[k].is_none()).collect();
        let draws: Vec<(usize, Tensor, Tensor, f64)> = missing
            .iter()
            .map(|&k| {
                let mut rng = ChaCha8Rng::seed_from_u64(example_seed(self.spec.seed, indices[k]));
                let photo = content.batch(&mut rng, 1, self.spec.crop, self.spec.min_zoom);
                let painting = style.batch(&mut rng, 1, self.spec.crop, self.spec.min_zoom);
                // No extra draw when strengths do not vary: older pools' examples stay the same.
                let varied = self.spec.varied_strength > 0.0 && rng.gen_bool(self.spec.varied_strength.min(1.0));
                // Kept at f32 precision, as stored, so a resumed run reads back the strength it drew.
                (k, photo, painting, if varied { rng.gen_range(0.0f32..1.0) as f64 } else { 1.0 })
            })
            .collect();
        // The teacher takes one strength per call: the examples at 1 together, others alone.
        let (full, single): (Vec<_>, Vec<_>) = draws.into_iter().partition(|d| d.3 == 1.0);
        let groups = std::iter::once(full).chain(single.into_iter().map(|d| vec![d])).filter(|g| !g.is_empty());
        for group in groups {
            let photos = Tensor::cat(&group.iter().map(|d| d.1.shallow_clone()).collect::<Vec<_>>(), 0);
            let paintings = Tensor::cat(&group.iter().map(|d| d.2.shallow_clone()).collect::<Vec<_>>(), 0);
            let strength = group[0].3;
            let out = tch::no_grad(|| teacher.stylize(vgg, &photos, &StyleCode::from_images(vgg, &paintings), strength));
            for (j, d) in group.iter().enumerate() {
                let j = j as i64;
                let ex = Example { images: [to_u8(&photos.get(j)), to_u8(&paintings.get(j)), to_u8(&out.get(j))], strength };
                write_example(&self.path(indices[d.0]), &ex)?;
                rows[d.0] = Some(ex);
            }
        }
        let rows: Vec<Example> = rows.into_iter().map(|r| r.expect("filled")).collect();
        let stack = |f: usize| Tensor::stack(&rows.iter().map(|r| r.images[f].shallow_clone()).collect::<Vec<_>>(), 0).to_kind(Kind::Float) / 255.0;
        Ok(Examples { photos: stack(0), paintings: stack(1), teacher: stack(2), strengths: rows.iter().map(|r| r.strength).collect() })
    }

    /// How many examples are stored.
    pub fn stored(&self) -> usize {
        std::fs::read_dir(&self.dir).map(|d| d.filter_map(|e| e.ok()).filter(|e| !e.file_name().to_string_lossy().contains("tmp")).count()).unwrap_or(0)
    }
}

fn example_seed(seed: u64, i: u64) -> u64 {
    seed.wrapping_mul(0xD1B5_4A32_D192_ED03) ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5EED
}

/// 0..1 to 8-bit (the teacher's output is already clamped and is stored to within 0.5/255).
fn to_u8(t: &Tensor) -> Tensor {
    (t * 255.0).round().clamp(0.0, 255.0).to_kind(Kind::Uint8)
}

const FIELDS: [&str; 3] = ["photo", "painting", "teacher"];

/// One stored example: (3,S,S) 8-bit photo, painting and teacher output, and the strength.
struct Example {
    images: [Tensor; 3],
    strength: f64,
}

/// A stored example, or None if absent or unreadable (a torn file is made again). Examples
/// without a strength (pools from before strengths varied) are at strength 1.
fn read_example(path: &Path) -> Option<Example> {
    let map: std::collections::HashMap<String, Tensor> = Tensor::read_safetensors(path).ok()?.into_iter().collect();
    let [a, b, c] = FIELDS.map(|f| map.get(f).map(|t| t.shallow_clone()));
    let strength = map.get("strength").map_or(1.0, |t| t.double_value(&[0]));
    Some(Example { images: [a?, b?, c?], strength })
}

fn write_example(path: &Path, ex: &Example) -> Result<(), TrainError> {
    // The temporary name must end in .safetensors for tch; renamed into place when whole.
    let tmp = path.with_extension("tmp.safetensors");
    let mut named: Vec<(&str, Tensor)> = FIELDS.iter().zip(&ex.images).map(|(f, t)| (*f, t.shallow_clone())).collect();
    if ex.strength != 1.0 {
        named.push(("strength", Tensor::from_slice(&[ex.strength as f32])));
    }
    Tensor::write_safetensors(&named, &tmp)?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

/// FNV-1a, 64 bit: a hash that stays the same across Rust versions (folder names persist).
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_by_hand() {
        // Published FNV-1a 64 test vectors.
        let h = |s: &str| {
            let mut f = Fnv::default();
            f.write(s.as_bytes());
            f.0
        };
        assert_eq!(h(""), 0xcbf29ce484222325);
        assert_eq!(h("a"), 0xaf63dc4c8601ec8c);
        assert_eq!(h("foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn u8_round_trip_within_half_a_level() {
        let t = Tensor::rand([3, 8, 8], (Kind::Float, tch::Device::Cpu));
        let back = to_u8(&t).to_kind(Kind::Float) / 255.0;
        assert!((back - t).abs().max().double_value(&[]) <= 0.5 / 255.0 + 1e-6);
    }
}
