//! Train/test splits: random (scikit-learn's `train_test_split`) and chronological.

use ndarray::{Array, ArrayBase, Axis, Data, Dimension, RemoveAxis};
use ndarray_rand::rand::seq::SliceRandom;

use crate::check::{decimal_f64, fmt_shape};
use crate::error::{LstmError, Result};
use crate::math::init::seeded_rng;

/// Inputs and targets split in two along the sample axis.
#[derive(Debug, Clone, PartialEq)]
pub struct Split<DX: Dimension, DY: Dimension> {
    /// Training inputs.
    pub x_train: Array<f32, DX>,
    /// Held-out inputs.
    pub x_test: Array<f32, DX>,
    /// Training targets.
    pub y_train: Array<f32, DY>,
    /// Held-out targets.
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
