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

/// How many samples of `held_out` also occur, value for value, in `train` (samples are the
/// first axis). A held-out score means something only when this is 0: a model can recite a
/// sequence it trained on. An error if the two disagree on a sample's shape.
pub fn shared_sequences<S1, S2, D>(
    train: &ArrayBase<S1, D>,
    held_out: &ArrayBase<S2, D>,
) -> Result<usize>
where
    S1: Data<Elem = f32>,
    S2: Data<Elem = f32>,
    D: RemoveAxis,
{
    same_sample_shape("shared_sequences", train.shape(), held_out.shape())?;
    let seen = sample_keys(train);
    Ok(held_out
        .axis_iter(Axis(0))
        .filter(|s| seen.contains(&sample_key(s.iter())))
        .count())
}

/// `x` and `y` without the samples whose input also occurs in `train`: a held-out set drawn
/// at random can repeat a training sequence when the sequences are short (five digits have only
/// 100,000 patterns). The samples kept stay in order.
pub fn drop_shared<S, DX, DY>(
    train: &ArrayBase<S, DX>,
    x: &Array<f32, DX>,
    y: &Array<f32, DY>,
) -> Result<(Array<f32, DX>, Array<f32, DY>)>
where
    S: Data<Elem = f32>,
    DX: RemoveAxis,
    DY: RemoveAxis,
{
    same_sample_shape("drop_shared", train.shape(), x.shape())?;
    if x.shape()[0] != y.shape()[0] {
        return Err(LstmError::Shape {
            context: "drop_shared: targets".into(),
            expected: format!("one target per input sample ({})", x.shape()[0]),
            got: fmt_shape(y.shape()),
        });
    }
    let seen = sample_keys(train);
    let keep: Vec<usize> = x
        .axis_iter(Axis(0))
        .enumerate()
        .filter(|(_, s)| !seen.contains(&sample_key(s.iter())))
        .map(|(k, _)| k)
        .collect();
    Ok((x.select(Axis(0), &keep), y.select(Axis(0), &keep)))
}

/// Refuses held-out samples shaped unlike the training ones (the batch axis aside).
fn same_sample_shape(context: &str, train: &[usize], held_out: &[usize]) -> Result<()> {
    if train[1..] != held_out[1..] {
        return Err(LstmError::Shape {
            context: format!("{context}: held-out samples"),
            expected: crate::check::batch_shape(&train[1..]),
            got: fmt_shape(held_out),
        });
    }
    Ok(())
}

/// A sample's values as bit patterns, with -0.0 and 0.0 counted as one value.
fn sample_key<'a>(values: impl Iterator<Item = &'a f32>) -> Vec<u32> {
    values.map(|v| (v + 0.0).to_bits()).collect()
}

fn sample_keys<S, D>(a: &ArrayBase<S, D>) -> std::collections::HashSet<Vec<u32>>
where
    S: Data<Elem = f32>,
    D: RemoveAxis,
{
    a.axis_iter(Axis(0)).map(|s| sample_key(s.iter())).collect()
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
