//! `Sequential`: layers in a row, compiled with an optimizer and a loss, trained with Keras'
//! `fit` semantics.

use ndarray::{ArrayBase, ArrayD, Axis, Data, Dimension};

use crate::check::{batch_shape, ensure_finite, fmt_shape};
use crate::engine::denormals;
use crate::error::{LstmError, Result};
use crate::layers::{Layer, Lstm};
use crate::math::init::{Fill, Rng, seeded_rng};
use crate::training::history::Evaluation;
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
    pub(crate) name: String,
    pub(crate) input_shape: Vec<usize>,
    pub(crate) layers: Vec<Box<dyn Layer>>,
    pub(crate) layer_names: Vec<String>,
    pub(crate) output_shapes: Vec<Vec<usize>>,
    pub(crate) seed: u64,
    pub(crate) rng: Rng,
    pub(crate) compiled: Option<Compiled>,
    pub(crate) scalers: std::collections::BTreeMap<String, crate::math::scaler::Scaler>,
    /// The weights before the last optimizer step (reused buffer), to undo a step that overflows.
    pub(crate) undo: Vec<f32>,
    /// Whether `undo` holds the weights before the last step of the current weights' history
    /// (false after `add`, `set_weights` or an undo).
    pub(crate) undo_valid: bool,
    /// The batch size of the last fit of a stateful model: its carried states have that many
    /// rows, so `predict` and validation run in batches of it.
    pub(crate) stateful_batch: Option<usize>,
}

#[derive(Debug)]
pub(crate) struct Compiled {
    pub(crate) optimizer: Box<dyn Optimizer>,
    pub(crate) loss: Loss,
    pub(crate) metrics: Vec<Metric>,
}

/// A model used before any layer was added, said in the words of the fix.
fn no_layers() -> LstmError {
    LstmError::NotReady {
        what: "the model",
        needed: "given at least one layer",
        call: "model.add(Lstm::new(32)) (and a Dense head) before compile, fit or predict",
    }
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
            stateful_batch: None,
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
    pub fn add_boxed(&mut self, layer: Box<dyn Layer>) -> Result<&mut Self> {
        self.push_layer(layer, true)
    }

    /// Adds a layer whose weights start at zero, drawing nothing: for a model whose weights
    /// are set right after (loading), where drawing LSTM(1024)'s would take a second.
    pub(crate) fn add_unfilled(&mut self, layer: Box<dyn Layer>) -> Result<&mut Self> {
        self.push_layer(layer, false)
    }

    /// The batch size a stateful model was last fitted with (its carried states have it).
    pub fn stateful_batch_size(&self) -> Option<usize> {
        self.stateful_batch
    }

    fn push_layer(&mut self, mut layer: Box<dyn Layer>, draw: bool) -> Result<&mut Self> {
        if self.input_shape.is_empty() || self.input_shape.contains(&0) {
            return Err(LstmError::shape(
                "Sequential input shape",
                "one or more positive sizes per sample, e.g. [timesteps, features]",
                batch_shape(&self.input_shape),
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
        let fill = if draw {
            Fill::Drawn(&mut self.rng)
        } else {
            Fill::Zeros
        };
        let output = layer.build_with(&input, fill)?;
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
            return Err(no_layers());
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

    pub(crate) fn compiled(&self) -> Result<&Compiled> {
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
                &|name, got| layer.weight_shape_hint(name, got),
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

    pub(crate) fn is_stateful(&self) -> bool {
        self.layers.iter().any(|l| l.is_stateful())
    }

    pub(crate) fn check_x(&self, context: &str, x: &ArrayD<f32>) -> Result<()> {
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

    /// `x` and `y` as the model's methods take them, checked (`context` names the method):
    /// dynamic arrays, `y` in the shape the compiled loss needs.
    pub(crate) fn prepared(
        &self,
        context: &str,
        x: &ArrayBase<impl Data<Elem = f32>, impl Dimension>,
        y: &ArrayBase<impl Data<Elem = f32>, impl Dimension>,
    ) -> Result<(ArrayD<f32>, ArrayD<f32>)> {
        let loss = self.compiled()?.loss;
        let (x, y) = (to_dyn(x), to_dyn(y));
        let y = self.prepare(context, &x, &y, loss)?;
        Ok((x, y))
    }

    pub(crate) fn prepare(
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
    pub(crate) fn forward(&mut self, x: &ArrayD<f32>, training: bool) -> Result<ArrayD<f32>> {
        let mut layers = self.layers.iter_mut();
        let first = layers.next().ok_or_else(no_layers)?;
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
        let n = x.shape()[0];
        let chunk = match (self.is_stateful(), self.stateful_batch) {
            // A stateful model carries states of its training batch size: predict in batches
            // of that size, or refuse before any state changes.
            (true, Some(batch)) => {
                if !n.is_multiple_of(batch) {
                    return Err(stateful_batches("predict on a stateful model", n, batch));
                }
                batch
            }
            (true, None) => n,
            (false, _) => 128,
        };
        if n <= chunk {
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
    pub fn evaluate(
        &mut self,
        x: &ArrayBase<impl Data<Elem = f32>, impl Dimension>,
        y: &ArrayBase<impl Data<Elem = f32>, impl Dimension>,
    ) -> Result<Evaluation> {
        let (x, y) = self.prepared("evaluate", x, y)?;
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

    pub(crate) fn evaluate_prepared(
        &mut self,
        x: &ArrayD<f32>,
        y: &ArrayD<f32>,
    ) -> Result<Evaluation> {
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

/// A stateful model's batches must all have `batch` rows: `n` samples do not divide into them.
pub(crate) fn stateful_batches(context: &str, n: usize, batch: usize) -> LstmError {
    let (lower, upper) = (n / batch * batch, n.div_ceil(batch) * batch);
    let sizes = if lower == 0 {
        upper.to_string()
    } else {
        format!("{lower} or {upper}")
    };
    LstmError::config(
        context,
        format!(
            "every batch the same size, as the carried states have: a number of samples that \
             batch_size {batch} divides ({sizes}), or a batch_size that divides {n}"
        ),
        format!("{n} samples"),
    )
}
