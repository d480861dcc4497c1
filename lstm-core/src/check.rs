//! Checks and formats shared by the whole crate: shapes printed as Keras prints them, finite and
//! non-empty inputs, and fractions read as the decimals a user typed.

use crate::error::{LstmError, Result};

/// Formats a shape the way Keras prints it, e.g. `(None, 3, 1)` or `(4, 3, 1)`.
pub fn fmt_shape(dims: &[usize]) -> String {
    let parts: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
    match parts.len() {
        1 => format!("({},)", parts[0]),
        _ => format!("({})", parts.join(", ")),
    }
}

/// Checks that every value is finite; the error names the first bad index.
pub fn ensure_finite<S, D>(context: &str, x: &ndarray::ArrayBase<S, D>) -> Result<()>
where
    S: ndarray::Data<Elem = f32>,
    D: ndarray::Dimension,
{
    if let Some(flat) = x.iter().position(|v| !v.is_finite()) {
        let value = *x
            .iter()
            .nth(flat)
            .expect("position came from this iterator");
        return Err(LstmError::NonFinite {
            context: context.to_string(),
            index: fmt_index(flat, x.shape()),
            value,
        });
    }
    Ok(())
}

/// Turns a row-major flat position into `[i, j, k]`.
fn fmt_index(mut flat: usize, shape: &[usize]) -> String {
    let mut index = vec![0; shape.len()];
    for (axis, &len) in shape.iter().enumerate().rev() {
        index[axis] = flat % len.max(1);
        flat /= len.max(1);
    }
    format!("{index:?}")
}

/// Checks that an array is not empty.
pub fn ensure_nonempty<S, D>(context: &str, x: &ndarray::ArrayBase<S, D>) -> Result<()>
where
    S: ndarray::Data<Elem = f32>,
    D: ndarray::Dimension,
{
    if x.is_empty() {
        return Err(LstmError::Empty {
            context: context.to_string(),
            min: 1,
        });
    }
    Ok(())
}

/// A shape without its batch axis, printed as Keras does: `(None, 3, 1)`.
pub fn batch_shape(dims: &[usize]) -> String {
    let parts: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
    format!("(None, {})", parts.join(", "))
}

/// The f64 a user meant by an f32 literal: `0.2f32` → `0.2`, not `0.20000000298…`, so fractions
/// of a sample count round as they do in Python.
pub fn decimal_f64(v: f32) -> f64 {
    v.to_string().parse().unwrap_or(v as f64)
}
