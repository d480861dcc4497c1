//! `Sequential`: layers in a row, compiled with an optimizer and a loss, trained with Keras'
//! `fit` semantics.

use std::time::Instant;

use ndarray::{ArrayBase, ArrayD, Axis, Data, Dimension};
use ndarray_rand::rand::seq::SliceRandom;

use crate::check::{batch_shape, decimal_f64, ensure_finite, fmt_shape};
use crate::engine::{denormals, helper};
use crate::error::{Divergence, KeptWeights, LstmError, Result};
use crate::layers::{Layer, Lstm};
use crate::math::init::{Rng, seeded_rng};
use crate::training::callbacks::{EarlyStopping, EpochEnd};
use crate::training::history::{Evaluation, History};
use crate::training::loss::{Loss, Metric};
use crate::training::optim::Optimizer;
use crate::training::summary::{Summary, SummaryRow};

/// A stack of layers, like `keras.Sequential`.
///
/// ```
/// use lstm_core::{Sequential, Lstm, Dense, Adam, Loss};
/// let mut model = Sequential::new(&[3, 1]);
/// model.add(Lstm::new(5))?;
/// model.add(Dense::new(1))?;
/// model.compile(Adam::default(), Loss::MeanSquaredError)?;
/// assert_eq!(model.count_params(), 146);
/// # Ok::<(), lstm_core::LstmError>(())
/// ```
#[derive(Debug)]
pub struct Sequential {
    name: String,
    input_shape: Vec<usize>,
    layers: Vec<Box<dyn Layer>>,
    layer_names: Vec<String>,
    output_shapes: Vec<Vec<usize>>,
    seed: u64,
    rng: Rng,
    compiled: Option<Compiled>,
    scalers: std::collections::BTreeMap<String, crate::math::scaler::Scaler>,
    /// The weights before the last optimizer step (reused buffer), to undo a step that overflows.
    undo: Vec<f32>,
    /// Whether `undo` holds the weights before the last step of the current weights' history
    /// (false after `add`, `set_weights` or an undo).
    undo_valid: bool,
}

#[derive(Debug)]
struct Compiled {
    optimizer: Box<dyn Optimizer>,
    loss: Loss,
    metrics: Vec<Metric>,
}

/// Options of [`Sequential::fit`], with Keras' defaults: 1 epoch, batch 32, shuffle each epoch,
/// no validation, verbose 1.
#[derive(Debug, Clone)]
pub struct FitConfig {
    /// Passes over the training data (default 1).
    pub epochs: usize,
    /// Samples per update (default 32); the last batch may be smaller.
    pub batch_size: usize,
    /// Shuffle the training samples (default true, seeded by the model).
    pub shuffle: bool,
    /// With `shuffle`: a new order every epoch (the default), or one order drawn at the start
    /// and kept. Keras 3 on TensorFlow does the latter whenever `keras.utils.set_random_seed`
    /// was called (as in every reproducible tutorial): its shuffle op is re-seeded each epoch.
    pub reshuffle_each_epoch: bool,
    /// Fraction of the samples, taken from the end before shuffling, held out for validation (default 0).
    pub validation_split: f32,
    /// Separate validation inputs and targets (instead of `validation_split`).
    pub validation_data: Option<(ArrayD<f32>, ArrayD<f32>)>,
    /// 0: silent. 1: about 20 epoch lines spread over the run (all of them for ≤ 20 epochs).
    /// 2: one line per epoch.
    pub verbose: u8,
    /// Stop when the monitored series stops improving.
    pub early_stopping: Option<EarlyStopping>,
}

impl Default for FitConfig {
    fn default() -> Self {
        FitConfig {
            epochs: 1,
            batch_size: 32,
            shuffle: true,
            reshuffle_each_epoch: true,
            validation_split: 0.0,
            validation_data: None,
            verbose: 1,
            early_stopping: None,
        }
    }
}

impl FitConfig {
    /// Keras' defaults (see [`FitConfig`]).
    pub fn new() -> Self {
        Self::default()
    }
    /// Passes over the training data.
    pub fn epochs(mut self, epochs: usize) -> Self {
        self.epochs = epochs;
        self
    }
    /// Samples per update.
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }
    /// Whether to shuffle the training samples.
    pub fn shuffle(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self
    }
    /// `false`: shuffle once and keep that order for every epoch, as seeded Keras does
    /// (see [`FitConfig::reshuffle_each_epoch`](FitConfig#structfield.reshuffle_each_epoch)).
    pub fn reshuffle_each_epoch(mut self, yes: bool) -> Self {
        self.reshuffle_each_epoch = yes;
        self
    }
    /// Holds out the *last* fraction of the samples (before shuffling) for validation, as Keras.
    pub fn validation_split(mut self, fraction: f32) -> Self {
        self.validation_split = fraction;
        self
    }
    /// Validates on `x`, `y` after each epoch (`val_loss`, `val_<metric>`).
    pub fn validation_data<S1, D1, S2, D2>(
        mut self,
        x: &ArrayBase<S1, D1>,
        y: &ArrayBase<S2, D2>,
    ) -> Self
    where
        S1: Data<Elem = f32>,
        S2: Data<Elem = f32>,
        D1: Dimension,
        D2: Dimension,
    {
        self.validation_data = Some((to_dyn(x), to_dyn(y)));
        self
    }
    /// 0 silent, 1 about 20 epoch lines, 2 every epoch.
    pub fn verbose(mut self, verbose: u8) -> Self {
        self.verbose = verbose;
        self
    }
    /// Stops early, as Keras' `EarlyStopping` callback.
    pub fn early_stopping(mut self, callback: EarlyStopping) -> Self {
        self.early_stopping = Some(callback);
        self
    }

    fn validate(&self) -> Result<()> {
        if self.batch_size == 0 {
            return Err(LstmError::config("batch_size", "at least 1", 0));
        }
        if !(0.0..1.0).contains(&self.validation_split) {
            return Err(LstmError::config(
                "validation_split",
                "a fraction in [0, 1)",
                self.validation_split,
            ));
        }
        if self.verbose > 2 {
            return Err(LstmError::config("verbose", "0, 1 or 2", self.verbose));
        }
        Ok(())
    }
}

/// What [`Sequential::gradients`] returns.
#[derive(Debug, Clone, PartialEq)]
pub struct Gradients {
    /// The loss of the batch, before the update.
    pub loss: f32,
    /// d(loss)/d(weight), in Keras order.
    pub weights: Vec<ArrayD<f32>>,
    /// d(loss)/d(x).
    pub input: ArrayD<f32>,
}

/// Refuses to hand out NaN or infinite predictions: they only come from weights that overflowed.
fn ensure_finite_output(context: &str, pred: &ArrayD<f32>) -> Result<()> {
    ensure_finite(
        &format!(
            "{context}: the model's output (its weights overflow for this input; retrain with a lower learning rate or clipping)"
        ),
        pred,
    )
}

/// A `Diverged` error from `train_step` with the epoch and batch (1-based) it happened at.
fn at_batch(error: LstmError, epoch: usize, batch: usize) -> LstmError {
    match error {
        LstmError::Diverged { cause, kept, .. } => LstmError::Diverged {
            epoch,
            batch,
            cause,
            kept,
        },
        other => other,
    }
}

/// Rows `rows` of `a` along axis 0, as a new array: `select`, without its per-row overhead.
fn gather_rows(a: &ArrayD<f32>, rows: &[usize]) -> ArrayD<f32> {
    let Some(data) = a.as_slice() else {
        return a.select(Axis(0), rows);
    };
    let row_len: usize = a.shape()[1..].iter().product();
    let mut out = Vec::with_capacity(rows.len() * row_len);
    for &r in rows {
        out.extend_from_slice(&data[r * row_len..(r + 1) * row_len]);
    }
    let mut shape = a.shape().to_vec();
    shape[0] = rows.len();
    ArrayD::from_shape_vec(shape, out).expect("rows × row length")
}

pub(crate) fn to_dyn<S: Data<Elem = f32>, D: Dimension>(x: &ArrayBase<S, D>) -> ArrayD<f32> {
    x.as_standard_layout().into_owned().into_dyn()
}

impl Sequential {
    /// An empty model for inputs of `input_shape` per sample (e.g. `[timesteps, features]`),
    /// with seed 0 for weights, shuffling and dropout.
    pub fn new(input_shape: &[usize]) -> Self {
        Self::with_seed(input_shape, 0)
    }

    /// Like [`Sequential::new`] with another seed: the same seed gives bit-identical training.
    pub fn with_seed(input_shape: &[usize], seed: u64) -> Self {
        Sequential {
            name: "sequential".into(),
            input_shape: input_shape.to_vec(),
            layers: vec![],
            layer_names: vec![],
            output_shapes: vec![],
            seed,
            rng: seeded_rng(seed),
            compiled: None,
            undo: Vec::new(),
            undo_valid: false,
            scalers: Default::default(),
        }
    }

    /// The seed the model was created with.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The model's RNG (shuffling, dropout), for saving exactly where training stands.
    pub fn rng(&self) -> &Rng {
        &self.rng
    }

    pub(crate) fn set_rng(&mut self, rng: Rng) {
        self.rng = rng;
    }

    /// Appends a layer and builds it for the current output shape (weights drawn from the
    /// model's RNG). A layer that does not fit is refused and the model is left unchanged.
    pub fn add(&mut self, layer: impl Layer + 'static) -> Result<&mut Self> {
        self.add_boxed(Box::new(layer))
    }

    /// [`Sequential::add`] for a layer already boxed (e.g. from a list of layers).
    pub fn add_boxed(&mut self, mut layer: Box<dyn Layer>) -> Result<&mut Self> {
        if self.input_shape.is_empty() || self.input_shape.contains(&0) {
            return Err(LstmError::shape(
                "Sequential input shape",
                "one or more positive sizes per sample, e.g. [timesteps, features]",
                format!("{:?}", self.input_shape),
            ));
        }
        if layer.returns_state() {
            return Err(LstmError::config(
                "layer in a Sequential model",
                "an LSTM without return_state (it returns three tensors; use Lstm::call for (output, h, c))",
                "return_state = true",
            ));
        }
        let input = self.output_shape_without_batch().to_vec();
        let output = layer.build(&input, &mut self.rng)?;
        let base = layer.base_name();
        let same_kind = self.layers.iter().filter(|l| l.base_name() == base).count();
        self.layer_names.push(match same_kind {
            0 => base.to_string(),
            k => format!("{base}_{k}"),
        });
        self.output_shapes.push(output);
        self.layers.push(layer);
        self.undo_valid = false;
        Ok(self)
    }

    fn output_shape_without_batch(&self) -> &[usize] {
        self.output_shapes.last().unwrap_or(&self.input_shape)
    }

    /// The output shape per sample.
    pub fn output_shape(&self) -> Vec<usize> {
        self.output_shape_without_batch().to_vec()
    }

    /// The input shape per sample, e.g. `[timesteps, features]`.
    pub fn input_shape(&self) -> &[usize] {
        &self.input_shape
    }

    /// Chooses the optimizer and loss (and checks their settings).
    pub fn compile(&mut self, optimizer: impl Optimizer + 'static, loss: Loss) -> Result<()> {
        self.compile_with_metrics(optimizer, loss, &[])
    }

    /// [`Sequential::compile`] with metrics reported beside the loss (`accuracy`, `mae`, ...).
    pub fn compile_with_metrics(
        &mut self,
        optimizer: impl Optimizer + 'static,
        loss: Loss,
        metrics: &[Metric],
    ) -> Result<()> {
        self.compile_boxed(Box::new(optimizer), loss, metrics)
    }

    /// [`Sequential::compile_with_metrics`] for an optimizer already boxed.
    pub fn compile_boxed(
        &mut self,
        optimizer: Box<dyn Optimizer>,
        loss: Loss,
        metrics: &[Metric],
    ) -> Result<()> {
        optimizer.validate()?;
        if self.layers.is_empty() {
            return Err(LstmError::Empty {
                context: "Sequential::compile: the model has no layers".into(),
                min: 1,
            });
        }
        let out = self.output_shape();
        if loss.is_cross_entropy() && out.last() == Some(&1) {
            return Err(LstmError::config(
                "loss",
                "an output with one unit per class for cross-entropy",
                format!("{} with output {}", loss.name(), batch_shape(&out)),
            ));
        }
        self.compiled = Some(Compiled {
            optimizer,
            loss,
            metrics: metrics.to_vec(),
        });
        Ok(())
    }

    /// The compiled optimizer's state, loss and metrics (for saving).
    pub fn compiled_state(
        &self,
    ) -> Option<(crate::training::optim::OptimizerState, Loss, Vec<Metric>)> {
        self.compiled
            .as_ref()
            .map(|c| (c.optimizer.state(), c.loss, c.metrics.clone()))
    }

    /// Keeps a fitted scaler with the model (saved and loaded with it), e.g. under `"x"` and `"y"`.
    pub fn attach_scaler(&mut self, name: &str, scaler: impl Into<crate::math::scaler::Scaler>) {
        self.scalers.insert(name.to_string(), scaler.into());
    }

    /// The scaler attached under `name`.
    pub fn scaler(&self, name: &str) -> Option<&crate::math::scaler::Scaler> {
        self.scalers.get(name)
    }

    /// Every attached scaler, by name.
    pub fn scalers(&self) -> &std::collections::BTreeMap<String, crate::math::scaler::Scaler> {
        &self.scalers
    }

    fn compiled(&self) -> Result<&Compiled> {
        self.compiled.as_ref().ok_or(LstmError::NotReady {
            what: "the model",
            needed: "compiled",
            call: "model.compile(Adam::default(), Loss::MeanSquaredError)",
        })
    }

    /// The layers, in order.
    pub fn layers(&self) -> &[Box<dyn Layer>] {
        &self.layers
    }

    /// Keras' names of the layers: `lstm`, `lstm_1`, `dense`, ...
    pub fn layer_names(&self) -> &[String] {
        &self.layer_names
    }

    /// The `index`-th layer as an LSTM, if it is one.
    pub fn lstm(&self, index: usize) -> Option<&Lstm> {
        self.layer(index)
    }

    /// The `index`-th layer as its own type (`model.layer::<Gru>(0)`), if it is one: for
    /// looking inside it (an LSTM's gates, a layer's settings).
    pub fn layer<L: Layer>(&self, index: usize) -> Option<&L> {
        let layer: &dyn std::any::Any = self.layers.get(index)?.as_ref();
        layer.downcast_ref()
    }

    /// Trainable scalars in all layers, as `model.count_params()`.
    pub fn count_params(&self) -> usize {
        self.layers.iter().map(|l| l.param_count()).sum()
    }

    /// All weights in Keras order (`model.get_weights()`).
    pub fn get_weights(&self) -> Vec<ArrayD<f32>> {
        self.layers
            .iter()
            .flat_map(|l| l.weights().into_iter().map(|w| w.value))
            .collect()
    }

    /// Replaces all weights (`model.set_weights(...)`). Shapes are checked for every layer
    /// before anything changes.
    pub fn set_weights(&mut self, weights: &[ArrayD<f32>]) -> Result<()> {
        let counts: Vec<usize> = self.layers.iter().map(|l| l.weights().len()).collect();
        let total: usize = counts.iter().sum();
        if weights.len() != total {
            return Err(LstmError::count(
                "Sequential::set_weights",
                "weight arrays",
                total,
                weights.len().to_string(),
            ));
        }
        let mut start = 0;
        for (layer, &n) in self.layers.iter().zip(&counts) {
            crate::layers::check_weight_shapes(
                layer.class_name(),
                &layer.weights(),
                &weights[start..start + n],
            )?;
            start += n;
        }
        let mut start = 0;
        for (layer, &n) in self.layers.iter_mut().zip(&counts) {
            layer.set_weights(&weights[start..start + n])?;
            start += n;
        }
        self.undo_valid = false;
        Ok(())
    }

    /// Clears the carried state of stateful layers.
    pub fn reset_states(&mut self) {
        self.layers.iter_mut().for_each(|l| l.reset_states());
    }

    fn is_stateful(&self) -> bool {
        self.layers.iter().any(|l| l.is_stateful())
    }

    fn check_x(&self, context: &str, x: &ArrayD<f32>) -> Result<()> {
        if x.ndim() != self.input_shape.len() + 1 || x.shape()[1..] != self.input_shape[..] {
            return Err(LstmError::shape(
                format!("{context}: input x"),
                batch_shape(&self.input_shape),
                fmt_shape(x.shape()),
            ));
        }
        if x.shape()[0] == 0 {
            return Err(LstmError::Empty {
                context: format!("{context}: input x"),
                min: 1,
            });
        }
        ensure_finite(&format!("{context}: input x"), x)
    }

    fn prepare(
        &self,
        context: &str,
        x: &ArrayD<f32>,
        y: &ArrayD<f32>,
        loss: Loss,
    ) -> Result<ArrayD<f32>> {
        self.check_x(context, x)?;
        let n = x.shape()[0];
        if y.ndim() == 0 || y.shape()[0] != n {
            return Err(LstmError::count(
                format!("{context}: y must have one target per sample of x"),
                "targets",
                n,
                format!("y of shape {}", fmt_shape(y.shape())),
            ));
        }
        let mut out = vec![n];
        out.extend(self.output_shape());
        loss.prepare_targets(y, &out)
    }

    /// Every layer's forward pass, with denormals flushed as TensorFlow's kernels flush them.
    fn forward(&mut self, x: &ArrayD<f32>, training: bool) -> Result<ArrayD<f32>> {
        let mut layers = self.layers.iter_mut();
        let first = layers.next().ok_or(LstmError::Empty {
            context: "Sequential: the model has no layers".into(),
            min: 1,
        })?;
        let rng = &mut self.rng;
        denormals::flushed(|| {
            let mut a = first.forward(x, training, rng)?;
            for layer in layers {
                a = layer.forward(&a, training, rng)?;
            }
            Ok(a)
        })
    }

    /// Predictions for `x` of shape `(samples, ...input_shape)`.
    pub fn predict<S: Data<Elem = f32>, D: Dimension>(
        &mut self,
        x: &ArrayBase<S, D>,
    ) -> Result<ArrayD<f32>> {
        let x = to_dyn(x);
        self.check_x("predict", &x)?;
        let pred = self.predict_checked(&x)?;
        ensure_finite_output("predict", &pred)?;
        Ok(pred)
    }

    fn predict_checked(&mut self, x: &ArrayD<f32>) -> Result<ArrayD<f32>> {
        // Stateful layers need the batch size they were trained with.
        // Chunks of 128 keep each layer's per-step buffers in cache (and memory small): 10,000
        // windows through LSTM(128) ran 1.5× faster than in chunks of 4096, in 1/13 of the
        // memory, and 1.1-1.2× faster than in chunks of 256 once each chunk splits across
        // the two cores (measured at H = 32, 128, 512). Rows are independent: same results.
        let chunk = if self.is_stateful() { 32 } else { 128 };
        let n = x.shape()[0];
        if n <= chunk || self.is_stateful() && !n.is_multiple_of(chunk) {
            return self.forward(x, false);
        }
        let mut parts = Vec::new();
        for start in (0..n).step_by(chunk) {
            let part = x
                .slice_axis(Axis(0), (start..(start + chunk).min(n)).into())
                .to_owned();
            parts.push(self.forward(&part, false)?);
        }
        let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
        Ok(ndarray::concatenate(Axis(0), &views).expect("same trailing shape"))
    }

    /// Forecasts `steps` values ahead for a one-feature, one-output model: predicts the value
    /// after `history` (its last `timesteps` values), appends it, and repeats.
    pub fn forecast(&mut self, history: &[f32], steps: usize) -> Result<Vec<f32>> {
        let timesteps = match self.input_shape[..] {
            [t, 1] => t,
            _ => {
                return Err(LstmError::shape(
                    "forecast: model input",
                    "(None, timesteps, 1): one feature",
                    batch_shape(&self.input_shape),
                ));
            }
        };
        if self.output_shape() != [1] {
            return Err(LstmError::shape(
                "forecast: model output",
                "(None, 1)",
                batch_shape(&self.output_shape()),
            ));
        }
        if history.len() < timesteps {
            return Err(LstmError::WindowTooLong {
                n_steps: timesteps,
                needed: timesteps,
                len: history.len(),
            });
        }
        let window = history[history.len() - timesteps..].to_vec();
        let window =
            ndarray::Array3::from_shape_vec((1, timesteps, 1), window).expect("sizes match");
        Ok(self.forecast_windows(&window, steps)?.row(0).to_vec())
    }

    /// [`Sequential::forecast`] from many windows at once: `steps` values after each window of a
    /// one-feature, one-output model, every prediction fed back as that window's newest input, all
    /// windows in one batch per step. Returns `(windows, steps)`; row `k` continues window `k`.
    pub fn forecast_windows(
        &mut self,
        windows: &ndarray::Array3<f32>,
        steps: usize,
    ) -> Result<ndarray::Array2<f32>> {
        let (samples, timesteps, features) = windows.dim();
        if features != 1 || self.output_shape() != [1] {
            return Err(LstmError::shape(
                "forecast_windows: windows and model output",
                "(samples, timesteps, 1) windows into a model with one output",
                format!(
                    "{} windows, output {}",
                    fmt_shape(windows.shape()),
                    batch_shape(&self.output_shape())
                ),
            ));
        }
        let mut window = windows.clone();
        let mut out = ndarray::Array2::zeros((samples, steps));
        for step in 0..steps {
            let next = self.predict(&window)?;
            for k in 0..samples {
                out[[k, step]] = next[[k, 0]];
                // Shift the window one step left and append its prediction.
                for t in 0..timesteps - 1 {
                    window[[k, t, 0]] = window[[k, t + 1, 0]];
                }
                window[[k, timesteps - 1, 0]] = next[[k, 0]];
            }
        }
        Ok(out)
    }

    /// Loss (and compiled metrics) on `x`, `y` without training.
    pub fn evaluate<S1, D1, S2, D2>(
        &mut self,
        x: &ArrayBase<S1, D1>,
        y: &ArrayBase<S2, D2>,
    ) -> Result<Evaluation>
    where
        S1: Data<Elem = f32>,
        S2: Data<Elem = f32>,
        D1: Dimension,
        D2: Dimension,
    {
        let loss = self.compiled()?.loss;
        let (x, y) = (to_dyn(x), to_dyn(y));
        let y = self.prepare("evaluate", &x, &y, loss)?;
        let evaluation = self.evaluate_prepared(&x, &y)?;
        if !evaluation.loss.is_finite() {
            return Err(LstmError::NonFinite {
                context: "evaluate: the loss (the model's weights or outputs overflow)".into(),
                index: "[]".into(),
                value: evaluation.loss,
            });
        }
        Ok(evaluation)
    }

    fn evaluate_prepared(&mut self, x: &ArrayD<f32>, y: &ArrayD<f32>) -> Result<Evaluation> {
        let pred = self.predict_checked(x)?;
        let compiled = self.compiled()?;
        let loss = compiled.loss.value_and_grad_checked(&pred, y).0;
        let metrics = compiled
            .metrics
            .iter()
            .map(|m| {
                (
                    m.name().to_string(),
                    m.compute_checked(compiled.loss, &pred, y),
                )
            })
            .collect();
        Ok(Evaluation { loss, metrics })
    }

    /// One optimizer step on one batch (`model.train_on_batch`); returns the loss before the step.
    pub fn train_on_batch<S1, D1, S2, D2>(
        &mut self,
        x: &ArrayBase<S1, D1>,
        y: &ArrayBase<S2, D2>,
    ) -> Result<f32>
    where
        S1: Data<Elem = f32>,
        S2: Data<Elem = f32>,
        D1: Dimension,
        D2: Dimension,
    {
        let loss = self.compiled()?.loss;
        let (x, y) = (to_dyn(x), to_dyn(y));
        let y = self.prepare("train_on_batch", &x, &y, loss)?;
        self.train_step(&x, &y)
            .map(|(loss, _)| loss)
            .map_err(|e| at_batch(e, 1, 1))
    }

    /// Forward and backward pass: leaves every layer's parameter gradients in place and returns
    /// the loss, the predictions and, if `want_input_gradient`, d(loss)/d(x).
    fn forward_backward(
        &mut self,
        x: &ArrayD<f32>,
        y: &ArrayD<f32>,
        want_input_gradient: bool,
    ) -> Result<(f32, ArrayD<f32>, Option<ArrayD<f32>>)> {
        let pred = self.forward(x, true)?;
        let loss_fn = self.compiled()?.loss;
        let last = self.layers.last().expect("forward checked layers");
        // Softmax + cross-entropy: from the logits, as Keras (stable, gradient (p − y)/n).
        let (loss, grad, from_logits) = match loss_fn
            .is_cross_entropy()
            .then(|| last.softmax_logits())
            .flatten()
        {
            Some(logits) => {
                let (loss, grad) = Loss::cross_entropy_from_logits_checked(logits, y);
                (loss, grad, true)
            }
            None => {
                let (loss, grad) = loss_fn.value_and_grad_checked(&pred, y);
                (loss, grad, false)
            }
        };
        if !loss.is_finite() {
            return Err(LstmError::Diverged {
                epoch: 0,
                batch: 0,
                cause: Divergence::Loss(loss),
                kept: KeptWeights::Unchanged,
            });
        }
        let last = self.layers.len() - 1;
        let mut g = grad;
        for (k, layer) in self.layers.iter_mut().enumerate().rev() {
            if k == last && from_logits {
                g = layer.backward_from_logits(&g)?;
            } else if k == 0 && !want_input_gradient {
                layer.backward_params_only(&g)?;
            } else {
                g = layer.backward(&g)?;
            }
        }
        Ok((loss, pred, want_input_gradient.then_some(g)))
    }

    /// The loss and its gradients for a batch, without changing the weights: one array per
    /// weight in Keras order (as [`Sequential::get_weights`]), and d(loss)/d(x).
    pub fn gradients<S1, D1, S2, D2>(
        &mut self,
        x: &ArrayBase<S1, D1>,
        y: &ArrayBase<S2, D2>,
    ) -> Result<Gradients>
    where
        S1: Data<Elem = f32>,
        S2: Data<Elem = f32>,
        D1: Dimension,
        D2: Dimension,
    {
        let loss = self.compiled()?.loss;
        let (x, y) = (to_dyn(x), to_dyn(y));
        let y = self.prepare("gradients", &x, &y, loss)?;
        let outcome = denormals::flushed(|| self.forward_backward(&x, &y, true));
        let (loss, _, input) = outcome.map_err(|e| match e {
            LstmError::Diverged {
                cause: Divergence::Loss(loss),
                ..
            } => LstmError::NonFinite {
                context: "gradients: the loss at the current weights".into(),
                index: "[]".into(),
                value: loss,
            },
            other => other,
        })?;
        let input = input.expect("asked for the input gradient");
        let shapes = self.get_weights();
        let weights = self
            .layers
            .iter_mut()
            .flat_map(|l| l.params())
            .zip(shapes)
            .map(|(p, w)| ArrayD::from_shape_vec(w.raw_dim(), p.grad.to_vec()).expect("same size"))
            .collect();
        Ok(Gradients {
            loss,
            weights,
            input,
        })
    }

    /// Forward, loss, backward and one optimizer step, with denormals flushed (as TensorFlow).
    /// Returns the loss before the step and the predictions (for metrics). If anything is not
    /// finite, the model is left with finite weights whose loss was finite (see [`KeptWeights`])
    /// and `Diverged` says which.
    fn train_step(&mut self, x: &ArrayD<f32>, y: &ArrayD<f32>) -> Result<(f32, ArrayD<f32>)> {
        denormals::flushed(|| {
            let (loss, pred, _) = match self.forward_backward(x, y, false) {
                Err(LstmError::Diverged { cause, .. }) => {
                    // These weights came from the last update; the ones before it had a finite loss.
                    let kept = if self.undo_valid {
                        self.restore_undo();
                        KeptWeights::BeforePreviousBatch
                    } else {
                        KeptWeights::Unchanged
                    };
                    return Err(LstmError::Diverged {
                        epoch: 0,
                        batch: 0,
                        cause,
                        kept,
                    });
                }
                other => other?,
            };
            let diverged = |cause| LstmError::Diverged {
                epoch: 0,
                batch: 0,
                cause,
                kept: KeptWeights::BeforeThisBatch,
            };
            let mut params: Vec<_> = self.layers.iter_mut().flat_map(|l| l.params()).collect();
            // Checks and copies of every parameter run on both cores (memory-bound passes).
            if !params.iter().all(|p| helper::all_finite_in_halves(p.grad)) {
                return Err(diverged(Divergence::Gradient));
            }
            self.undo
                .resize(params.iter().map(|p| p.value.len()).sum(), 0.0);
            let mut slots = self.undo.as_mut_slice();
            for p in &params {
                let (slot, rest) = slots.split_at_mut(p.value.len());
                helper::copy_in_halves(slot, p.value);
                slots = rest;
            }
            self.undo_valid = true;
            let compiled = self.compiled.as_mut().expect("checked");
            compiled.optimizer.step(&mut params);
            let overflowed = !params.iter().all(|p| helper::all_finite_in_halves(p.value));
            drop(params);
            if overflowed {
                self.restore_undo();
                return Err(diverged(Divergence::Weights));
            }
            Ok((loss, pred))
        })
    }

    /// Puts back the weights saved before the last optimizer step.
    fn restore_undo(&mut self) {
        let mut saved = self.undo.as_slice();
        for p in self.layers.iter_mut().flat_map(|l| l.params()) {
            let (before, rest) = saved.split_at(p.value.len());
            p.value.copy_from_slice(before);
            saved = rest;
        }
        self.undo_valid = false;
    }

    /// Trains for `config.epochs` epochs with Keras' `fit` semantics:
    /// `validation_split` takes the last samples before shuffling; the training set is shuffled
    /// each epoch (seeded); the last batch may be partial; the epoch loss is the mean of the batch
    /// losses (weighted by batch size), each taken before that batch's update.
    pub fn fit<S1, D1, S2, D2>(
        &mut self,
        x: &ArrayBase<S1, D1>,
        y: &ArrayBase<S2, D2>,
        config: &FitConfig,
    ) -> Result<History>
    where
        S1: Data<Elem = f32>,
        S2: Data<Elem = f32>,
        D1: Dimension,
        D2: Dimension,
    {
        self.fit_dyn(to_dyn(x), to_dyn(y), config)
    }

    /// `fit` without type parameters: compiled once, in this crate, with its build settings. (A
    /// generic body is compiled in the caller's crate: in a notebook, every cell that calls it.)
    fn fit_dyn(&mut self, x: ArrayD<f32>, y: ArrayD<f32>, config: &FitConfig) -> Result<History> {
        config.validate()?;
        let loss_fn = self.compiled()?.loss;
        let y = self.prepare("fit", &x, &y, loss_fn)?;
        let n = x.shape()[0];

        let (train, validation) = if let Some((vx, vy)) = &config.validation_data {
            let vy = self.prepare("fit: validation_data", vx, vy, loss_fn)?;
            ((x, y), Some((vx.clone(), vy)))
        } else if config.validation_split > 0.0 {
            let split_at =
                ((n as f64) * (1.0 - decimal_f64(config.validation_split))).floor() as usize;
            if split_at == 0 || split_at == n {
                return Err(LstmError::config(
                    "validation_split",
                    "a fraction that leaves at least one sample for training and one for validation",
                    format!(
                        "{} of {n} samples ({split_at} for training)",
                        config.validation_split
                    ),
                ));
            }
            let head = |a: &ArrayD<f32>| a.slice_axis(Axis(0), (..split_at).into()).to_owned();
            let tail = |a: &ArrayD<f32>| a.slice_axis(Axis(0), (split_at..).into()).to_owned();
            ((head(&x), head(&y)), Some((tail(&x), tail(&y))))
        } else {
            ((x, y), None)
        };
        let (x, y) = train;
        let n = x.shape()[0];
        let metrics = self.compiled()?.metrics.clone();

        let mut history = History::new(&metrics, validation.is_some());
        let mut early = config.early_stopping.clone();
        if let Some(cb) = &mut early {
            let mut series = vec!["loss".to_string()];
            series.extend(metrics.iter().map(|m| m.name().to_string()));
            if validation.is_some() {
                series.push("val_loss".into());
                series.extend(metrics.iter().map(|m| format!("val_{}", m.name())));
            }
            cb.validate(&series)?;
            cb.reset();
        }
        let log_every = match config.verbose {
            1 => config.epochs.div_ceil(20).max(1),
            _ => 1,
        };
        let mut order: Vec<usize> = (0..n).collect();
        for epoch in 1..=config.epochs {
            let started = Instant::now();
            if config.shuffle && (epoch == 1 || config.reshuffle_each_epoch) {
                order.shuffle(&mut self.rng);
            }
            let mut loss_sum = 0.0f64;
            let mut metric_sums = vec![0.0f64; metrics.len()];
            for (b, batch) in order.chunks(config.batch_size).enumerate() {
                let xb = gather_rows(&x, batch);
                let yb = gather_rows(&y, batch);
                let (loss, pred) = self
                    .train_step(&xb, &yb)
                    .map_err(|e| at_batch(e, epoch, b + 1))?;
                let weight = batch.len() as f64 / n as f64;
                loss_sum += loss as f64 * weight;
                for (sum, m) in metric_sums.iter_mut().zip(&metrics) {
                    *sum += m.compute_checked(loss_fn, &pred, &yb) as f64 * weight;
                }
            }
            let train_metrics: Vec<(&str, f32)> = metrics
                .iter()
                .zip(&metric_sums)
                .map(|(m, &s)| (m.name(), s as f32))
                .collect();
            let val = match &validation {
                Some((vx, vy)) => Some(self.evaluate_prepared(vx, vy)?),
                None => None,
            };
            history.push(loss_sum as f32, &train_metrics, val.as_ref());
            let elapsed = started.elapsed();
            let stop = match &mut early {
                Some(cb) => match cb.on_epoch_end(epoch, &history, || self.get_weights())? {
                    EpochEnd::Continue => false,
                    EpochEnd::Stop { restore } => {
                        if let Some(best) = restore {
                            self.set_weights(&best)?;
                        }
                        true
                    }
                },
                None => false,
            };
            if config.verbose > 0
                && (epoch % log_every == 0 || epoch == 1 || epoch == config.epochs || stop)
            {
                println!(
                    "Epoch {epoch}/{} - {} - {}",
                    config.epochs,
                    history.last_epoch_line(),
                    crate::display::elapsed(elapsed)
                );
            }
            if stop {
                if config.verbose > 0 {
                    println!("Epoch {epoch}: early stopping");
                }
                history.stopped_epoch = Some(epoch);
                break;
            }
        }
        Ok(history)
    }

    /// The Keras-style summary table (text via `Display`, HTML in notebooks).
    pub fn summary(&self) -> Summary {
        let rows = self
            .layers
            .iter()
            .zip(&self.layer_names)
            .zip(&self.output_shapes)
            .map(|((layer, name), shape)| SummaryRow {
                name: name.clone(),
                class_name: layer.class_name().to_string(),
                output_shape: shape.clone(),
                params: layer.param_count(),
            })
            .collect();
        Summary {
            model_name: self.name.clone(),
            rows,
        }
    }
}
