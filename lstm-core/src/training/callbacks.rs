//! Callbacks run by `fit` at the end of each epoch.

use crate::error::{LstmError, Result};
use crate::training::history::History;
use ndarray::ArrayD;

/// What `fit` does after an epoch, as a callback decides.
#[derive(Debug)]
pub(crate) enum EpochEnd {
    Continue,
    /// Stop training, first putting back these weights (the best epoch's) if given.
    Stop {
        restore: Option<Vec<ArrayD<f32>>>,
    },
}

/// Which way the monitored series improves (Keras' `mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Up for accuracies (a name ending in `accuracy` or `acc`), down for everything else:
    /// Keras' `"auto"`.
    #[default]
    Auto,
    /// Lower is better (losses, errors).
    Min,
    /// Higher is better (accuracies).
    Max,
}

/// Stop when the monitored quantity has not improved for `patience` epochs, like Keras'
/// `EarlyStopping`. Defaults: monitor `val_loss`, mode auto, patience 0, min_delta 0, no weight
/// restore.
#[derive(Debug, Clone)]
pub struct EarlyStopping {
    /// The series watched, by Keras name (default `val_loss`).
    pub monitor: String,
    /// Epochs without improvement before stopping (default 0).
    pub patience: usize,
    /// The improvement that counts: more than |min_delta| below the best (default 0).
    pub min_delta: f32,
    /// When stopping, put back the weights of the best epoch.
    pub restore_best_weights: bool,
    /// Which way the series improves (default auto: up for accuracies, down otherwise).
    pub mode: Mode,
    /// The best value so far, negated when higher is better (so lower is always better here).
    best: f32,
    best_epoch: usize,
    wait: usize,
    best_weights: Option<Vec<ArrayD<f32>>>,
}

impl Default for EarlyStopping {
    fn default() -> Self {
        EarlyStopping {
            monitor: "val_loss".into(),
            patience: 0,
            min_delta: 0.0,
            restore_best_weights: false,
            mode: Mode::Auto,
            best: f32::INFINITY,
            best_epoch: 0,
            wait: 0,
            best_weights: None,
        }
    }
}

impl EarlyStopping {
    /// Keras' defaults: monitor `val_loss`, patience 0, min_delta 0, no restore.
    pub fn new() -> Self {
        Self::default()
    }
    /// The series to watch: `loss`, `val_loss`, a metric such as `val_mae`, or an accuracy such
    /// as `val_accuracy` (which improves upwards: see [`Mode`]).
    pub fn monitor(mut self, name: &str) -> Self {
        self.monitor = name.to_string();
        self
    }
    /// Epochs without improvement before stopping.
    pub fn patience(mut self, epochs: usize) -> Self {
        self.patience = epochs;
        self
    }
    /// The smallest decrease that counts as an improvement.
    pub fn min_delta(mut self, delta: f32) -> Self {
        self.min_delta = delta;
        self
    }
    /// On stopping, put back the weights of the best epoch.
    pub fn restore_best_weights(mut self, yes: bool) -> Self {
        self.restore_best_weights = yes;
        self
    }
    /// Which way the series improves (Keras' `mode`; default auto).
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Whether higher values of the monitored series are better.
    pub fn maximises(&self) -> bool {
        match self.mode {
            Mode::Max => true,
            Mode::Min => false,
            Mode::Auto => self.monitor.ends_with("accuracy") || self.monitor.ends_with("acc"),
        }
    }

    /// The best epoch (1-based) seen so far.
    pub fn best_epoch(&self) -> usize {
        self.best_epoch
    }

    /// Checks the settings against the series `fit` will record, before any training.
    pub(crate) fn validate(&self, series: &[String]) -> Result<()> {
        if !series.contains(&self.monitor) {
            let hint =
                if self.monitor.starts_with("val_") && !series.iter().any(|s| s == "val_loss") {
                    " (validation series need validation_split or validation_data)"
                } else {
                    ""
                };
            return Err(LstmError::config(
                "EarlyStopping monitor",
                format!("one of {}{hint}", series.join(", ")),
                format!("'{}'", self.monitor),
            ));
        }
        if !self.min_delta.is_finite() {
            return Err(LstmError::config(
                "EarlyStopping min_delta",
                "a finite number",
                self.min_delta,
            ));
        }
        Ok(())
    }

    pub(crate) fn reset(&mut self) {
        *self = EarlyStopping {
            monitor: std::mem::take(&mut self.monitor),
            ..EarlyStopping::default()
        }
        .patience(self.patience)
        .min_delta(self.min_delta)
        .restore_best_weights(self.restore_best_weights)
        .mode(self.mode);
    }

    /// Whether training should stop; `weights` gives the model's current weights (taken only
    /// when they have to be kept).
    pub(crate) fn on_epoch_end(
        &mut self,
        epoch: usize,
        history: &History,
        weights: impl Fn() -> Vec<ArrayD<f32>>,
    ) -> Result<EpochEnd> {
        let current = history
            .series(&self.monitor)
            .and_then(|s| s.last().copied())
            .ok_or_else(|| {
                LstmError::config(
                    "EarlyStopping monitor",
                    format!("one of {}", history.keys().join(", ")),
                    &self.monitor,
                )
            })?;
        if self.restore_best_weights && self.best_weights.is_none() {
            self.best_weights = Some(weights());
            self.best_epoch = epoch;
        }
        self.wait += 1;
        // As Keras: an improvement must beat the best by more than |min_delta|, in the series'
        // direction (compared negated when higher is better).
        let signed = if self.maximises() { -current } else { current };
        if signed + self.min_delta.abs() < self.best {
            self.best = signed;
            self.best_epoch = epoch;
            if self.restore_best_weights {
                self.best_weights = Some(weights());
            }
            self.wait = 0;
            return Ok(EpochEnd::Continue);
        }
        if self.wait >= self.patience && epoch > 1 {
            let restore = match self.restore_best_weights {
                true => self.best_weights.clone(),
                false => None,
            };
            return Ok(EpochEnd::Stop { restore });
        }
        Ok(EpochEnd::Continue)
    }
}
