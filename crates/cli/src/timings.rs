//! `stylize run --timings`: where one run's seconds go (process start, model, style, and per
//! photo decode, network, encode), printed as one line on stderr.

use std::cell::RefCell;
use std::time::Instant;

pub struct Timings {
    enabled: bool,
    last: RefCell<Instant>,
    /// Phases in first-seen order, with their summed seconds.
    phases: RefCell<Vec<(&'static str, f64)>>,
}

impl Timings {
    /// Starts the clock; the time from the process's start to here is the first phase.
    pub fn new(enabled: bool) -> Self {
        let phases = since_process_start().map(|s| vec![("process start (libtorch loaded)", s)]).unwrap_or_default();
        Timings { enabled, last: RefCell::new(Instant::now()), phases: RefCell::new(phases) }
    }

    /// Adds the time since the last lap to `phase`.
    pub fn lap(&self, phase: &'static str) {
        if !self.enabled {
            return;
        }
        let now = Instant::now();
        let dt = now.duration_since(self.last.replace(now)).as_secs_f64();
        let mut phases = self.phases.borrow_mut();
        match phases.iter_mut().find(|(p, _)| *p == phase) {
            Some((_, s)) => *s += dt,
            None => phases.push((phase, dt)),
        }
    }

    /// Prints the phases, after `context` (e.g. the precision the network ran in).
    pub fn report(&self, context: &str) {
        if self.enabled {
            let parts: Vec<String> = self.phases.borrow().iter().map(|(p, s)| format!("{p} {:.0} ms", s * 1e3)).collect();
            eprintln!("timings ({context}): {}", parts.join(", "));
        }
    }
}

/// Seconds since this process was started (Linux: /proc), which includes the dynamic loader
/// mapping libtorch before `main`.
fn since_process_start() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Field 22 (starttime, in clock ticks since boot); the command name (field 2) may hold
    // spaces, so count from the closing parenthesis.
    let after = &stat[stat.rfind(')')? + 2..];
    let start_ticks: f64 = after.split(' ').nth(19)?.parse().ok()?;
    let uptime: f64 = std::fs::read_to_string("/proc/uptime").ok()?.split(' ').next()?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (ticks > 0.0).then(|| uptime - start_ticks / ticks)
}
