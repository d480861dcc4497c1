//! Build your own cell: a peephole LSTM (Gers & Schmidhuber, 2000; TensorFlow's
//! `PeepholeLSTMCell`), written with nothing but the crate's public extension point. The cell is
//! the type below and its `impl Cell`: its weights, its states, one step forward and one step
//! back, and the gradients of its own weights. `Recurrent<PeepholeCell>` then builds, trains
//! (on both cores), prints a Keras summary, saves and loads (after `register_cell`), writes
//! `.npz` paths, and goes inside `Bidirectional`, like the built-in layers.
//!
//! ```text
//! z   = x_t·W + h_{t-1}·U + b        as the LSTM (the layer computes it)
//! i_t = σ(z_i + p_i ⊙ c_{t-1})       the gates also look at the cell state: the peepholes
//! f_t = σ(z_f + p_f ⊙ c_{t-1})
//! g_t = act(z_g)
//! c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
//! o_t = σ(z_o + p_o ⊙ c_t)           the output gate looks at the new cell state
//! h_t = o_t ⊙ act(c_t)
//! ```

use lstm_core::layers::{
    Cell, History, RecurrentProduct, StepBackward, StepForward, WeightSpec, standard_weights,
};
use lstm_core::math::activation::sigmoid;
use lstm_core::math::init::{Initializer, seeded_rng};
use lstm_core::prelude::*;
use lstm_core::{Recurrent, register_cell};
use ndarray::{ArrayViewD, ArrayViewMutD, Ix1};

#[derive(Debug, Clone, Copy, Default)]
struct PeepholeCell;

/// The layer: every setting and method of `Lstm`, with the peephole cell.
type PeepholeLstm = Recurrent<PeepholeCell>;

/// The peephole weights `p_i, p_f, p_o` (`[u]` each), in declared order.
fn peepholes<'a>(weights: &'a [ArrayViewD<'a, f32>]) -> [ndarray::ArrayView1<'a, f32>; 3] {
    [0, 1, 2].map(|k| weights[k].view().into_dimensionality::<Ix1>().unwrap())
}

impl Cell for PeepholeCell {
    const CLASS: &'static str = "PeepholeLSTM";
    const BASE: &'static str = "peephole_lstm";
    const GATES: usize = 4;
    const STATES: &'static [&'static str] = &["h", "c"];

    fn weights(features: usize, units: usize, use_bias: bool) -> Vec<WeightSpec> {
        let bias = Initializer::UnitForgetBias;
        let mut weights =
            standard_weights(4, RecurrentProduct::Summed, features, units, use_bias, bias);
        // Zero peepholes: the cell starts as the plain LSTM (TensorFlow draws them at random).
        for name in [
            "input_gate_peephole_weights",
            "forget_gate_peephole_weights",
            "output_gate_peephole_weights",
        ] {
            weights.push(WeightSpec {
                name,
                shape: vec![units],
                initializer: Initializer::Zeros,
            });
        }
        weights
    }

    fn step(mut s: StepForward<'_>) {
        let units = s.h.ncols();
        let [p_i, p_f, p_o] = peepholes(s.weights);
        let act = |x: f32| s.activation.apply(x);
        for b in 0..s.h.nrows() {
            for k in 0..units {
                let c_prev = s.c_prev[[b, k]];
                let z = |gate: usize| s.gates[[b, gate * units + k]];
                let i = sigmoid(z(0) + p_i[k] * c_prev);
                let f = sigmoid(z(1) + p_f[k] * c_prev);
                let g = act(z(2));
                let c = f * c_prev + i * g;
                let o = sigmoid(z(3) + p_o[k] * c);
                // What the step back reads: the gate values.
                for (gate, value) in [i, f, g, o].into_iter().enumerate() {
                    s.gates[[b, gate * units + k]] = value;
                }
                s.c[[b, k]] = c;
                s.h[[b, k]] = o * act(c);
            }
        }
    }

    fn step_back(mut s: StepBackward<'_>) {
        let units = s.dh.ncols();
        let [p_i, p_f, p_o] = peepholes(s.weights);
        let act = |x: f32| s.activation.apply(x);
        let act_derivative = |y: f32| s.activation.derivative_from_output(y);
        for b in 0..s.dh.nrows() {
            for k in 0..units {
                let gate = |g: usize| s.gates[[b, g * units + k]];
                let (i, f, g, o) = (gate(0), gate(1), gate(2), gate(3));
                let (c_prev, c) = (s.c_prev[[b, k]], s.c[[b, k]]);
                let (dh, act_c) = (s.dh[[b, k]], act(c));
                // h = o·act(c), o = σ(z_o + p_o·c)
                let dz_o = dh * act_c * o * (1.0 - o);
                let dc = s.dc[[b, k]] + dh * o * act_derivative(act_c) + dz_o * p_o[k];
                // c = f·c_prev + i·g
                let dz_i = dc * g * i * (1.0 - i);
                let dz_f = dc * c_prev * f * (1.0 - f);
                let dz_g = dc * i * act_derivative(g);
                for (gate, d) in [dz_i, dz_f, dz_g, dz_o].into_iter().enumerate() {
                    s.d_gates[[b, gate * units + k]] = d;
                }
                s.dc[[b, k]] = dc * f + dz_i * p_i[k] + dz_f * p_f[k];
                // h_{t-1} reaches h_t only through U, which the layer handles.
                s.dh[[b, k]] = 0.0;
            }
        }
    }

    fn own_weight_gradients(
        history: History<'_>,
        _weights: &[ArrayViewD<'_, f32>],
        gradients: &mut [ArrayViewMutD<'_, f32>],
    ) -> lstm_core::Result<()> {
        // dp_i = Σ dz_i ⊙ c_{t-1}, dp_f = Σ dz_f ⊙ c_{t-1}, dp_o = Σ dz_o ⊙ c_t, over steps and rows.
        let units = history.h.ncols();
        let rows = history.d_gates.nrows();
        for row in 0..rows {
            let c_prev = history.c.row(row);
            let c = history.c.row(row + history.batch);
            for k in 0..units {
                let d = |gate: usize| history.d_gates[[row, gate * units + k]];
                gradients[0][[k]] += d(0) * c_prev[k];
                gradients[1][[k]] += d(1) * c_prev[k];
                gradients[2][[k]] += d(3) * c[k];
            }
        }
        Ok(())
    }
}

fn inputs(batch: usize, timesteps: usize, features: usize) -> Array3<f32> {
    Array3::from_shape_fn((batch, timesteps, features), |(b, t, f)| {
        ((b * 7 + t * 3 + f * 5) % 11) as f32 / 11.0 - 0.45
    })
}

/// A model of the peephole layer and a Dense head, with peepholes set to `p` (all three).
fn model(units: usize, timesteps: usize, features: usize, p: f32) -> Sequential {
    model_with_bias(units, timesteps, features, p, true)
}

/// [`model`], with or without the bias.
fn model_with_bias(
    units: usize,
    timesteps: usize,
    features: usize,
    p: f32,
    use_bias: bool,
) -> Sequential {
    let mut model = Sequential::with_seed(&[timesteps, features], 3);
    model
        .add(PeepholeLstm::new(units).use_bias(use_bias))
        .unwrap();
    model.add(Dense::new(1)).unwrap();
    model
        .compile(Adam::new(0.01), Loss::MeanSquaredError)
        .unwrap();
    let mut weights = model.get_weights();
    let own = if use_bias { 3..6 } else { 2..5 };
    for (k, w) in weights[own].iter_mut().enumerate() {
        let mut v = 0.0;
        w.mapv_inplace(|_| {
            v += 0.1;
            p * (v + k as f32 * 0.05)
        });
    }
    model.set_weights(&weights).unwrap();
    model
}

/// With zero peepholes the cell is the LSTM: same weights, same outputs and gradients.
#[test]
fn with_zero_peepholes_it_is_the_lstm() {
    let (timesteps, features, units) = (5, 2, 4);
    let x = inputs(6, timesteps, features);
    let y = Array2::from_shape_fn((6, 1), |(b, _)| b as f32 / 6.0);
    let mut peephole = model(units, timesteps, features, 0.0);
    let mut lstm = Sequential::with_seed(&[timesteps, features], 3);
    lstm.add(Lstm::new(units)).unwrap();
    lstm.add(Dense::new(1)).unwrap();
    lstm.compile(Adam::new(0.01), Loss::MeanSquaredError)
        .unwrap();
    let weights = peephole.get_weights();
    let lstm_weights: Vec<ArrayD<f32>> = [0, 1, 2, 6, 7].map(|k| weights[k].clone()).into();
    lstm.set_weights(&lstm_weights).unwrap();

    let close = |a: &ArrayD<f32>, b: &ArrayD<f32>| {
        a.shape() == b.shape() && a.iter().zip(b).all(|(p, q)| (p - q).abs() < 1e-5)
    };
    assert!(close(
        &peephole.predict(&x).unwrap(),
        &lstm.predict(&x).unwrap()
    ));
    let (g_peephole, g_lstm) = (
        peephole.gradients(&x, &y).unwrap(),
        lstm.gradients(&x, &y).unwrap(),
    );
    for (k, l) in [(0, 0), (1, 1), (2, 2), (6, 3), (7, 4)] {
        assert!(
            close(&g_peephole.weights[k], &g_lstm.weights[l]),
            "weight {k}"
        );
    }
    assert!(close(&g_peephole.input, &g_lstm.input));
    // The peepholes' own gradients are not zero: they would start to learn.
    assert!(g_peephole.weights[3].iter().any(|g| g.abs() > 1e-4));
}

/// Every weight's gradient (the peepholes' included) and the input's, against central
/// differences of the loss (Richardson, error O(h⁴)). Inputs and kernel are large enough for the
/// cell state to grow, so the peepholes' gradients are far above the differences' noise.
#[test]
fn gradients_match_finite_differences() {
    for use_bias in [true, false] {
        gradients_match_finite_differences_with(use_bias);
    }
}

fn gradients_match_finite_differences_with(use_bias: bool) {
    let (timesteps, features, units) = (4, 2, 3);
    let x = (inputs(5, timesteps, features) * 4.0).into_dyn();
    let y = Array2::from_shape_fn((5, 1), |(b, _)| (b as f32 - 2.0) * 0.8).into_dyn();
    let mut model = model_with_bias(units, timesteps, features, 0.8, use_bias);
    let mut weights = model.get_weights();
    weights[0] *= 3.0;
    model.set_weights(&weights).unwrap();
    let analytic = model.gradients(&x, &y).unwrap();
    let h = 1e-2f32;
    let mut loss_at = |k: usize, i: usize, delta: f32| -> f64 {
        let mut w = weights.clone();
        w[k].as_slice_mut().unwrap()[i] += delta;
        model.set_weights(&w).unwrap();
        model.evaluate(&x, &y).unwrap().loss as f64
    };
    let sizes: Vec<usize> = weights.iter().map(|w| w.len()).collect();
    for (k, size) in sizes.into_iter().enumerate() {
        for i in 0..size {
            let d1 = loss_at(k, i, h) - loss_at(k, i, -h);
            let d2 = loss_at(k, i, 2.0 * h) - loss_at(k, i, -2.0 * h);
            let numeric = (8.0 * d1 - d2) / (12.0 * h as f64);
            let got = analytic.weights[k].as_slice().unwrap()[i] as f64;
            assert!(
                (got - numeric).abs() <= 1e-2 * numeric.abs() + 2e-4,
                "bias {use_bias}, weight {k}[{i}]: analytic {got}, numeric {numeric}"
            );
        }
    }
    // The peepholes matter here: each has a gradient well above the tolerance.
    let own = if use_bias { 3..6 } else { 2..5 };
    for k in own {
        let largest = analytic.weights[k]
            .iter()
            .fold(0.0f32, |m, g| m.max(g.abs()));
        assert!(largest > 1e-2, "peephole {k}: largest gradient {largest}");
    }
}

/// It trains: a fit on the sum of a short sequence brings the loss down tenfold, bit for bit
/// the same on a second run with the same seed.
#[test]
fn it_trains_and_prints_a_keras_summary() {
    let (timesteps, features, units) = (6, 1, 8);
    let x = Array3::from_shape_fn((64, timesteps, features), |(b, t, _)| {
        ((b * 13 + t * 7) % 17) as f32 / 17.0
    });
    let y = x.sum_axis(Axis(1)) / timesteps as f32;
    let fit = || {
        let mut model = model(units, timesteps, features, 0.0);
        let history = model
            .fit(
                &x,
                &y,
                &FitConfig::new().epochs(60).batch_size(16).verbose(0),
            )
            .unwrap();
        (model, history)
    };
    let (model, history) = fit();
    let losses = history.series("loss").unwrap().to_vec();
    assert!(
        losses[losses.len() - 1] < losses[0] / 10.0,
        "loss from {} to {}",
        losses[0],
        losses[losses.len() - 1]
    );
    assert_eq!(
        fit().1.series("loss").unwrap(),
        losses,
        "the same seed, the same fit"
    );

    let summary = model.summary().to_string();
    // 4·u·(in + u + 1) + 3·u = 4·8·10 + 24
    assert!(summary.contains("PeepholeLSTM"), "{summary}");
    assert!(summary.contains("(None, 8)"), "{summary}");
    assert_eq!(model.layers()[0].param_count(), 344);
    assert_eq!(model.summary().params_of("peephole_lstm"), Some(344));
}

/// Saving names the cell's class; loading needs the cell registered, and then rebuilds it.
/// Keras-style `.npz` paths come from its names.
#[test]
fn saved_models_load_once_the_cell_is_registered() {
    let mut model = model(3, 4, 2, 0.5);
    let x = inputs(2, 4, 2);
    let before = model.predict(&x).unwrap();
    let dir = std::env::temp_dir().join(format!("custom-cell-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("peephole.lstm");

    // Saving a model that load could not rebuild is refused, naming the fix; nothing is written.
    let err = model.save(&path).unwrap_err().to_string();
    assert!(
        err.contains("PeepholeLSTM") && err.contains("register_cell"),
        "{err}"
    );
    assert!(!path.exists());

    register_cell::<PeepholeCell>().unwrap();
    register_cell::<PeepholeCell>().unwrap();
    model.save(&path).unwrap();
    let mut loaded = Sequential::load(&path).unwrap();
    assert_eq!(loaded.predict(&x).unwrap(), before);

    let names = lstm_core::training::io::keras_weight_names(&model);
    assert_eq!(names[0], "peephole_lstm/peephole_lstm_cell/kernel");
    assert_eq!(
        names[4],
        "peephole_lstm/peephole_lstm_cell/forget_gate_peephole_weights"
    );

    // Another cell may not take a class name in use...
    #[derive(Debug, Clone, Copy, Default)]
    struct Impostor;
    impl Cell for Impostor {
        const CLASS: &'static str = "LSTM";
        const BASE: &'static str = "impostor";
        const GATES: usize = 1;
        fn step(_: StepForward<'_>) {}
        fn step_back(_: StepBackward<'_>) {}
    }
    let err = register_cell::<Impostor>().unwrap_err().to_string();
    assert!(err.contains("LSTM"), "{err}");
    // ... nor save under it: the file would load as the real LSTM.
    let mut impostor = Sequential::new(&[4, 2]);
    impostor.add(Recurrent::<Impostor>::new(3)).unwrap();
    let err = impostor
        .save(dir.join("impostor.lstm"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("loads as another cell"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The layer's machinery works for the new cell too: Bidirectional, both directions, and a
/// batch split between the two cores gives every row the bits it gets alone.
#[test]
fn bidirectional_and_two_cores() {
    let (timesteps, features, units) = (20, 3, 40);
    let mut layer = Bidirectional::new(PeepholeLstm::new(units).return_sequences(true));
    let mut rng = seeded_rng(1);
    layer.build(&[timesteps, features], &mut rng).unwrap();
    assert_eq!(layer.weights().len(), 12);
    assert_eq!(
        layer.weights()[3].name,
        "forward_peephole_lstm/input_gate_peephole_weights"
    );
    let x = inputs(32, timesteps, features).into_dyn();
    let out = layer.forward(&x, false, &mut rng).unwrap();
    assert_eq!(out.shape(), &[32, timesteps, 2 * units]);
    let same = |a: ndarray::ArrayViewD<f32>, b: &ArrayD<f32>| {
        a.shape() == b.shape() && a.iter().zip(b).all(|(p, q)| p.to_bits() == q.to_bits())
    };
    for first in (0..32).step_by(8) {
        let part = x.slice(s![first..first + 8, .., ..]).to_owned().into_dyn();
        let out_part = layer.forward(&part, false, &mut rng).unwrap();
        assert!(same(
            out.slice(s![first..first + 8, .., ..]).into_dyn(),
            &out_part
        ));
    }
    // Training passes too, forward and backward, with peepholes that are not zero.
    let weights: Vec<ArrayD<f32>> = layer
        .weights()
        .into_iter()
        .map(|w| w.value.mapv(|v| if v == 0.0 { 0.3 } else { v }))
        .collect();
    layer.set_weights(&weights).unwrap();
    let grad = ArrayD::from_shape_fn(out.shape(), |i| ((i[0] * 3 + i[1] + i[2]) % 7) as f32 / 7.0);
    let out = layer.forward(&x, true, &mut rng).unwrap();
    let dx = layer.backward(&grad).unwrap();
    for first in (0..32).step_by(8) {
        let rows = s![first..first + 8, .., ..];
        let part = x.slice(rows).to_owned().into_dyn();
        let out_part = layer.forward(&part, true, &mut rng).unwrap();
        let dx_part = layer
            .backward(&grad.slice(rows).to_owned().into_dyn())
            .unwrap();
        assert!(same(out.slice(rows).into_dyn(), &out_part), "output");
        assert!(same(dx.slice(rows).into_dyn(), &dx_part), "input gradient");
    }
}

/// Keras' three weights of a one-block cell, then one `[u]` weight of its own named `name`.
fn one_gate_and_own(
    features: usize,
    units: usize,
    use_bias: bool,
    name: &'static str,
    initializer: Initializer,
) -> Vec<WeightSpec> {
    let mut weights = standard_weights(
        1,
        RecurrentProduct::Summed,
        features,
        units,
        use_bias,
        Initializer::Zeros,
    );
    weights.push(WeightSpec {
        name,
        shape: vec![units],
        initializer,
    });
    weights
}

/// A declaration that does not start with Keras' three weights is the cell author's mistake,
/// named at build time.
#[test]
fn a_wrong_declaration_is_refused_at_build() {
    #[derive(Debug, Clone, Copy, Default)]
    struct Misdeclared;
    impl Cell for Misdeclared {
        const CLASS: &'static str = "Misdeclared";
        const BASE: &'static str = "misdeclared";
        const GATES: usize = 2;
        fn weights(features: usize, units: usize, _: bool) -> Vec<WeightSpec> {
            vec![WeightSpec {
                name: "kernel",
                shape: vec![features, units],
                initializer: Initializer::GlorotUniform,
            }]
        }
        fn step(_: StepForward<'_>) {}
        fn step_back(_: StepBackward<'_>) {}
    }
    let mut model = Sequential::new(&[4, 2]);
    let err = model
        .add(Recurrent::<Misdeclared>::new(3))
        .unwrap_err()
        .to_string();
    assert!(err.contains("kernel of shape [2, 6]"), "{err}");
    assert!(model.layers().is_empty());

    // A bias declared again among the cell's own weights (so twice, or without use_bias).
    #[derive(Debug, Clone, Copy, Default)]
    struct TwoBiases;
    impl Cell for TwoBiases {
        const CLASS: &'static str = "TwoBiases";
        const BASE: &'static str = "two_biases";
        const GATES: usize = 1;
        fn weights(features: usize, units: usize, use_bias: bool) -> Vec<WeightSpec> {
            one_gate_and_own(features, units, use_bias, "bias", Initializer::Zeros)
        }
        fn step(_: StepForward<'_>) {}
        fn step_back(_: StepBackward<'_>) {}
    }
    for use_bias in [true, false] {
        let err = model
            .add(Recurrent::<TwoBiases>::new(3).use_bias(use_bias))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("a name of its own") && err.contains("bias"),
            "{err}"
        );
    }

    // Weights of its own but no gradients for them: training says so, instead of not learning.
    #[derive(Debug, Clone, Copy, Default)]
    struct NoOwnGradients;
    impl Cell for NoOwnGradients {
        const CLASS: &'static str = "NoOwnGradients";
        const BASE: &'static str = "no_own_gradients";
        const GATES: usize = 1;
        fn weights(features: usize, units: usize, use_bias: bool) -> Vec<WeightSpec> {
            one_gate_and_own(
                features,
                units,
                use_bias,
                "gain",
                Initializer::Constant(1.0),
            )
        }
        fn step(mut s: StepForward<'_>) {
            s.h.assign(&s.gates);
        }
        fn step_back(mut s: StepBackward<'_>) {
            s.d_gates.assign(&s.dh);
            s.dh.fill(0.0);
        }
    }
    model.add(Recurrent::<NoOwnGradients>::new(3)).unwrap();
    model.add(Dense::new(1)).unwrap();
    model
        .compile(Adam::default(), Loss::MeanSquaredError)
        .unwrap();
    let weights = model.get_weights();
    let x = inputs(2, 4, 2);
    let y = Array2::<f32>::zeros((2, 1));
    let err = model.train_on_batch(&x, &y).unwrap_err().to_string();
    assert!(err.contains("own_weight_gradients"), "{err}");
    assert_eq!(
        model.get_weights(),
        weights,
        "a refused step changes nothing"
    );
}
