//! `History`: the loss and metrics of every epoch, as `history.history` in Keras.

use std::collections::BTreeMap;

use crate::display::{html_escape, show_html};
use crate::training::loss::Metric;

/// What [`Sequential::evaluate`](crate::Sequential::evaluate) returns: the loss and each compiled metric.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// The compiled loss.
    pub loss: f32,
    /// Each compiled metric, by Keras name, in compile order.
    pub metrics: Vec<(String, f32)>,
}

impl Evaluation {
    /// A metric by name (`"accuracy"`, `"mae"`, ...).
    pub fn metric(&self, name: &str) -> Option<f32> {
        self.metrics
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
    }
}

/// The loss and metrics of every epoch, by Keras name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    /// Training loss per epoch (mean of the batch losses).
    pub loss: Vec<f32>,
    /// Validation loss per epoch (empty without validation data).
    pub val_loss: Vec<f32>,
    /// Other series by Keras name: `accuracy`, `val_accuracy`, `mae`, ...
    pub metrics: BTreeMap<String, Vec<f32>>,
    /// The epoch (1-based) at which early stopping ended training.
    pub stopped_epoch: Option<usize>,
    /// Metric names in compile order (Keras' order), without the `val_` prefix.
    order: Vec<String>,
}

impl History {
    pub(crate) fn new(metrics: &[Metric], with_validation: bool) -> Self {
        let mut h = History {
            order: metrics.iter().map(|m| m.name().to_string()).collect(),
            ..History::default()
        };
        for m in metrics {
            h.metrics.insert(m.name().to_string(), vec![]);
            if with_validation {
                h.metrics.insert(format!("val_{}", m.name()), vec![]);
            }
        }
        h
    }

    /// Appends one epoch. `metrics` are the training metrics by Keras name (as compiled),
    /// `val` the validation evaluation; each value is filed under its own name.
    pub(crate) fn push(&mut self, loss: f32, metrics: &[(&str, f32)], val: Option<&Evaluation>) {
        self.loss.push(loss);
        for (name, value) in metrics {
            self.metrics
                .entry(name.to_string())
                .or_default()
                .push(*value);
        }
        if let Some(val) = val {
            self.val_loss.push(val.loss);
            for (name, value) in &val.metrics {
                self.metrics
                    .entry(format!("val_{name}"))
                    .or_default()
                    .push(*value);
            }
        }
    }

    /// Number of epochs run (the longest series, for a history edited by hand).
    pub fn epochs(&self) -> usize {
        self.keys()
            .iter()
            .filter_map(|k| self.series(k).map(<[f32]>::len))
            .max()
            .unwrap_or(0)
    }

    /// A series by Keras name (`loss`, `val_loss`, `accuracy`, ...).
    pub fn series(&self, name: &str) -> Option<&[f32]> {
        match name {
            "loss" => Some(&self.loss),
            "val_loss" if !self.val_loss.is_empty() => Some(&self.val_loss),
            other => self.metrics.get(other).map(|v| v.as_slice()),
        }
    }

    /// Series names in Keras order: loss, metrics (in compile order), val_loss, val metrics.
    /// Series added by hand to `metrics` follow, alphabetically.
    pub fn keys(&self) -> Vec<String> {
        let mut train: Vec<String> = self
            .order
            .iter()
            .filter(|k| self.metrics.contains_key(*k))
            .cloned()
            .collect();
        let mut val: Vec<String> = self
            .order
            .iter()
            .map(|k| format!("val_{k}"))
            .filter(|k| self.metrics.contains_key(k))
            .collect();
        for k in self.metrics.keys() {
            if !train.contains(k) && !val.contains(k) {
                if k.starts_with("val_") {
                    val.push(k.clone());
                } else {
                    train.push(k.clone());
                }
            }
        }
        let mut keys = vec!["loss".to_string()];
        keys.append(&mut train);
        if !self.val_loss.is_empty() {
            keys.push("val_loss".into());
        }
        keys.append(&mut val);
        keys
    }

    /// The last epoch's training loss.
    pub fn final_loss(&self) -> Option<f32> {
        self.loss.last().copied()
    }

    /// The last epoch's validation loss, with validation data.
    pub fn final_val_loss(&self) -> Option<f32> {
        self.val_loss.last().copied()
    }

    /// `loss: 0.0123 - val_loss: 0.0150` for the last epoch, numbers as Keras prints them.
    pub fn last_epoch_line(&self) -> String {
        self.keys()
            .iter()
            .filter_map(|k| Some(format!("{k}: {}", keras_number(*self.series(k)?.last()?))))
            .collect::<Vec<_>>()
            .join(" - ")
    }

    /// An HTML table of the epochs (the first and last 5 for long runs).
    pub fn to_html(&self) -> String {
        let keys = self.keys();
        let n = self.epochs();
        let shown: Vec<usize> = if n <= 12 {
            (0..n).collect()
        } else {
            (0..5).chain(n - 5..n).collect()
        };
        let mut html = String::from("<table class=\"lstm-history\"><thead><tr><th>epoch</th>");
        for k in &keys {
            html += &format!("<th>{}</th>", html_escape(k));
        }
        html += "</tr></thead><tbody>";
        for (pos, &e) in shown.iter().enumerate() {
            if pos > 0 && e != shown[pos - 1] + 1 {
                html += &format!(
                    "<tr><td colspan=\"{}\">⋮ {} more epochs</td></tr>",
                    keys.len() + 1,
                    e - shown[pos - 1] - 1
                );
            }
            html += &format!("<tr><td>{}</td>", e + 1);
            for k in &keys {
                // A series shorter than the others (edited by hand) shows an empty cell.
                let value = self.series(k).and_then(|s| s.get(e));
                html += &format!(
                    "<td>{}</td>",
                    value.map(|v| keras_number(*v)).unwrap_or_default()
                );
            }
            html += "</tr>";
        }
        html += "</tbody></table>";
        if let Some(e) = self.stopped_epoch {
            html += &format!("<p>Early stopping after epoch {e}.</p>");
        }
        html
    }

    /// Rich display in evcxr: the table above.
    pub fn evcxr_display(&self) {
        show_html(&self.to_html());
    }
}

/// Keras' progress-bar number format: 4 decimals, or scientific below 1e-3.
pub fn keras_number(v: f32) -> String {
    if v.abs() > 1e-3 {
        format!("{v:.4}")
    } else {
        format!("{v:.4e}")
    }
}
