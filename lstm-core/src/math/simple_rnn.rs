//! The plain recurrent cell of Keras' `SimpleRNN`: one product, one nonlinearity, no gates.
//!
//! ```text
//! a_t = x_t·W + b + h_{t-1}·U
//! h_t = act(a_t)                    tanh by default
//! ```
//!
//! Backward, `d(loss)/d(h_{t-1}) = (d(loss)/d(h_t) ⊙ act'(a_t))·Uᵀ`: every step multiplies the
//! gradient by `Uᵀ` and by `act'`, which is below 1 for tanh. Over many steps the product
//! shrinks geometrically: the vanishing gradient the LSTM's additive cell state avoids.
//! The [`SimpleRnn`](crate::SimpleRnn) layer runs `step_in_place` and `step_backward_in_place`;
//! [`step`] calls them too.

use ndarray::{Array2, ArrayView1, ArrayView2, ArrayViewMut2};

use crate::error::Result;
use crate::math::activation::Activation;
use crate::math::cell::{elementwise, same_shape};

/// One step with Keras weights (`kernel: [in, u]`, `recurrent_kernel: [u, u]`, `bias: [u]`):
/// returns `h_t`, `[batch, u]`.
pub fn step(
    x: ArrayView2<f32>,
    h_prev: ArrayView2<f32>,
    kernel: ArrayView2<f32>,
    recurrent_kernel: ArrayView2<f32>,
    bias: ArrayView1<f32>,
    activation: Activation,
) -> Result<Array2<f32>> {
    let (batch, units) = h_prev.dim();
    for (name, expected, got) in [
        ("kernel", vec![x.ncols(), units], kernel.shape()),
        (
            "recurrent_kernel",
            vec![units, units],
            recurrent_kernel.shape(),
        ),
        ("bias", vec![units], bias.shape()),
        ("x", vec![batch, x.ncols()], x.shape()),
    ] {
        same_shape("simple_rnn::step", name, &expected, got)?;
    }
    elementwise("simple_rnn::step", activation)?;
    let mut a = x.dot(&kernel) + bias + h_prev.dot(&recurrent_kernel);
    let mut h = Array2::zeros((batch, units));
    step_in_place(a.view_mut(), h.view_mut(), activation);
    Ok(h)
}

/// The step as the layer runs it: `a` holds `a_t` on entry and `h_t` on exit (backward needs only
/// the output); `h` receives a copy, the layer's state. Standard layout.
pub(crate) fn step_in_place(
    mut a: ArrayViewMut2<f32>,
    mut h: ArrayViewMut2<f32>,
    activation: Activation,
) {
    let a = a.as_slice_mut().expect("standard layout");
    activation.apply_in_place(a);
    h.as_slice_mut()
        .expect("standard layout")
        .copy_from_slice(a);
}

/// Backward through `h_t = act(a_t)`: `da = dh ⊙ act'(a_t)`, written into `da`. The caller
/// then sets `dh_{t-1} = da·Uᵀ`.
pub(crate) fn step_backward_in_place(
    h: ArrayView2<f32>,
    dh: ArrayView2<f32>,
    mut da: ArrayViewMut2<f32>,
    activation: Activation,
) {
    let out = da.as_slice_mut().expect("standard layout");
    let h = h.as_slice().expect("standard layout");
    let dh = dh.as_slice().expect("standard layout");
    match activation {
        Activation::Tanh => {
            for ((d, &y), &g) in out.iter_mut().zip(h).zip(dh) {
                *d = g * (1.0 - y * y);
            }
        }
        _ => {
            for ((d, &y), &g) in out.iter_mut().zip(h).zip(dh) {
                *d = g * activation.derivative_from_output(y);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{arr1, arr2};

    #[test]
    fn one_unit_step_matches_hand_computation() {
        let (w, u, b) = (
            arr2(&[[0.5f32], [-0.25]]),
            arr2(&[[0.8f32]]),
            arr1(&[0.1f32]),
        );
        let (x, h) = (arr2(&[[2.0f32, 1.0]]), arr2(&[[0.5f32]]));
        let got = step(
            x.view(),
            h.view(),
            w.view(),
            u.view(),
            b.view(),
            Activation::Tanh,
        )
        .unwrap();
        let want = (2.0f32 * 0.5 - 0.25 + 0.1 + 0.5 * 0.8).tanh();
        assert!((got[[0, 0]] - want).abs() < 1e-6);
        let relu = step(
            x.view(),
            h.view(),
            (-&w).view(),
            u.view(),
            b.view(),
            Activation::Relu,
        )
        .unwrap();
        assert_eq!(relu[[0, 0]], 0.0, "relu of -1 + 0.25 + 0.1 + 0.4 < 0");
    }
}
