//! The training log: one CSV row per logged step, and its loss-curve PNG.

use std::io::Write;
use std::path::Path;

use crate::error::io;
use crate::{StepLosses, TrainError};

/// Averages losses over a logging window (single steps are noisy, and the identity term only
/// occurs on some steps: it is averaged over those).
#[derive(Default)]
pub struct LossMeter {
    sum: StepLosses,
    steps: u32,
    identity_steps: u32,
}

impl LossMeter {
    pub fn add(&mut self, l: &StepLosses, had_identity: bool) {
        let s = &mut self.sum;
        s.content += l.content;
        s.style += l.style;
        s.adv_g += l.adv_g;
        s.identity += l.identity;
        s.d_loss += l.d_loss;
        s.d_acc += l.d_acc;
        self.steps += 1;
        self.identity_steps += had_identity as u32;
    }

    /// The window's averages; resets the meter.
    pub fn take(&mut self) -> StepLosses {
        let n = self.steps.max(1) as f64;
        let s = &self.sum;
        let out = StepLosses {
            content: s.content / n,
            style: s.style / n,
            adv_g: s.adv_g / n,
            identity: s.identity / self.identity_steps.max(1) as f64,
            d_loss: s.d_loss / n,
            d_acc: s.d_acc / n,
        };
        *self = Self::default();
        out
    }
}

pub const HEADER: &str = "step,seconds,crop,content,style,adv_g,identity,d_loss,d_acc,adv_weight";

pub fn append(path: &Path, step: u64, seconds: f64, crop: u32, l: &StepLosses, adv_weight: f64) -> Result<(), TrainError> {
    let new = !path.exists();
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(io(path))?;
    if new {
        writeln!(f, "{HEADER}").map_err(io(path))?;
    }
    writeln!(
        f,
        "{step},{seconds:.3},{crop},{:.6},{:.6},{:.6},{:.6},{:.6},{:.4},{adv_weight:.4}",
        l.content, l.style, l.adv_g, l.identity, l.d_loss, l.d_acc
    )
    .map_err(io(path))
}

/// Drops rows after `step` (a resumed run repeats them) so the log has each step once.
pub fn truncate_after(path: &Path, step: u64) -> Result<(), TrainError> {
    let Ok(text) = std::fs::read_to_string(path) else { return Ok(()) };
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("step") || l.split(',').next().and_then(|s| s.parse::<u64>().ok()).is_some_and(|s| s <= step))
        .collect();
    stylize_model::model_dir::write_atomic(path, (kept.join("\n") + "\n").as_bytes()).map_err(TrainError::from)
}

/// Reads the CSV back as one series per loss column.
pub fn series(path: &Path) -> Vec<stylize_report::Series> {
    let Ok(text) = std::fs::read_to_string(path) else { return Vec::new() };
    let cols: Vec<&str> = HEADER.split(',').collect();
    let plotted = ["content", "style", "adv_g", "identity", "d_loss", "d_acc"];
    let mut out: Vec<stylize_report::Series> =
        plotted.iter().map(|n| stylize_report::Series { name: n.to_string(), points: Vec::new() }).collect();
    for line in text.lines().skip(1) {
        let v: Vec<f64> = line.split(',').map(|s| s.parse().unwrap_or(f64::NAN)).collect();
        if v.len() != cols.len() {
            continue;
        }
        for s in out.iter_mut() {
            let i = cols.iter().position(|c| *c == s.name).expect("plotted column exists");
            s.points.push((v[0], v[i]));
        }
    }
    out
}
