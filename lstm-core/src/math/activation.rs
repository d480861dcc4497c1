//! Activation functions and the derivatives backpropagation needs.

use rten_simd::SimdUnaryOp;
use serde::{Deserialize, Serialize};

/// The logistic sigmoid `1 / (1 + e^-x)`, written so it never overflows.
pub fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// `σ` over a whole slice, vectorised (rten-vecmath: within 4 ULP of the exact value).
pub fn sigmoid_in_place(values: &mut [f32]) {
    rten_vecmath::Sigmoid {}.map_mut(values);
}

/// Softmax of one row in place, shifted by its maximum so it never overflows.
pub fn softmax_in_place(row: &mut [f32]) {
    let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let mut sum = 0.0;
    for v in row.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    row.iter_mut().for_each(|v| *v /= sum);
}

/// Activations, by their Keras names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    #[default]
    /// `x`.
    Linear,
    /// `max(x, 0)`.
    Relu,
    /// `1 / (1 + e^−x)`.
    Sigmoid,
    /// `tanh(x)`.
    Tanh,
    /// Over a whole row (the last axis); `Dense` only, since the LSTM's activations act on each
    /// value alone.
    Softmax,
}

impl Activation {
    /// Applies the activation to one value. Softmax, which works on a whole row, sees a row of
    /// one value here and gives 1.
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Activation::Linear => x,
            Activation::Relu => x.max(0.0),
            Activation::Sigmoid => sigmoid(x),
            Activation::Tanh => x.tanh(),
            Activation::Softmax => {
                if x.is_nan() {
                    x
                } else {
                    1.0
                }
            }
        }
    }

    /// Applies the activation to a whole slice: the form the layers run. Sigmoid and tanh are
    /// vectorised (rten-vecmath, within 4 ULP), many times faster than one call per value.
    /// Softmax treats the slice as one row.
    pub fn apply_in_place(self, values: &mut [f32]) {
        match self {
            Activation::Linear => {}
            Activation::Relu => values.iter_mut().for_each(|v| *v = v.max(0.0)),
            Activation::Sigmoid => sigmoid_in_place(values),
            Activation::Tanh => rten_vecmath::Tanh {}.map_mut(values),
            Activation::Softmax => softmax_in_place(values),
        }
    }

    /// The derivative, written in terms of the *output* `y = act(x)` where that is cheaper.
    /// relu'(0) is 0, as in TensorFlow. For softmax this is the Jacobian's diagonal
    /// `∂y_k/∂x_k = y_k(1 − y_k)`; its backward pass needs the whole Jacobian, which `Dense` uses.
    pub fn derivative_from_output(self, y: f32) -> f32 {
        match self {
            Activation::Linear => 1.0,
            Activation::Relu => (y > 0.0) as u8 as f32,
            Activation::Sigmoid | Activation::Softmax => y * (1.0 - y),
            Activation::Tanh => 1.0 - y * y,
        }
    }

    /// The Keras name, as used in configs and summaries.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Linear => "linear",
            Activation::Relu => "relu",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Softmax => "softmax",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigmoid_is_stable_and_correct() {
        assert_eq!(sigmoid(0.0), 0.5);
        assert!((sigmoid(2.0) - 0.880_797_1).abs() < 1e-7);
        assert_eq!(sigmoid(-1000.0), 0.0);
        assert_eq!(sigmoid(1000.0), 1.0);
    }

    #[test]
    fn derivatives_match_finite_differences() {
        for act in [
            Activation::Linear,
            Activation::Relu,
            Activation::Sigmoid,
            Activation::Tanh,
        ] {
            for x in [-1.3f32, 0.4, 2.0] {
                let h = 1e-3;
                let numeric = (act.apply(x + h) - act.apply(x - h)) / (2.0 * h);
                let analytic = act.derivative_from_output(act.apply(x));
                assert!((numeric - analytic).abs() < 1e-3, "{act:?} at {x}");
            }
        }
        assert_eq!(Activation::Relu.derivative_from_output(0.0), 0.0);
    }

    #[test]
    fn vectorised_activations_agree_with_the_scalar_ones() {
        // Lengths around the SIMD width exercise the vector body and the tail.
        for len in [1usize, 7, 8, 9, 33] {
            let xs: Vec<f32> = (0..len).map(|k| k as f32 * 0.73 - 11.0).collect();
            for act in [
                Activation::Linear,
                Activation::Relu,
                Activation::Sigmoid,
                Activation::Tanh,
            ] {
                let mut got = xs.clone();
                act.apply_in_place(&mut got);
                for (x, y) in xs.iter().zip(&got) {
                    let want = act.apply(*x);
                    assert!(
                        (y - want).abs() <= 4.0 * f32::EPSILON * want.abs().max(f32::MIN_POSITIVE),
                        "{act:?}({x}) = {y}, scalar {want}"
                    );
                }
            }
        }
        let mut row = [1.0f32, 2.0, 3.0];
        Activation::Softmax.apply_in_place(&mut row);
        let total: f32 = [1.0f32, 2.0, 3.0].iter().map(|v| v.exp()).sum();
        for (k, p) in row.iter().enumerate() {
            assert!((p - ((k + 1) as f32).exp() / total).abs() < 1e-7);
        }
        assert_eq!(Activation::Softmax.apply(42.0), 1.0, "a row of one value");
        let mut extremes = [-1000.0f32, 1000.0, 0.0];
        sigmoid_in_place(&mut extremes);
        assert_eq!(extremes, [0.0, 1.0, 0.5]);
    }
}
