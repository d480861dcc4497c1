//! The tutorial's datasets: next number, sum of two, copy, reverse, look-ahead, alternating bits,
//! recall at a distance, the noisy sine, synthetic temperatures and a bank of long sines.

use ndarray::{Array1, Array2, Array3, s};
use ndarray_rand::rand::Rng;
use ndarray_rand::rand_distr::{Distribution, Normal};

use crate::math::init::seeded_rng;

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

/// Copy task, the extension to whole sequences: random digits `d/10` (d in 0..10) as
/// `(n, timesteps, 1)`; the target is the same sequence. (The tutorial's own is [`tutorial_copy`].)
pub fn copy_task(n: usize, timesteps: usize, seed: u64) -> (Array3<f32>, Array3<f32>) {
    let x = random_digits(n, timesteps, seed);
    (x.clone(), x)
}

/// The tutorial's copy task as the tutorial defines it: `[A, B, C, 0] → A`. Three digits (as
/// tenths) and a 0 that asks for the answer; the target is the first digit, seen three steps
/// before the end. Every one of the 1,000 digit triples appears once, in order, so a random
/// split of these rows never puts a training sequence in the held-out part.
/// Returns `X: (1000, 4, 1)` and `y: (1000,)`.
pub fn tutorial_copy() -> (Array3<f32>, Array1<f32>) {
    let x = Array3::from_shape_fn((1000, 4, 1), |(k, t, _)| match t {
        3 => 0.0,
        _ => digit_of(k, t),
    });
    let y = Array1::from_shape_fn(1000, |k| digit_of(k, 0));
    (x, y)
}

/// The tutorial's reverse task as the tutorial defines it: `[A, B, C] → C`, the first value of
/// the sequence read backwards. Every one of the 1,000 digit triples once, in order.
/// Returns `X: (1000, 3, 1)` and `y: (1000,)`.
pub fn tutorial_reverse() -> (Array3<f32>, Array1<f32>) {
    let x = Array3::from_shape_fn((1000, 3, 1), |(k, t, _)| digit_of(k, t));
    let y = Array1::from_shape_fn(1000, |k| digit_of(k, 2));
    (x, y)
}

/// Digit `t` (of three, most significant first) of the row number `k`, as a tenth.
fn digit_of(k: usize, t: usize) -> f32 {
    ((k / 10usize.pow(2 - t as u32)) % 10) as f32 / 10.0
}

/// Delayed recall: random digits `d/10` as `(n, timesteps, 1)`; the target at step `t` is the
/// input of step `t − delay` (0 for the first `delay` steps). Delay 0 is [`copy_task`]; a delay of
/// `k` needs a memory of `k` steps.
pub fn delayed_recall(
    n: usize,
    timesteps: usize,
    delay: usize,
    seed: u64,
) -> (Array3<f32>, Array3<f32>) {
    let x = random_digits(n, timesteps, seed);
    let mut y = Array3::zeros((n, timesteps, 1));
    if delay < timesteps {
        y.slice_mut(s![.., delay.., ..])
            .assign(&x.slice(s![.., ..timesteps - delay, ..]));
    }
    (x, y)
}

/// Reverse task, the extension to whole sequences: like [`copy_task`], but the target is the
/// sequence read backwards. (The tutorial's own is [`tutorial_reverse`].)
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

/// The recall task, for "Why LSTM": each sequence has `distance + 1` steps of two features,
/// `[value, marker]`. Step 0 carries the marker 1 and a value of ±(0.5..1); every later step
/// carries marker 0 and a distracting value uniform in `[-1, 1]`. The target is the class of the
/// marked value (1 if positive, else 0), to be told `distance` steps after it was seen.
/// Returns `X: (n, distance + 1, 2)` and `y: (n,)`, about half of each class.
pub fn recall_task(n: usize, distance: usize, seed: u64) -> (Array3<f32>, Array1<f32>) {
    let mut rng = seeded_rng(seed);
    let mut x = Array3::zeros((n, distance + 1, 2));
    let mut y = Array1::zeros(n);
    for k in 0..n {
        let positive = rng.random_bool(0.5);
        let magnitude = rng.random_range(0.5f32..1.0);
        x[[k, 0, 0]] = if positive { magnitude } else { -magnitude };
        x[[k, 0, 1]] = 1.0;
        for t in 1..=distance {
            x[[k, t, 0]] = rng.random_range(-1.0f32..1.0);
        }
        y[k] = positive as u8 as f32;
    }
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
