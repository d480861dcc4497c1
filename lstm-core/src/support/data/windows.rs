//! Sliding windows and reshaping: a series into `(samples, timesteps, features)`.

use ndarray::{Array1, Array2, Array3, ArrayBase, Data, s};

use crate::check::{ensure_finite, fmt_shape};
use crate::error::{LstmError, Result};

/// Sliding windows over a series: `X[k] = series[k..k+n_steps]`, `y[k] = series[k+n_steps]`.
///
/// Gives `len - n_steps` windows as `X: (samples, n_steps)` and `y: (samples,)`;
/// reshape `X` with [`to_sequences`] before feeding an LSTM.
pub fn prepare_data(series: &[f32], n_steps: usize) -> Result<(Array2<f32>, Array1<f32>)> {
    if series.is_empty() {
        return Err(LstmError::Empty {
            context: "prepare_data: series".into(),
            min: 2,
        });
    }
    if n_steps == 0 {
        return Err(LstmError::config("n_steps", "at least 1", 0));
    }
    if n_steps >= series.len() {
        return Err(LstmError::WindowTooLong {
            n_steps,
            needed: n_steps + 1,
            len: series.len(),
        });
    }
    let series = Array1::from(series.to_vec());
    ensure_finite("prepare_data: series", &series)?;
    let samples = series.len() - n_steps;
    let x = Array2::from_shape_fn((samples, n_steps), |(k, j)| series[k + j]);
    let y = series.slice(s![n_steps..]).to_owned();
    Ok((x, y))
}

/// Reshapes `(samples, timesteps * features)` into `(samples, timesteps, features)`,
/// like NumPy's `X.reshape((X.shape[0], X.shape[1] // features, features))`.
pub fn to_sequences<S: Data<Elem = f32>>(
    x: &ArrayBase<S, ndarray::Ix2>,
    features: usize,
) -> Result<Array3<f32>> {
    let (samples, width) = x.dim();
    if features == 0 || width % features != 0 {
        return Err(LstmError::shape(
            "to_sequences",
            format!("a column count divisible by features = {features}"),
            fmt_shape(x.shape()),
        ));
    }
    let contiguous = x.as_standard_layout().to_owned();
    Ok(contiguous
        .into_shape_with_order((samples, width / features, features))
        .expect("sizes checked above"))
}

/// Week-to-week (step-to-step) changes: `series[k + 1] − series[k]`. A series with a trend has
/// differences that stay in the range seen in training, where its levels do not.
pub fn differences(series: &[f32]) -> Vec<f32> {
    series.windows(2).map(|w| w[1] - w[0]).collect()
}

/// Forecasts `steps` levels of a series with a model trained on its standardised
/// [`differences`]: the last `timesteps` differences of `levels` go in, each predicted change is
/// fed back, and the changes are added up from the last level.
pub fn forecast_from_differences(
    model: &mut crate::training::model::Sequential,
    scaler: &crate::math::scaler::StandardScaler,
    levels: &[f32],
    steps: usize,
) -> Result<Vec<f32>> {
    let (mean, std) = scaler.mean_std().ok_or_else(|| {
        LstmError::config(
            "forecast_from_differences scaler",
            "a fitted StandardScaler",
            "an unfitted one",
        )
    })?;
    let Some(&last) = levels.last() else {
        return Err(LstmError::Empty {
            context: "forecast_from_differences: levels".into(),
            min: 2,
        });
    };
    // The model reads `timesteps` differences: one more level than that (said in levels, the
    // user's series, not in the differences made of it).
    let timesteps = model.input_shape().first().copied().unwrap_or(0);
    if levels.len() < timesteps + 1 {
        return Err(LstmError::config(
            "forecast_from_differences: levels",
            format!(
                "at least {} levels (the model reads {timesteps} differences, and each needs \
                 two neighbouring levels)",
                timesteps + 1
            ),
            format!("{} levels", levels.len()),
        ));
    }
    let scaled: Vec<f32> = differences(levels)
        .iter()
        .map(|d| (d - mean) / std)
        .collect();
    let changes = model.forecast(&scaled, steps)?;
    let mut level = last;
    Ok(changes
        .iter()
        .map(|c| {
            level += c * std + mean;
            level
        })
        .collect())
}

/// Windows for forecasting `horizon` steps at once: `X[k] = inputs[k..k + n_steps]` (every
/// column of `inputs` is a feature: the series itself, and anything known alongside it) and
/// `Y[k] = target[k + n_steps..k + n_steps + horizon]`. With `horizon` 1 and `inputs` the target
/// as its one column, this is [`prepare_data`] followed by [`to_sequences`].
pub fn multistep_windows<S: Data<Elem = f32>>(
    inputs: &ArrayBase<S, ndarray::Ix2>,
    target: &[f32],
    n_steps: usize,
    horizon: usize,
) -> Result<(Array3<f32>, Array2<f32>)> {
    let (len, features) = inputs.dim();
    if len != target.len() {
        return Err(LstmError::shape(
            "multistep_windows: inputs",
            format!("one row per target value, ({}, features)", target.len()),
            fmt_shape(inputs.shape()),
        ));
    }
    if n_steps == 0 || horizon == 0 || features == 0 {
        return Err(LstmError::config(
            "multistep_windows: n_steps, horizon and features",
            "at least 1 each",
            format!("{n_steps}, {horizon}, {features}"),
        ));
    }
    if n_steps + horizon > len {
        return Err(LstmError::WindowTooLong {
            n_steps: n_steps + horizon - 1,
            needed: n_steps + horizon,
            len,
        });
    }
    ensure_finite("multistep_windows: inputs", inputs)?;
    ensure_finite(
        "multistep_windows: target",
        &ndarray::ArrayView1::from(target),
    )?;
    let samples = len - n_steps - horizon + 1;
    let x = Array3::from_shape_fn((samples, n_steps, features), |(k, t, f)| inputs[[k + t, f]]);
    let y = Array2::from_shape_fn((samples, horizon), |(k, h)| target[k + n_steps + h]);
    Ok((x, y))
}

/// `sin(2πt/period)` and `cos(2πt/period)` for each time index `t`, as `(len, 2)`: a cycle as
/// two smooth inputs, so that the last day of a year sits next to the first (a raw day-of-year
/// jumps from 365 to 1).
pub fn cycle_features(t: &[f32], period: f32) -> Result<Array2<f32>> {
    if !(period.is_finite() && period > 0.0) {
        return Err(LstmError::config("cycle_features: period", "> 0", period));
    }
    ensure_finite("cycle_features: t", &ndarray::ArrayView1::from(t))?;
    let angle = |k: usize| 2.0 * std::f32::consts::PI * t[k] / period;
    Ok(Array2::from_shape_fn((t.len(), 2), |(k, c)| match c {
        0 => angle(k).sin(),
        _ => angle(k).cos(),
    }))
}
