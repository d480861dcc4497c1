//! Sequential: determinism, Keras fit semantics, stateful layers, early stopping, and every error
//! path (a clear message, no panic, the model unchanged).

use lstm_core::prelude::*;
use lstm_core::{EarlyStopping, LstmError, Optimizer};
use ndarray::{ArrayD, IxDyn};

fn regression_model(seed: u64) -> Sequential {
    let mut model = Sequential::with_seed(&[3, 1], seed);
    model.add(Lstm::new(8).dropout(0.1)).unwrap();
    model.add(Dropout::new(0.2)).unwrap();
    model.add(Dense::new(1)).unwrap();
    model
        .compile(Adam::new(0.01), Loss::MeanSquaredError)
        .unwrap();
    model
}

/// LSTM(units) + Dense(1) on the sum task's (3, 1) windows, mean squared error.
fn lstm_dense(seed: u64, units: usize, optimizer: impl Optimizer + 'static) -> Sequential {
    let mut model = Sequential::with_seed(&[3, 1], seed);
    model.add(Lstm::new(units)).unwrap();
    model.add(Dense::new(1)).unwrap();
    model.compile(optimizer, Loss::MeanSquaredError).unwrap();
    model
}

fn sum_data() -> (Array3<f32>, Array1<f32>) {
    let (x, y) = data::sum_of_first_two(64, 5);
    (data::to_sequences(&(x / 100.0), 1).unwrap(), y / 200.0)
}

#[test]
fn same_seed_gives_bit_identical_training() {
    let (x, y) = sum_data();
    let config = FitConfig::new()
        .epochs(3)
        .batch_size(8)
        .validation_split(0.25)
        .verbose(0);
    let (mut a, mut b) = (regression_model(7), regression_model(7));
    let (ha, hb) = (
        a.fit(&x, &y, &config).unwrap(),
        b.fit(&x, &y, &config).unwrap(),
    );
    assert_eq!(ha, hb);
    assert_eq!(a.get_weights(), b.get_weights());
    let mut c = regression_model(8);
    c.fit(&x, &y, &config).unwrap();
    assert_ne!(
        a.get_weights(),
        c.get_weights(),
        "another seed, other weights"
    );
}

#[test]
fn fit_learns_the_sum_task() {
    let (x, y) = sum_data();
    let mut model = lstm_dense(1, 8, Adam::new(0.01));
    let history = model
        .fit(
            &x,
            &y,
            &FitConfig::new().epochs(60).batch_size(16).verbose(0),
        )
        .unwrap();
    assert_eq!(history.epochs(), 60);
    let (first, last) = (history.loss[0], history.final_loss().unwrap());
    assert!(last < first / 20.0, "loss {first} -> {last}");
}

#[test]
fn validation_split_takes_the_last_samples_before_shuffling() {
    let (x, y) = sum_data();
    // 64 samples, split 0.25: the first floor(64·0.75) = 48 train, the last 16 validate.
    let split = FitConfig::new()
        .epochs(2)
        .batch_size(8)
        .validation_split(0.25)
        .verbose(0);
    let explicit = FitConfig::new()
        .epochs(2)
        .batch_size(8)
        .verbose(0)
        .validation_data(&x.slice(s![48.., .., ..]), &y.slice(s![48..]));
    let mut a = regression_model(3);
    let mut b = regression_model(3);
    let ha = a.fit(&x, &y, &split).unwrap();
    let hb = b
        .fit(&x.slice(s![..48, .., ..]), &y.slice(s![..48]), &explicit)
        .unwrap();
    assert_eq!(ha, hb);
    assert_eq!(ha.val_loss.len(), 2);
}

#[test]
fn epoch_loss_is_the_batch_size_weighted_mean_of_batch_losses() {
    let (x, y) = sum_data();
    let x = x.slice(s![..10, .., ..]).to_owned();
    let y = y.slice(s![..10]).to_owned();
    let build = || lstm_dense(4, 4, Adam::new(0.05));
    let mut fitted = build();
    let history = fitted
        .fit(
            &x,
            &y,
            &FitConfig::new().batch_size(4).shuffle(false).verbose(0),
        )
        .unwrap();
    let mut manual = build();
    let mut total = 0.0;
    for (start, end) in [(0, 4), (4, 8), (8, 10)] {
        let loss = manual
            .train_on_batch(&x.slice(s![start..end, .., ..]), &y.slice(s![start..end]))
            .unwrap();
        total += loss * (end - start) as f32;
    }
    assert!((history.loss[0] - total / 10.0).abs() < 1e-6);
    assert_eq!(
        fitted.get_weights(),
        manual.get_weights(),
        "the partial last batch gets its own step"
    );
}

#[test]
fn stateful_lstm_carries_state_until_reset() {
    let x = Array3::from_shape_fn((2, 6, 1), |(b, t, _)| {
        (b as f32 + 1.0) * (t as f32 * 0.3).sin()
    });
    let mut whole = Lstm::new(3).seed(9);
    let full = whole.call(&x).unwrap();
    let mut chunked = Lstm::new(3).seed(9).stateful(true);
    chunked.call(&x.slice(s![.., ..3, ..]).to_owned()).unwrap();
    let second = chunked.call(&x.slice(s![.., 3.., ..]).to_owned()).unwrap();
    assert!(
        (&second.h - &full.h).iter().all(|d| d.abs() < 1e-6),
        "two chunks with carried state = one pass"
    );
    // A different batch size is refused while state is carried, then accepted after a reset.
    let err = chunked
        .call(&x.slice(s![..1, .., ..]).to_owned())
        .unwrap_err();
    assert!(err.to_string().contains("batch of 2"), "{err}");
    chunked.reset_states();
    let fresh = chunked.call(&x.slice(s![.., 3.., ..]).to_owned()).unwrap();
    assert_ne!(fresh.h, second.h);
}

#[test]
fn return_state_gives_the_last_step_and_the_cell_state() {
    let x = Array3::from_shape_fn((2, 3, 1), |(b, t, _)| 0.1 * (b * 3 + t + 1) as f32);
    let mut lstm = Lstm::new(5).return_sequences(true).return_state(true);
    let out = lstm.call(&x).unwrap();
    assert_eq!(out.output.shape(), &[2, 3, 5]);
    assert_eq!(out.output.slice(s![.., 2, ..]), out.h);
    let mut model = Sequential::new(&[3, 1]);
    let err = model.add(Lstm::new(5).return_state(true)).unwrap_err();
    assert!(err.to_string().contains("return_state"), "{err}");
}

#[test]
fn early_stopping_stops_and_restores_the_best_weights() {
    let (x, y) = sum_data();
    // A learning rate this high makes validation loss bounce, so patience runs out.
    let mut model = lstm_dense(2, 4, Sgd::new(0.5));
    let stopper = EarlyStopping::new().patience(2).restore_best_weights(true);
    let config = FitConfig::new()
        .epochs(200)
        .batch_size(8)
        .validation_split(0.25)
        .verbose(0)
        .early_stopping(stopper);
    let history = model.fit(&x, &y, &config).unwrap();
    let stopped = history.stopped_epoch.expect("stopped early");
    assert!(stopped < 200);
    let best = history
        .val_loss
        .iter()
        .cloned()
        .fold(f32::INFINITY, f32::min);
    let now = model
        .evaluate(&x.slice(s![48.., .., ..]), &y.slice(s![48..]))
        .unwrap()
        .loss;
    assert!(
        (now - best).abs() < 1e-6,
        "restored val loss {now} vs best {best}"
    );
}

#[test]
fn softmax_classifier_learns_with_accuracy_metric() {
    // Alternating bits: predict the next bit as one of two classes.
    let (x, y) = data::alternating_bits(64, 5, 1);
    let mut model = Sequential::with_seed(&[5, 1], 3);
    model.add(Lstm::new(6)).unwrap();
    model
        .add(Dense::new(2).activation(Activation::Softmax))
        .unwrap();
    model
        .compile_with_metrics(
            Adam::new(0.05),
            Loss::SparseCategoricalCrossentropy,
            &[Metric::Accuracy],
        )
        .unwrap();
    let history = model
        .fit(
            &x,
            &y,
            &FitConfig::new().epochs(30).batch_size(16).verbose(0),
        )
        .unwrap();
    assert_eq!(history.series("accuracy").unwrap().len(), 30);
    let eval = model.evaluate(&x, &y).unwrap();
    assert_eq!(eval.metric("accuracy"), Some(1.0));
}

#[test]
fn sequence_to_sequence_with_time_distributed() {
    let (x, y) = data::copy_task(64, 4, 2);
    let mut model = Sequential::with_seed(&[4, 1], 1);
    model.add(Lstm::new(16).return_sequences(true)).unwrap();
    model.add(TimeDistributed::new(Dense::new(1))).unwrap();
    model
        .compile(Adam::new(0.02), Loss::MeanSquaredError)
        .unwrap();
    assert_eq!(model.output_shape(), vec![4, 1]);
    let history = model
        .fit(
            &x,
            &y,
            &FitConfig::new().epochs(40).batch_size(16).verbose(0),
        )
        .unwrap();
    assert!(history.final_loss().unwrap() < history.loss[0] / 10.0);
    assert_eq!(model.predict(&x).unwrap().shape(), &[64, 4, 1]);
}

fn assert_unchanged(model: &Sequential, before: &[ArrayD<f32>]) {
    assert_eq!(
        model.get_weights(),
        before,
        "a failed call must not change the model"
    );
}

#[test]
fn bad_input_gives_clear_errors_and_leaves_the_model_unchanged() {
    let mut model = regression_model(1);
    let before = model.get_weights();
    let x = Array3::<f32>::zeros((4, 3, 1));
    let y = Array1::<f32>::zeros(4);

    let err = model.predict(&Array2::<f32>::zeros((4, 3))).unwrap_err();
    assert_eq!(
        err.to_string(),
        "predict: input x: expected shape (None, 3, 1), got (4, 3)"
    );
    let err = model.predict(&Array3::<f32>::zeros((4, 5, 1))).unwrap_err();
    assert!(
        err.to_string()
            .contains("expected shape (None, 3, 1), got (4, 5, 1)"),
        "{err}"
    );
    let err = model.predict(&Array3::<f32>::zeros((4, 3, 2))).unwrap_err();
    assert!(err.to_string().contains("got (4, 3, 2)"), "{err}");
    let err = model.predict(&Array3::<f32>::zeros((0, 3, 1))).unwrap_err();
    assert!(matches!(err, LstmError::Empty { .. }), "{err}");

    let err = model
        .fit(&x, &Array1::<f32>::zeros(3), &FitConfig::new())
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("expected 4 targets, got y of shape (3,)"),
        "{err}"
    );
    let err = model
        .fit(&x, &Array2::<f32>::zeros((4, 2)), &FitConfig::new())
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("expected shape (4, 1), got (4, 2)"),
        "{err}"
    );

    let mut nan_x = x.clone();
    nan_x[[2, 1, 0]] = f32::NAN;
    let err = model.fit(&nan_x, &y, &FitConfig::new()).unwrap_err();
    assert!(
        err.to_string().contains("found NaN at index [2, 1, 0]"),
        "{err}"
    );
    let mut inf_y = y.clone();
    inf_y[3] = f32::INFINITY;
    let err = model.fit(&x, &inf_y, &FitConfig::new()).unwrap_err();
    assert!(err.to_string().contains("found inf at index [3]"), "{err}");

    let err = model
        .fit(&x, &y, &FitConfig::new().batch_size(0))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid batch_size: expected at least 1, got 0"
    );
    let err = model
        .fit(&x, &y, &FitConfig::new().validation_split(1.0))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("validation_split: expected a fraction in [0, 1), got 1"),
        "{err}"
    );
    let err = model
        .fit(&x, &y, &FitConfig::new().validation_split(0.9))
        .unwrap_err();
    assert!(
        err.to_string().contains("leaves at least one sample"),
        "{err}"
    );

    let err = model
        .compile(Adam::new(0.0), Loss::MeanSquaredError)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid learning_rate: expected a positive finite number, got 0"
    );
    let err = model
        .compile(Sgd::new(-0.1), Loss::MeanSquaredError)
        .unwrap_err();
    assert!(err.to_string().contains("got -0.1"), "{err}");
    let err = model
        .compile(Adam::default(), Loss::CategoricalCrossentropy)
        .unwrap_err();
    assert!(err.to_string().contains("one unit per class"), "{err}");

    let err = model.set_weights(&before[..2]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Sequential::set_weights: expected 5 weight arrays, got 2"
    );
    let mut wrong = before.clone();
    wrong[0] = ArrayD::zeros(IxDyn(&[2, 32]));
    let err = model.set_weights(&wrong).unwrap_err();
    assert!(
        err.to_string()
            .contains("LSTM.set_weights: kernel: expected shape (1, 32), got (2, 32)"),
        "{err}"
    );
    assert_unchanged(&model, &before);

    let mut uncompiled = Sequential::new(&[3, 1]);
    uncompiled.add(Lstm::new(2)).unwrap();
    let err = uncompiled.fit(&x, &y, &FitConfig::new()).unwrap_err();
    assert!(err.to_string().contains("must be compiled first"), "{err}");
}

#[test]
fn layer_settings_are_checked_when_added() {
    let mut model = Sequential::new(&[3, 1]);
    let err = model.add(Lstm::new(0)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid LSTM units: expected at least 1, got 0"
    );
    let err = model.add(Lstm::new(4).dropout(1.5)).unwrap_err();
    assert!(
        err.to_string()
            .contains("LSTM dropout: expected a rate in [0, 1), got 1.5"),
        "{err}"
    );
    let err = model
        .add(Lstm::new(4).activation(Activation::Softmax))
        .unwrap_err();
    assert!(err.to_string().contains("tanh or relu"), "{err}");
    model.add(Lstm::new(4)).unwrap();
    let err = model.add(Lstm::new(4)).unwrap_err();
    assert!(
        err.to_string().contains(
            "LSTM input: expected shape (batch, timesteps, features): a 3-D input, got (None, 4)"
        ),
        "{err}"
    );
    let err = model.add(TimeDistributed::new(Dense::new(1))).unwrap_err();
    assert!(err.to_string().contains("TimeDistributed input"), "{err}");
    assert_eq!(model.layers().len(), 1, "refused layers are not added");
}

#[test]
fn divergence_stops_with_the_epoch_and_batch_and_keeps_finite_weights() {
    let (x, y) = sum_data();
    let y = y * 1e30;
    let mut model = lstm_dense(1, 4, Sgd::new(1e10));
    let err = model
        .fit(&x, &y, &FitConfig::new().epochs(5).batch_size(8).verbose(0))
        .unwrap_err();
    let LstmError::Diverged { epoch, batch, .. } = err else {
        panic!("expected Diverged, got {err}")
    };
    assert!(epoch >= 1 && batch >= 1);
    assert!(
        err.to_string().contains("clipnorm"),
        "the message offers gradient clipping: {err}"
    );
    assert!(
        model
            .get_weights()
            .iter()
            .all(|w| w.iter().all(|v| v.is_finite()))
    );
}

#[test]
fn shuffling_once_keeps_one_order_for_every_epoch_as_seeded_keras() {
    use ndarray_rand::rand::seq::SliceRandom;
    let (x, y) = sum_data();
    let build = || lstm_dense(3, 4, Adam::new(0.01));
    let once = FitConfig::new()
        .epochs(3)
        .batch_size(16)
        .reshuffle_each_epoch(false)
        .verbose(0);
    let mut shuffled_once = build();
    // The one order fit draws: the model's RNG after building, shuffling 0..n.
    let mut order: Vec<usize> = (0..x.shape()[0]).collect();
    order.shuffle(&mut shuffled_once.rng().clone());
    let history = shuffled_once.fit(&x, &y, &once).unwrap();

    // The same training on data put in that order once, never shuffled.
    let (px, py) = (
        x.select(ndarray::Axis(0), &order),
        y.select(ndarray::Axis(0), &order),
    );
    let mut in_order = build();
    let fixed = in_order
        .fit(&px, &py, &once.clone().shuffle(false))
        .unwrap();
    assert_eq!(history.loss, fixed.loss);
    assert_eq!(shuffled_once.get_weights(), in_order.get_weights());

    // Reshuffling each epoch (the default) trains on other batches from epoch 2 on.
    let mut reshuffled = build();
    let every = reshuffled
        .fit(&x, &y, &once.clone().reshuffle_each_epoch(true))
        .unwrap();
    assert_eq!(every.loss[0], history.loss[0]);
    assert_ne!(every.loss[1..], history.loss[1..]);
}

/// A stateful layer of each kind carries its states from one call to the next: two halves of a
/// sequence give the same output as the whole sequence at once.
#[test]
fn stateful_recurrent_layers_carry_state_across_batches() {
    let x = Array3::from_shape_fn((2, 6, 3), |(b, t, f)| {
        ((b * 5 + t * 3 + f) % 7) as f32 / 7.0 - 0.3
    });
    let (first, second) = (
        x.slice(s![.., ..3, ..]).to_owned(),
        x.slice(s![.., 3.., ..]).to_owned(),
    );
    fn halves(mut whole: Box<dyn Layer>, mut halves: Box<dyn Layer>, x: [&Array3<f32>; 3]) {
        let mut rng = lstm_core::math::init::seeded_rng(3);
        whole.build(&[6, 3], &mut rng).unwrap();
        halves.build(&[3, 3], &mut rng).unwrap();
        let weights: Vec<_> = whole.weights().into_iter().map(|w| w.value).collect();
        halves.set_weights(&weights).unwrap();
        let all = whole
            .forward(&x[0].clone().into_dyn(), false, &mut rng)
            .unwrap();
        halves
            .forward(&x[1].clone().into_dyn(), false, &mut rng)
            .unwrap();
        let end = halves
            .forward(&x[2].clone().into_dyn(), false, &mut rng)
            .unwrap();
        let diff = (&all - &end).mapv(f32::abs).fold(0.0f32, |m, &v| m.max(v));
        assert!(diff < 1e-6, "{}: {diff}", whole.class_name());
        halves.reset_states();
        let fresh = halves
            .forward(&x[2].clone().into_dyn(), false, &mut rng)
            .unwrap();
        assert_ne!(
            fresh,
            end,
            "{}: reset_states starts from zeros",
            whole.class_name()
        );
    }
    halves(
        Box::new(Lstm::new(4)),
        Box::new(Lstm::new(4).stateful(true)),
        [&x, &first, &second],
    );
    halves(
        Box::new(Gru::new(4)),
        Box::new(Gru::new(4).stateful(true)),
        [&x, &first, &second],
    );
    halves(
        Box::new(SimpleRnn::new(4)),
        Box::new(SimpleRnn::new(4).stateful(true)),
        [&x, &first, &second],
    );
}

/// TensorFlow computes with denormals flushed to zero, and so does the engine: a relu LSTM
/// whose forget gate is σ(-23) ≈ 1.03e-10 shrinks its cell state by that factor each step,
/// and the fourth step's 1.1e-40 (a denormal) is 0 in Keras (values from Keras 3.15).
/// Outside the engine this thread keeps IEEE denormals.
#[test]
fn a_cell_state_below_the_normal_range_is_flushed_to_zero_as_in_keras() {
    let mut model = Sequential::with_seed(&[5, 1], 0);
    model
        .add(
            Lstm::new(1)
                .activation(Activation::Relu)
                .return_sequences(true),
        )
        .unwrap();
    // Gates i, f, c, o: the input opens the cell gate, i and o stay open, f lets 1e-10 through.
    let kernel = ArrayD::from_shape_vec(IxDyn(&[1, 4]), vec![0.0, 0.0, 1.0, 0.0]).unwrap();
    let recurrent = ArrayD::zeros(IxDyn(&[1, 4]));
    let bias = ArrayD::from_shape_vec(IxDyn(&[4]), vec![30.0, -23.0, 0.0, 30.0]).unwrap();
    model.set_weights(&[kernel, recurrent, bias]).unwrap();
    let x = Array3::from_shape_vec((1, 5, 1), vec![1.0, 0.0, 0.0, 0.0, 0.0]).unwrap();
    let h = model.predict(&x).unwrap();
    let keras = [1.0, 1.026_188e-10, 1.053_061_7e-20, 1.080_639_3e-30, 0.0];
    for (t, (&ours, &theirs)) in h.iter().zip(&keras).enumerate() {
        assert!(
            (ours - theirs).abs() <= 1e-6 * theirs,
            "step {t}: ours {ours:e}, Keras {theirs:e}"
        );
    }
    assert_eq!(h[[0, 4, 0]], 0.0);
    let ieee = std::hint::black_box(h[[0, 3, 0]]) * std::hint::black_box(1.026_188e-10_f32);
    assert!(ieee.is_subnormal(), "outside the engine: {ieee:e}");
}

/// Forecasting from many windows at once gives, row by row, what a loop of single predictions
/// gives: each prediction becomes the window's newest value; and `forecast` agrees.
#[test]
fn forecast_windows_feed_each_prediction_back() {
    let mut model = Sequential::with_seed(&[4, 1], 3);
    model.add(Lstm::new(3)).unwrap();
    model.add(Dense::new(1)).unwrap();
    let series: Vec<f32> = (0..12).map(|v| (v as f32 * 0.7).sin()).collect();
    let (x, _) = data::prepare_data(&series, 4).unwrap();
    let x = data::to_sequences(&x, 1).unwrap();
    let batch = model.forecast_windows(&x, 3).unwrap();
    assert_eq!(batch.dim(), (8, 3));
    for k in [0, 5] {
        let mut window = series[k..k + 4].to_vec();
        for h in 0..3 {
            let one = Array3::from_shape_vec((1, 4, 1), window.clone()).unwrap();
            let next = model.predict(&one).unwrap()[[0, 0]];
            assert!((batch[[k, h]] - next).abs() < 1e-6, "window {k}, step {h}");
            window.remove(0);
            window.push(next);
        }
        assert_eq!(
            model.forecast(&series[k..k + 4], 3).unwrap(),
            batch.row(k).to_vec()
        );
    }
    let two = Array3::zeros((2, 4, 2));
    let e = model.forecast_windows(&two, 3).unwrap_err().to_string();
    assert!(e.contains("(2, 4, 2)"), "{e}");
}
