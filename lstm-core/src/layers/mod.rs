//! Layers with Keras' weight layout, defaults and shapes. Each one runs forward, caches what
//! backpropagation needs, and runs backward analytically.

mod bidirectional;
mod dense;
mod dropout;
mod lstm;
mod time_distributed;

pub use bidirectional::{Bidirectional, MergeMode};
pub use dense::{Dense, softmax_rows};
pub use dropout::Dropout;
pub use lstm::{Lstm, LstmOutput, LstmState};
pub use time_distributed::TimeDistributed;

use ndarray::ArrayD;

use crate::error::Result;
use crate::math::init::Rng;

/// One trainable tensor and its gradient, both flat in row-major order.
pub struct Param<'a> {
    /// The tensor's values.
    pub value: &'a mut [f32],
    /// d(loss)/d(value) from the last backward pass.
    pub grad: &'a mut [f32],
}

/// A named weight in Keras order (`kernel`, `recurrent_kernel`, `bias`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct Weight {
    /// Keras' name, e.g. `kernel` or `forward_lstm/recurrent_kernel`.
    pub name: String,
    /// The values, in Keras' shape.
    pub value: ArrayD<f32>,
}

/// A layer's settings, enough to rebuild it (weights are stored separately).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "class")]
pub enum LayerConfig {
    #[serde(rename = "LSTM")]
    /// An [`Lstm`].
    Lstm(LstmConfig),
    /// A [`Dense`] layer.
    Dense(DenseConfig),
    /// A [`Dropout`] layer.
    Dropout {
        /// Fraction dropped in training.
        rate: f32,
    },
    /// A [`Bidirectional`] LSTM.
    Bidirectional {
        /// The wrapped LSTM (the backward copy mirrors it).
        layer: LstmConfig,
        /// How the directions are combined.
        merge_mode: MergeMode,
    },
    /// A [`TimeDistributed`] `Dense`.
    TimeDistributed(DenseConfig),
}

/// The settings of a [`Dense`] layer, by their Keras names.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DenseConfig {
    /// Number of outputs.
    pub units: usize,
    /// Activation applied to `x·W + b`.
    pub activation: crate::Activation,
    /// Whether a bias is added.
    pub use_bias: bool,
}

/// The settings of an [`Lstm`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LstmConfig {
    /// Units (size of `h` and `c`).
    pub units: usize,
    /// Activation of the candidate and of the cell state.
    pub activation: crate::Activation,
    /// Whether the gates have a bias.
    pub use_bias: bool,
    /// Output every step, not just the last.
    pub return_sequences: bool,
    /// Read the sequence last step first.
    pub go_backwards: bool,
    /// Carry the last states into the next batch.
    pub stateful: bool,
    /// Fraction of the inputs dropped in training.
    pub dropout: f32,
}

impl LayerConfig {
    /// A fresh, unbuilt layer with these settings.
    pub fn to_layer(&self) -> Box<dyn Layer> {
        match self {
            LayerConfig::Lstm(c) => Box::new(Lstm::from_config(c)),
            LayerConfig::Dense(c) => Box::new(Dense::from_config(c)),
            LayerConfig::Dropout { rate } => Box::new(Dropout::new(*rate)),
            LayerConfig::Bidirectional { layer, merge_mode } => {
                Box::new(Bidirectional::new(Lstm::from_config(layer)).merge_mode(*merge_mode))
            }
            LayerConfig::TimeDistributed(c) => {
                Box::new(TimeDistributed::new(Dense::from_config(c)))
            }
        }
    }
}

/// The layers this crate provides; [`Layer`] is implemented by these only (sealed), because a
/// model is saved by its layers' [`LayerConfig`], a closed list.
mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Lstm {}
    impl Sealed for super::Dense {}
    impl Sealed for super::Dropout {}
    impl Sealed for super::Bidirectional {}
    impl Sealed for super::TimeDistributed {}
}

/// What every layer of a [`Sequential`](crate::Sequential) model does.
///
/// The trait is sealed: it is implemented by this crate's layers only. Adding a layer to the
/// crate means its own file in `layers/`, a line in the `sealed` list and a [`LayerConfig`]
/// variant (for saving). For training to stay correct, a layer must:
///
/// * implement the required methods: [`build`](Layer::build) (check settings, create weights),
///   [`forward`](Layer::forward) (caching what backward needs), [`backward`](Layer::backward)
///   (store parameter gradients, return d(loss)/d(input)), and the weight accessors;
/// * list the same tensors, in the same (Keras) order and sizes, from [`params`](Layer::params)
///   and [`weights`](Layer::weights): `Sequential::gradients`, the optimizers and save/load pair
///   them by position (`tests/layers.rs` checks every layer kind);
/// * accept in [`set_weights`](Layer::set_weights) exactly the shapes `weights` returns, and
///   change nothing on error;
/// * override [`softmax_logits`](Layer::softmax_logits) and
///   [`backward_from_logits`](Layer::backward_from_logits) only if it ends in a softmax, and
///   [`reset_states`](Layer::reset_states) / [`is_stateful`](Layer::is_stateful) only if it
///   carries state between batches.
pub trait Layer: sealed::Sealed + std::fmt::Debug + Send {
    /// The Keras class name shown in summaries, e.g. `LSTM`.
    fn class_name(&self) -> &'static str;

    /// The base of Keras' automatic names, e.g. `lstm` (then `lstm_1`, ...).
    fn base_name(&self) -> &'static str;

    /// The layer's settings, for saving.
    fn config(&self) -> LayerConfig;

    /// Checks the layer's settings and the input shape (without the batch axis), creates the
    /// weights, and returns the output shape (without the batch axis).
    fn build(&mut self, input_shape: &[usize], rng: &mut Rng) -> Result<Vec<usize>>;

    /// Runs the layer on a batch, caching what [`Layer::backward`] needs.
    fn forward(&mut self, x: &ArrayD<f32>, training: bool, rng: &mut Rng) -> Result<ArrayD<f32>>;

    /// Takes d(loss)/d(output) of the last forward pass, stores the parameter gradients and
    /// returns d(loss)/d(input).
    fn backward(&mut self, grad_output: &ArrayD<f32>) -> Result<ArrayD<f32>>;

    /// Like [`Layer::backward`] for the first layer of a training step, where nobody needs
    /// d(loss)/d(input): layers that can skip computing it override this.
    fn backward_params_only(&mut self, grad_output: &ArrayD<f32>) -> Result<()> {
        self.backward(grad_output).map(|_| ())
    }

    /// Trainable tensors with their gradients, in Keras order.
    fn params(&mut self) -> Vec<Param<'_>>;

    /// Weights in Keras order and layout.
    fn weights(&self) -> Vec<Weight>;

    /// Replaces the weights; shapes must match [`Layer::weights`]. Nothing changes on error.
    fn set_weights(&mut self, weights: &[ArrayD<f32>]) -> Result<()>;

    /// Number of trainable scalars.
    fn param_count(&self) -> usize {
        self.weights().iter().map(|w| w.value.len()).sum()
    }

    /// Clears the carried state of a stateful layer.
    fn reset_states(&mut self) {}

    /// An LSTM built with `return_state`: it returns three tensors, which a `Sequential` model cannot pass on.
    fn returns_state(&self) -> bool {
        false
    }

    /// The layer as an [`Lstm`], for looking inside it (gates, states).
    fn as_lstm(&self) -> Option<&Lstm> {
        None
    }

    /// Whether the layer carries state between batches (then batches must keep one size).
    fn is_stateful(&self) -> bool {
        false
    }

    /// For a layer that ends in softmax: the cached pre-softmax values of the last forward pass,
    /// so cross-entropy can be computed from logits, as Keras does.
    fn softmax_logits(&self) -> Option<&ArrayD<f32>> {
        None
    }

    /// Backward from d(loss)/d(logits); only called when [`Layer::softmax_logits`] is `Some`.
    fn backward_from_logits(&mut self, grad_logits: &ArrayD<f32>) -> Result<ArrayD<f32>> {
        self.backward(grad_logits)
    }
}

/// Checks replacement weights against the current ones, by position, name and shape.
pub(crate) fn check_weight_shapes(
    layer: &str,
    current: &[Weight],
    new: &[ArrayD<f32>],
) -> Result<()> {
    use crate::check::fmt_shape;
    use crate::error::LstmError;
    if current.len() != new.len() {
        return Err(LstmError::count(
            format!("{layer}.set_weights"),
            "weight arrays",
            format!(
                "{} ({})",
                current.len(),
                current
                    .iter()
                    .map(|w| w.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            new.len().to_string(),
        ));
    }
    for (w, n) in current.iter().zip(new) {
        if w.value.shape() != n.shape() {
            return Err(LstmError::shape(
                format!("{layer}.set_weights: {}", w.name),
                fmt_shape(w.value.shape()),
                fmt_shape(n.shape()),
            ));
        }
        crate::check::ensure_finite(&format!("{layer}.set_weights: {}", w.name), n)?;
    }
    Ok(())
}

/// Error for a layer used before `build`.
pub(crate) fn not_built(layer: &'static str) -> crate::error::LstmError {
    crate::error::LstmError::NotReady {
        what: layer,
        needed: "built",
        call: "Sequential::add (or the layer's `call`), which builds it for its input shape",
    }
}
