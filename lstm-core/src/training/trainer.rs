//! Training a [`Sequential`] model: one optimizer step on a batch (undone if it overflows), the
//! gradients of a batch, and `fit`'s loop over epochs and batches with validation, shuffling
//! and early stopping, as Keras runs them.

use std::time::Instant;

use ndarray::{ArrayBase, ArrayD, Axis, Data, Dimension};
use ndarray_rand::rand::seq::SliceRandom;

use crate::check::decimal_f64;
use crate::engine::{denormals, helper};
use crate::error::{Divergence, KeptWeights, LstmError, Result};
use crate::training::callbacks::{EarlyStopping, EpochEnd};
use crate::training::history::History;
use crate::training::loss::Loss;
use crate::training::model::{Sequential, stateful_batches, to_dyn};

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
    pub fn validation_data(
        mut self,
        x: &ArrayBase<impl Data<Elem = f32>, impl Dimension>,
        y: &ArrayBase<impl Data<Elem = f32>, impl Dimension>,
    ) -> Self {
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

impl Sequential {
    /// One optimizer step on one batch (`model.train_on_batch`); returns the loss before the step.
    pub fn train_on_batch(
        &mut self,
        x: &ArrayBase<impl Data<Elem = f32>, impl Dimension>,
        y: &ArrayBase<impl Data<Elem = f32>, impl Dimension>,
    ) -> Result<f32> {
        let (x, y) = self.prepared("train_on_batch", x, y)?;
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
    pub fn gradients(
        &mut self,
        x: &ArrayBase<impl Data<Elem = f32>, impl Dimension>,
        y: &ArrayBase<impl Data<Elem = f32>, impl Dimension>,
    ) -> Result<Gradients> {
        let (x, y) = self.prepared("gradients", x, y)?;
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
    pub fn fit(
        &mut self,
        x: &ArrayBase<impl Data<Elem = f32>, impl Dimension>,
        y: &ArrayBase<impl Data<Elem = f32>, impl Dimension>,
        config: &FitConfig,
    ) -> Result<History> {
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
        // A stateful layer carries its states from batch to batch, so every batch must have one
        // size: refused here, before the first step changes the weights, not at the last batch.
        if self.is_stateful() {
            let batch = config.batch_size;
            if !n.is_multiple_of(batch) {
                return Err(stateful_batches("fit of a stateful model", n, batch));
            }
            // Validation runs through the same carried states, in batches of the same size.
            if let Some((vx, _)) = &validation
                && !vx.shape()[0].is_multiple_of(batch)
            {
                return Err(stateful_batches(
                    "fit of a stateful model: validation data",
                    vx.shape()[0],
                    batch,
                ));
            }
            self.stateful_batch = Some(batch);
        }
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
}
