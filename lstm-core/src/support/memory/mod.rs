//! Long-range memory, measured: SimpleRNN, GRU and LSTM of (about) equal parameter budget on the
//! recall task of [`crate::support::data::recall_task`], and how much of the loss's gradient reaches each
//! input step. Notebook "Why LSTM" runs these; [`study`] is the experiment that decides, run from
//! `examples/memory_study.rs` and read back from its JSON file.

pub mod study;

use ndarray::{Array1, Array3, ArrayD, Axis};
use serde::{Deserialize, Serialize};

use crate::error::{LstmError, Result};
use crate::layers::{Dense, Gru, Layer, Lstm, SimpleRnn};
use crate::support::plot::{self, Figure, Labels, Series};
use crate::training::loss::{Loss, Metric};
use crate::training::model::Sequential;
use crate::training::optim::Adam;

/// One of the three recurrent layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Contender {
    /// `SimpleRNN`: `h = tanh(x·W + h·U + b)`.
    SimpleRnn,
    /// `GRU` (Keras 3, `reset_after`).
    Gru,
    /// `LSTM`.
    Lstm,
}

impl Contender {
    /// The three, plain RNN first.
    pub const ALL: [Contender; 3] = [Contender::SimpleRnn, Contender::Gru, Contender::Lstm];

    /// Keras' class name.
    pub fn name(self) -> &'static str {
        match self {
            Contender::SimpleRnn => "SimpleRNN",
            Contender::Gru => "GRU",
            Contender::Lstm => "LSTM",
        }
    }

    /// Parameters of the layer with `units` on `features` inputs (Keras' counts).
    pub fn params(self, units: usize, features: usize) -> usize {
        match self {
            Contender::SimpleRnn => units * (features + units + 1),
            Contender::Gru => 3 * units * (features + units + 2),
            Contender::Lstm => 4 * units * (features + units + 1),
        }
    }

    /// Multiply-adds of one step for one sequence: the products `x·W` and `h·U` (the gates'
    /// elementwise work is left out, a few operations per unit).
    pub fn multiply_adds_per_step(self, units: usize, features: usize) -> usize {
        let blocks = match self {
            Contender::SimpleRnn => 1,
            Contender::Gru => 3,
            Contender::Lstm => 4,
        };
        blocks * units * (features + units)
    }

    /// The number of units whose parameter count is closest to `budget`.
    pub fn units_for_budget(self, budget: usize, features: usize) -> usize {
        (1..=budget.max(1))
            .min_by_key(|&u| self.params(u, features).abs_diff(budget))
            .expect("at least one candidate")
    }

    /// A fresh layer with `units`.
    pub fn layer(self, units: usize) -> Box<dyn Layer> {
        match self {
            Contender::SimpleRnn => Box::new(SimpleRnn::new(units)),
            Contender::Gru => Box::new(Gru::new(units)),
            Contender::Lstm => Box::new(Lstm::new(units)),
        }
    }
}

/// How [`recall_model`] builds a model.
#[derive(Debug, Clone, PartialEq)]
pub struct RecallConfig {
    /// Parameters of the recurrent layer (each kind gets the units closest to it). Default 350.
    pub budget: usize,
    /// Adam's learning rate. Default 0.01.
    pub learning_rate: f32,
    /// Seed of the weights. Default 0.
    pub seed: u64,
    /// Initial bias of the gate that keeps the state: the LSTM's forget gate, the GRU's update
    /// gate (its input-bias row). `None` (default): Keras' initialisation, 1 for the forget gate
    /// (`f = σ(1) ≈ 0.73`) and 0 for the update gate (`z = 0.5`). The plain RNN has no such gate
    /// and is left as it is.
    pub memory_gate_bias: Option<f32>,
}

impl Default for RecallConfig {
    fn default() -> Self {
        RecallConfig {
            budget: 350,
            learning_rate: 0.01,
            seed: 0,
            memory_gate_bias: None,
        }
    }
}

/// The recurrent layer of `kind` with about `config.budget` parameters, then `Dense(2, softmax)`,
/// compiled with Adam and sparse categorical cross-entropy, reporting accuracy.
pub fn recall_model(kind: Contender, distance: usize, config: &RecallConfig) -> Result<Sequential> {
    let features = 2;
    let units = kind.units_for_budget(config.budget, features);
    let mut model = Sequential::with_seed(&[distance + 1, features], config.seed);
    model.add_boxed(kind.layer(units))?;
    model.add(Dense::new(2).activation(crate::math::activation::Activation::Softmax))?;
    // The plain RNN has no gate to open: it stays as Keras builds it.
    if let Some(bias) = config.memory_gate_bias
        && kind != Contender::SimpleRnn
    {
        open_memory_gate(&mut model, kind, bias)?;
    }
    model.compile_with_metrics(
        Adam::new(config.learning_rate),
        Loss::SparseCategoricalCrossentropy,
        &[Metric::Accuracy],
    )?;
    Ok(model)
}

/// Sets the initial bias of the first layer's state-keeping gate to `bias`: the LSTM's forget
/// gate (bias entries `u..2u`), the GRU's update gate (input-bias row, entries `0..u`). A bias of
/// 3 keeps about 95% of the state per step at the start (`σ(3) ≈ 0.95`). The plain RNN has no
/// such gate: an error.
pub fn open_memory_gate(model: &mut Sequential, kind: Contender, bias: f32) -> Result<()> {
    if !bias.is_finite() {
        return Err(LstmError::config(
            "memory gate bias",
            "a finite number",
            bias,
        ));
    }
    let mut weights = model.get_weights();
    let units = weights
        .get(1)
        .map(|recurrent| recurrent.shape()[0])
        .ok_or_else(|| {
            LstmError::config(
                "open_memory_gate",
                "a model whose first layer is recurrent",
                "no weights",
            )
        })?;
    match kind {
        Contender::Lstm => {
            weights[2].as_slice_mut().expect("contiguous bias")[units..2 * units].fill(bias)
        }
        Contender::Gru => weights[2].as_slice_mut().expect("contiguous bias")[..units].fill(bias),
        Contender::SimpleRnn => {
            return Err(LstmError::config(
                "open_memory_gate",
                "an LSTM or a GRU (a layer with a gate that keeps its state)",
                "SimpleRNN",
            ));
        }
    }
    model.set_weights(&weights)
}

/// The color of each layer in every chart of the experiment.
pub fn color(kind: Contender) -> plotters::style::RGBColor {
    match kind {
        Contender::SimpleRnn => plotters::style::RGBColor(214, 39, 40),
        Contender::Gru => plotters::style::RGBColor(44, 160, 44),
        Contender::Lstm => plotters::style::RGBColor(31, 119, 180),
    }
}

/// Mean |d(loss)/d(x_t)| against distance from the output, one line per layer, log scale.
pub fn gradient_chart(profiles: &[(Contender, Vec<f32>)], title: &str) -> Result<Figure> {
    let series: Vec<Series> = profiles
        .iter()
        .map(|(kind, g)| {
            let points = g
                .iter()
                .enumerate()
                .filter(|(_, v)| **v > 0.0)
                .map(|(k, &v)| (k as f32, v))
                .collect();
            Series::line(kind.name(), points, color(*kind))
        })
        .collect();
    plot::line_chart(
        &Labels {
            title,
            x: "steps before the output",
            y: "mean |d loss / d x_t| (log scale)",
        },
        &series,
        true,
    )
}

/// Mean |d(loss)/d(x_t)| over the batch and features, by distance from the output: entry k is
/// the input step `k` steps before the last. How much of the error signal reaches back that far.
pub fn input_gradient_by_distance(
    model: &mut Sequential,
    x: &Array3<f32>,
    y: &Array1<f32>,
) -> Result<Vec<f32>> {
    let grads = model.gradients(x, y)?;
    let input: &ArrayD<f32> = &grads.input;
    let timesteps = input.shape()[1];
    let per_step = input
        .mapv(f32::abs)
        .mean_axis(Axis(2))
        .expect("features")
        .mean_axis(Axis(0))
        .expect("batch");
    Ok((0..timesteps)
        .map(|k| per_step[timesteps - 1 - k])
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_give_keras_counts_and_the_models_build() {
        let config = RecallConfig::default();
        let units: Vec<usize> = Contender::ALL
            .iter()
            .map(|k| k.units_for_budget(350, 2))
            .collect();
        assert_eq!(units, [17, 9, 8]);
        for kind in Contender::ALL {
            let model = recall_model(kind, 4, &config).unwrap();
            let u = kind.units_for_budget(350, 2);
            assert_eq!(model.layers()[0].param_count(), kind.params(u, 2));
            assert_eq!(model.layers()[0].class_name(), kind.name());
        }
    }

    #[test]
    fn opening_the_memory_gate_sets_the_right_biases() {
        let config = RecallConfig {
            memory_gate_bias: Some(3.0),
            ..RecallConfig::default()
        };
        let lstm = recall_model(Contender::Lstm, 4, &config).unwrap();
        let u = Contender::Lstm.units_for_budget(350, 2);
        let bias = &lstm.get_weights()[2];
        assert!(bias.iter().skip(u).take(u).all(|&b| b == 3.0));
        assert!(
            bias.iter().take(u).all(|&b| b == 0.0),
            "the input gate keeps Keras' 0"
        );
        let gru = recall_model(Contender::Gru, 4, &config).unwrap();
        let g = Contender::Gru.units_for_budget(350, 2);
        let bias = gru.get_weights()[2].clone();
        assert_eq!(bias.shape(), &[2, 3 * g]);
        assert!(bias.iter().take(g).all(|&b| b == 3.0));
        assert!(bias.iter().skip(g).all(|&b| b == 0.0));
        let mut rnn = recall_model(Contender::SimpleRnn, 4, &config).unwrap();
        let err = open_memory_gate(&mut rnn, Contender::SimpleRnn, 3.0).unwrap_err();
        assert!(err.to_string().contains("SimpleRNN"), "{err}");
        let mut plain = recall_model(Contender::Lstm, 4, &RecallConfig::default()).unwrap();
        assert!(open_memory_gate(&mut plain, Contender::Lstm, f32::NAN).is_err());
    }

    #[test]
    fn gradient_profile_has_one_entry_per_step_last_step_first() {
        let (x, y) = crate::support::data::recall_task(8, 6, 1);
        let mut model = recall_model(Contender::SimpleRnn, 6, &RecallConfig::default()).unwrap();
        let profile = input_gradient_by_distance(&mut model, &x, &y).unwrap();
        assert_eq!(profile.len(), 7);
        let grads = model.gradients(&x, &y).unwrap().input;
        let last_step = grads
            .slice(ndarray::s![.., 6, ..])
            .mapv(f32::abs)
            .mean()
            .unwrap();
        assert!((profile[0] - last_step).abs() <= 1e-5 * last_step.abs().max(1e-12));
    }
}
