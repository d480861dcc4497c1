//! How an LSTM learns, measured: one cell step's backward pass checked against finite
//! differences, and the gradient's size batch by batch (for exploding gradients and clipping).
//! Notebook "How it learns" runs these.

use ndarray::{Array2, ArrayView2};

use crate::error::{LstmError, Result};
use crate::math::activation::Activation;
use crate::math::lstm as cell;
use crate::support::plot::{self, Figure, Labels, Series};
use crate::training::model::Sequential;

/// Central finite differences of one LSTM step, the reference [`cell::step_backward`] is checked
/// against.
///
/// The step is scored by `L = Σ dh ⊙ h_t + Σ dc_next ⊙ c_t`, whose exact gradients are what
/// `step_backward(step, c_prev, dh, dc_next)` returns. Each entry of `z` (the packed
/// pre-activations `[batch, 4u]`) and of `c_prev` (`[batch, u]`) is moved by ±`eps` and `L`
/// recomputed with [`cell::step_from_preactivations`]. Returns `(dL/dz, dL/dc_prev)`.
pub fn numeric_step_gradient(
    z: ArrayView2<f32>,
    c_prev: ArrayView2<f32>,
    dh: ArrayView2<f32>,
    dc_next: ArrayView2<f32>,
    activation: Activation,
    eps: f32,
) -> Result<(Array2<f32>, Array2<f32>)> {
    if !(eps > 0.0 && eps.is_finite()) {
        return Err(LstmError::config(
            "numeric_step_gradient eps",
            "a positive finite step",
            eps,
        ));
    }
    let score = |z: &Array2<f32>, c_prev: &Array2<f32>| -> Result<f64> {
        let step = cell::step_from_preactivations(z.view(), c_prev.view(), activation)?;
        let dot = |a: &Array2<f32>, b: ArrayView2<f32>| {
            a.iter()
                .zip(b.iter())
                .map(|(&a, &b)| a as f64 * b as f64)
                .sum::<f64>()
        };
        Ok(dot(&step.h, dh) + dot(&step.c, dc_next))
    };
    // The shapes are checked by the first call, with the cell's own error.
    let (z0, c0) = (z.to_owned(), c_prev.to_owned());
    score(&z0, &c0)?;
    let central = |bump: &mut dyn FnMut(f32) -> Result<f64>| -> Result<f32> {
        Ok(((bump(eps)? - bump(-eps)?) / (2.0 * eps as f64)) as f32)
    };
    let mut dz = Array2::zeros(z0.raw_dim());
    for (index, d) in dz.indexed_iter_mut() {
        *d = central(&mut |by| {
            let mut z = z0.clone();
            z[index] += by;
            score(&z, &c0)
        })?;
    }
    let mut dc_prev = Array2::zeros(c0.raw_dim());
    for (index, d) in dc_prev.indexed_iter_mut() {
        *d = central(&mut |by| {
            let mut c = c0.clone();
            c[index] += by;
            score(&z0, &c)
        })?;
    }
    Ok((dz, dc_prev))
}

/// The largest `|a − b| / max(1, |a|, |b|)` over two arrays of one shape: relative where the
/// values are large, absolute where they are small.
/// NaN or infinity in either array is an error: a broken gradient must never measure as close.
pub fn max_relative_difference(a: ArrayView2<f32>, b: ArrayView2<f32>) -> Result<f32> {
    crate::math::shapes::same_shape("max_relative_difference", "b", a.shape(), b.shape())?;
    crate::check::ensure_finite("max_relative_difference: a", &a)?;
    crate::check::ensure_finite("max_relative_difference: b", &b)?;
    Ok(a.iter()
        .zip(b.iter())
        .map(|(&a, &b)| (a - b).abs() / 1f32.max(a.abs()).max(b.abs()))
        .fold(0.0, f32::max))
}

/// One optimizer step as [`train_recording_gradients`] saw it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GradientStep {
    /// The batch's loss before the step.
    pub loss: f32,
    /// The joint L2 norm of every weight's gradient before clipping.
    pub grad_norm: f32,
}

/// Trains `model` (compiled) for `epochs` over `x`, `y` in batches of `batch_size`, in order (no
/// shuffling), and records each step's loss and unclipped gradient norm. Clipping, if the
/// optimizer has it, still applies to the update: the norm shows what it had to tame.
///
/// Stops early, with the steps so far, if the loss stops being finite.
pub fn train_recording_gradients(
    model: &mut Sequential,
    x: &ndarray::ArrayD<f32>,
    y: &ndarray::ArrayD<f32>,
    batch_size: usize,
    epochs: usize,
) -> Result<Vec<GradientStep>> {
    if batch_size == 0 {
        return Err(LstmError::config("batch_size", "at least 1", 0));
    }
    // Shapes, lengths and NaN checked once, before the first step changes the weights.
    let (x, y) = model.prepared("train_recording_gradients", x, y)?;
    let samples = x.shape()[0];
    let mut steps = Vec::new();
    for _ in 0..epochs {
        for start in (0..samples).step_by(batch_size) {
            let rows = start..(start + batch_size).min(samples);
            let xb = x.slice_axis(ndarray::Axis(0), rows.clone().into());
            let yb = y.slice_axis(ndarray::Axis(0), rows.into());
            let grads = match model.gradients(&xb, &yb) {
                Ok(grads) => grads,
                Err(LstmError::NonFinite { .. }) => return Ok(steps),
                Err(other) => return Err(other),
            };
            let grad_norm = grads
                .weights
                .iter()
                .flat_map(|g| g.iter())
                .map(|&v| v as f64 * v as f64)
                .sum::<f64>()
                .sqrt() as f32;
            match model.train_on_batch(&xb, &yb) {
                Ok(_) => {}
                Err(LstmError::Diverged { .. }) => return Ok(steps),
                Err(other) => return Err(other),
            }
            steps.push(GradientStep {
                loss: grads.loss,
                grad_norm,
            });
        }
    }
    Ok(steps)
}

/// Gradient norm (or loss) per step, one line per run, log scale.
pub fn steps_chart(
    runs: &[(&str, &[GradientStep], plotters::style::RGBColor)],
    show_loss: bool,
    title: &str,
) -> Result<Figure> {
    let series: Vec<Series> = runs
        .iter()
        .map(|(label, steps, color)| {
            let points = steps
                .iter()
                .enumerate()
                .map(|(k, s)| {
                    let v = if show_loss { s.loss } else { s.grad_norm };
                    ((k + 1) as f32, v)
                })
                .collect();
            Series::line(label, points, *color)
        })
        .collect();
    plot::line_chart(
        &Labels {
            title,
            x: "optimizer step",
            y: if show_loss {
                "batch loss (log scale)"
            } else {
                "gradient norm (log scale)"
            },
        },
        &series,
        true,
    )
}

/// Distinct colours for several runs in one chart (matplotlib's first five after the
/// train/validation pair, so no run looks like a training or validation curve).
const RUN_COLORS: [plotters::style::RGBColor; 5] = [
    plotters::style::RGBColor(148, 103, 189),
    plotters::style::RGBColor(140, 86, 75),
    plotters::style::RGBColor(227, 119, 194),
    plotters::style::RGBColor(188, 189, 34),
    plotters::style::RGBColor(23, 190, 207),
];

/// One curve per run (e.g. validation loss per epoch for each optimizer), log scale.
pub fn curves_chart(runs: &[(&str, &[f32])], title: &str, y_label: &str) -> Result<Figure> {
    let labels = Labels {
        title,
        x: "epoch",
        y: y_label,
    };
    log_lines(&labels, runs.iter().map(|(l, v)| (*l, *v)), 1)
}

/// The size of a gradient against how far back it reached (entry `k` is `k` steps back), one
/// line per profile, on a log scale: a straight line is a fixed factor per step.
pub fn distance_chart(profiles: &[(String, Vec<f32>)], title: &str) -> Result<Figure> {
    let labels = Labels {
        title,
        x: "steps back from the last state",
        y: "|dL/dh| (log scale)",
    };
    log_lines(
        &labels,
        profiles.iter().map(|(l, v)| (l.as_str(), v.as_slice())),
        0,
    )
}

/// One line per run, value `k` at `x = first_x + k`, each in the next of [`RUN_COLORS`].
fn log_lines<'a>(
    labels: &Labels<'_>,
    runs: impl Iterator<Item = (&'a str, &'a [f32])>,
    first_x: usize,
) -> Result<Figure> {
    let series: Vec<Series> = runs
        .enumerate()
        .map(|(k, (label, values))| {
            let points = values
                .iter()
                .enumerate()
                .map(|(i, &v)| ((first_x + i) as f32, v))
                .collect();
            Series::line(label, points, RUN_COLORS[k % RUN_COLORS.len()])
        })
        .collect();
    plot::line_chart(labels, &series, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array1, array};

    #[test]
    fn finite_differences_agree_with_step_backward() {
        let x = array![[0.5f32, -1.0], [0.2, 0.3]];
        let h_prev = array![[0.1f32, -0.2, 0.3], [0.0, 0.4, -0.1]];
        let c_prev = array![[0.5f32, -0.3, 0.2], [1.0, 0.0, -0.7]];
        let kernel = Array2::from_shape_fn((2, 12), |(i, j)| ((i * 12 + j) as f32 * 0.37).sin());
        let recurrent = Array2::from_shape_fn((3, 12), |(i, j)| ((i * 12 + j) as f32 * 0.21).cos());
        let bias = Array1::from_shape_fn(12, |j| 0.1 * j as f32 - 0.5);
        let z = cell::preactivation(
            x.view(),
            h_prev.view(),
            kernel.view(),
            recurrent.view(),
            bias.view(),
        )
        .unwrap();
        let step =
            cell::step_from_preactivations(z.view(), c_prev.view(), Activation::Tanh).unwrap();
        let dh = array![[1.0f32, -0.5, 0.25], [0.3, 0.2, -1.0]];
        let dc_next = array![[0.1f32, 0.0, -0.2], [0.5, -0.4, 0.3]];
        let (dz, dc) = cell::step_backward(
            &step,
            c_prev.view(),
            dh.view(),
            dc_next.view(),
            Activation::Tanh,
        )
        .unwrap();
        let (num_dz, num_dc) = numeric_step_gradient(
            z.view(),
            c_prev.view(),
            dh.view(),
            dc_next.view(),
            Activation::Tanh,
            1e-2,
        )
        .unwrap();
        assert!(max_relative_difference(dz.view(), num_dz.view()).unwrap() < 1e-3);
        assert!(max_relative_difference(dc.view(), num_dc.view()).unwrap() < 1e-3);
        // A wrong gradient is caught: the check is not vacuous.
        let mut wrong = dz.clone();
        wrong[[0, 0]] += 0.01;
        assert!(max_relative_difference(wrong.view(), num_dz.view()).unwrap() > 5e-3);
    }

    #[test]
    fn bad_eps_and_shapes_are_errors() {
        let z = Array2::<f32>::zeros((1, 8));
        let c = Array2::<f32>::zeros((1, 2));
        let err = numeric_step_gradient(
            z.view(),
            c.view(),
            c.view(),
            c.view(),
            Activation::Tanh,
            0.0,
        )
        .unwrap_err();
        assert!(err.to_string().contains("positive"), "{err}");
        let short = Array2::<f32>::zeros((1, 6));
        assert!(
            numeric_step_gradient(
                short.view(),
                c.view(),
                c.view(),
                c.view(),
                Activation::Tanh,
                1e-2
            )
            .is_err()
        );
        assert!(max_relative_difference(z.view(), c.view()).is_err());
    }

    #[test]
    fn recording_gives_one_step_per_batch_and_the_norm_matches_gradients() {
        use crate::prelude::*;
        let mut model = Sequential::with_seed(&[3, 1], 5);
        model.add(Lstm::new(4)).unwrap();
        model.add(Dense::new(1)).unwrap();
        model
            .compile(Adam::new(0.01), Loss::MeanSquaredError)
            .unwrap();
        let x = ArrayD::from_shape_fn(vec![10, 3, 1], |ix| (ix[0] + ix[1]) as f32 * 0.1);
        let y = ArrayD::from_shape_fn(vec![10, 1], |ix| ix[0] as f32 * 0.05);
        let first = model
            .gradients(&x.slice(s![0..4, .., ..]), &y.slice(s![0..4, ..]))
            .unwrap();
        let norm = first
            .weights
            .iter()
            .flat_map(|g| g.iter())
            .map(|v| v * v)
            .sum::<f32>()
            .sqrt();
        let steps = train_recording_gradients(&mut model, &x, &y, 4, 2).unwrap();
        assert_eq!(steps.len(), 6, "3 batches (4, 4, 2) × 2 epochs");
        assert!((steps[0].grad_norm - norm).abs() < 1e-5 * norm.max(1.0));
        assert_eq!(steps[0].loss, first.loss);
        assert!(train_recording_gradients(&mut model, &x, &y, 0, 1).is_err());
    }
}
