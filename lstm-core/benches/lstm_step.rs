//! The LSTM layer's forward and backward pass (one batch: T = 30 steps, one feature, batch 32)
//! at the throughput table's sizes and the tutorial's LSTM(50). `cargo bench -p lstm-core`.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use lstm_core::engine::packed::{PackedMatrix, Simd};
use lstm_core::layers::Layer;
use lstm_core::math::init::seeded_rng;
use lstm_core::ndarray::linalg::general_mat_mul;
use lstm_core::ndarray::{Array1, Array2, Array3, ArrayD};
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

/// One step's recurrent products at batch 32: `h·U` (`[32, H]·[H, 4H]`) and `dz·Uᵀ`
/// (`[32, 4H]·[4H, H]`), by `general_mat_mul` (packs U on every call) and by the packed kernels.
fn step_product(c: &mut Criterion) {
    let mut group = c.benchmark_group("step_product");
    for hidden in [50usize, 128, 512] {
        let u = Array2::from_shape_fn((hidden, 4 * hidden), |(i, j)| {
            ((i * 7 + j) % 13) as f32 * 0.01
        });
        let h = Array2::from_shape_fn((BATCH, hidden), |(i, j)| ((i + j * 3) % 11) as f32 * 0.1);
        let dz = Array2::from_shape_fn((BATCH, 4 * hidden), |(i, j)| ((i + j) % 5) as f32 * 0.1);
        let mut z = Array2::<f32>::zeros((BATCH, 4 * hidden));
        let mut dh = Array2::<f32>::zeros((BATCH, hidden));
        group.throughput(Throughput::Elements(
            (2 * BATCH * hidden * 4 * hidden) as u64,
        ));
        group.bench_function(BenchmarkId::new("h_U/general_mat_mul", hidden), |b| {
            b.iter(|| general_mat_mul(1.0, &h, &u, 1.0, &mut z))
        });
        group.bench_function(BenchmarkId::new("dz_Ut/general_mat_mul", hidden), |b| {
            b.iter(|| general_mat_mul(1.0, &dz, &u.t(), 0.0, &mut dh))
        });
        let packed = PackedMatrix::new(u.view());
        let packed_t = PackedMatrix::new(u.t());
        for &simd in Simd::available() {
            group.bench_function(
                BenchmarkId::new(format!("h_U/packed_{simd:?}"), hidden),
                |b| b.iter(|| packed.multiply_with(simd, h.view(), z.view_mut(), true)),
            );
            group.bench_function(
                BenchmarkId::new(format!("dz_Ut/packed_{simd:?}"), hidden),
                |b| b.iter(|| packed_t.multiply_with(simd, dz.view(), dh.view_mut(), false)),
            );
        }
    }
    group.finish();
}

criterion_group!(benches, lstm_step, train_step, step_product);
criterion_main!(benches);
