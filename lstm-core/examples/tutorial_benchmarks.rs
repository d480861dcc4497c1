//! The tutorial's workloads, one fit each of GRU and SimpleRNN, and a throughput table of the
//! three recurrent layers, beside Keras' fit times and final
//! losses for the same tasks (medians over the seeds of `data/keras_reference.json`, which
//! `make keras-reference` writes; `make bench-peers` times Keras in the same run instead).
//!
//! Every fit shuffles once and keeps that order (`reshuffle_each_epoch(false)`): the reference
//! Keras runs called `keras.utils.set_random_seed`, under which Keras 3 on TensorFlow replays the
//! same permutation every epoch. Reshuffling each epoch is a different (noisier) regime, and
//! raised the one-hot text model's final loss from about 0.07 to about 0.13 over three seeds.
//!
//! `cargo run --release -p lstm-core --example tutorial_benchmarks [-- --json FILE] [--only NAME]
//! [--export-data DIR]`
//!
//! `--export-data DIR` also writes each workload's inputs and targets (`DIR/<name>_x.npy`,
//! `DIR/<name>_y.npy`) and settings (`DIR/workloads.json`), so that `scripts/bench_peers.py`
//! trains PyTorch and Keras on the same data (`make bench-peers`).

use std::time::Instant;

use lstm_core::engine::helper::{join, mat_mul};
use lstm_core::engine::packed::PackedMatrix;
use lstm_core::prelude::*;
use lstm_core::support::text::{self, Encoding, Vocabulary};
use serde_json::{Value, json};

fn time<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let started = Instant::now();
    let out = f();
    (out, started.elapsed().as_secs_f64())
}

/// The middle value (the upper one of an even count).
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Runs a workload three times from scratch and reports the median
/// fit time. The runs must agree bit for bit: the engine is deterministic.
fn median_of_runs(mut run: impl FnMut() -> lstm_core::Result<Value>) -> lstm_core::Result<Value> {
    let runs = (0..3)
        .map(|_| run())
        .collect::<lstm_core::Result<Vec<_>>>()?;
    let losses: Vec<_> = runs.iter().map(|r| r["final_loss"].clone()).collect();
    assert!(
        losses.windows(2).all(|w| w[0] == w[1]),
        "{}: repeated runs differ: {losses:?}",
        runs[0]["name"]
    );
    let mut seconds: Vec<f64> = runs
        .iter()
        .filter_map(|r| r["fit_seconds"].as_f64())
        .collect();
    seconds.sort_by(f64::total_cmp);
    let mut out = runs[0].clone();
    out["fit_seconds"] = json!(seconds[seconds.len() / 2]);
    out["fit_seconds_runs"] = json!(seconds);
    Ok(out)
}

/// FLOPs of training, in GFLOP: 24·H·(I+H)·T per sample per epoch, plus the validation forward
/// pass (8·H·(I+H)·T per sample). The Dense head is negligible. Divided by the machine's
/// matrix-product peak, this is the least time any engine can spend.
fn training_gflop(
    hidden: usize,
    input: usize,
    timesteps: usize,
    train: usize,
    validation: usize,
    epochs: usize,
) -> f64 {
    let per_sample = (hidden * (input + hidden) * timesteps) as f64;
    epochs as f64 * (24.0 * per_sample * train as f64 + 8.0 * per_sample * validation as f64) / 1e9
}

/// Keras' median fit time and final loss on a task of the repository's reference run.
fn keras(task: &str) -> lstm_core::Result<(f64, f64)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/keras_reference.json");
    let reference = lstm_core::support::reference::KerasReference::load(path)?;
    Ok((
        reference.spread(task, "fit_seconds")?.median as f64,
        reference.spread(task, "final_loss")?.median as f64,
    ))
}

fn regression(
    timesteps: usize,
    units: usize,
    activation: Activation,
    seed: u64,
) -> lstm_core::Result<Sequential> {
    recurrent_regression("LSTM", timesteps, units, activation, seed)
}

/// The three recurrent layers the benchmark times, by Keras class name.
const LAYERS: [&str; 3] = ["LSTM", "GRU", "SimpleRNN"];

/// `layer`(units) + Dense(1), Adam, MSE.
fn recurrent_regression(
    layer: &str,
    timesteps: usize,
    units: usize,
    activation: Activation,
    seed: u64,
) -> lstm_core::Result<Sequential> {
    let mut model = Sequential::with_seed(&[timesteps, 1], seed);
    match layer {
        "GRU" => model.add(Gru::new(units).activation(activation))?,
        "SimpleRNN" => model.add(SimpleRnn::new(units).activation(activation))?,
        _ => model.add(Lstm::new(units).activation(activation))?,
    };
    model.add(Dense::new(1))?;
    model.compile(Adam::default(), Loss::MeanSquaredError)?;
    Ok(model)
}

/// Gate blocks of a layer's kernel: 4 for the LSTM, 3 for the GRU, 1 for SimpleRNN.
fn gates(layer: &str) -> f64 {
    match layer {
        "GRU" => 3.0,
        "SimpleRNN" => 1.0,
        _ => 4.0,
    }
}

/// The sine and weather pipeline: `layer`(50) + Dense(1), 50 epochs, validation_split 0.1, test
/// MSE from `evaluate`; Keras' time and loss from the reference run when it has the task.
fn forecasting_workload(
    name: &str,
    layer: &str,
    activation: Activation,
    timesteps: usize,
    split: &data::Split<ndarray::Ix3, ndarray::Ix1>,
    keras_task: Option<&str>,
) -> lstm_core::Result<Value> {
    let (keras_fit_seconds, keras_final_loss) = match keras_task {
        Some(task) => {
            let (seconds, loss) = keras(task)?;
            (Some(seconds), Some(loss))
        }
        None => (None, None),
    };
    let mut m = recurrent_regression(layer, timesteps, 50, activation, 42)?;
    let config = FitConfig::new()
        .epochs(50)
        .validation_split(0.1)
        .reshuffle_each_epoch(false)
        .verbose(0);
    let (h, s) = time(|| m.fit(&split.x_train, &split.y_train, &config));
    let h = h?;
    let test = m.evaluate(&split.x_test, &split.y_test)?.loss;
    let n = split.x_train.len_of(ndarray::Axis(0));
    let fit_n = (n as f64 * 0.9).floor() as usize;
    // training_gflop counts the LSTM's four gate blocks.
    let gflop = training_gflop(50, 1, timesteps, fit_n, n - fit_n, 50) * gates(layer) / 4.0;
    Ok(
        json!({"name": name, "layer": layer, "fit_seconds": s, "final_loss": h.final_loss(), "metric": {"test_mse": test}, "keras_fit_seconds": keras_fit_seconds, "keras_final_loss": keras_final_loss, "training_gflop": gflop}),
    )
}

/// Where `--export-data` writes the workloads' data, and what it has written so far.
struct Export {
    dir: Option<std::path::PathBuf>,
    specs: Vec<Value>,
}

impl Export {
    /// Writes `x` and `y` as `.npy` beside a description of the fit (`spec`).
    fn add<D1: ndarray::Dimension, D2: ndarray::Dimension>(
        &mut self,
        name: &str,
        x: &ndarray::Array<f32, D1>,
        y: &ndarray::Array<f32, D2>,
        spec: Value,
    ) -> lstm_core::Result<()> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        let io = |path: &std::path::Path, message: String| LstmError::Io {
            path: path.display().to_string(),
            message,
        };
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e.to_string()))?;
        for (suffix, array) in [("x", x.view().into_dyn()), ("y", y.view().into_dyn())] {
            let path = dir.join(format!("{name}_{suffix}.npy"));
            ndarray_npy::write_npy(&path, &array).map_err(|e| io(&path, e.to_string()))?;
        }
        let mut spec = spec;
        spec["name"] = json!(name);
        self.specs.push(spec);
        let path = dir.join("workloads.json");
        std::fs::write(
            &path,
            serde_json::to_string_pretty(&self.specs).expect("json"),
        )
        .map_err(|e| io(&path, e.to_string()))
    }
}

fn workloads(wanted: impl Fn(&str) -> bool, export: &mut Export) -> lstm_core::Result<Vec<Value>> {
    let mut out = vec![];
    if wanted("sum") {
        // a. sum of the first two: LSTM(5), 1000 samples, 50 epochs, batch 16, validation_split 0.2.
        let (x, y) = data::sum_of_first_two(1000, 42);
        let (mut sx, mut sy) = (MinMaxScaler::new(), MinMaxScaler::new());
        let x = data::to_sequences(&sx.fit_transform(&x)?, 1)?;
        let y = sy.fit_transform(&y)?;
        let keras_sum = keras("sum_of_first_two")?;
        export.add("sum", &x, &y, json!({"units": 5, "activation": "tanh", "epochs": 50, "batch_size": 16, "validation_split": 0.2, "loss": "mse"}))?;
        out.push(median_of_runs(|| {
        let mut m = regression(3, 5, Activation::Tanh, 42)?;
        let (h, s) = time(|| {
            m.fit(
                &x,
                &y,
                &FitConfig::new()
                    .epochs(50)
                    .batch_size(16)
                    .validation_split(0.2)
                    .reshuffle_each_epoch(false).verbose(0),
            )
        });
        let h = h?;
        Ok(json!({"name": "sum", "fit_seconds": s, "final_loss": h.final_loss(), "metric": {"val_loss": h.final_val_loss()}, "keras_fit_seconds": keras_sum.0, "keras_final_loss": keras_sum.1, "training_gflop": training_gflop(5, 1, 3, 800, 200, 50)}))
        })?);
    }
    if wanted("next") {
        // b. next number: LSTM(30), 4 samples, 500 epochs.
        let (x, y) = data::next_number();
        let keras_next = keras("next_number")?;
        export.add("next", &x, &y, json!({"units": 30, "activation": "tanh", "epochs": 500, "batch_size": 32, "validation_split": 0.0, "loss": "mse"}))?;
        out.push(median_of_runs(|| {
        let mut m = regression(3, 30, Activation::Tanh, 42)?;
        let (h, s) = time(|| m.fit(&x, &y, &FitConfig::new().epochs(500).reshuffle_each_epoch(false).verbose(0)));
        let h = h?;
        let pred = m.predict(&ndarray::array![[[0.05f32], [0.06], [0.07]]])?[[0, 0]] * 100.0;
        Ok(json!({"name": "next", "fit_seconds": s, "final_loss": h.final_loss(), "metric": {"prediction_for_5_6_7": pred}, "keras_fit_seconds": keras_next.0, "keras_final_loss": keras_next.1, "training_gflop": training_gflop(30, 1, 3, 4, 0, 500)}))
        })?);
    }
    // c. noisy sine: 10 steps, random 20% test split, 50 epochs, batch 32, validation_split
    // 0.1: the tutorial's LSTM(50, relu), and GRU(50) and SimpleRNN(50) with tanh (PyTorch's
    // nn.GRU has no relu). One split for the three.
    let sine_runs = [
        ("sine", "LSTM", Activation::Relu, Some("noisy_sine_relu")),
        ("sine_gru", "GRU", Activation::Tanh, None),
        ("sine_simplernn", "SimpleRNN", Activation::Tanh, None),
    ];
    if sine_runs.iter().any(|r| wanted(r.0)) {
        let (_, series) = data::noisy_sine(200, 42);
        let (x, y) = data::prepare_data(series.as_slice().expect("contiguous"), 10)?;
        let split = data::train_test_split(&data::to_sequences(&x, 1)?, &y, 0.2, 42)?;
        for (name, layer, activation, keras_task) in sine_runs {
            if !wanted(name) {
                continue;
            }
            let activation_name = if activation == Activation::Relu {
                "relu"
            } else {
                "tanh"
            };
            export.add(name, &split.x_train, &split.y_train, json!({"units": 50, "activation": activation_name, "epochs": 50, "batch_size": 32, "validation_split": 0.1, "loss": "mse", "layer": layer}))?;
            out.push(median_of_runs(|| {
                forecasting_workload(name, layer, activation, 10, &split, keras_task)
            })?);
        }
    }
    if wanted("weather") {
        // d. weather (raw °C): LSTM(50, relu), 30-day windows, chronological 80/20, 50 epochs.
        let temps = data::synthetic_temperature(730, 42);
        let (x, y) = data::prepare_data(temps.as_slice().expect("contiguous"), 30)?;
        let split = data::chronological_split(&data::to_sequences(&x, 1)?, &y, 0.8)?;
        export.add("weather", &split.x_train, &split.y_train, json!({"units": 50, "activation": "relu", "epochs": 50, "batch_size": 32, "validation_split": 0.1, "loss": "mse"}))?;
        out.push(median_of_runs(|| {
            forecasting_workload(
                "weather",
                "LSTM",
                Activation::Relu,
                30,
                &split,
                Some("weather"),
            )
        })?);
    }
    if wanted("textgen") {
        // e. text generation, one-hot: LSTM(128) + Dense(27, softmax), 59 samples, 100 epochs.
        let sentence = "Hello, world! This is a simple example of text generation using LSTM.";
        let vocab = Vocabulary::from_text(sentence)?;
        let d = text::sequences(sentence, &vocab, 10, Encoding::OneHot)?;
        let keras_text = keras("next_character_one_hot")?;
        export.add("textgen", &d.x, &d.y_one_hot, json!({"units": 128, "activation": "tanh", "epochs": 100, "batch_size": 32, "validation_split": 0.0, "loss": "categorical_crossentropy"}))?;
        out.push(median_of_runs(|| {
        let mut m = Sequential::with_seed(&[10, vocab.len()], 42);
        m.add(Lstm::new(128))?;
        m.add(Dense::new(vocab.len()).activation(Activation::Softmax))?;
        m.compile_with_metrics(
            Adam::default(),
            Loss::CategoricalCrossentropy,
            &[Metric::Accuracy],
        )?;
        let (h, s) = time(|| m.fit(&d.x, &d.y_one_hot, &FitConfig::new().epochs(100).reshuffle_each_epoch(false).verbose(0)));
        let h = h?;
        let accuracy = h.series("accuracy").and_then(|a| a.last().copied());
        Ok(json!({"name": "textgen", "fit_seconds": s, "final_loss": h.final_loss(), "metric": {"train_accuracy": accuracy}, "keras_fit_seconds": keras_text.0, "keras_final_loss": keras_text.1, "training_gflop": training_gflop(128, vocab.len(), 10, 59, 0, 100)}))
        })?);
    }
    Ok(out)
}

/// Training steps of LSTM(H), GRU(H) and SimpleRNN(H) + Dense(1) on T = 30, one feature, batch
/// 32, and inference on 10,000 windows.
fn throughput() -> lstm_core::Result<Vec<Value>> {
    let (timesteps, batch) = (30usize, 32usize);
    let mut rows = vec![];
    for (layer, hidden) in LAYERS
        .iter()
        .flat_map(|&l| [32usize, 128, 512].map(|h| (l, h)))
    {
        let x = Array3::from_shape_fn((batch, timesteps, 1), |(b, t, _)| {
            ((b * 31 + t) % 17) as f32 / 17.0
        });
        let y = Array1::from_shape_fn(batch, |b| (b % 5) as f32 / 5.0);
        let mut m = recurrent_regression(layer, timesteps, hidden, Activation::Tanh, 1)?;
        m.train_on_batch(&x, &y)?; // warm-up
        let steps = if hidden >= 512 { 15 } else { 50 };
        let per_step = median(
            (0..steps)
                .map(|_| time(|| m.train_on_batch(&x, &y)).1)
                .collect(),
        );
        // 2 FLOPs per multiply-add, 3 passes (forward, input and weight gradients).
        let flops = 6.0
            * gates(layer)
            * hidden as f64
            * (1 + hidden) as f64
            * timesteps as f64
            * batch as f64;
        // Inference on 10,000 windows: the median of three calls, as for PyTorch's batchings.
        let windows = Array3::from_shape_fn((10_000, timesteps, 1), |(b, t, _)| {
            ((b * 7 + t) % 13) as f32 / 13.0
        });
        let inference_s = median(
            (0..3)
                .map(|_| {
                    let (p, seconds) = time(|| m.predict(&windows));
                    p.map(|_| seconds)
                })
                .collect::<lstm_core::Result<_>>()?,
        );
        // The forward pass alone: a third of a training step's work, per window.
        let inference_flops = flops / 3.0 / batch as f64 * 10_000.0;
        rows.push(json!({"layer": layer, "hidden": hidden, "ms_per_step": per_step * 1e3, "samples_per_s": batch as f64 / per_step, "gflops": flops / per_step / 1e9, "inference_samples_per_s": 10_000.0 / inference_s, "inference_gflops": inference_flops / inference_s / 1e9}));
    }
    Ok(rows)
}

/// The f32 rate of a 1024² matrix product on both cores (median of nine), by the general
/// product the engine uses for whole-sequence products (matrixmultiply through
/// `engine::helper::mat_mul`) and by the packed kernel of the recurrent steps (`B` packed on
/// every call, half of `a`'s rows on each core).
fn sgemm_peak_gflops() -> (f64, f64) {
    let n = 1024;
    let a = Array2::from_shape_fn((n, n), |(i, j)| ((i * 3 + j) % 7) as f32 * 0.1);
    let b = Array2::from_shape_fn((n, n), |(i, j)| ((i + j * 5) % 11) as f32 * 0.1);
    let mut c = Array2::<f32>::zeros((n, n));
    let rate = |product: &mut dyn FnMut()| {
        product();
        let seconds = median((0..9).map(|_| time(&mut *product).1).collect());
        2.0 * (n as f64).powi(3) / seconds / 1e9
    };
    let general = rate(&mut || mat_mul(&a.view(), &b.view(), 0.0, &mut c.view_mut()));
    let mut packed = PackedMatrix::default();
    let packed_rate = rate(&mut || {
        packed.pack(b.view());
        let (top, bottom) = c.view_mut().split_at(ndarray::Axis(0), n / 2);
        let (a_top, a_bottom) = a.view().split_at(ndarray::Axis(0), n / 2);
        let packed = &packed;
        join(
            || packed.multiply(a_top, top, false),
            || packed.multiply(a_bottom, bottom, false),
        );
    });
    (general, packed_rate)
}

fn main() -> lstm_core::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let json_path = args
        .iter()
        .position(|a| a == "--json")
        .and_then(|k| args.get(k + 1))
        .cloned();
    // `--only NAME` runs one workload (sum, next, sine, sine_gru, sine_simplernn, weather,
    // textgen) or `throughput`.
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|k| args.get(k + 1))
        .cloned();
    let wanted = |name: &str| only.as_deref().is_none_or(|o| o == name);
    let mut export = Export {
        dir: args
            .iter()
            .position(|a| a == "--export-data")
            .and_then(|k| args.get(k + 1))
            .map(std::path::PathBuf::from),
        specs: vec![],
    };
    let workloads = workloads(wanted, &mut export)?;
    let throughput = if wanted("throughput") {
        throughput()?
    } else {
        vec![]
    };
    let (peak, packed_peak) = if wanted("throughput") {
        sgemm_peak_gflops()
    } else {
        (f64::NAN, f64::NAN)
    };
    let report = json!({"workloads": workloads, "throughput": throughput, "sgemm_peak_gflops": peak, "packed_product_gflops": packed_peak});
    if let Some(path) = json_path {
        std::fs::write(&path, serde_json::to_string_pretty(&report).expect("json")).map_err(
            |e| LstmError::Io {
                path: path.clone(),
                message: e.to_string(),
            },
        )?;
        println!("wrote {path}");
        return Ok(());
    }
    println!(
        "{:<9} {:>10} {:>10} {:>9} {:>12} {:>12} {:>8}",
        "workload", "fit s", "Keras s", "speed-up", "final loss", "Keras loss", "GFLOP"
    );
    for w in &workloads {
        let (ours, keras) = (
            w["fit_seconds"].as_f64().unwrap_or(f64::NAN),
            w["keras_fit_seconds"].as_f64().unwrap_or(f64::NAN),
        );
        println!(
            "{:<9} {:>10.3} {:>10.1} {:>8.0}× {:>12.4e} {:>12.4e} {:>8.2}   {}",
            w["name"].as_str().unwrap_or(""),
            ours,
            keras,
            keras / ours,
            w["final_loss"].as_f64().unwrap_or(f64::NAN),
            w["keras_final_loss"].as_f64().unwrap_or(f64::NAN),
            w["training_gflop"].as_f64().unwrap_or(f64::NAN),
            w["metric"]
        );
    }
    println!(
        "\n{:>9} {:>6} {:>12} {:>12} {:>8} {:>16}",
        "layer", "hidden", "ms/step", "samples/s", "GFLOPS", "infer samples/s"
    );
    for r in &throughput {
        println!(
            "{:>9} {:>6} {:>12.2} {:>12.0} {:>8.1} {:>16.0}",
            r["layer"].as_str().unwrap_or(""),
            r["hidden"],
            r["ms_per_step"].as_f64().unwrap_or(0.0),
            r["samples_per_s"].as_f64().unwrap_or(0.0),
            r["gflops"].as_f64().unwrap_or(0.0),
            r["inference_samples_per_s"].as_f64().unwrap_or(0.0)
        );
    }
    println!(
        "\nf32 product at 1024², both cores: general_mat_mul {peak:.1} GFLOPS, packed kernel {packed_peak:.1} GFLOPS"
    );
    Ok(())
}
