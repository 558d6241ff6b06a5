//! PyTorch's default initialisation for convolutions, which tch's defaults do not match:
//! kaiming-uniform with a = sqrt(5) for weights and a fan-in bound for biases, which both come
//! to U(-1/sqrt(fan_in), 1/sqrt(fan_in)).

use tch::nn;

/// A conv2d with PyTorch's initialisation and no built-in padding (callers pad explicitly).
pub fn conv2d(vs: nn::Path, cin: i64, cout: i64, k: i64, stride: i64) -> nn::Conv2D {
    conv2d_padded(vs, cin, cout, k, stride, 0)
}

/// The same with `padding` zeros inside the conv (layout-preserving, unlike a separate pad).
pub fn conv2d_padded(vs: nn::Path, cin: i64, cout: i64, k: i64, stride: i64, padding: i64) -> nn::Conv2D {
    let bound = 1.0 / ((cin * k * k) as f64).sqrt();
    let init = nn::Init::Uniform { lo: -bound, up: bound };
    nn::conv2d(vs, cin, cout, k, nn::ConvConfig { stride, padding, ws_init: init, bs_init: init, ..Default::default() })
}
