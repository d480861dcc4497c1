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
use crate::math::shapes::{elementwise, same_shape};

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

/// Backpropagation through time as a product of Jacobians, measured. Runs the tanh RNN over
/// one sequence `x: [T, in]` from `h_0 = 0`, starts a gradient of norm 1 at `h_T` (every unit
/// alike), and sends it back step by step:
///
/// ```text
/// dL/dh_{t-1} = (dL/dh_t ⊙ (1 − h_t²))·Uᵀ      one Jacobian per step
/// ```
///
/// Returns `|dL/dh_{T−k}|` for `k = 0..=T`: entry `k` is what is left of the gradient `k`
/// steps back. Each factor multiplies it by at most `σ_max(U)` (the largest singular value of
/// `U`), and by less where `tanh` saturates: below 1 it vanishes geometrically, above 1 it can
/// explode.
pub fn gradient_by_distance(
    x: ArrayView2<f32>,
    kernel: ArrayView2<f32>,
    recurrent_kernel: ArrayView2<f32>,
    bias: ArrayView1<f32>,
) -> Result<Vec<f32>> {
    let units = recurrent_kernel.nrows();
    if x.nrows() == 0 {
        return Err(crate::error::LstmError::Empty {
            context: "simple_rnn::gradient_by_distance: the sequence x".into(),
            min: 1,
        });
    }
    crate::check::ensure_finite("simple_rnn::gradient_by_distance: x", &x)?;
    let mut h = Array2::zeros((1, units));
    let mut states = Vec::with_capacity(x.nrows());
    for x_t in x.rows() {
        h = step(
            x_t.insert_axis(ndarray::Axis(0)),
            h.view(),
            kernel,
            recurrent_kernel,
            bias,
            Activation::Tanh,
        )?;
        states.push(h.clone());
    }
    let mut grad = Array2::from_elem((1, units), 1.0 / (units as f32).sqrt());
    let norm = |g: &Array2<f32>| g.iter().map(|v| v * v).sum::<f32>().sqrt();
    let mut norms = vec![norm(&grad)];
    for h_t in states.iter().rev() {
        let da = &grad * &h_t.mapv(|v| 1.0 - v * v);
        grad = da.dot(&recurrent_kernel.t());
        norms.push(norm(&grad));
    }
    Ok(norms)
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

#[cfg(test)]
mod gradient_tests {
    use super::*;
    use ndarray::{Array1, Array2};

    /// In the linear regime (zero input: h stays 0, tanh' = 1) each step multiplies the
    /// gradient by Uᵀ exactly: for U = s·Q, Q orthogonal, the norm k steps back is s^k.
    #[test]
    fn zero_input_gives_the_singular_value_to_the_power_k() {
        let q = crate::math::init::orthogonal(6, 6, &mut crate::math::init::seeded_rng(3));
        for s in [0.9f32, 1.1] {
            let u = &q * s;
            let norms = gradient_by_distance(
                Array2::zeros((20, 2)).view(),
                Array2::zeros((2, 6)).view(),
                u.view(),
                Array1::zeros(6).view(),
            )
            .unwrap();
            assert_eq!(norms.len(), 21);
            for (k, n) in norms.iter().enumerate() {
                let want = s.powi(k as i32);
                assert!(
                    (n - want).abs() <= 1e-4 * want,
                    "s {s}, k {k}: {n} vs {want}"
                );
            }
        }
    }

    /// One step back against central finite differences of h_T·g in h_{T-1}.
    #[test]
    fn one_step_back_matches_finite_differences() {
        let w = Array2::from_shape_fn((1, 3), |(_, k)| 0.3 + 0.2 * k as f32);
        let u = Array2::from_shape_fn((3, 3), |(r, k)| (r as f32 - k as f32) * 0.4 + 0.1);
        let b = Array1::from_elem(3, 0.05);
        let x = Array2::from_shape_fn((2, 1), |(t, _)| 0.5 - t as f32);
        let norms = gradient_by_distance(x.view(), w.view(), u.view(), b.view()).unwrap();
        // Numerically: L(h_1) = g · h_2(h_1), g = 1/√3 each.
        let h1 = step(
            x.slice(ndarray::s![0..1, ..]),
            Array2::zeros((1, 3)).view(),
            w.view(),
            u.view(),
            b.view(),
            Activation::Tanh,
        )
        .unwrap();
        let loss = |h: &Array2<f32>| {
            let h2 = step(
                x.slice(ndarray::s![1..2, ..]),
                h.view(),
                w.view(),
                u.view(),
                b.view(),
                Activation::Tanh,
            )
            .unwrap();
            h2.sum() as f64 / 3f64.sqrt()
        };
        let eps = 1e-3f32;
        let numeric: Vec<f64> = (0..3)
            .map(|k| {
                let (mut up, mut down) = (h1.clone(), h1.clone());
                up[[0, k]] += eps;
                down[[0, k]] -= eps;
                (loss(&up) - loss(&down)) / (2.0 * eps as f64)
            })
            .collect();
        let numeric_norm = numeric.iter().map(|v| v * v).sum::<f64>().sqrt() as f32;
        assert!(
            (norms[1] - numeric_norm).abs() < 1e-3,
            "{} vs {numeric_norm}",
            norms[1]
        );
        assert!(
            gradient_by_distance(Array2::zeros((0, 1)).view(), w.view(), u.view(), b.view())
                .is_err()
        );
    }
}
