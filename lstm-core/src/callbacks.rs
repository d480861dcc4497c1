//! Callbacks run by `fit` at the end of each epoch.

use crate::error::{LstmError, Result};
use crate::history::History;
use crate::model::Sequential;
use ndarray::ArrayD;

/// Stop when the monitored quantity has not improved for `patience` epochs, like Keras'
/// `EarlyStopping`. Defaults: monitor `val_loss`, patience 0, min_delta 0, no weight restore.
#[derive(Debug, Clone)]
pub struct EarlyStopping {
    pub monitor: String,
    pub patience: usize,
    pub min_delta: f32,
    /// When stopping, put back the weights of the best epoch.
    pub restore_best_weights: bool,
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
            best: f32::INFINITY,
            best_epoch: 0,
            wait: 0,
            best_weights: None,
        }
    }
}

impl EarlyStopping {
    pub fn new() -> Self {
        Self::default()
    }
    /// A quantity to minimise: `loss`, `val_loss`, or a loss-like metric such as `val_mae`.
    pub fn monitor(mut self, name: &str) -> Self {
        self.monitor = name.to_string();
        self
    }
    pub fn patience(mut self, epochs: usize) -> Self {
        self.patience = epochs;
        self
    }
    pub fn min_delta(mut self, delta: f32) -> Self {
        self.min_delta = delta;
        self
    }
    pub fn restore_best_weights(mut self, yes: bool) -> Self {
        self.restore_best_weights = yes;
        self
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
        .restore_best_weights(self.restore_best_weights);
    }

    /// Returns whether training should stop.
    pub(crate) fn on_epoch_end(
        &mut self,
        epoch: usize,
        history: &History,
        model: &mut Sequential,
    ) -> Result<bool> {
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
            self.best_weights = Some(model.get_weights());
            self.best_epoch = epoch;
        }
        self.wait += 1;
        // As Keras: an improvement must beat the best by more than |min_delta|.
        if current + self.min_delta.abs() < self.best {
            self.best = current;
            self.best_epoch = epoch;
            if self.restore_best_weights {
                self.best_weights = Some(model.get_weights());
            }
            self.wait = 0;
            return Ok(false);
        }
        if self.wait >= self.patience && epoch > 1 {
            if let (true, Some(best)) = (self.restore_best_weights, &self.best_weights) {
                model.set_weights(best)?;
            }
            return Ok(true);
        }
        Ok(false)
    }
}
