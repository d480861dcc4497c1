//! The LSTM layer's forward and backward pass (one batch: T = 30 steps, one feature, batch 32)
//! at the throughput table's sizes and the tutorial's LSTM(50). `cargo bench -p lstm-core`.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use lstm_core::init::seeded_rng;
use lstm_core::layers::Layer;
use lstm_core::ndarray::{Array1, Array3, ArrayD};
use lstm_core::{Adam, Dense, Loss, Lstm, Sequential};

const TIMESTEPS: usize = 30;
const BATCH: usize = 32;

/// One batch of one-feature windows.
fn windows() -> ArrayD<f32> {
    Array3::from_shape_fn((BATCH, TIMESTEPS, 1), |(b, t, _)| {
        ((b * 31 + t) % 17) as f32 / 17.0
    })
    .into_dyn()
}

fn built(hidden: usize) -> (Lstm, ArrayD<f32>) {
    let mut lstm = Lstm::new(hidden);
    lstm.build(&[TIMESTEPS, 1], &mut seeded_rng(1))
        .expect("valid layer");
    (lstm, windows())
}

/// FLOPs of one pass: the forward is a third of the 24·H·(I+H)·T·B of a training step.
fn forward_flops(hidden: usize) -> u64 {
    (8 * hidden * (1 + hidden) * TIMESTEPS * BATCH) as u64
}

fn lstm_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("lstm");
    for hidden in [32usize, 50, 128, 512] {
        if hidden >= 512 {
            group.sample_size(20);
        }
        let (mut lstm, x) = built(hidden);
        let mut rng = seeded_rng(2);
        group.throughput(Throughput::Elements(forward_flops(hidden)));
        group.bench_with_input(BenchmarkId::new("forward", hidden), &x, |b, x| {
            b.iter(|| black_box(lstm.forward(x, true, &mut rng).expect("forward")))
        });
        let out = lstm.forward(&x, true, &mut rng).expect("forward");
        let grad = out.mapv(|v| v * 0.1);
        group.throughput(Throughput::Elements(2 * forward_flops(hidden)));
        group.bench_with_input(BenchmarkId::new("backward", hidden), &grad, |b, g| {
            b.iter(|| black_box(lstm.backward(g).expect("backward")))
        });
    }
    group.finish();
}

/// A whole training step of LSTM(H) + Dense(1) with Adam: forward, loss, backward, update.
fn train_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("train_step");
    for hidden in [32usize, 50, 128, 512] {
        if hidden >= 512 {
            group.sample_size(20);
        }
        let x = windows();
        let y = Array1::from_shape_fn(BATCH, |b| (b % 5) as f32 / 5.0);
        let mut model = Sequential::with_seed(&[TIMESTEPS, 1], 1);
        model.add(Lstm::new(hidden)).expect("valid layer");
        model.add(Dense::new(1)).expect("valid layer");
        model
            .compile(Adam::default(), Loss::MeanSquaredError)
            .expect("valid optimizer");
        group.throughput(Throughput::Elements(3 * forward_flops(hidden)));
        group.bench_function(BenchmarkId::from_parameter(hidden), |b| {
            b.iter(|| black_box(model.train_on_batch(&x, &y).expect("train step")))
        });
    }
    group.finish();
}

criterion_group!(benches, lstm_step, train_step);
criterion_main!(benches);
