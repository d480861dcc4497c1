//! The tutorial's tasks exactly as the notebooks build them (same data, same splits, one entry per
//! seed), written as one JSON file for `scripts/keras/tutorial.py`, which trains the tutorial's
//! Keras models on them (`make keras-reference`). Sharing the data leaves one difference between
//! the two frameworks' results: the framework.
//!
//! `cargo run --release -p lstm-core --example keras_tasks -- OUT.json`

use lstm_core::prelude::*;
use lstm_core::support::text::{self, Encoding, Vocabulary};
use serde_json::{Value, json};

/// Seeds of the multi-seed comparisons (the notebooks use the same ones).
const SEEDS: std::ops::Range<u64> = 0..10;
/// The tutorial's sentence (notebook 10).
const SENTENCE: &str = "Hello, world! This is a simple example of text generation using LSTM.";

fn array<D: ndarray::Dimension>(a: &Array<f32, D>) -> Value {
    json!({"shape": a.shape(), "data": a.iter().copied().collect::<Vec<f32>>()})
}

/// Notebook 05, section 1: `[1, 2, 3] → 4` … `[4, 5, 6] → 7`, divided by 100.
fn next_number() -> Value {
    let (x, y) = data::next_number();
    json!({
        "model": "LSTM(30, tanh) + Dense(1)", "epochs": 500, "batch_size": 32,
        "x": array(&x), "y": array(&y),
        "probe": array(&array![[[0.05f32], [0.06], [0.07]]]), "probe_scale": 100.0,
        "seeds": (0..5u64).collect::<Vec<_>>(),
    })
}

/// The rows notebook 05 asks the sum model about.
fn sum_probe() -> Array2<f32> {
    array![
        [10.0f32, 20.0, 99.0],
        [1.0, 2.0, 100.0],
        [50.0, 60.0, 0.0],
        [1.0, 2.0, 0.0]
    ]
}

/// Notebook 05, section 2: the sum of the first two of three numbers, MinMax-scaled inputs and
/// targets, `validation_split = 0.2` (the last 20% of the rows, never trained on).
fn sum_of_first_two() -> lstm_core::Result<Value> {
    let mut runs = vec![];
    for seed in SEEDS {
        let (x_raw, y_raw) = data::sum_of_first_two(1000, seed);
        let (mut x_scaler, mut y_scaler) = (MinMaxScaler::new(), MinMaxScaler::new());
        let x = data::to_sequences(&x_scaler.fit_transform(&x_raw)?, 1)?;
        let y = y_scaler.fit_transform(&y_raw)?;
        let (low, high) = y_scaler.data_range().expect("fitted");
        let probe = data::to_sequences(&x_scaler.transform(&sum_probe())?, 1)?;
        runs.push(
            json!({"seed": seed, "x": array(&x), "y": array(&y), "y_raw": array(&y_raw),
                         "y_min": low, "y_max": high, "probe": array(&probe)}),
        );
    }
    Ok(json!({
        "model": "LSTM(5, tanh) + Dense(1)", "epochs": 50, "batch_size": 16,
        "validation_split": 0.2, "probe_raw": array(&sum_probe()), "runs": runs,
    }))
}

/// One windowed forecasting task: for every seed, the split `split_of(seed)` gives, and the
/// settings both notebooks share (50 epochs, batch 32, the last 10% of the training windows for
/// validation).
fn windowed(
    model: &str,
    split_of: impl Fn(u64) -> lstm_core::Result<data::Split<ndarray::Ix3, ndarray::Ix1>>,
) -> lstm_core::Result<Value> {
    let mut runs = vec![];
    for seed in SEEDS {
        let split = split_of(seed)?;
        runs.push(json!({"seed": seed,
            "x_train": array(&split.x_train), "y_train": array(&split.y_train),
            "x_test": array(&split.x_test), "y_test": array(&split.y_test)}));
    }
    Ok(json!({
        "model": model, "epochs": 50, "batch_size": 32, "validation_split": 0.1, "runs": runs,
    }))
}

/// Notebook 06: windows of 10 values of `sin(t) + N(0, 0.1)`, a random 20% held out.
fn noisy_sine() -> lstm_core::Result<Value> {
    windowed("LSTM(50, relu|tanh) + Dense(1)", |seed| {
        let (_, series) = data::noisy_sine(200, seed);
        let (x, y) = data::prepare_data(series.as_slice().expect("contiguous"), 10)?;
        data::train_test_split(&data::to_sequences(&x, 1)?, &y, 0.2, seed)
    })
}

/// Notebook 07: two years of synthetic daily temperature, 30-day windows, the last 20% held out.
fn weather() -> lstm_core::Result<Value> {
    windowed("LSTM(50, relu) + Dense(1), raw °C", |seed| {
        let series = data::synthetic_temperature(730, seed);
        let (x, y) = data::prepare_data(series.as_slice().expect("contiguous"), 30)?;
        data::chronological_split(&data::to_sequences(&x, 1)?, &y, 0.8)
    })
}

/// Notebook 10: next character of the tutorial's sentence, as raw indices and one-hot.
fn next_character() -> lstm_core::Result<Value> {
    let vocab = Vocabulary::from_text(SENTENCE)?;
    let mut encodings = serde_json::Map::new();
    for (name, encoding) in [
        ("raw_index", Encoding::RawIndex),
        ("one_hot", Encoding::OneHot),
    ] {
        let s = text::sequences(SENTENCE, &vocab, 10, encoding)?;
        encodings.insert(
            name.into(),
            json!({"x": array(&s.x), "y": array(&s.y_one_hot)}),
        );
    }
    Ok(json!({
        "model": "LSTM(128) + Dense(vocab, softmax)", "epochs": 100, "batch_size": 32,
        "encodings": encodings, "seeds": (0..5u64).collect::<Vec<_>>(),
    }))
}

fn main() -> lstm_core::Result<()> {
    let out = std::env::args().nth(1).ok_or_else(|| LstmError::Config {
        param: "arguments".into(),
        expected: "keras_tasks OUT.json".into(),
        got: "no output path".into(),
    })?;
    let tasks = json!({
        "next_number": next_number(),
        "sum_of_first_two": sum_of_first_two()?,
        "noisy_sine": noisy_sine()?,
        "weather": weather()?,
        "next_character": next_character()?,
    });
    let text = serde_json::to_string(&tasks).expect("json");
    std::fs::write(&out, text).map_err(|e| LstmError::Io {
        path: out.clone(),
        message: e.to_string(),
    })?;
    println!("wrote {out}");
    Ok(())
}
