// CPU autocast for tch: tch 0.26's `autocast` only acts when CUDA is present, but libtorch's
// CPU autocast (bf16) runs oneDNN's bf16 kernels (AVX512-BF16 or AMX): a training step at 256 px
// took 3.7 s instead of 6.5 s in f32 on our 2-core AVX512-BF16 machine.
#include <ATen/autocast_mode.h>

extern "C" {

// Enables or disables bf16 autocast on CPU for the calling thread; returns the previous state.
bool stylize_cpu_autocast_bf16(bool enabled) {
  bool previous = at::autocast::is_autocast_enabled(at::kCPU);
  at::autocast::set_autocast_dtype(at::kCPU, at::kBFloat16);
  at::autocast::set_autocast_enabled(at::kCPU, enabled);
  if (!enabled) {
    // Drop cached bf16 copies of weights so updated weights are cast afresh next time.
    at::autocast::clear_cache();
  }
  return previous;
}

bool stylize_cpu_autocast_enabled() { return at::autocast::is_autocast_enabled(at::kCPU); }

}  // extern "C"
