//! Losses (value and gradient) and metrics, reduced as Keras does: mean over the batch
//! (and over time steps for sequence outputs).

use ndarray::{ArrayD, Axis, IxDyn};
use serde::{Deserialize, Serialize};

use crate::check::{ensure_finite, fmt_shape};
use crate::error::{LstmError, Result};

/// A training loss, by its Keras name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Loss {
    /// `mean((pred − y)²)`
    MeanSquaredError,
    /// `mean(|pred − y|)`
    MeanAbsoluteError,
    /// `−Σ y·log p` per sample with one-hot `y`; computed from the logits when the model ends in
    /// `Dense(softmax)`, as Keras does.
    CategoricalCrossentropy,
    /// Categorical cross-entropy with class indices as targets.
    SparseCategoricalCrossentropy,
}

impl Loss {
    /// The Keras name, as in the history (`mse`, `categorical_crossentropy`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Loss::MeanSquaredError => "mse",
            Loss::MeanAbsoluteError => "mae",
            Loss::CategoricalCrossentropy => "categorical_crossentropy",
            Loss::SparseCategoricalCrossentropy => "sparse_categorical_crossentropy",
        }
    }

    /// Whether this is one of the cross-entropies (which need an output per class).
    pub fn is_cross_entropy(self) -> bool {
        matches!(
            self,
            Loss::CategoricalCrossentropy | Loss::SparseCategoricalCrossentropy
        )
    }

    /// Checks targets against the model's output shape (`[batch, ...]`) and returns them in that
    /// shape: `(n,)` becomes `(n, 1)` for a one-unit output, and class indices become one-hot.
    pub fn prepare_targets(self, y: &ArrayD<f32>, output_shape: &[usize]) -> Result<ArrayD<f32>> {
        ensure_finite("targets y", y)?;
        let mismatch = |expected: String| {
            Err(LstmError::shape(
                format!("targets y for loss {}", self.name()),
                expected,
                fmt_shape(y.shape()),
            ))
        };
        let (leading, classes) = output_shape.split_at(output_shape.len() - 1);
        if self == Loss::SparseCategoricalCrossentropy {
            let indices_shape_ok = y.shape() == leading
                || (y.shape().len() == output_shape.len()
                    && y.shape()[..leading.len()] == *leading
                    && y.shape().last() == Some(&1));
            if !indices_shape_ok {
                return mismatch(format!("class indices of shape {}", fmt_shape(leading)));
            }
            let classes = classes[0];
            let mut one_hot = ArrayD::<f32>::zeros(IxDyn(output_shape));
            for (row, &index) in y.iter().enumerate() {
                if index < 0.0 || index.fract() != 0.0 || index as usize >= classes {
                    return Err(LstmError::config(
                        "class index in y",
                        format!("an integer in 0..{classes}"),
                        format!("{index} at position {row}"),
                    ));
                }
                one_hot.as_slice_mut().expect("fresh array")[row * classes + index as usize] = 1.0;
            }
            return Ok(one_hot);
        }
        if y.shape() == output_shape {
            return Ok(y.as_standard_layout().into_owned());
        }
        if y.shape() == leading && classes == [1] {
            return Ok(y
                .as_standard_layout()
                .into_owned()
                .insert_axis(Axis(y.ndim())));
        }
        mismatch(fmt_shape(output_shape))
    }

    /// Loss value and d(loss)/d(pred), for targets already in the prediction's shape
    /// `(batch, ..., outputs)` (see [`Loss::prepare_targets`]).
    pub fn value_and_grad(self, pred: &ArrayD<f32>, y: &ArrayD<f32>) -> Result<(f32, ArrayD<f32>)> {
        check_pair(self.name(), pred, y)?;
        Ok(self.value_and_grad_checked(pred, y))
    }

    /// [`Loss::value_and_grad`] for shapes already checked.
    pub(crate) fn value_and_grad_checked(
        self,
        pred: &ArrayD<f32>,
        y: &ArrayD<f32>,
    ) -> (f32, ArrayD<f32>) {
        let n = pred.len() as f32;
        match self {
            Loss::MeanSquaredError => {
                let diff = pred - y;
                let value = diff.iter().map(|&d| (d as f64) * (d as f64)).sum::<f64>() / n as f64;
                (value as f32, diff * (2.0 / n))
            }
            Loss::MeanAbsoluteError => {
                let diff = pred - y;
                let value = diff.iter().map(|&d| d.abs() as f64).sum::<f64>() / n as f64;
                let sign = |d: f32| {
                    if d > 0.0 {
                        1.0
                    } else if d < 0.0 {
                        -1.0
                    } else {
                        0.0
                    }
                };
                (value as f32, diff.mapv(|d| sign(d) / n))
            }
            Loss::CategoricalCrossentropy | Loss::SparseCategoricalCrossentropy => {
                // Keras on probabilities: normalise each row, clip to [ε, 1−ε], −Σ y·log p.
                const EPS: f32 = 1e-7;
                let classes = *pred.shape().last().expect("rank >= 2");
                let rows = pred.len() / classes;
                let mut grad = ArrayD::zeros(pred.raw_dim());
                let mut total = 0.0f64;
                let (p, t) = (pred.as_standard_layout(), y.as_standard_layout());
                let (p, t) = (p.as_slice().expect("std"), t.as_slice().expect("std"));
                let g = grad.as_slice_mut().expect("fresh");
                for r in 0..rows {
                    let (p, t) = (&p[r * classes..][..classes], &t[r * classes..][..classes]);
                    let sum: f32 = p.iter().sum();
                    let mut d_q = vec![0.0f32; classes];
                    for k in 0..classes {
                        let q = p[k] / sum;
                        let clipped = q.clamp(EPS, 1.0 - EPS);
                        total -= (t[k] * clipped.ln()) as f64;
                        if q == clipped {
                            d_q[k] = -t[k] / q / rows as f32;
                        }
                    }
                    let weighted: f32 =
                        d_q.iter().zip(p).map(|(d, p)| d * p).sum::<f32>() / (sum * sum);
                    for k in 0..classes {
                        g[r * classes + k] = d_q[k] / sum - weighted;
                    }
                }
                ((total / rows as f64) as f32, grad)
            }
        }
    }

    /// Cross-entropy value and d(loss)/d(logits) = (softmax(z) − y) / rows, straight from the
    /// logits `(batch, ..., classes)` of a `Dense(softmax)` output (no clipping, as Keras' logits path).
    pub fn cross_entropy_from_logits(
        logits: &ArrayD<f32>,
        y: &ArrayD<f32>,
    ) -> Result<(f32, ArrayD<f32>)> {
        check_pair("cross-entropy from logits", logits, y)?;
        Ok(Self::cross_entropy_from_logits_checked(logits, y))
    }

    pub(crate) fn cross_entropy_from_logits_checked(
        logits: &ArrayD<f32>,
        y: &ArrayD<f32>,
    ) -> (f32, ArrayD<f32>) {
        let classes = *logits.shape().last().expect("rank >= 2");
        let rows = logits.len() / classes;
        let mut grad = ArrayD::zeros(logits.raw_dim());
        let mut total = 0.0f64;
        let (z, t) = (logits.as_standard_layout(), y.as_standard_layout());
        let (z, t) = (z.as_slice().expect("std"), t.as_slice().expect("std"));
        let g = grad.as_slice_mut().expect("fresh");
        for r in 0..rows {
            let (z, t) = (&z[r * classes..][..classes], &t[r * classes..][..classes]);
            let max = z.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
            let sum_exp: f32 = z.iter().map(|v| (v - max).exp()).sum();
            let log_sum = max + sum_exp.ln();
            for k in 0..classes {
                total -= (t[k] * (z[k] - log_sum)) as f64;
                let p = (z[k] - max).exp() / sum_exp;
                g[r * classes + k] = (p - t[k]) / rows as f32;
            }
        }
        ((total / rows as f64) as f32, grad)
    }
}

/// A metric reported beside the loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Categorical accuracy (argmax) for cross-entropy losses, binary accuracy (threshold 0.5)
    /// for one-unit outputs, as Keras resolves `"accuracy"`.
    Accuracy,
    /// `mae`: mean |pred − y|.
    MeanAbsoluteError,
    /// `mse`: mean (pred − y)².
    MeanSquaredError,
}

impl Metric {
    /// The Keras name, as in the history (`mse`, `categorical_crossentropy`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy",
            Metric::MeanAbsoluteError => "mae",
            Metric::MeanSquaredError => "mse",
        }
    }

    /// The metric on predictions and prepared targets of the same shape `(batch, ..., outputs)`;
    /// `loss` decides what "accuracy" means, as in Keras.
    pub fn compute(self, loss: Loss, pred: &ArrayD<f32>, y: &ArrayD<f32>) -> Result<f32> {
        check_pair(self.name(), pred, y)?;
        Ok(self.compute_checked(loss, pred, y))
    }

    pub(crate) fn compute_checked(self, loss: Loss, pred: &ArrayD<f32>, y: &ArrayD<f32>) -> f32 {
        match self {
            Metric::MeanAbsoluteError => Loss::MeanAbsoluteError.value_and_grad_checked(pred, y).0,
            Metric::MeanSquaredError => Loss::MeanSquaredError.value_and_grad_checked(pred, y).0,
            Metric::Accuracy => {
                let classes = *pred.shape().last().expect("rank >= 2");
                if loss.is_cross_entropy() || classes > 1 {
                    let argmax = |row: &[f32]| {
                        row.iter()
                            .enumerate()
                            .fold((0, f32::NEG_INFINITY), |best, (k, &v)| {
                                if v > best.1 { (k, v) } else { best }
                            })
                            .0
                    };
                    let (p, t) = (pred.as_standard_layout(), y.as_standard_layout());
                    let rows = pred.len() / classes;
                    let hits = p
                        .as_slice()
                        .expect("std")
                        .chunks(classes)
                        .zip(t.as_slice().expect("std").chunks(classes))
                        .filter(|(p, t)| argmax(p) == argmax(t))
                        .count();
                    hits as f32 / rows as f32
                } else {
                    let hits = pred
                        .iter()
                        .zip(y)
                        .filter(|&(&p, &t)| (p > 0.5) == (t > 0.5))
                        .count();
                    hits as f32 / pred.len() as f32
                }
            }
        }
    }
}

/// Predictions and targets must share one shape `(batch, ..., outputs)` with at least one value.
fn check_pair(what: &str, pred: &ArrayD<f32>, y: &ArrayD<f32>) -> Result<()> {
    if pred.ndim() < 2 {
        return Err(LstmError::shape(
            format!("{what}: predictions"),
            "(batch, ..., outputs): 2-D or more",
            fmt_shape(pred.shape()),
        ));
    }
    if pred.is_empty() {
        return Err(LstmError::Empty {
            context: format!("{what}: predictions of shape {}", fmt_shape(pred.shape())),
            min: 1,
        });
    }
    if y.shape() != pred.shape() {
        return Err(LstmError::shape(
            format!("{what}: targets (prepare them with Loss::prepare_targets)"),
            fmt_shape(pred.shape()),
            fmt_shape(y.shape()),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{arr1, arr2};

    #[test]
    fn mse_and_mae_hand_values() {
        let pred = arr2(&[[1.0f32], [3.0]]).into_dyn();
        let y = arr2(&[[0.0f32], [4.0]]).into_dyn();
        let (mse, g) = Loss::MeanSquaredError.value_and_grad(&pred, &y).unwrap();
        assert_eq!(mse, 1.0);
        assert_eq!(g, arr2(&[[1.0], [-1.0]]).into_dyn());
        let (mae, g) = Loss::MeanAbsoluteError.value_and_grad(&pred, &y).unwrap();
        assert_eq!(mae, 1.0);
        assert_eq!(g, arr2(&[[0.5], [-0.5]]).into_dyn());
    }

    #[test]
    fn cross_entropy_from_logits_equals_probability_path() {
        let logits = arr2(&[[2.0f32, 1.0, 0.1], [0.5, 2.5, -1.0]]).into_dyn();
        let y = arr2(&[[1.0f32, 0.0, 0.0], [0.0, 0.0, 1.0]]).into_dyn();
        let (from_logits, _) = Loss::cross_entropy_from_logits(&logits, &y).unwrap();
        let probs =
            crate::layers::softmax_rows(&logits.clone().into_dimensionality().unwrap()).into_dyn();
        let (from_probs, _) = Loss::CategoricalCrossentropy
            .value_and_grad(&probs, &y)
            .unwrap();
        assert!((from_logits - from_probs).abs() < 1e-6);
        // Row 1: −log softmax(2.0 | 2, 1, 0.1)
        let row0 = -(2.0f32 - (2.0f32.exp() + 1.0f32.exp() + 0.1f32.exp()).ln());
        let row1 = -(-1.0f32 - (0.5f32.exp() + 2.5f32.exp() + (-1.0f32).exp()).ln());
        assert!((from_logits - (row0 + row1) / 2.0).abs() < 1e-6);
    }

    #[test]
    fn targets_are_checked_and_expanded() {
        let y = arr1(&[1.0f32, 2.0]).into_dyn();
        let prepared = Loss::MeanSquaredError.prepare_targets(&y, &[2, 1]).unwrap();
        assert_eq!(prepared.shape(), &[2, 1]);
        let err = Loss::MeanSquaredError
            .prepare_targets(&y, &[3, 1])
            .unwrap_err();
        assert!(
            err.to_string().contains("expected shape (3, 1), got (2,)"),
            "{err}"
        );
        let one_hot = Loss::SparseCategoricalCrossentropy
            .prepare_targets(&y, &[2, 3])
            .unwrap();
        assert_eq!(
            one_hot,
            arr2(&[[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]).into_dyn()
        );
        let err = Loss::SparseCategoricalCrossentropy
            .prepare_targets(&arr1(&[3.0f32, 0.5]).into_dyn(), &[2, 3])
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("an integer in 0..3, got 3 at position 0"),
            "{err}"
        );
    }

    #[test]
    fn accuracy_resolves_like_keras() {
        let pred = arr2(&[[0.1f32, 0.9], [0.8, 0.2]]).into_dyn();
        let y = arr2(&[[0.0f32, 1.0], [0.0, 1.0]]).into_dyn();
        assert_eq!(
            Metric::Accuracy
                .compute(Loss::CategoricalCrossentropy, &pred, &y)
                .unwrap(),
            0.5
        );
        let pred = arr2(&[[0.7f32], [0.2], [0.6]]).into_dyn();
        let y = arr2(&[[1.0f32], [0.0], [0.0]]).into_dyn();
        let acc = Metric::Accuracy
            .compute(Loss::MeanSquaredError, &pred, &y)
            .unwrap();
        assert!((acc - 2.0 / 3.0).abs() < 1e-6);
    }

    #[test]
    fn mismatched_or_degenerate_shapes_are_errors_not_panics() {
        let pred = arr2(&[[0.5f32], [0.5]]).into_dyn();
        let err = Loss::MeanSquaredError
            .value_and_grad(&pred, &arr1(&[1.0f32, 0.0]).into_dyn())
            .unwrap_err();
        assert!(
            err.to_string().contains("expected shape (2, 1), got (2,)"),
            "{err}"
        );
        let flat = arr1(&[0.5f32, 0.5]).into_dyn();
        let err = Loss::CategoricalCrossentropy
            .value_and_grad(&flat, &flat)
            .unwrap_err();
        assert!(err.to_string().contains("2-D or more, got (2,)"), "{err}");
        let no_classes = ArrayD::<f32>::zeros(IxDyn(&[2, 0]));
        let err = Metric::Accuracy
            .compute(Loss::CategoricalCrossentropy, &no_classes, &no_classes)
            .unwrap_err();
        assert!(matches!(err, LstmError::Empty { .. }), "{err}");
        assert!(Loss::cross_entropy_from_logits(&no_classes, &no_classes).is_err());
    }
}
