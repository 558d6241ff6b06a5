//! The last net under the networks: a libtorch error that a size check missed becomes a
//! `PipelineError` for this one image (a CLI batch goes on, a server answers 500), not a
//! panic that prints a page of C++ frames and ends the process.

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

use crate::PipelineError;

thread_local! {
    /// Set while a guarded call runs on this thread: its panics are reported as errors, so
    /// the panic hook stays silent for them.
    static GUARDED: Cell<bool> = const { Cell::new(false) };
}

/// Wraps the process's panic hook so that panics caught by [`guarded`] print nothing. Called by
/// every guarded call; only the first one installs it.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !GUARDED.with(Cell::get) {
                previous(info);
            }
        }));
    });
}

/// Runs `f`; a panic inside (tch turns every libtorch error into one) becomes
/// [`PipelineError::Network`] with the first line of its message.
pub(crate) fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, PipelineError> {
    install_panic_hook();
    let was = GUARDED.with(|g| g.replace(true));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    GUARDED.with(|g| g.set(was));
    result.map_err(|p| PipelineError::Network(first_line(&panic_message(p.as_ref()))))
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| p.downcast_ref::<String>().cloned()).unwrap_or_else(|| "unknown error".into())
}

/// libtorch's messages run on with "Exception raised from ..." and C++ frames: keep the first
/// line, at most 200 characters. tch's panics show the error with `{:?}`, so its line breaks
/// arrive as the two characters `\n` inside `Torch("...")`.
fn first_line(text: &str) -> String {
    let text = text.strip_prefix("called `Result::unwrap()` on an `Err` value: ").unwrap_or(text);
    let text = text.strip_prefix("Torch(\"").unwrap_or(text);
    let end = [text.find('\n'), text.find("\\n")].into_iter().flatten().min().unwrap_or(text.len());
    let line = text[..end].trim().trim_end_matches("\")");
    match line.char_indices().nth(200) {
        Some((i, _)) => format!("{}...", &line[..i]),
        None => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_libtorch_error_becomes_one_line() {
        let e = guarded(|| tch::Tensor::zeros([1, 1, 1, 1], (tch::Kind::Float, tch::Device::Cpu)).max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("the network failed: "), "{e}");
        assert!(!e.contains('\n') && e.len() < 260 && !e.contains("Exception raised"), "{e}");
        assert_eq!(guarded(|| 7).unwrap(), 7);
        assert!(!GUARDED.with(Cell::get), "the flag is restored");
    }

    #[test]
    fn long_messages_are_cut() {
        assert_eq!(first_line("a\nb"), "a");
        assert_eq!(first_line("called `Result::unwrap()` on an `Err` value: Torch(\"too small\\nException raised from\")"), "too small");
        assert_eq!(first_line(&"x".repeat(300)).len(), 203);
    }
}
