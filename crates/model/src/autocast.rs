//! Mixed precision on CPU: bf16 autocast through libtorch (see csrc/autocast.cpp).

extern "C" {
    fn stylize_cpu_autocast_bf16(enabled: bool) -> bool;
}

/// Numeric precision of the heavy convolutions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    F32,
    Bf16,
}

impl Precision {
    /// What `auto` picks on this machine: bf16 where the CPU computes it natively (AVX512-BF16,
    /// which every CPU with AMX has too), f32 elsewhere. Without AVX512-BF16 oneDNN emulates
    /// bf16 and the convs run slower than in f32 (bench/layers.md, on such a CPU).
    pub fn native() -> Precision {
        static NATIVE: std::sync::OnceLock<Precision> = std::sync::OnceLock::new();
        *NATIVE.get_or_init(|| {
            // /proc/cpuinfo rather than is_x86_feature_detected!, whose AVX-512 names need Rust 1.89.
            let native = std::fs::read_to_string("/proc/cpuinfo").is_ok_and(|info| cpu_has_flag(&info, "avx512_bf16"));
            if native { Precision::Bf16 } else { Precision::F32 }
        })
    }

    /// Parses `f32`, `bf16`, or `auto` (`Precision::native`).
    pub fn parse_or_auto(s: &str) -> Result<Precision, String> {
        match s {
            "auto" => Ok(Precision::native()),
            _ => s.parse().map_err(|_| format!("unknown precision '{s}': expected auto, f32 or bf16")),
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Precision::F32 => "f32",
            Precision::Bf16 => "bf16",
        })
    }
}

/// Whether a /proc/cpuinfo text lists `flag` among a processor's flags.
fn cpu_has_flag(cpuinfo: &str, flag: &str) -> bool {
    cpuinfo.lines().filter(|l| l.starts_with("flags")).any(|l| l.split_whitespace().any(|f| f == flag))
}

impl std::str::FromStr for Precision {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "f32" => Ok(Precision::F32),
            "bf16" => Ok(Precision::Bf16),
            _ => Err(format!("unknown precision '{s}': expected f32 or bf16")),
        }
    }
}

/// Runs `f` with CPU bf16 autocast on when `precision` is Bf16 (thread-local, restored after).
/// Tensors created inside may be bf16; callers cast results they keep back to f32.
pub fn with_precision<T>(precision: Precision, f: impl FnOnce() -> T) -> T {
    if precision == Precision::F32 {
        return f();
    }
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            unsafe { stylize_cpu_autocast_bf16(self.0) };
        }
    }
    let _restore = Restore(unsafe { stylize_cpu_autocast_bf16(true) });
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_flags_are_read_whole_from_the_flags_line() {
        let info = "processor\t: 0\nmodel name\t: CPU avx512_bf16\nflags\t\t: fpu avx512f avx512_bf16x avx512_vnni\n";
        assert!(cpu_has_flag(info, "avx512f"));
        assert!(!cpu_has_flag(info, "avx512_bf16"), "a longer flag or the model name must not count");
        assert!(cpu_has_flag(&format!("{info}flags\t\t: fpu avx512_bf16\n"), "avx512_bf16"));
    }

    #[test]
    fn auto_is_what_this_cpu_computes_natively() {
        assert_eq!(Precision::parse_or_auto("auto"), Ok(Precision::native()));
        assert_eq!(Precision::parse_or_auto("bf16"), Ok(Precision::Bf16));
        assert!(Precision::parse_or_auto("f16").unwrap_err().contains("auto, f32 or bf16"));
    }
}
