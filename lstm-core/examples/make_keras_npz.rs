//! Writes `data/keras_lstm_weights.npz` and `data/keras_reference.npz` from the Keras golden file
//! `tests/golden/lstm_u5_d4_t3_b2_float32.json`: Keras' own weights for LSTM(5) + Dense(1) on
//! (3, 4), named as Keras 3's `np.savez(path, **{w.path: w.numpy() for w in model.weights})`
//! writes them, plus the input batch and Keras' prediction for it.
//! `cargo run -p lstm-core --example make_keras_npz`

use ndarray::{ArrayD, IxDyn};
use serde_json::Value;

fn array(v: &Value) -> ArrayD<f32> {
    fn walk(v: &Value, shape: &mut Vec<usize>, depth: usize, out: &mut Vec<f32>) {
        match v {
            Value::Array(items) => {
                if shape.len() == depth {
                    shape.push(items.len());
                }
                items.iter().for_each(|i| walk(i, shape, depth + 1, out));
            }
            n => out.push(n.as_f64().expect("a number") as f32),
        }
    }
    let (mut shape, mut out) = (vec![], vec![]);
    walk(v, &mut shape, 0, &mut out);
    ArrayD::from_shape_vec(IxDyn(&shape), out).expect("consistent shape")
}

fn write(path: &std::path::Path, arrays: &[(&str, ArrayD<f32>)]) {
    let mut npz = ndarray_npy::NpzWriter::new(std::fs::File::create(path).expect("writable"));
    for (name, a) in arrays {
        npz.add_array(*name, a).expect("npz entry");
    }
    npz.finish().expect("npz written");
    println!("wrote {}", path.display());
}

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let golden = root.join("tests/golden/lstm_u5_d4_t3_b2_float32.json");
    let j: Value =
        serde_json::from_str(&std::fs::read_to_string(golden).expect("golden file")).expect("json");
    let (w, reg) = (&j["weights"], &j["regression"]);
    write(
        &root.join("../data/keras_lstm_weights.npz"),
        &[
            ("sequential/lstm/lstm_cell/kernel", array(&w["kernel"])),
            (
                "sequential/lstm/lstm_cell/recurrent_kernel",
                array(&w["recurrent_kernel"]),
            ),
            ("sequential/lstm/lstm_cell/bias", array(&w["bias"])),
            ("sequential/dense/kernel", array(&reg["dense_kernel"])),
            ("sequential/dense/bias", array(&reg["dense_bias"])),
        ],
    );
    write(
        &root.join("../data/keras_reference.npz"),
        &[
            ("x", array(&j["x"])),
            ("pred", array(&reg["pred"])),
            ("h", array(&j["forward"]["h"])),
        ],
    );
}
