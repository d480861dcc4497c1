//! Forecasts that need no neural network: the yardsticks every model in the notebooks is judged
//! against, on the same held-out windows.
//!
//! * [`persistence`]: tomorrow = today (the last value of the window);
//! * [`moving_average`]: the mean of the last `k` values, `k` chosen on the training windows by
//!   [`best_moving_average_window`];
//! * [`LinearForecast`]: least squares on the whole input window (an AR model with a bias);
//! * [`Climatology`]: the mean of the training targets on the same day of the year (±`half_width`
//!   days), for data with a season.
//!
//! [`Scoreboard`] puts them beside a model in one table (MSE and MAE, best row marked).
//! Windows are `[samples, timesteps, features]`, targets `[samples]`; `feature` names the input
//! column that holds the series being forecast.

use ndarray::{Array1, Array3, ArrayView1};

use crate::check::fmt_shape;
use crate::error::{LstmError, Result};

fn check_windows(context: &str, x: &Array3<f32>, feature: usize) -> Result<()> {
    let (samples, timesteps, features) = x.dim();
    if samples == 0 || timesteps == 0 {
        return Err(LstmError::shape(
            context,
            "at least one window of at least one step",
            fmt_shape(x.shape()),
        ));
    }
    if feature >= features {
        return Err(LstmError::config(
            format!("{context}: feature"),
            format!("an index below {features} (the windows' features)"),
            feature,
        ));
    }
    crate::check::ensure_finite(context, x)?;
    Ok(())
}

fn check_targets(context: &str, x: &Array3<f32>, y: ArrayView1<f32>) -> Result<()> {
    if y.len() != x.shape()[0] {
        return Err(LstmError::shape(
            format!("{context}: targets"),
            format!("{} (one per window)", fmt_shape(&[x.shape()[0]])),
            fmt_shape(y.shape()),
        ));
    }
    crate::check::ensure_finite(context, &y)
}

/// Persistence: each window's forecast is its last value of `feature`.
pub fn persistence(x: &Array3<f32>, feature: usize) -> Result<Array1<f32>> {
    // Checked under its own name: an error must not send the reader to `moving_average`.
    check_windows("persistence", x, feature)?;
    moving_average(x, feature, 1)
}

/// The mean of each window's last `window` values of `feature`.
pub fn moving_average(x: &Array3<f32>, feature: usize, window: usize) -> Result<Array1<f32>> {
    check_windows("moving_average", x, feature)?;
    let timesteps = x.shape()[1];
    if window == 0 || window > timesteps {
        return Err(LstmError::config(
            "moving_average window",
            format!("1 to {timesteps} (the windows' length)"),
            window,
        ));
    }
    Ok(Array1::from_shape_fn(x.shape()[0], |k| {
        (timesteps - window..timesteps)
            .map(|t| x[[k, t, feature]] as f64)
            .sum::<f64>() as f32
            / window as f32
    }))
}

/// The moving-average length (1 to the window's length) with the lowest MSE on the training
/// windows: chosen without looking at the test data.
pub fn best_moving_average_window(
    x_train: &Array3<f32>,
    y_train: &Array1<f32>,
    feature: usize,
) -> Result<usize> {
    check_windows("best_moving_average_window", x_train, feature)?;
    check_targets("best_moving_average_window", x_train, y_train.view())?;
    let mut best = (f32::INFINITY, 1);
    for window in 1..=x_train.shape()[1] {
        let mse = mse(&moving_average(x_train, feature, window)?, y_train);
        if mse < best.0 {
            best = (mse, window);
        }
    }
    Ok(best.1)
}

fn mse(pred: &Array1<f32>, y: &Array1<f32>) -> f32 {
    (pred
        .iter()
        .zip(y)
        .map(|(&p, &t)| (p as f64 - t as f64).powi(2))
        .sum::<f64>()
        / y.len() as f64) as f32
}

/// A linear forecast on the whole window: `ŷ = b + Σ_{t,f} w_{t,f}·x_{t,f}`, fitted by least
/// squares (with a ridge of 1e-6 of the mean diagonal, so repeated columns still solve).
#[derive(Debug, Clone, PartialEq)]
pub struct LinearForecast {
    /// One weight per input value, `[timesteps·features]`, row-major as the window.
    pub weights: Array1<f64>,
    /// The intercept.
    pub bias: f64,
    timesteps: usize,
    features: usize,
}

impl LinearForecast {
    /// Fits on training windows `[samples, timesteps, features]` and targets `[samples]`.
    pub fn fit(x_train: &Array3<f32>, y_train: &Array1<f32>) -> Result<Self> {
        check_windows("LinearForecast::fit", x_train, 0)?;
        check_targets("LinearForecast::fit", x_train, y_train.view())?;
        let (samples, timesteps, features) = x_train.dim();
        let n = timesteps * features + 1;
        // Normal equations AᵀA·w = Aᵀy with a column of ones for the bias, in f64.
        let row = |k: usize| {
            x_train
                .slice(ndarray::s![k, .., ..])
                .iter()
                .map(|&v| v as f64)
                .chain(std::iter::once(1.0))
                .collect::<Vec<f64>>()
        };
        let mut ata = vec![0.0f64; n * n];
        let mut aty = vec![0.0f64; n];
        for k in 0..samples {
            let a = row(k);
            for i in 0..n {
                aty[i] += a[i] * y_train[k] as f64;
                for j in 0..=i {
                    ata[i * n + j] += a[i] * a[j];
                }
            }
        }
        let ridge = 1e-6 * (0..n).map(|i| ata[i * n + i]).sum::<f64>() / n as f64;
        for i in 0..n {
            ata[i * n + i] += ridge.max(1e-12);
        }
        let solution = cholesky_solve(&mut ata, &mut aty, n).ok_or_else(|| {
            LstmError::config(
                "LinearForecast::fit",
                "training windows that determine a linear fit",
                format!("{samples} windows of {timesteps}×{features} values (singular)"),
            )
        })?;
        Ok(LinearForecast {
            bias: solution[n - 1],
            weights: Array1::from(solution[..n - 1].to_vec()),
            timesteps,
            features,
        })
    }

    /// Forecasts for windows of the fitted shape.
    pub fn predict(&self, x: &Array3<f32>) -> Result<Array1<f32>> {
        check_windows("LinearForecast::predict", x, 0)?;
        let expected = [x.shape()[0], self.timesteps, self.features];
        if x.shape() != expected {
            return Err(LstmError::shape(
                "LinearForecast::predict",
                fmt_shape(&expected),
                fmt_shape(x.shape()),
            ));
        }
        Ok(Array1::from_shape_fn(x.shape()[0], |k| {
            let dot: f64 = x
                .slice(ndarray::s![k, .., ..])
                .iter()
                .zip(&self.weights)
                .map(|(&v, &w)| v as f64 * w)
                .sum();
            (dot + self.bias) as f32
        }))
    }
}

impl LinearForecast {
    /// `steps` values past the end of a one-feature `history`, each fed back as the newest input
    /// (as [`crate::Sequential::forecast`] does for a model).
    pub fn forecast(&self, history: &[f32], steps: usize) -> Result<Vec<f32>> {
        if self.features != 1 || history.len() < self.timesteps {
            return Err(LstmError::config(
                "LinearForecast::forecast",
                format!(
                    "a one-feature fit and a history of at least {} values",
                    self.timesteps
                ),
                format!("{} features, {} values", self.features, history.len()),
            ));
        }
        let mut window: Vec<f32> = history[history.len() - self.timesteps..].to_vec();
        let mut out = Vec::with_capacity(steps);
        for _ in 0..steps {
            let x = Array3::from_shape_vec((1, self.timesteps, 1), window.clone()).expect("sizes");
            let next = self.predict(&x)?[0];
            out.push(next);
            window.remove(0);
            window.push(next);
        }
        Ok(out)
    }
}

/// Solves `M·w = b` for symmetric positive definite `M` (lower triangle filled, row-major `n×n`)
/// by Cholesky; `None` if `M` is not positive definite.
fn cholesky_solve(m: &mut [f64], b: &mut [f64], n: usize) -> Option<Vec<f64>> {
    for j in 0..n {
        let mut d = m[j * n + j];
        for k in 0..j {
            d -= m[j * n + k] * m[j * n + k];
        }
        if d <= 0.0 || !d.is_finite() {
            return None;
        }
        let d = d.sqrt();
        m[j * n + j] = d;
        for i in j + 1..n {
            let mut s = m[i * n + j];
            for k in 0..j {
                s -= m[i * n + k] * m[j * n + k];
            }
            m[i * n + j] = s / d;
        }
    }
    // L·z = b, then Lᵀ·w = z.
    for i in 0..n {
        let s: f64 = (0..i).map(|k| m[i * n + k] * b[k]).sum();
        b[i] = (b[i] - s) / m[i * n + i];
    }
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|k| m[k * n + i] * b[k]).sum();
        b[i] = (b[i] - s) / m[i * n + i];
    }
    Some(b.to_vec())
}

/// The seasonal baseline: for each day of the year, the mean of the training targets within
/// ±`half_width` days of it (across the year's end), over all training years.
#[derive(Debug, Clone, PartialEq)]
pub struct Climatology {
    /// The forecast for day of the year 1 to 366 (index 0 is day 1).
    pub by_day: Vec<f32>,
    /// The smoothing half-width in days.
    pub half_width: usize,
}

impl Climatology {
    /// Fits on the days of the year (1 to 366) of the training targets and their values.
    pub fn fit(days_of_year: &[u32], values: &[f32], half_width: usize) -> Result<Self> {
        if days_of_year.len() != values.len() || values.is_empty() {
            return Err(LstmError::shape(
                "Climatology::fit",
                "as many days of the year as values, at least one",
                format!("{} days, {} values", days_of_year.len(), values.len()),
            ));
        }
        if let Some(&bad) = days_of_year.iter().find(|&&d| !(1..=366).contains(&d)) {
            return Err(LstmError::config(
                "Climatology::fit days_of_year",
                "1 to 366",
                bad,
            ));
        }
        crate::check::ensure_finite("Climatology::fit", &ArrayView1::from(values))?;
        let (mut sum, mut count) = (vec![0.0f64; 366], vec![0usize; 366]);
        for (&d, &v) in days_of_year.iter().zip(values) {
            sum[d as usize - 1] += v as f64;
            count[d as usize - 1] += 1;
        }
        // Day 366 is only in leap years: without training data of its own it takes day 365's
        // forecast (Dec 31 of the other years), so one full ordinary year fits with half_width
        // 0. Its data is never invented for the neighbours' windows.
        let leap_day_empty = count[365] == 0;
        let nearest_data = |day: usize| {
            (0..=183)
                .find(|&d: &usize| count[(day + d) % 366] > 0 || count[(day + 366 - d) % 366] > 0)
                .unwrap_or(183)
        };
        let days_needing_data = if leap_day_empty { 0..365 } else { 0..366 };
        let needed = days_needing_data
            .clone()
            .map(nearest_data)
            .max()
            .unwrap_or(0);
        if needed > half_width {
            let empty: Vec<usize> = days_needing_data
                .filter(|&d| count[d] == 0)
                .map(|d| d + 1)
                .collect();
            return Err(LstmError::config(
                "Climatology::fit half_width",
                format!(
                    "at least {needed}: {} day(s) of the year have no training data (days {}), \
                     and the widest hole needs ±{needed} days to reach data",
                    empty.len(),
                    day_ranges(&empty)
                ),
                half_width,
            ));
        }
        let mut by_day: Vec<f32> = (0..366)
            .map(|day| {
                let (mut s, mut c) = (0.0, 0);
                for offset in -(half_width as i64)..=half_width as i64 {
                    let k = (day as i64 + offset).rem_euclid(366) as usize;
                    s += sum[k];
                    c += count[k];
                }
                if c == 0 {
                    f32::NAN
                } else {
                    (s / c as f64) as f32
                }
            })
            .collect();
        if by_day[365].is_nan() {
            by_day[365] = by_day[364];
        }
        Ok(Climatology { by_day, half_width })
    }

    /// The forecast for each day of the year (1 to 366).
    pub fn predict(&self, days_of_year: &[u32]) -> Result<Array1<f32>> {
        days_of_year
            .iter()
            .map(|&d| {
                self.by_day
                    .get((d as usize).wrapping_sub(1))
                    .copied()
                    .ok_or_else(|| LstmError::config("Climatology::predict day", "1 to 366", d))
            })
            .collect()
    }
}

/// `1–3, 7, 10–12` for sorted day numbers.
fn day_ranges(days: &[usize]) -> String {
    let runs: Vec<String> = days
        .chunk_by(|a, b| b == &(a + 1))
        .map(|run| match run {
            [one] => one.to_string(),
            [first, .., last] => format!("{first}–{last}"),
            [] => String::new(),
        })
        .collect();
    runs.join(", ")
}

/// One row of a [`Scoreboard`].
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    /// What made the forecast.
    pub name: String,
    /// Mean squared error on the held-out targets.
    pub mse: f32,
    /// Mean absolute error.
    pub mae: f32,
    /// A learned model (shown first), not a baseline.
    pub is_model: bool,
}

/// Models and baselines scored on the same held-out targets, shown as one table.
#[derive(Debug, Clone, PartialEq)]
pub struct Scoreboard {
    title: String,
    unit: String,
    y_test: Array1<f32>,
    /// The rows, in the order added.
    pub scores: Vec<Score>,
}

impl Scoreboard {
    /// An empty board for held-out targets `y_test`, errors in `unit` (e.g. `"°C"`, or `""`).
    pub fn new(title: &str, unit: &str, y_test: &Array1<f32>) -> Result<Self> {
        if y_test.is_empty() {
            return Err(LstmError::shape(
                "Scoreboard::new",
                "at least one target",
                "(0,)",
            ));
        }
        crate::check::ensure_finite("Scoreboard::new", y_test)?;
        Ok(Scoreboard {
            title: title.into(),
            unit: unit.into(),
            y_test: y_test.clone(),
            scores: vec![],
        })
    }

    fn push(&mut self, name: &str, pred: &Array1<f32>, is_model: bool) -> Result<&mut Self> {
        let context = format!("Scoreboard: forecast '{name}'");
        if pred.len() != self.y_test.len() {
            return Err(LstmError::shape(
                context,
                format!(
                    "{} (one per held-out target)",
                    fmt_shape(&[self.y_test.len()])
                ),
                fmt_shape(pred.shape()),
            ));
        }
        crate::check::ensure_finite(&context, pred)?;
        let mae = pred
            .iter()
            .zip(&self.y_test)
            .map(|(&p, &t)| (p as f64 - t as f64).abs())
            .sum::<f64>()
            / pred.len() as f64;
        self.scores.push(Score {
            name: name.into(),
            mse: mse(pred, &self.y_test),
            mae: mae as f32,
            is_model,
        });
        Ok(self)
    }

    /// Adds a learned model's forecasts.
    pub fn model(&mut self, name: &str, pred: &Array1<f32>) -> Result<&mut Self> {
        self.push(name, pred, true)
    }

    /// Adds a baseline's forecasts.
    pub fn baseline(&mut self, name: &str, pred: &Array1<f32>) -> Result<&mut Self> {
        self.push(name, pred, false)
    }

    /// Persistence, the moving average with its length chosen on the training windows, and the
    /// linear forecast fitted on them: the baselines any window-based forecast must beat.
    pub fn standard_baselines(
        &mut self,
        x_train: &Array3<f32>,
        y_train: &Array1<f32>,
        x_test: &Array3<f32>,
        feature: usize,
    ) -> Result<&mut Self> {
        // Every forecast first, so that a refusal leaves the board as it was.
        let last = persistence(x_test, feature)?;
        let k = best_moving_average_window(x_train, y_train, feature)?;
        let average = moving_average(x_test, feature, k)?;
        let linear = LinearForecast::fit(x_train, y_train)?.predict(x_test)?;
        let rows = [
            ("persistence (last value)".to_string(), last),
            (
                format!("moving average of {k} (chosen on training data)"),
                average,
            ),
            ("linear on the window (least squares)".to_string(), linear),
        ];
        let before = self.scores.len();
        for (name, forecast) in &rows {
            if let Err(e) = self.baseline(name, forecast) {
                self.scores.truncate(before);
                return Err(e);
            }
        }
        Ok(self)
    }

    /// The MSE of the row whose name starts with `name`.
    pub fn mse(&self, name: &str) -> Option<f32> {
        self.scores
            .iter()
            .find(|s| s.name.starts_with(name))
            .map(|s| s.mse)
    }

    /// The baseline with the lowest MSE.
    pub fn best_baseline(&self) -> Option<&Score> {
        self.scores
            .iter()
            .filter(|s| !s.is_model)
            .min_by(|a, b| a.mse.total_cmp(&b.mse))
    }

    /// The row with the lowest MSE, model or baseline.
    pub fn best(&self) -> Option<&Score> {
        self.scores.iter().min_by(|a, b| a.mse.total_cmp(&b.mse))
    }

    /// The table as HTML, the best row in bold, each row's MSE relative to the best baseline's.
    pub fn to_html(&self) -> String {
        use crate::display::html_escape;
        let unit = |power: &str| {
            if self.unit.is_empty() {
                String::new()
            } else {
                format!(" ({}{power})", html_escape(&self.unit))
            }
        };
        let best = self.best().map(|s| s.name.clone());
        let reference = self.best_baseline().map(|s| s.mse);
        let mut html = format!(
            "<table><caption>{} — {} held-out targets</caption><tr><th>forecast</th><th>kind</th><th>MSE{}</th><th>MAE{}</th><th>MSE / best baseline</th></tr>",
            html_escape(&self.title),
            self.y_test.len(),
            unit("²"),
            unit(""),
        );
        for s in &self.scores {
            let (open, close) = if Some(&s.name) == best.as_ref() {
                ("<b>", "</b>")
            } else {
                ("", "")
            };
            let ratio = reference.map_or(String::from("–"), |r| format!("{:.2}", s.mse / r));
            html.push_str(&format!(
                "<tr><td>{open}{}{close}</td><td>{}</td><td>{open}{:.4}{close}</td><td>{:.4}</td><td>{ratio}</td></tr>",
                html_escape(&s.name),
                if s.is_model { "model" } else { "baseline" },
                s.mse,
                s.mae,
            ));
        }
        html.push_str("</table>");
        html
    }

    /// Shows the table when it is a cell's last expression.
    pub fn evcxr_display(&self) {
        crate::display::show_html(&self.to_html());
    }
}

impl std::fmt::Display for Scoreboard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{} ({} held-out targets)", self.title, self.y_test.len())?;
        for s in &self.scores {
            writeln!(
                f,
                "  {:45} {:8} MSE {:9.4}  MAE {:8.4}",
                s.name,
                if s.is_model { "model" } else { "baseline" },
                s.mse,
                s.mae
            )?;
        }
        Ok(())
    }
}

/// Seasonal naive with drift, `horizon` steps past the end of `history`: each step repeats the
/// value one season earlier and adds the growth of the last season,
/// `ŷ(T+h) = y(T+h−k·s) + k·(y(T) − y(T−s))` with `k = ⌈h/s⌉` (for a trend plus a yearly cycle).
pub fn seasonal_naive(history: &[f32], season: usize, horizon: usize) -> Result<Vec<f32>> {
    if season == 0 || history.len() <= season {
        return Err(LstmError::config(
            "seasonal_naive",
            format!("a season of at least 1 step and a history longer than it (season {season})"),
            format!("a history of {} values", history.len()),
        ));
    }
    crate::check::ensure_finite("seasonal_naive", &ArrayView1::from(history))?;
    let last = history.len() - 1;
    let drift = history[last] - history[last - season];
    Ok((1..=horizon)
        .map(|h| {
            let k = h.div_ceil(season);
            history[last + h - k * season] + k as f32 * drift
        })
        .collect())
}

/// A rolling-origin backtest: from each origin (the number of values known), `forecaster`
/// receives `series[..origin]` and returns `horizon` values, compared with what followed.
/// Returns the mean squared error over every origin and step.
pub fn backtest(
    series: &[f32],
    origins: &[usize],
    horizon: usize,
    mut forecaster: impl FnMut(&[f32], usize) -> Result<Vec<f32>>,
) -> Result<f32> {
    if origins.is_empty() || horizon == 0 {
        return Err(LstmError::config(
            "backtest",
            "at least one origin and a horizon of at least 1",
            format!("{} origins, horizon {horizon}", origins.len()),
        ));
    }
    let (mut total, mut count) = (0.0f64, 0usize);
    for &origin in origins {
        if origin == 0 || origin + horizon > series.len() {
            return Err(LstmError::config(
                "backtest origin",
                format!(
                    "1 to {} (the series has {} values, the horizon is {horizon})",
                    series.len().saturating_sub(horizon),
                    series.len()
                ),
                origin,
            ));
        }
        let forecast = forecaster(&series[..origin], horizon)?;
        if forecast.len() != horizon {
            return Err(LstmError::shape(
                "backtest: the forecaster's output",
                fmt_shape(&[horizon]),
                fmt_shape(&[forecast.len()]),
            ));
        }
        for (f, actual) in forecast.iter().zip(&series[origin..origin + horizon]) {
            total += (*f as f64 - *actual as f64).powi(2);
            count += 1;
        }
    }
    Ok((total / count as f64) as f32)
}

/// Mean, median, min and max of one quantity over several seeds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// Arithmetic mean.
    pub mean: f32,
    /// Median (mean of the middle two for an even count).
    pub median: f32,
    /// Smallest value.
    pub min: f32,
    /// Largest value.
    pub max: f32,
}

impl Spread {
    /// The spread of `values` (at least one, all finite).
    pub fn of(values: &[f32]) -> Result<Spread> {
        if values.is_empty() {
            return Err(LstmError::shape("Spread::of", "at least one value", "(0,)"));
        }
        crate::check::ensure_finite("Spread::of", &ArrayView1::from(values))?;
        let mut sorted = values.to_vec();
        sorted.sort_by(f32::total_cmp);
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        Ok(Spread {
            mean: (values.iter().map(|&v| v as f64).sum::<f64>() / n as f64) as f32,
            median,
            min: sorted[0],
            max: sorted[n - 1],
        })
    }
}

/// Results over several seeds, one row per forecaster (ours, a reference such as Keras', the
/// baselines), as a table of mean, median, min and max.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SeedTable {
    title: String,
    /// `(name, values, spread)` per row, in the order added.
    pub rows: Vec<(String, Vec<f32>, Spread)>,
}

impl SeedTable {
    /// An empty table.
    pub fn new(title: &str) -> Self {
        SeedTable {
            title: title.into(),
            rows: vec![],
        }
    }

    /// Adds a row of per-seed values.
    pub fn add(&mut self, name: &str, values: &[f32]) -> Result<&mut Self> {
        let spread = Spread::of(values)?;
        self.rows.push((name.into(), values.to_vec(), spread));
        Ok(self)
    }

    /// The spread of the row whose name starts with `name`.
    pub fn spread(&self, name: &str) -> Option<Spread> {
        self.rows
            .iter()
            .find(|(n, _, _)| n.starts_with(name))
            .map(|r| r.2)
    }

    /// The table as HTML.
    pub fn to_html(&self) -> String {
        use crate::display::html_escape;
        let mut html = format!(
            "<table><caption>{}</caption><tr><th>forecaster</th><th>seeds</th><th>mean</th><th>median</th><th>min</th><th>max</th></tr>",
            html_escape(&self.title)
        );
        for (name, values, s) in &self.rows {
            html.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{:.4}</td><td>{:.4}</td><td>{:.4}</td><td>{:.4}</td></tr>",
                html_escape(name),
                values.len(),
                s.mean,
                s.median,
                s.min,
                s.max
            ));
        }
        html.push_str("</table>");
        html
    }

    /// Shows the table when it is a cell's last expression.
    pub fn evcxr_display(&self) {
        crate::display::show_html(&self.to_html());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array3, array};

    fn windows(rows: &[&[f32]]) -> Array3<f32> {
        let t = rows[0].len();
        Array3::from_shape_fn((rows.len(), t, 1), |(k, s, _)| rows[k][s])
    }

    #[test]
    fn persistence_and_moving_average_by_hand() {
        let x = windows(&[&[1.0, 2.0, 6.0], &[4.0, 0.0, 2.0]]);
        assert_eq!(persistence(&x, 0).unwrap(), array![6.0, 2.0]);
        assert_eq!(moving_average(&x, 0, 2).unwrap(), array![4.0, 1.0]);
        assert_eq!(moving_average(&x, 0, 3).unwrap(), array![3.0, 2.0]);
        let err = moving_average(&x, 0, 4).unwrap_err().to_string();
        assert!(err.contains("1 to 3") && err.contains('4'), "{err}");
        assert!(
            persistence(&x, 1)
                .unwrap_err()
                .to_string()
                .contains("below 1")
        );
    }

    #[test]
    fn the_moving_average_window_is_chosen_on_training_data() {
        // Targets are the mean of the last two values: window 2 is exact.
        let x = windows(&[&[1.0, 2.0, 6.0], &[4.0, 0.0, 2.0], &[3.0, 5.0, 1.0]]);
        let y = array![4.0, 1.0, 3.0];
        assert_eq!(best_moving_average_window(&x, &y, 0).unwrap(), 2);
        assert!(best_moving_average_window(&x, &array![1.0], 0).is_err());
    }

    #[test]
    fn the_linear_forecast_recovers_an_exact_linear_rule() {
        // y = 0.5 + 2·x0 − x2 on random windows: least squares must find it.
        let x = Array3::from_shape_fn((40, 3, 1), |(k, t, _)| {
            ((k * 7 + t * 3) % 11) as f32 * 0.3 - 1.0
        });
        let y = Array1::from_shape_fn(40, |k| 0.5 + 2.0 * x[[k, 0, 0]] - x[[k, 2, 0]]);
        let fit = LinearForecast::fit(&x, &y).unwrap();
        let want = [2.0, 0.0, -1.0];
        for (w, t) in fit.weights.iter().zip(want) {
            assert!((w - t).abs() < 1e-4, "{:?}", fit.weights);
        }
        assert!((fit.bias - 0.5).abs() < 1e-4);
        let pred = fit.predict(&x).unwrap();
        assert!(pred.iter().zip(&y).all(|(p, t)| (p - t).abs() < 1e-4));
        // Recursive: y = 0.5 + 2·x0 − x2 on [a, b, c] → next window [b, c, ŷ].
        let f = fit.forecast(&[1.0, 0.0, 2.0], 2).unwrap();
        assert!(
            (f[0] - 0.5).abs() < 1e-3 && (f[1] - (0.5 + 0.0 - 0.5)).abs() < 1e-3,
            "{f:?}"
        );
        assert!(fit.forecast(&[1.0], 1).is_err());
        let wrong = Array3::<f32>::zeros((2, 4, 1));
        assert!(
            fit.predict(&wrong)
                .unwrap_err()
                .to_string()
                .contains("(2, 3, 1)")
        );
    }

    #[test]
    fn nan_input_and_empty_data_are_errors() {
        let mut x = windows(&[&[1.0, 2.0], &[3.0, 4.0]]);
        x[[1, 0, 0]] = f32::NAN;
        assert!(persistence(&x, 0).is_err());
        assert!(LinearForecast::fit(&x, &array![1.0, 2.0]).is_err());
        let empty = Array3::<f32>::zeros((0, 3, 1));
        assert!(persistence(&empty, 0).is_err());
        assert!(Scoreboard::new("t", "", &Array1::zeros(0)).is_err());
    }

    #[test]
    fn climatology_averages_the_same_days_across_years_and_wraps() {
        let days = [1, 1, 2, 366];
        let values = [10.0, 20.0, 30.0, 50.0];
        let clim = Climatology::fit(&days, &values, 0).unwrap_err();
        // Days 3 to 365 are empty; day 184 is 182 days from both day 2 and day 366 (the nearest
        // data).
        assert!(clim.to_string().contains("at least 182"), "{clim}");
        assert!(clim.to_string().contains("days 3–365"), "{clim}");
        assert!(Climatology::fit(&days, &values, 182).is_ok());
        assert!(Climatology::fit(&days, &values, 181).is_err());
        let values365: Vec<f32> = (1..=366).map(|d| d as f32).collect();
        let days365: Vec<u32> = (1..=366).collect();
        let c = Climatology::fit(&days365, &values365, 1).unwrap();
        // Day 1 averages days 366, 1 and 2.
        assert!((c.predict(&[1]).unwrap()[0] - (366.0 + 1.0 + 2.0) / 3.0).abs() < 1e-4);
        assert_eq!(c.predict(&[100]).unwrap()[0], 100.0);
        let mut all: Vec<u32> = days365.clone();
        all.extend([5, 5]);
        let mut vals = values365.clone();
        vals.extend([9.0, 11.0]);
        let c0 = Climatology::fit(&all, &vals, 0).unwrap();
        assert_eq!(c0.predict(&[5]).unwrap()[0], (5.0 + 9.0 + 11.0) / 3.0);
        assert!(c0.predict(&[0]).is_err() && c0.predict(&[367]).is_err());
        assert!(Climatology::fit(&[400], &[1.0], 3).is_err());
    }

    #[test]
    fn the_scoreboard_scores_and_ranks() {
        let y = array![1.0f32, 2.0, 3.0];
        let mut board = Scoreboard::new("test", "°C", &y).unwrap();
        board.model("perfect", &y.clone()).unwrap();
        board
            .baseline("off by one", &array![2.0, 3.0, 4.0])
            .unwrap();
        board
            .baseline("off by two", &array![3.0, 4.0, 5.0])
            .unwrap();
        assert_eq!(board.mse("off by one"), Some(1.0));
        assert_eq!(board.mse("off by two"), Some(4.0));
        assert_eq!(board.best().unwrap().name, "perfect");
        assert_eq!(board.best_baseline().unwrap().name, "off by one");
        let html = board.to_html();
        assert!(
            html.contains("<b>perfect</b>") && html.contains("°C²"),
            "{html}"
        );
        assert!(
            board
                .baseline("short", &array![1.0])
                .unwrap_err()
                .to_string()
                .contains("(3,)")
        );
        let text = board.to_string();
        assert!(
            text.contains("off by two") && text.contains("4.0000"),
            "{text}"
        );
    }

    #[test]
    fn seasonal_naive_repeats_the_season_with_its_growth() {
        // Season 2: values 0, 10, 1, 11, 2, 12 → growth per season 1.
        let history = [0.0f32, 10.0, 1.0, 11.0, 2.0, 12.0];
        let f = seasonal_naive(&history, 2, 4).unwrap();
        assert_eq!(f, vec![3.0, 13.0, 4.0, 14.0]);
        assert!(seasonal_naive(&history, 6, 1).is_err());
        assert!(seasonal_naive(&history, 0, 1).is_err());
    }

    #[test]
    fn backtests_score_every_origin_and_step() {
        let series = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
        // Persistence from origins 2 and 4, two steps: errors (3−2, 4−2) and (5−4, 6−4).
        let mse = backtest(&series, &[2, 4], 2, |h, n| Ok(vec![*h.last().unwrap(); n])).unwrap();
        assert_eq!(mse, (1.0 + 4.0 + 1.0 + 4.0) / 4.0);
        assert!(backtest(&series, &[5], 2, |_, n| Ok(vec![0.0; n])).is_err());
        assert!(backtest(&series, &[2], 2, |_, _| Ok(vec![0.0])).is_err());
        assert!(backtest(&series, &[], 2, |_, n| Ok(vec![0.0; n])).is_err());
    }

    #[test]
    fn spreads_by_hand() {
        let s = Spread::of(&[4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!((s.mean, s.median, s.min, s.max), (2.5, 2.5, 1.0, 4.0));
        assert_eq!(Spread::of(&[5.0, 1.0, 3.0]).unwrap().median, 3.0);
        assert!(Spread::of(&[]).is_err() && Spread::of(&[f32::NAN]).is_err());
        let mut table = SeedTable::new("t");
        table.add("ours", &[1.0, 3.0]).unwrap();
        assert_eq!(table.spread("ours").unwrap().mean, 2.0);
        assert!(table.to_html().contains("<td>2.0000</td>"));
    }

    #[test]
    fn standard_baselines_add_three_rows() {
        let x = Array3::from_shape_fn((30, 4, 1), |(k, t, _)| ((k + t) as f32 * 0.4).sin());
        let y = Array1::from_shape_fn(30, |k| ((k + 4) as f32 * 0.4).sin());
        let mut board = Scoreboard::new("sine", "", &y).unwrap();
        board.standard_baselines(&x, &y, &x, 0).unwrap();
        assert_eq!(board.scores.len(), 3);
        // A sine's next value is an exact linear function of the previous two.
        assert!(board.mse("linear").unwrap() < 1e-6);
        assert!(board.mse("persistence").unwrap() > 1e-3);
    }
}
