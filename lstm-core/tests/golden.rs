//! Parity with Keras: runs every `tests/golden/*.json` (written by `make golden`, that is
//! `scripts/keras/golden.py`, which documents each kind's fields), dispatching on its `kind`, and
//! checks every quantity it holds.
//! A new valid file dropped into the folder is picked up with no code change.

use std::path::{Path, PathBuf};

use lstm_core::layers::{Cell, Recurrent};
use lstm_core::prelude::*;
use lstm_core::{Gradients, GruCell, Layer, LstmCell, SimpleRnnCell};
use ndarray::{ArrayD, Ix3, IxDyn};
use serde_json::Value;

/// f32 parity: |got − want| ≤ ATOL + RTOL·|want|.
const RTOL: f64 = 1e-5;
const ATOL: f64 = 1e-6;

fn golden_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

mod common;
use common::json_array as arr;

fn num(v: &Value) -> f32 {
    v.as_f64()
        .unwrap_or_else(|| panic!("expected a number, got {v}")) as f32
}

fn usize_of(v: &Value) -> usize {
    v.as_u64()
        .unwrap_or_else(|| panic!("expected a count, got {v}")) as usize
}

/// Collects every comparison of one file; keeps the worst error and the failures.
struct Checker {
    file: String,
    values: usize,
    worst_abs: f64,
    worst_at: String,
    failures: Vec<String>,
}

impl Checker {
    fn new(file: &str) -> Self {
        Checker {
            file: file.into(),
            values: 0,
            worst_abs: 0.0,
            worst_at: String::new(),
            failures: vec![],
        }
    }

    fn array(&mut self, what: &str, got: &ArrayD<f32>, want: &ArrayD<f32>) {
        if got.shape() != want.shape() {
            self.failures.push(format!(
                "{}: {what}: shape {:?}, Keras {:?}",
                self.file,
                got.shape(),
                want.shape()
            ));
            return;
        }
        for (idx, (&g, &w)) in got.iter().zip(want.iter()).enumerate() {
            let diff = (g as f64 - w as f64).abs();
            self.values += 1;
            if diff > self.worst_abs {
                self.worst_abs = diff;
                self.worst_at = what.to_string();
            }
            if diff.is_nan() || diff > ATOL + RTOL * (w as f64).abs() {
                self.failures.push(format!(
                    "{}: {what}[flat {idx}]: got {g}, Keras {w} (|diff| {diff:.2e})",
                    self.file
                ));
            }
        }
    }

    fn value(&mut self, what: &str, got: f32, want: f32) {
        self.array(
            what,
            &ArrayD::from_elem(IxDyn(&[]), got),
            &ArrayD::from_elem(IxDyn(&[]), want),
        );
    }
}

fn activation(cfg: &Value) -> Activation {
    match cfg["activation"].as_str().unwrap_or("tanh") {
        "tanh" => Activation::Tanh,
        "relu" => Activation::Relu,
        other => panic!("golden activation {other} not handled by this test"),
    }
}

fn adam(j: &Value) -> Adam {
    let h = &j["adam"]["hyper"];
    Adam::new(num(&h["learning_rate"]))
        .betas(h["beta_1"].as_f64().unwrap(), h["beta_2"].as_f64().unwrap())
        .epsilon(num(&h["epsilon"]))
}

/// `kernel`, `recurrent_kernel` and (unless the layer has none) `bias`.
fn lstm_weights(w: &Value) -> Vec<ArrayD<f32>> {
    ["kernel", "recurrent_kernel", "bias"]
        .iter()
        .filter(|k| !w[**k].is_null())
        .map(|k| arr(&w[*k]))
        .collect()
}

fn units_of(w: &Value) -> usize {
    arr(&w["recurrent_kernel"]).shape()[0]
}

/// The hidden state of every step of an LSTM layer's last forward pass, as `[B, T, u]`.
fn sequence_of(model: &Sequential, layer: usize) -> ArrayD<f32> {
    let steps = model
        .lstm(layer)
        .expect("an LSTM layer")
        .last_steps()
        .expect("ran forward");
    let views: Vec<_> = steps.iter().map(|s| s.h.view()).collect();
    let stacked = ndarray::stack(ndarray::Axis(1), &views).unwrap();
    stacked.into_dyn()
}

fn last_state(model: &Sequential, layer: usize) -> (ArrayD<f32>, ArrayD<f32>) {
    let steps = model.lstm(layer).unwrap().last_steps().unwrap();
    let last = steps.last().unwrap();
    (last.h.clone().into_dyn(), last.c.clone().into_dyn())
}

fn check_grads(
    c: &mut Checker,
    names: &[&str],
    grads: &Gradients,
    want: &[ArrayD<f32>],
    want_x: &ArrayD<f32>,
) {
    assert_eq!(
        grads.weights.len(),
        want.len(),
        "{}: number of gradient arrays",
        c.file
    );
    for ((name, g), w) in names.iter().zip(&grads.weights).zip(want) {
        c.array(&format!("grads.{name}"), g, w);
    }
    c.array("grads.x", &grads.input, want_x);
}

/// Three Adam steps on the same batch: loss before each step and every weight after it.
fn check_adam_steps(
    c: &mut Checker,
    model: &mut Sequential,
    x: &ArrayD<f32>,
    y: &ArrayD<f32>,
    steps: &Value,
    weights_of: impl Fn(&Value) -> Vec<ArrayD<f32>>,
) {
    for step in steps.as_array().expect("adam.steps") {
        let k = usize_of(&step["step"]);
        let loss = model.train_on_batch(x, y).unwrap();
        c.value(
            &format!("adam step {k} loss_before"),
            loss,
            num(&step["loss_before"]),
        );
        for (i, (got, want)) in model.get_weights().iter().zip(weights_of(step)).enumerate() {
            c.array(&format!("adam step {k} weight {i}"), got, &want);
        }
    }
}

/// For files whose gradients and Adam steps are keyed `kernel`, `recurrent_kernel`, `bias`,
/// `dense_kernel`, `dense_bias` (single_lstm, charhead): the loss, every gradient, three Adam steps.
fn check_flat_gradients_and_adam(
    c: &mut Checker,
    model: &mut Sequential,
    x: &ArrayD<f32>,
    y: &ArrayD<f32>,
    grads: &Value,
    loss: f32,
    steps: &Value,
) {
    // A layer built with use_bias=False has no bias gradient.
    let names: Vec<&str> = [
        "kernel",
        "recurrent_kernel",
        "bias",
        "dense_kernel",
        "dense_bias",
    ]
    .into_iter()
    .filter(|n| !grads[*n].is_null())
    .collect();
    let got = model.gradients(x, y).unwrap();
    c.value("loss (with the gradients)", got.loss, loss);
    let want: Vec<_> = names.iter().map(|n| arr(&grads[*n])).collect();
    check_grads(c, &names, &got, &want, &arr(&grads["x"]));
    check_adam_steps(c, model, x, y, steps, |s| {
        names.iter().map(|n| arr(&s[*n])).collect()
    });
}

/// `call` of each recurrent layer: the output, the final `h` and (LSTM) `c`.
trait CallStates: Layer + Sized + 'static {
    fn call_states(
        &mut self,
        x: &ndarray::Array3<f32>,
    ) -> (ArrayD<f32>, ArrayD<f32>, Option<ArrayD<f32>>);
}

impl CallStates for Lstm {
    fn call_states(
        &mut self,
        x: &ndarray::Array3<f32>,
    ) -> (ArrayD<f32>, ArrayD<f32>, Option<ArrayD<f32>>) {
        let out = self.call(x).unwrap();
        (out.output, out.h.into_dyn(), Some(out.c.into_dyn()))
    }
}

impl CallStates for Gru {
    fn call_states(
        &mut self,
        x: &ndarray::Array3<f32>,
    ) -> (ArrayD<f32>, ArrayD<f32>, Option<ArrayD<f32>>) {
        let out = self.call(x).unwrap();
        (out.output, out.h.into_dyn(), None)
    }
}

impl CallStates for SimpleRnn {
    fn call_states(
        &mut self,
        x: &ndarray::Array3<f32>,
    ) -> (ArrayD<f32>, ArrayD<f32>, Option<ArrayD<f32>>) {
        let out = self.call(x).unwrap();
        (out.output, out.h.into_dyn(), None)
    }
}

/// The per-step values of `gates_trace`, recomputed with the crate's readable step functions
/// (GRU, SimpleRNN) or read from the layer (LSTM).
fn check_gates_trace<C: Cell>(
    j: &Value,
    c: &mut Checker,
    layer: &Recurrent<C>,
    weights: &[ArrayD<f32>],
    act: Activation,
) where
    Recurrent<C>: Layer,
{
    let Some(trace) = j.get("gates_trace").and_then(|t| t.as_array()) else {
        return;
    };
    let x = arr(&j["x"]).into_dimensionality::<Ix3>().unwrap();
    let as2 = |a: &ArrayD<f32>| a.clone().into_dimensionality::<ndarray::Ix2>().unwrap();
    let units = weights[1].shape()[0];
    let mut h = ndarray::Array2::<f32>::zeros((x.shape()[0], units));
    for entry in trace {
        let t = usize_of(&entry["t"]);
        let x_t = x.index_axis(ndarray::Axis(1), t).to_owned();
        let mut got: Vec<(&str, ArrayD<f32>)> = vec![];
        match C::CLASS {
            "LSTM" => {
                let lstm = (layer as &dyn std::any::Any)
                    .downcast_ref::<Lstm>()
                    .unwrap();
                let s = &lstm.last_steps().unwrap()[t];
                for (name, v) in [
                    ("i", &s.i),
                    ("f", &s.f),
                    ("g", &s.g),
                    ("o", &s.o),
                    ("c", &s.c),
                    ("h", &s.h),
                ] {
                    got.push((name, v.clone().into_dyn()));
                }
            }
            "GRU" => {
                let s = lstm_core::math::gru::step(
                    x_t.view(),
                    h.view(),
                    as2(&weights[0]).view(),
                    as2(&weights[1]).view(),
                    as2(&weights[2]).view(),
                    act,
                )
                .unwrap();
                h = s.h.clone();
                got.extend([
                    ("z", s.z.into_dyn()),
                    ("r", s.r.into_dyn()),
                    ("hh", s.candidate.into_dyn()),
                    ("h", s.h.into_dyn()),
                ]);
            }
            "SimpleRNN" => {
                let b = weights[2]
                    .clone()
                    .into_dimensionality::<ndarray::Ix1>()
                    .unwrap();
                h = lstm_core::math::simple_rnn::step(
                    x_t.view(),
                    h.view(),
                    as2(&weights[0]).view(),
                    as2(&weights[1]).view(),
                    b.view(),
                    act,
                )
                .unwrap();
                got.push(("h", h.clone().into_dyn()));
            }
            other => panic!("no gate trace check for {other}"),
        }
        for (name, value) in got {
            c.array(
                &format!("gates_trace[{t}].{name}"),
                &value,
                &arr(&entry[name]),
            );
        }
    }
}

/// kinds single_lstm, gru and simple_rnn: one recurrent layer forward, backwards, bidirectional,
/// under a Dense(1) head with every gradient, and three Adam steps.
fn single_recurrent<C: Cell>(j: &Value, c: &mut Checker)
where
    Recurrent<C>: CallStates + Layer,
    Bidirectional<C>: Layer,
{
    let cfg = &j["config"];
    let (units, act) = (usize_of(&cfg["units"]), activation(cfg));
    if let Some(reset_after) = cfg.get("reset_after") {
        assert_eq!(reset_after, true, "GRU golden files use reset_after=True");
    }
    let use_bias = cfg["use_bias"].as_bool().unwrap_or(true);
    let layer = || {
        Recurrent::<C>::new(units)
            .activation(act)
            .use_bias(use_bias)
    };
    let x = arr(&j["x"]);
    let x3 = x.clone().into_dimensionality::<Ix3>().unwrap();
    let input_shape = [x.shape()[1], x.shape()[2]];
    let weights = lstm_weights(&j["weights"]);
    let mut rng = lstm_core::math::init::seeded_rng(0);

    // forward (return_sequences + return_state)
    let mut forward = layer().return_sequences(true).return_state(true);
    forward.build(&input_shape, &mut rng).unwrap();
    forward.set_weights(&weights).unwrap();
    let (seq, h, cell) = forward.call_states(&x3);
    c.array("forward.seq", &seq, &arr(&j["forward"]["seq"]));
    c.array("forward.h", &h, &arr(&j["forward"]["h"]));
    if let Some(cell) = cell {
        c.array("forward.c", &cell, &arr(&j["forward"]["c"]));
    }
    check_gates_trace(j, c, &forward, &weights, act);

    // go_backwards: the sequence stays in processing order
    let mut back = layer().return_sequences(true).go_backwards(true);
    back.build(&input_shape, &mut rng).unwrap();
    back.set_weights(&weights).unwrap();
    let (seq, h, cell) = back.call_states(&x3);
    let want = &j["go_backwards"];
    c.array("go_backwards.seq", &seq, &arr(&want["seq"]));
    c.array("go_backwards.h", &h, &arr(&want["h"]));
    if let Some(cell) = cell {
        c.array("go_backwards.c", &cell, &arr(&want["c"]));
    }

    // bidirectional, last output and full sequence
    let bi = &j["bidirectional"];
    assert_eq!(bi["merge_mode"], "concat");
    let both: Vec<_> = lstm_weights(&bi["forward_weights"])
        .into_iter()
        .chain(lstm_weights(&bi["backward_weights"]))
        .collect();
    for (return_sequences, key) in [(false, "last"), (true, "seq")] {
        let mut model = Sequential::new(&input_shape);
        model
            .add(Bidirectional::new(
                layer().return_sequences(return_sequences),
            ))
            .unwrap();
        model.set_weights(&both).unwrap();
        c.array(
            &format!("bidirectional.{key}"),
            &model.predict(&x).unwrap(),
            &arr(&bi[key]),
        );
    }

    // regression head: prediction, loss, every gradient, three Adam steps
    let reg = &j["regression"];
    let y = arr(&reg["y"]);
    let mut body = Sequential::new(&input_shape);
    body.add(layer()).unwrap();
    body.set_weights(&weights).unwrap();
    c.array(
        "regression.h_last",
        &body.predict(&x).unwrap(),
        &arr(&reg["h_last"]),
    );
    let mut model = Sequential::new(&input_shape);
    model.add(layer()).unwrap();
    model.add(Dense::new(1)).unwrap();
    let mut all = weights.clone();
    all.extend([arr(&reg["dense_kernel"]), arr(&reg["dense_bias"])]);
    model.set_weights(&all).unwrap();
    model.compile(adam(j), Loss::MeanSquaredError).unwrap();
    c.array(
        "regression.pred",
        &model.predict(&x).unwrap(),
        &arr(&reg["pred"]),
    );
    c.value(
        "regression.loss (evaluate)",
        model.evaluate(&x, &y).unwrap().loss,
        num(&reg["loss_keras_mse"]),
    );
    check_flat_gradients_and_adam(
        c,
        &mut model,
        &x,
        &y,
        &reg["grads"],
        num(&reg["loss"]),
        &j["adam"]["steps"],
    );
}

fn single_lstm(j: &Value, c: &mut Checker) {
    single_recurrent::<LstmCell>(j, c)
}

fn stacked(j: &Value, c: &mut Checker) {
    let w = &j["weights"];
    let (x, y) = (arr(&j["x"]), arr(&j["y"]));
    let mut model = Sequential::new(&[x.shape()[1], x.shape()[2]]);
    model
        .add(Lstm::new(units_of(&w["lstm1"])).return_sequences(true))
        .unwrap();
    model.add(Lstm::new(units_of(&w["lstm2"]))).unwrap();
    model
        .add(Dense::new(arr(&w["dense"]["bias"]).len()))
        .unwrap();
    let weights_of = |v: &Value| -> Vec<ArrayD<f32>> {
        let mut all = lstm_weights(&v["lstm1"]);
        all.extend(lstm_weights(&v["lstm2"]));
        all.extend([arr(&v["dense"]["kernel"]), arr(&v["dense"]["bias"])]);
        all
    };
    model.set_weights(&weights_of(w)).unwrap();
    model.compile(adam(j), Loss::MeanSquaredError).unwrap();

    let f = &j["forward"];
    c.array(
        "forward.pred",
        &model.predict(&x).unwrap(),
        &arr(&f["pred"]),
    );
    c.array(
        "forward.lstm1_seq",
        &sequence_of(&model, 0),
        &arr(&f["lstm1_seq"]),
    );
    c.array(
        "forward.lstm2_h",
        &last_state(&model, 1).0,
        &arr(&f["lstm2_h"]),
    );
    c.value(
        "forward.loss",
        model.evaluate(&x, &y).unwrap().loss,
        num(&f["loss"]),
    );

    let grads = model.gradients(&x, &y).unwrap();
    c.value("grads loss", grads.loss, num(&f["loss"]));
    let names = [
        "lstm1.kernel",
        "lstm1.recurrent_kernel",
        "lstm1.bias",
        "lstm2.kernel",
        "lstm2.recurrent_kernel",
        "lstm2.bias",
        "dense.kernel",
        "dense.bias",
    ];
    check_grads(
        c,
        &names,
        &grads,
        &weights_of(&j["grads"]),
        &arr(&j["grads"]["x"]),
    );
    check_adam_steps(c, &mut model, &x, &y, &j["adam"]["steps"], weights_of);
}

fn charhead(j: &Value, c: &mut Checker) {
    let w = &j["weights"];
    let (x, y) = (arr(&j["x"]), arr(&j["y"]));
    let classes = y.shape()[1];
    let mut model = Sequential::new(&[x.shape()[1], x.shape()[2]]);
    model.add(Lstm::new(units_of(&w["lstm"]))).unwrap();
    model
        .add(Dense::new(classes).activation(Activation::Softmax))
        .unwrap();
    let mut all = lstm_weights(&w["lstm"]);
    all.extend([arr(&w["dense"]["kernel"]), arr(&w["dense"]["bias"])]);
    model.set_weights(&all).unwrap();
    model
        .compile(adam(j), Loss::CategoricalCrossentropy)
        .unwrap();

    let f = &j["forward"];
    c.array(
        "forward.probs",
        &model.predict(&x).unwrap(),
        &arr(&f["probs"]),
    );
    c.array(
        "forward.h_last",
        &last_state(&model, 0).0,
        &arr(&f["h_last"]),
    );
    let logits = model.layers()[1]
        .softmax_logits()
        .expect("softmax head keeps its logits")
        .clone();
    c.array("forward.logits", &logits, &arr(&f["logits"]));
    c.value(
        "forward.loss (evaluate)",
        model.evaluate(&x, &y).unwrap().loss,
        num(&f["loss"]),
    );

    // Sparse targets (the class indices) must give the same loss.
    let mut sparse = Sequential::new(&[x.shape()[1], x.shape()[2]]);
    sparse.add(Lstm::new(units_of(&w["lstm"]))).unwrap();
    sparse
        .add(Dense::new(classes).activation(Activation::Softmax))
        .unwrap();
    sparse.set_weights(&all).unwrap();
    sparse
        .compile(Adam::default(), Loss::SparseCategoricalCrossentropy)
        .unwrap();
    c.value(
        "forward.loss (sparse targets)",
        sparse.evaluate(&x, &arr(&j["y_indices"])).unwrap().loss,
        num(&f["loss"]),
    );

    check_flat_gradients_and_adam(
        c,
        &mut model,
        &x,
        &y,
        &j["grads"],
        num(&f["loss"]),
        &j["adam"]["steps"],
    );
}

fn fit_trace(j: &Value, c: &mut Checker) {
    let cfg = &j["config"];
    assert_eq!(
        cfg["shuffle"], false,
        "this check replays fit without shuffling"
    );
    let (x, y) = (arr(&j["x"]), arr(&j["y"]));
    let weights_of = |v: &Value| -> Vec<ArrayD<f32>> {
        let mut all = lstm_weights(&v["lstm"]);
        all.extend([arr(&v["dense"]["kernel"]), arr(&v["dense"]["bias"])]);
        all
    };
    let init = &j["initial_weights"];
    let build = || {
        let mut model = Sequential::new(&[x.shape()[1], x.shape()[2]]);
        model.add(Lstm::new(units_of(&init["lstm"]))).unwrap();
        model.add(Dense::new(1)).unwrap();
        model.set_weights(&weights_of(init)).unwrap();
        model
            .compile(Adam::default(), Loss::MeanSquaredError)
            .unwrap();
        model
    };
    let batch_size = usize_of(&cfg["batch_size"]);
    let epochs = j["epochs"].as_array().unwrap();
    let one_epoch = FitConfig::new()
        .epochs(1)
        .batch_size(batch_size)
        .shuffle(false)
        .verbose(0);

    // Epoch by epoch: the reported loss and the weights after each epoch.
    let mut model = build();
    for e in epochs {
        let k = usize_of(&e["epoch"]);
        let history = model.fit(&x, &y, &one_epoch).unwrap();
        c.value(&format!("epoch {k} loss"), history.loss[0], num(&e["loss"]));
        for (i, (got, want)) in model
            .get_weights()
            .iter()
            .zip(weights_of(&e["weights_after"]))
            .enumerate()
        {
            c.array(&format!("epoch {k} weight {i}"), got, &want);
        }
    }

    // All epochs in one call give the same history.
    let mut model = build();
    let all_epochs = FitConfig {
        epochs: usize_of(&cfg["epochs"]),
        ..one_epoch.clone()
    };
    let history = model.fit(&x, &y, &all_epochs).unwrap();
    for (e, got) in epochs.iter().zip(&history.loss) {
        c.value("fit(epochs=3) history.loss", *got, num(&e["loss"]));
    }

    // The running batch means Keras logs, replayed with train_on_batch.
    let mut model = build();
    let n = x.shape()[0];
    let running: Vec<f32> = j["keras_running_batch_losses"]
        .as_array()
        .unwrap()
        .iter()
        .map(num)
        .collect();
    let mut k = 0;
    for _ in epochs {
        let (mut sum, mut seen) = (0.0f64, 0usize);
        for start in (0..n).step_by(batch_size) {
            let end = (start + batch_size).min(n);
            let xb = x
                .slice_axis(ndarray::Axis(0), (start..end).into())
                .to_owned();
            let yb = y
                .slice_axis(ndarray::Axis(0), (start..end).into())
                .to_owned();
            let loss = model.train_on_batch(&xb, &yb).unwrap();
            sum += loss as f64 * (end - start) as f64;
            seen += end - start;
            c.value(
                &format!("running batch loss {k}"),
                (sum / seen as f64) as f32,
                running[k],
            );
            k += 1;
        }
    }
    assert_eq!(k, running.len(), "batches per epoch");
}

#[test]
fn every_golden_file_matches_keras() {
    let files = golden_files();
    assert!(
        files.len() >= 22,
        "expected the golden files in tests/golden, found {}",
        files.len()
    );
    let mut failures = vec![];
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let j: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let mut c = Checker::new(&name);
        match j["kind"].as_str() {
            Some("single_lstm") => single_lstm(&j, &mut c),
            Some("gru") => single_recurrent::<GruCell>(&j, &mut c),
            Some("simple_rnn") => single_recurrent::<SimpleRnnCell>(&j, &mut c),
            Some("stacked") => stacked(&j, &mut c),
            Some("charhead") => charhead(&j, &mut c),
            Some("fit_trace") => fit_trace(&j, &mut c),
            other => c.failures.push(format!("{name}: unknown kind {other:?}")),
        }
        assert!(
            c.values > 0 || !c.failures.is_empty(),
            "{name}: nothing was checked"
        );
        println!(
            "{name:40} {:5} values, worst |diff| {:.2e} at {}",
            c.values, c.worst_abs, c.worst_at
        );
        failures.extend(c.failures);
    }
    assert!(
        failures.is_empty(),
        "{} mismatches with Keras:\n{}",
        failures.len(),
        failures
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The test must be able to fail: a golden file with one expected value off is caught.
#[test]
fn a_wrong_golden_value_is_caught() {
    let path = golden_files()
        .into_iter()
        .find(|p| p.to_string_lossy().contains("lstm_u1_d1_t3_b2_float32"))
        .unwrap();
    let mut j: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let h = j["forward"]["h"][0][0].as_f64().unwrap();
    j["forward"]["h"][0][0] = serde_json::json!(h + 1e-3);
    let mut c = Checker::new("tampered");
    single_lstm(&j, &mut c);
    assert_eq!(c.failures.len(), 1, "{:?}", c.failures);
    assert!(c.failures[0].contains("forward.h"));
}
