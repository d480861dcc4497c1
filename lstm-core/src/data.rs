//! Getting data into the `(samples, timesteps, features)` shape an LSTM reads:
//! sliding windows, reshaping, scaling, splitting, and the tutorial's synthetic datasets.

use ndarray::{Array, Array1, Array2, Array3, ArrayBase, Axis, Data, Dimension, RemoveAxis, s};
use ndarray_rand::rand::Rng;
use ndarray_rand::rand::seq::SliceRandom;
use ndarray_rand::rand_distr::{Distribution, Normal};

use crate::error::{LstmError, Result, decimal_f64, ensure_finite, ensure_nonempty, fmt_shape};
use crate::init::seeded_rng;

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

/// Scales every value into `feature_range` (default `[0, 1]`), like scikit-learn's `MinMaxScaler`
/// fitted on flattened data (`X.reshape(-1, 1)`): one minimum and one maximum for all values.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MinMaxScaler {
    pub feature_range: (f32, f32),
    fitted: Option<(f32, f32)>,
}

impl Default for MinMaxScaler {
    fn default() -> Self {
        MinMaxScaler {
            feature_range: (0.0, 1.0),
            fitted: None,
        }
    }
}

impl MinMaxScaler {
    pub fn new() -> Self {
        Self::default()
    }

    /// A scaler onto `[low, high]`; `low < high` is checked here, once.
    pub fn with_range(low: f32, high: f32) -> Result<Self> {
        if !(low.is_finite() && high.is_finite() && low < high) {
            return Err(LstmError::config(
                "feature_range",
                "finite (low, high) with low < high",
                format!("({low}, {high})"),
            ));
        }
        Ok(MinMaxScaler {
            feature_range: (low, high),
            fitted: None,
        })
    }

    /// Learns the minimum and maximum of all values.
    pub fn fit<S: Data<Elem = f32>, D: Dimension>(&mut self, x: &ArrayBase<S, D>) -> Result<()> {
        check_fit_input("MinMaxScaler::fit", x)?;
        let min = x.iter().copied().fold(f32::INFINITY, f32::min);
        let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        if min == max {
            return Err(LstmError::ZeroRange {
                scaler: "MinMaxScaler",
                value: min,
            });
        }
        self.fitted = Some((min, max));
        Ok(())
    }

    /// `(data_min, data_max)` once fitted.
    pub fn data_range(&self) -> Option<(f32, f32)> {
        self.fitted
    }

    pub fn transform<S: Data<Elem = f32>, D: Dimension>(
        &self,
        x: &ArrayBase<S, D>,
    ) -> Result<Array<f32, D>> {
        let (min, max) = self.require_fitted()?;
        ensure_finite("MinMaxScaler::transform", x)?;
        let (low, high) = self.feature_range;
        let scale = (high - low) / (max - min);
        Ok(x.mapv(|v| (v - min) * scale + low))
    }

    pub fn fit_transform<S: Data<Elem = f32>, D: Dimension>(
        &mut self,
        x: &ArrayBase<S, D>,
    ) -> Result<Array<f32, D>> {
        self.fit(x)?;
        self.transform(x)
    }

    pub fn inverse_transform<S: Data<Elem = f32>, D: Dimension>(
        &self,
        x: &ArrayBase<S, D>,
    ) -> Result<Array<f32, D>> {
        let (min, max) = self.require_fitted()?;
        ensure_finite("MinMaxScaler::inverse_transform", x)?;
        let (low, high) = self.feature_range;
        let scale = (max - min) / (high - low);
        Ok(x.mapv(|v| (v - low) * scale + min))
    }

    fn require_fitted(&self) -> Result<(f32, f32)> {
        self.fitted.ok_or(LstmError::NotReady {
            what: "MinMaxScaler",
            needed: "fitted",
            call: "fit(&data) or fit_transform(&data)",
        })
    }
}

/// Either scaler, for attaching to a model (and saving with it).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Scaler {
    MinMax(MinMaxScaler),
    Standard(StandardScaler),
}

impl From<MinMaxScaler> for Scaler {
    fn from(s: MinMaxScaler) -> Self {
        Scaler::MinMax(s)
    }
}

impl From<StandardScaler> for Scaler {
    fn from(s: StandardScaler) -> Self {
        Scaler::Standard(s)
    }
}

/// Standardises all values to mean 0 and standard deviation 1 (population std, as scikit-learn).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StandardScaler {
    fitted: Option<(f32, f32)>,
}

impl StandardScaler {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn fit<S: Data<Elem = f32>, D: Dimension>(&mut self, x: &ArrayBase<S, D>) -> Result<()> {
        check_fit_input("StandardScaler::fit", x)?;
        let n = x.len() as f64;
        let mean = x.iter().map(|&v| v as f64).sum::<f64>() / n;
        let var = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
        if var == 0.0 {
            return Err(LstmError::ZeroRange {
                scaler: "StandardScaler",
                value: mean as f32,
            });
        }
        self.fitted = Some((mean as f32, var.sqrt() as f32));
        Ok(())
    }

    /// `(mean, std)` once fitted.
    pub fn mean_std(&self) -> Option<(f32, f32)> {
        self.fitted
    }

    pub fn transform<S: Data<Elem = f32>, D: Dimension>(
        &self,
        x: &ArrayBase<S, D>,
    ) -> Result<Array<f32, D>> {
        let (mean, std) = self.require_fitted()?;
        ensure_finite("StandardScaler::transform", x)?;
        Ok(x.mapv(|v| (v - mean) / std))
    }

    pub fn fit_transform<S: Data<Elem = f32>, D: Dimension>(
        &mut self,
        x: &ArrayBase<S, D>,
    ) -> Result<Array<f32, D>> {
        self.fit(x)?;
        self.transform(x)
    }

    pub fn inverse_transform<S: Data<Elem = f32>, D: Dimension>(
        &self,
        x: &ArrayBase<S, D>,
    ) -> Result<Array<f32, D>> {
        let (mean, std) = self.require_fitted()?;
        ensure_finite("StandardScaler::inverse_transform", x)?;
        Ok(x.mapv(|v| v * std + mean))
    }

    fn require_fitted(&self) -> Result<(f32, f32)> {
        self.fitted.ok_or(LstmError::NotReady {
            what: "StandardScaler",
            needed: "fitted",
            call: "fit(&data) or fit_transform(&data)",
        })
    }
}

fn check_fit_input<S: Data<Elem = f32>, D: Dimension>(
    context: &str,
    x: &ArrayBase<S, D>,
) -> Result<()> {
    ensure_nonempty(context, x)?;
    ensure_finite(context, x)
}

/// Inputs and targets split in two along the sample axis.
#[derive(Debug, Clone, PartialEq)]
pub struct Split<DX: Dimension, DY: Dimension> {
    pub x_train: Array<f32, DX>,
    pub x_test: Array<f32, DX>,
    pub y_train: Array<f32, DY>,
    pub y_test: Array<f32, DY>,
    /// Original positions of the training samples, in order.
    pub train_index: Vec<usize>,
    /// Original positions of the test samples, in order.
    pub test_index: Vec<usize>,
}

/// Random split like scikit-learn's `train_test_split`: `ceil(test_size * n)` samples, drawn
/// with `seed`, go to the test set; both parts keep the original order of their samples.
pub fn train_test_split<SX, SY, DX, DY>(
    x: &ArrayBase<SX, DX>,
    y: &ArrayBase<SY, DY>,
    test_size: f32,
    seed: u64,
) -> Result<Split<DX, DY>>
where
    SX: Data<Elem = f32>,
    SY: Data<Elem = f32>,
    DX: RemoveAxis,
    DY: RemoveAxis,
{
    let n = check_split_input(x, y, test_size, "test_size")?;
    let n_test = (decimal_f64(test_size) * n as f64).ceil() as usize;
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut seeded_rng(seed));
    let (mut test, mut train) = (order[..n_test].to_vec(), order[n_test..].to_vec());
    test.sort_unstable();
    train.sort_unstable();
    Ok(take_split(x, y, &train, &test))
}

/// Chronological split: the first `floor(train_fraction * n)` samples train, the rest test.
/// Use it for time series, where a random split leaks the future into training.
pub fn chronological_split<SX, SY, DX, DY>(
    x: &ArrayBase<SX, DX>,
    y: &ArrayBase<SY, DY>,
    train_fraction: f32,
) -> Result<Split<DX, DY>>
where
    SX: Data<Elem = f32>,
    SY: Data<Elem = f32>,
    DX: RemoveAxis,
    DY: RemoveAxis,
{
    let n = check_split_input(x, y, train_fraction, "train_fraction")?;
    let n_train = (decimal_f64(train_fraction) * n as f64).floor() as usize;
    let train: Vec<usize> = (0..n_train).collect();
    let test: Vec<usize> = (n_train..n).collect();
    Ok(take_split(x, y, &train, &test))
}

fn check_split_input<SX, SY, DX, DY>(
    x: &ArrayBase<SX, DX>,
    y: &ArrayBase<SY, DY>,
    fraction: f32,
    name: &'static str,
) -> Result<usize>
where
    SX: Data<Elem = f32>,
    SY: Data<Elem = f32>,
    DX: Dimension,
    DY: Dimension,
{
    if !(fraction > 0.0 && fraction < 1.0) {
        return Err(LstmError::config(name, "a fraction in (0, 1)", fraction));
    }
    if x.ndim() == 0 || y.ndim() == 0 {
        return Err(LstmError::shape(
            "split",
            "arrays with a sample axis",
            "a scalar",
        ));
    }
    let n = x.len_of(Axis(0));
    if y.len_of(Axis(0)) != n {
        return Err(LstmError::count(
            "split: y must have one target per sample of x",
            "targets",
            n,
            format!(
                "{} (x is {}, y is {})",
                y.len_of(Axis(0)),
                fmt_shape(x.shape()),
                fmt_shape(y.shape())
            ),
        ));
    }
    if n < 2 {
        return Err(LstmError::Empty {
            context: "split: x".into(),
            min: 2,
        });
    }
    Ok(n)
}

fn take_split<SX, SY, DX, DY>(
    x: &ArrayBase<SX, DX>,
    y: &ArrayBase<SY, DY>,
    train: &[usize],
    test: &[usize],
) -> Split<DX, DY>
where
    SX: Data<Elem = f32>,
    SY: Data<Elem = f32>,
    DX: RemoveAxis,
    DY: RemoveAxis,
{
    Split {
        x_train: x.select(Axis(0), train),
        x_test: x.select(Axis(0), test),
        y_train: y.select(Axis(0), train),
        y_test: y.select(Axis(0), test),
        train_index: train.to_vec(),
        test_index: test.to_vec(),
    }
}

/// The tutorial's sum task: three integers in `[0, 100)`; the target is the sum of the first two.
/// Returns `X: (n, 3)` and `y: (n,)`.
pub fn sum_of_first_two(n: usize, seed: u64) -> (Array2<f32>, Array1<f32>) {
    let mut rng = seeded_rng(seed);
    let x = Array2::from_shape_fn((n, 3), |_| rng.random_range(0..100) as f32);
    let y = x.column(0).to_owned() + x.column(1);
    (x, y)
}

/// The tutorial's next-number task: `[1,2,3] -> 4`, ..., `[4,5,6] -> 7`, divided by 100 so the
/// values sit where the LSTM's tanh and sigmoid are not saturated.
/// Returns `X: (4, 3, 1)` and `y: (4, 1)`.
pub fn next_number() -> (Array3<f32>, Array2<f32>) {
    let x = Array3::from_shape_fn((4, 3, 1), |(k, t, _)| (k + t + 1) as f32 / 100.0);
    let y = Array2::from_shape_fn((4, 1), |(k, _)| (k + 4) as f32 / 100.0);
    (x, y)
}

/// Copy task: random digits `d/10` (d in 0..10) as `(n, timesteps, 1)`; the target is the same sequence.
pub fn copy_task(n: usize, timesteps: usize, seed: u64) -> (Array3<f32>, Array3<f32>) {
    let x = random_digits(n, timesteps, seed);
    (x.clone(), x)
}

/// Reverse task: like [`copy_task`], but the target is the sequence read backwards.
pub fn reverse_task(n: usize, timesteps: usize, seed: u64) -> (Array3<f32>, Array3<f32>) {
    let x = random_digits(n, timesteps, seed);
    let y = x.slice(s![.., ..;-1, ..]).as_standard_layout().into_owned();
    (x, y)
}

/// Look-ahead task: random digits as `(n, timesteps, 1)`; the target at each step is the *next*
/// input (0 after the last). A left-to-right LSTM cannot know it yet; a bidirectional one can.
pub fn look_ahead_task(n: usize, timesteps: usize, seed: u64) -> (Array3<f32>, Array3<f32>) {
    let x = random_digits(n, timesteps, seed);
    let mut y = Array3::zeros((n, timesteps, 1));
    if timesteps > 1 {
        y.slice_mut(s![.., ..timesteps - 1, ..])
            .assign(&x.slice(s![.., 1.., ..]));
    }
    (x, y)
}

fn random_digits(n: usize, timesteps: usize, seed: u64) -> Array3<f32> {
    let mut rng = seeded_rng(seed);
    Array3::from_shape_fn((n, timesteps, 1), |_| rng.random_range(0..10) as f32 / 10.0)
}

/// Alternating bits: `0,1,0,1,...` or `1,0,1,0,...` (random start) as `(n, timesteps, 1)`;
/// the target `(n, 1)` is the bit that comes next.
pub fn alternating_bits(n: usize, timesteps: usize, seed: u64) -> (Array3<f32>, Array2<f32>) {
    let mut rng = seeded_rng(seed);
    let starts: Vec<usize> = (0..n).map(|_| rng.random_range(0..2)).collect();
    let x = Array3::from_shape_fn((n, timesteps, 1), |(k, t, _)| ((starts[k] + t) % 2) as f32);
    let y = Array2::from_shape_fn((n, 1), |(k, _)| ((starts[k] + timesteps) % 2) as f32);
    (x, y)
}

/// `linspace(start, stop, n)` as NumPy computes it.
pub fn linspace(start: f32, stop: f32, n: usize) -> Array1<f32> {
    Array1::linspace(start, stop, n)
}

/// The tutorial's noisy sine: `sin(linspace(0, 20, n)) + N(0, 0.1)`, seeded.
/// Returns `(t, series)`.
pub fn noisy_sine(n: usize, seed: u64) -> (Array1<f32>, Array1<f32>) {
    let t = linspace(0.0, 20.0, n);
    let noise = Normal::new(0.0f32, 0.1).expect("valid std");
    let mut rng = seeded_rng(seed);
    let series = t.mapv(|v| v.sin() + noise.sample(&mut rng));
    (t, series)
}

/// The tutorial's synthetic daily temperature: `20 + 10·sin(2πt/365) + N(0, 2)` for day t.
/// (`weather::synthetic_weather` puts the same values in a `DataFrame` with dates.)
pub fn synthetic_temperature(days: usize, seed: u64) -> Array1<f32> {
    let noise = Normal::new(0.0f32, 2.0).expect("valid std");
    let mut rng = seeded_rng(seed);
    Array1::from_shape_fn(days, |t| {
        20.0 + 10.0 * (2.0 * std::f32::consts::PI * t as f32 / 365.0).sin() + noise.sample(&mut rng)
    })
}

/// `count` long noisy sines, `sin(ω_k·t + k) + N(0, 0.1)` with `ω_k = 0.05 + 0.01·k`, as
/// `(count, len)`: a bank of long sequences for truncated backpropagation through time.
pub fn sine_bank(count: usize, len: usize, seed: u64) -> Array2<f32> {
    let noise = Normal::new(0.0f32, 0.1).expect("valid std");
    let mut rng = seeded_rng(seed);
    Array2::from_shape_fn((count, len), |(k, t)| {
        ((0.05 + 0.01 * k as f32) * t as f32 + k as f32).sin() + noise.sample(&mut rng)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{arr1, arr2};

    #[test]
    fn windows_match_hand_computed_values() {
        let (x, y) = prepare_data(&[1.0, 2.0, 3.0, 4.0, 5.0], 3).unwrap();
        assert_eq!(x, arr2(&[[1.0, 2.0, 3.0], [2.0, 3.0, 4.0]]));
        assert_eq!(y, arr1(&[4.0, 5.0]));
    }

    #[test]
    fn window_errors_say_what_was_given() {
        let err = prepare_data(&[1.0, 2.0, 3.0], 3).unwrap_err();
        assert_eq!(
            err,
            LstmError::WindowTooLong {
                n_steps: 3,
                needed: 4,
                len: 3
            }
        );
        assert!(
            err.to_string()
                .contains("window of 3 steps needs a series of at least 4 values, got 3"),
            "{err}"
        );
        assert!(matches!(prepare_data(&[], 1), Err(LstmError::Empty { .. })));
        assert!(matches!(
            prepare_data(&[1.0, 2.0], 0),
            Err(LstmError::Config { .. })
        ));
        let nan = prepare_data(&[1.0, f32::NAN, 3.0], 1).unwrap_err();
        assert!(nan.to_string().contains("at index [1]"), "{nan}");
    }

    #[test]
    fn to_sequences_adds_the_feature_axis() {
        let (x, _) = prepare_data(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0], 4).unwrap();
        let x3 = to_sequences(&x, 1).unwrap();
        assert_eq!(x3.shape(), &[2, 4, 1]);
        assert_eq!(x3[[1, 3, 0]], 4.0);
        let two_features = to_sequences(&x, 2).unwrap();
        assert_eq!(two_features.shape(), &[2, 2, 2]);
        assert_eq!(two_features[[0, 1, 0]], 2.0);
        let err = to_sequences(&x, 3).unwrap_err();
        assert!(err.to_string().contains("got (2, 4)"), "{err}");
    }

    #[test]
    fn minmax_round_trips_and_uses_one_range_for_all_values() {
        let x = arr2(&[[0.0f32, 50.0], [100.0, 25.0]]);
        let mut scaler = MinMaxScaler::new();
        let scaled = scaler.fit_transform(&x).unwrap();
        assert_eq!(scaled, arr2(&[[0.0, 0.5], [1.0, 0.25]]));
        assert_eq!(scaler.inverse_transform(&scaled).unwrap(), x);
        let ranged = MinMaxScaler::with_range(-1.0, 1.0)
            .unwrap()
            .fit_transform(&x)
            .unwrap();
        assert_eq!(ranged[[0, 1]], 0.0);
        assert!(MinMaxScaler::with_range(1.0, 1.0).is_err());
    }

    #[test]
    fn scalers_refuse_zero_range_unfitted_and_nan() {
        let flat = arr1(&[3.0f32, 3.0, 3.0]);
        let err = MinMaxScaler::new().fit(&flat).unwrap_err();
        assert_eq!(
            err,
            LstmError::ZeroRange {
                scaler: "MinMaxScaler",
                value: 3.0
            }
        );
        assert!(StandardScaler::new().fit(&flat).is_err());
        assert!(matches!(
            MinMaxScaler::new().transform(&flat),
            Err(LstmError::NotReady { .. })
        ));
        assert!(
            MinMaxScaler::new()
                .fit(&arr1(&[1.0, f32::INFINITY]))
                .is_err()
        );
        assert!(MinMaxScaler::new().fit(&Array1::<f32>::zeros(0)).is_err());
    }

    #[test]
    fn standard_scaler_matches_population_statistics() {
        let x = arr1(&[1.0f32, 2.0, 3.0, 4.0]);
        let mut scaler = StandardScaler::new();
        let z = scaler.fit_transform(&x).unwrap();
        let (mean, std) = scaler.mean_std().unwrap();
        assert_eq!(mean, 2.5);
        assert!((std - 1.25f32.sqrt()).abs() < 1e-7);
        assert!((z.sum()).abs() < 1e-6);
        let back = scaler.inverse_transform(&z).unwrap();
        assert!(back.iter().zip(&x).all(|(a, b)| (a - b).abs() < 1e-6));
    }

    #[test]
    fn random_split_is_seeded_sized_and_keeps_pairs() {
        let x = Array2::from_shape_fn((10, 2), |(i, j)| (i * 10 + j) as f32);
        let y = Array1::from_shape_fn(10, |i| i as f32);
        let a = train_test_split(&x, &y, 0.2, 7).unwrap();
        let b = train_test_split(&x, &y, 0.2, 7).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.x_test.nrows(), 2);
        assert_eq!(a.x_train.nrows(), 8);
        for (row, target) in a.x_test.rows().into_iter().zip(&a.y_test) {
            assert_eq!(row[0], target * 10.0);
        }
        for (&i, target) in a.test_index.iter().zip(&a.y_test) {
            assert_eq!(y[i], *target);
        }
        assert!(a.train_index.iter().all(|i| !a.test_index.contains(i)));
        let many = Array1::from_shape_fn(100, |i| i as f32);
        let seed_1 = train_test_split(&many, &many, 0.2, 1).unwrap();
        let seed_2 = train_test_split(&many, &many, 0.2, 2).unwrap();
        assert_eq!(seed_1.y_test.len(), 20);
        assert_ne!(
            seed_1.y_test, seed_2.y_test,
            "another seed should draw another test set"
        );
    }

    #[test]
    fn chronological_split_keeps_time_order() {
        let x = Array2::from_shape_fn((10, 1), |(i, _)| i as f32);
        let y = Array1::from_shape_fn(10, |i| i as f32);
        let s = chronological_split(&x, &y, 0.8).unwrap();
        assert_eq!(s.y_train, Array1::from_iter((0..8).map(|v| v as f32)));
        assert_eq!(s.y_test, arr1(&[8.0, 9.0]));
        // 0.7f32 is 0.69999999…; a user means 0.7, so 7 of 10 samples train.
        assert_eq!(chronological_split(&x, &y, 0.7).unwrap().y_train.len(), 7);
    }

    #[test]
    fn split_errors() {
        let x = Array2::<f32>::zeros((4, 1));
        let short = Array1::<f32>::zeros(3);
        let err = train_test_split(&x, &short, 0.25, 0).unwrap_err();
        assert!(
            err.to_string().contains("expected 4 targets, got 3"),
            "{err}"
        );
        assert!(train_test_split(&x, &Array1::zeros(4), 1.0, 0).is_err());
        assert!(chronological_split(&x, &Array1::zeros(4), 0.0).is_err());
    }

    #[test]
    fn synthetic_datasets_have_the_tutorial_shapes_and_rules() {
        let (x, y) = sum_of_first_two(1000, 1);
        assert_eq!(x.dim(), (1000, 3));
        assert!(
            x.iter()
                .all(|&v| (0.0..100.0).contains(&v) && v.fract() == 0.0)
        );
        for (row, target) in x.rows().into_iter().zip(&y) {
            assert_eq!(row[0] + row[1], *target);
        }
        assert_eq!(sum_of_first_two(5, 1), sum_of_first_two(5, 1));

        let (x, y) = next_number();
        assert_eq!(x.slice(s![0, .., 0]), arr1(&[0.01, 0.02, 0.03]));
        assert_eq!(y.column(0), arr1(&[0.04, 0.05, 0.06, 0.07]));

        let (x, y) = copy_task(3, 5, 2);
        assert_eq!(x, y);
        let (x, y) = reverse_task(3, 5, 2);
        assert_eq!(x[[1, 0, 0]], y[[1, 4, 0]]);
        assert!(
            y.is_standard_layout(),
            "reshapes of the target must just work"
        );

        let (x, y) = look_ahead_task(2, 4, 5);
        assert_eq!(y[[1, 2, 0]], x[[1, 3, 0]]);
        assert_eq!(y[[1, 3, 0]], 0.0);

        let (x, y) = alternating_bits(6, 4, 3);
        for k in 0..6 {
            assert_ne!(x[[k, 0, 0]], x[[k, 1, 0]]);
            assert_eq!(y[[k, 0]], 1.0 - x[[k, 3, 0]]);
        }

        let bank = sine_bank(3, 500, 1);
        assert_eq!(bank.dim(), (3, 500));
        let residual = (bank[[2, 100]] - ((0.07f32 * 100.0) + 2.0).sin()).abs();
        assert!(residual < 0.5, "a sine plus small noise: {residual}");

        let (t, series) = noisy_sine(200, 42);
        assert_eq!(t.len(), 200);
        assert_eq!(t[199], 20.0);
        let noise: Vec<f32> = t.iter().zip(&series).map(|(t, s)| s - t.sin()).collect();
        let std = (noise.iter().map(|n| n * n).sum::<f32>() / 200.0).sqrt();
        assert!(
            (0.07..0.13).contains(&std),
            "noise std {std} should be about 0.1"
        );
    }
}
