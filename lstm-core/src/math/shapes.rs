//! Checks the cells' teaching functions share: shapes named as the caller passed them, and
//! element-wise activations only.

use ndarray::{Array2, ArrayView2};

use crate::check::fmt_shape;
use crate::error::{LstmError, Result};
use crate::math::activation::Activation;

/// Refuses a shape other than `expected`, naming the argument .
pub(crate) fn same_shape(
    context: &str,
    name: &str,
    expected: &[usize],
    got: &[usize],
) -> Result<()> {
    if expected != got {
        return Err(LstmError::shape(
            format!("{context}: {name}"),
            fmt_shape(expected),
            fmt_shape(got),
        ));
    }
    Ok(())
}

/// The cell's activations are element-wise; softmax (over a row) is for `Dense` only.
pub(crate) fn elementwise(context: &str, activation: Activation) -> Result<()> {
    if activation == Activation::Softmax {
        return Err(LstmError::config(
            "cell activation",
            format!("an element-wise activation (tanh, relu, sigmoid or linear) for {context}"),
            "softmax",
        ));
    }
    Ok(())
}

/// The nonlinearity the layer applies (vectorised), so these functions give the layer's exact bits.
pub(crate) fn activated(z: ArrayView2<f32>, activation: Activation) -> Array2<f32> {
    let mut out = z.as_standard_layout().into_owned();
    activation.apply_in_place(out.as_slice_mut().expect("standard layout"));
    out
}
