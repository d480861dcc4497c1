//! Windows over consecutive days (never across a gap) and forecasts returned with their dates.

use chrono::NaiveDate;
use ndarray::{Array1, Array3};
use polars::prelude::*;

use super::{dates, frame, values};
use crate::error::{LstmError, Result};
use crate::training::model::Sequential;

/// Windows over one column: `x[k]` holds `n_steps` consecutive days, `y[k]` the day after.
/// Windows that would span a missing day are skipped. `target_dates[k]` is the date of `y[k]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Windows {
    /// `[windows, n_steps, 1]`
    pub x: Array3<f32>,
    /// `[windows]`: the value of the day after each window.
    pub y: Array1<f32>,
    /// The date of each `y`.
    pub target_dates: Vec<NaiveDate>,
    /// Windows left out because they spanned a gap.
    pub skipped: usize,
}

/// Every window of `n_steps` consecutive rows of `column` (days, or weeks for a weekly series: the
/// period is the closest spacing of the dates) and the row after it; windows across a missing
/// date are skipped and counted.
pub fn windows(df: &DataFrame, column: &str, n_steps: usize) -> Result<Windows> {
    let (dates, values) = (dates(df)?, values(df, column)?);
    if n_steps == 0 {
        return Err(LstmError::config("n_steps", "at least 1", 0));
    }
    if n_steps >= values.len() {
        return Err(LstmError::WindowTooLong {
            n_steps,
            needed: n_steps + 1,
            len: values.len(),
        });
    }
    let mut x = Vec::new();
    let mut y = Vec::new();
    let mut target_dates = Vec::new();
    let mut skipped = 0;
    let period = period_days(&dates);
    for k in 0..values.len() - n_steps {
        let span = &dates[k..=k + n_steps];
        if (span[n_steps] - span[0]).num_days() != period * n_steps as i64 {
            skipped += 1;
            continue;
        }
        x.extend_from_slice(&values[k..k + n_steps]);
        y.push(values[k + n_steps]);
        target_dates.push(span[n_steps]);
    }
    if y.is_empty() {
        return Err(LstmError::Empty {
            context: format!("windows of {n_steps} consecutive days"),
            min: 1,
        });
    }
    let count = y.len();
    Ok(Windows {
        x: Array3::from_shape_vec((count, n_steps, 1), x).expect("sizes match"),
        y: Array1::from(y),
        target_dates,
        skipped,
    })
}

/// Forecasts `days` steps after the last row (days, or the series' period: weeks for a weekly
/// series), feeding each prediction back as input, and
/// returns them as a frame with dates. `scale` and `unscale` map values to and from the units
/// the model was trained in (pass `|v| v` for both if it was trained on raw values).
pub fn forecast(
    model: &mut Sequential,
    df: &DataFrame,
    column: &str,
    days: usize,
    scale: impl Fn(f32) -> f32,
    unscale: impl Fn(f32) -> f32,
) -> Result<DataFrame> {
    let n_steps = match model.input_shape() {
        [t, 1] => *t,
        other => {
            return Err(LstmError::shape(
                "weather::forecast: model input",
                "(None, timesteps, 1): one value per day",
                crate::check::batch_shape(other),
            ));
        }
    };
    let (dates, values) = (dates(df)?, values(df, column)?);
    if values.len() < n_steps {
        return Err(LstmError::WindowTooLong {
            n_steps,
            needed: n_steps,
            len: values.len(),
        });
    }
    // The model reads one value per period: a window across a gap would be read as consecutive.
    let period = period_days(&dates);
    let window_dates = &dates[dates.len() - n_steps..];
    if let Some(pair) = window_dates
        .windows(2)
        .find(|w| (w[1] - w[0]).num_days() != period)
    {
        return Err(LstmError::config(
            "forecast history",
            format!(
                "the last {n_steps} rows on {n_steps} consecutive days (one value per day, as the model was trained)"
            ),
            format!(
                "rows {} and {} next to each other; load the CSV with Gaps::Interpolate to fill the gap",
                pair[0], pair[1]
            ),
        ));
    }
    let history: Vec<f32> = values[values.len() - n_steps..]
        .iter()
        .map(|&v| scale(v))
        .collect();
    let predicted = model.forecast(&history, days)?;
    let last = *dates.last().expect("non-empty");
    let future: Vec<NaiveDate> = (1..=days as i64)
        .map(|d| last + chrono::Duration::days(d * period))
        .collect();
    let values: Vec<f32> = predicted.into_iter().map(unscale).collect();
    frame(&future, column, &values)
}

/// The series' period in days: the closest spacing of consecutive dates (1 for a daily series,
/// 7 for a weekly one; 1 for fewer than two dates).
pub fn period_days(dates: &[NaiveDate]) -> i64 {
    dates
        .windows(2)
        .map(|w| (w[1] - w[0]).num_days())
        .filter(|&d| d > 0)
        .min()
        .unwrap_or(1)
}
