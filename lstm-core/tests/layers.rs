//! The invariant every layer keeps (see the `Layer` trait): `params()` and `weights()` list the
//! same tensors in the same order, so gradients, optimizer steps and saved files line up.

use lstm_core::prelude::*;
use lstm_core::{Layer, MergeMode};

fn check(name: &str, mut layer: Box<dyn Layer>, input: &[usize]) {
    layer
        .build(input, &mut lstm_core::init::seeded_rng(7))
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
    let mut layer = config.to_layer();
    layer
        .build(&[3, 1], &mut lstm_core::init::seeded_rng(1))
        .unwrap();
    assert_eq!(layer.weights()[0].name, "forward_lstm/kernel");
    assert!(Lstm::new(3).settings().units == 3 && !Lstm::new(3).settings().go_backwards);
}
