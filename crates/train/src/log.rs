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
    let mut f = open_log(path, HEADER)?;
    writeln!(
        f,
        "{step},{seconds:.3},{crop},{:.6},{:.6},{:.6},{:.6},{:.6},{:.4},{adv_weight:.4}",
        l.content, l.style, l.adv_g, l.identity, l.d_loss, l.d_acc
    )
    .map_err(io(path))
}

/// A CSV log opened for appending; a new one starts with `header`. A log whose header is an
/// earlier version of `header` (the same columns, fewer at the end) gets the new header: a run
/// resumed by a newer build keeps one file, its older rows simply shorter.
fn open_log(path: &Path, header: &str) -> Result<std::fs::File, TrainError> {
    let new = !path.exists();
    if !new {
        // Only the header line on every append; the whole file only the once it changes.
        let mut first = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(std::fs::File::open(path).map_err(io(path))?), &mut first).map_err(io(path))?;
        let first = first.trim_end();
        if first != header && header.starts_with(&format!("{first},")) {
            let text = std::fs::read_to_string(path).map_err(io(path))?;
            let rest = text.split_once('\n').map_or("", |(_, r)| r);
            stylize_model::model_dir::write_atomic(path, format!("{header}\n{rest}").as_bytes())?;
        }
    }
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(io(path))?;
    if new {
        writeln!(f, "{header}").map_err(io(path))?;
    }
    Ok(f)
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

/// Appends `step,seconds,values...` to a CSV log, writing `header` first into a new file
/// (the distillation's log, whose columns differ from the adversarial trainer's).
pub fn append_row(path: &Path, header: &str, step: u64, seconds: f64, values: &[f64]) -> Result<(), TrainError> {
    let mut f = open_log(path, header)?;
    let row: Vec<String> = values.iter().map(|v| format!("{v:.6}")).collect();
    writeln!(f, "{step},{seconds:.3},{}", row.join(",")).map_err(io(path))
}

/// Reads the adversarial trainer's CSV back as one series per loss column.
pub fn series(path: &Path) -> Vec<stylize_report::Series> {
    series_of(path, &["content", "style", "adv_g", "identity", "d_loss", "d_acc"])
}

/// One series per named column of a CSV log (first column: the step), by its own header.
pub fn series_of(path: &Path, plotted: &[&str]) -> Vec<stylize_report::Series> {
    let Ok(text) = std::fs::read_to_string(path) else { return Vec::new() };
    let mut lines = text.lines();
    let cols: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let picked: Vec<(usize, &str)> = plotted.iter().filter_map(|n| cols.iter().position(|c| c == n).map(|i| (i, *n))).collect();
    let mut out: Vec<stylize_report::Series> =
        picked.iter().map(|(_, n)| stylize_report::Series { name: n.to_string(), points: Vec::new() }).collect();
    for line in lines {
        let v: Vec<f64> = line.split(',').map(|s| s.parse().unwrap_or(f64::NAN)).collect();
        if v.len() > cols.len() {
            continue;
        }
        // Rows written before a column was added lack it.
        for (s, (i, _)) in out.iter_mut().zip(&picked).filter(|(_, (i, _))| *i < v.len()) {
            s.points.push((v[0], v[*i]));
        }
    }
    out
}

/// Wall time already spent by earlier sessions of a run: the last logged `seconds` (column 2).
pub fn elapsed_so_far(path: &Path) -> f64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| t.lines().last().and_then(|l| l.split(',').nth(1).and_then(|s| s.parse().ok())))
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_gains_new_columns_and_keeps_its_older_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.csv");
        append_row(&path, "step,seconds,a", 10, 1.0, &[0.5]).unwrap();
        append_row(&path, "step,seconds,a,b", 20, 2.0, &[0.25, 3.0]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().next(), Some("step,seconds,a,b"));
        let s = series_of(&path, &["a", "b"]);
        assert_eq!(s[0].points, vec![(10.0, 0.5), (20.0, 0.25)]);
        assert_eq!(s[1].points, vec![(20.0, 3.0)], "the older row has no b");
    }
}
