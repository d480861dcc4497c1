//! Helpers shared by the integration tests.

use ndarray::{ArrayD, IxDyn};
use serde_json::Value;

/// A nested JSON list (as in the Keras golden files) as an array of f32; the values are exact
/// decimals of the stored numbers.
pub fn json_array(v: &Value) -> ArrayD<f32> {
    fn walk(v: &Value, depth: usize, shape: &mut Vec<usize>, out: &mut Vec<f32>) {
        match v {
            Value::Array(items) => {
                if shape.len() == depth {
                    shape.push(items.len());
                }
                assert_eq!(shape[depth], items.len(), "ragged array in golden file");
                items.iter().for_each(|i| walk(i, depth + 1, shape, out));
            }
            Value::Number(n) => out.push(n.as_f64().expect("number") as f32),
            other => panic!("expected a number or list, got {other}"),
        }
    }
    let (mut shape, mut out) = (vec![], vec![]);
    walk(v, 0, &mut shape, &mut out);
    ArrayD::from_shape_vec(IxDyn(&shape), out).expect("consistent shape")
}
