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
