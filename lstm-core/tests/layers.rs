//! The invariant every layer keeps (see the `Layer` trait): `params()` and `weights()` list the
//! same tensors in the same order, so gradients, optimizer steps and saved files line up.

use lstm_core::prelude::*;
use lstm_core::{Layer, MergeMode};

fn check(name: &str, mut layer: Box<dyn Layer>, input: &[usize]) {
    layer
        .build(input, &mut lstm_core::math::init::seeded_rng(7))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let weights: Vec<Vec<f32>> = layer
        .weights()
        .into_iter()
        .map(|w| w.value.iter().copied().collect())
        .collect();
    let params: Vec<Vec<f32>> = layer
        .params()
        .into_iter()
        .map(|p| p.value.to_vec())
        .collect();
    assert_eq!(params, weights, "{name}: params() and weights() disagree");
    assert_eq!(
        layer.param_count(),
        weights.iter().map(Vec::len).sum::<usize>(),
        "{name}"
    );
    // set_weights takes back exactly what weights gives, and params see the change.
    let doubled: Vec<ndarray::ArrayD<f32>> =
        layer.weights().into_iter().map(|w| w.value * 2.0).collect();
    layer.set_weights(&doubled).unwrap();
    let params: Vec<Vec<f32>> = layer
        .params()
        .into_iter()
        .map(|p| p.value.to_vec())
        .collect();
    let expected: Vec<Vec<f32>> = doubled
        .iter()
        .map(|w| w.iter().copied().collect())
        .collect();
    assert_eq!(params, expected, "{name}: set_weights then params");
}

#[test]
fn params_and_weights_list_the_same_tensors_in_every_layer_kind() {
    check("LSTM", Box::new(Lstm::new(3)), &[4, 2]);
    check(
        "LSTM without bias",
        Box::new(Lstm::new(3).use_bias(false)),
        &[4, 2],
    );
    check("GRU", Box::new(Gru::new(3)), &[4, 2]);
    check(
        "GRU without bias",
        Box::new(Gru::new(3).use_bias(false)),
        &[4, 2],
    );
    check("SimpleRNN", Box::new(SimpleRnn::new(3)), &[4, 2]);
    check(
        "SimpleRNN without bias",
        Box::new(SimpleRnn::new(3).use_bias(false)),
        &[4, 2],
    );
    check(
        "Bidirectional GRU",
        Box::new(Bidirectional::new(Gru::new(2))),
        &[4, 2],
    );
    check(
        "Bidirectional SimpleRNN",
        Box::new(Bidirectional::new(SimpleRnn::new(2))),
        &[4, 2],
    );
    check("Dense", Box::new(Dense::new(2)), &[5]);
    check(
        "Dense without bias",
        Box::new(Dense::new(2).use_bias(false)),
        &[5],
    );
    check("Dropout", Box::new(Dropout::new(0.3)), &[5]);
    check(
        "TimeDistributed",
        Box::new(TimeDistributed::new(Dense::new(2))),
        &[4, 3],
    );
    for mode in [
        MergeMode::Concat,
        MergeMode::Sum,
        MergeMode::Mul,
        MergeMode::Ave,
    ] {
        check(
            &format!("Bidirectional {mode:?}"),
            Box::new(Bidirectional::new(Lstm::new(3)).merge_mode(mode)),
            &[4, 2],
        );
    }
}

/// Model files store each layer's settings under its Keras class name; the format is unchanged
/// by how the settings are held in Rust (files saved by earlier versions still load).
#[test]
fn saved_layer_settings_keep_their_format() {
    let dense = Dense::new(2).activation(Activation::Relu).config();
    assert_eq!(
        serde_json::to_value(&dense).unwrap(),
        serde_json::json!({"class": "Dense", "units": 2, "activation": "relu", "use_bias": true})
    );
    let wrapped = TimeDistributed::new(Dense::new(1)).config();
    assert_eq!(
        serde_json::to_value(&wrapped).unwrap(),
        serde_json::json!({"class": "TimeDistributed", "units": 1, "activation": "linear", "use_bias": true})
    );
    let lstm = Lstm::new(3).return_sequences(true).config();
    assert_eq!(serde_json::to_value(&lstm).unwrap()["class"], "LSTM");
    let gru = serde_json::to_value(Gru::new(3).config()).unwrap();
    assert_eq!(gru["class"], "GRU");
    assert_eq!(gru["units"], 3);
    let rnn = serde_json::to_value(SimpleRnn::new(2).config()).unwrap();
    assert_eq!(rnn["class"], "SimpleRNN");
    let bi = serde_json::to_value(Bidirectional::new(Gru::new(2)).config()).unwrap();
    assert_eq!(bi["cell"], "GRU");
    // A Bidirectional saved before GRU existed has no "cell": it is an LSTM.
    let old = serde_json::json!({
        "class": "Bidirectional",
        "layer": {"units": 2, "activation": "tanh", "use_bias": true, "return_sequences": false,
                  "go_backwards": false, "stateful": false, "dropout": 0.0},
        "merge_mode": "concat"
    });
    let config: lstm_core::layers::LayerConfig = serde_json::from_value(old).unwrap();
    let mut layer = config.to_layer().unwrap();
    layer
        .build(&[3, 1], &mut lstm_core::math::init::seeded_rng(1))
        .unwrap();
    assert_eq!(layer.weights()[0].name, "forward_lstm/kernel");
    assert!(Lstm::new(3).settings().units == 3 && !Lstm::new(3).settings().go_backwards);
}

/// The GRU gate by gate, with the teaching functions of `gru`, gives the `Gru` layer's bits:
/// what a learner computes by hand is what the layer runs (notebook 03).
#[test]
fn gru_by_hand_is_the_gru_layer_bit_for_bit() {
    use lstm_core::math::gru::{self, Block};
    use ndarray::{Array2, Axis, array};
    let (x, h_prev) = (array![[0.4f32, 0.5]], array![[0.1f32, 0.2, 0.3]]);
    let kernel = Array2::from_shape_fn((2, 9), |(r, k)| ((r * 9 + k) % 7) as f32 * 0.1 - 0.3);
    let recurrent = Array2::from_shape_fn((3, 9), |(r, k)| ((r * 5 + k) % 9) as f32 * 0.05 - 0.2);
    let bias = Array2::from_shape_fn((2, 9), |(r, k)| (r as f32 - 0.5) * 0.1 + k as f32 * 0.01);
    let proj = |b| {
        gru::projections(
            x.view(),
            h_prev.view(),
            kernel.view(),
            recurrent.view(),
            bias.view(),
            b,
        )
        .unwrap()
    };
    let ((xz, hz), (xr, hr), (xh, hh)) = (
        proj(Block::Update),
        proj(Block::Reset),
        proj(Block::Candidate),
    );
    let z = gru::update_gate(xz.view(), hz.view()).unwrap();
    let r = gru::reset_gate(xr.view(), hr.view()).unwrap();
    let candidate = gru::candidate(xh.view(), r.view(), hh.view(), Activation::Tanh).unwrap();
    let h = gru::interpolate(z.view(), h_prev.view(), candidate.view()).unwrap();

    let whole = gru::step(
        x.view(),
        h_prev.view(),
        kernel.view(),
        recurrent.view(),
        bias.view(),
        Activation::Tanh,
    )
    .unwrap();
    assert_eq!(
        (&whole.z, &whole.r, &whole.candidate, &whole.h),
        (&z, &r, &candidate, &h)
    );

    let mut layer = Gru::new(3);
    layer
        .build(&[1, 2], &mut lstm_core::math::init::seeded_rng(0))
        .unwrap();
    layer
        .set_weights(&[
            kernel.clone().into_dyn(),
            recurrent.clone().into_dyn(),
            bias.clone().into_dyn(),
        ])
        .unwrap();
    let out = layer
        .call_with_initial_state(&x.clone().insert_axis(Axis(1)), Some(&h_prev))
        .unwrap();
    assert_eq!(out.h, h, "the layer's h_t, bit for bit");
    // A mistake a learner could make: the reset gate before the product's bias (Keras 2).
    let wrong = ((&xh + &(&r * &(&hh - &bias.slice(ndarray::s![1, 6..9]))))
        + bias.slice(ndarray::s![1, 6..9]))
    .mapv(f32::tanh);
    assert_ne!(wrong, candidate);
}

/// `h_t = tanh(x_t·W + h_{t-1}·U + b)` by hand, step by step, is the `SimpleRnn` layer's output
/// to float rounding (notebook 02).
#[test]
fn simple_rnn_by_hand_matches_the_layer() {
    use ndarray::{Array2, Array3, s};
    let (w, u, b) = (
        Array2::from_shape_fn((2, 4), |(r, k)| (r as f32 - 0.5) * 0.3 + k as f32 * 0.05),
        Array2::from_shape_fn((4, 4), |(r, k)| if r == k { 0.5 } else { 0.1 }),
        ndarray::Array1::from_shape_fn(4, |k| k as f32 * 0.02),
    );
    let x = Array3::from_shape_fn((2, 5, 2), |(n, t, f)| {
        ((n * 7 + t * 3 + f) % 5) as f32 * 0.2 - 0.4
    });
    let mut h = Array2::<f32>::zeros((2, 4));
    for t in 0..5 {
        let x_t: Array2<f32> = x.slice(s![.., t, ..]).to_owned();
        h = (x_t.dot(&w) + h.dot(&u) + &b).mapv(f32::tanh);
    }
    let mut layer = SimpleRnn::new(4);
    layer
        .build(&[5, 2], &mut lstm_core::math::init::seeded_rng(0))
        .unwrap();
    layer
        .set_weights(&[w.into_dyn(), u.into_dyn(), b.into_dyn()])
        .unwrap();
    let out = layer.call(&x).unwrap();
    let worst = (&out.h - &h).iter().fold(0.0f32, |m, d| m.max(d.abs()));
    assert!(worst < 1e-6, "largest difference {worst}");
    assert!(
        h.iter().any(|v| v.abs() > 0.1),
        "a test with something in it"
    );
}
