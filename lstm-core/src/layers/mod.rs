//! Layers with Keras' weight layout, defaults and shapes. Each one runs forward, caches what
//! backpropagation needs, and runs backward analytically.

mod bidirectional;
mod dense;
mod dropout;
mod gru;
mod lstm;
mod params;
mod recurrent;
mod simple_rnn;
mod time_distributed;

pub use bidirectional::{Bidirectional, MergeMode};
pub use dense::{Dense, softmax_rows};
pub use dropout::Dropout;
pub use gru::{Gru, GruCell};
pub use lstm::{Lstm, LstmCell, LstmOutput, LstmState};
pub use recurrent::{Cell, Recurrent, RecurrentKind, RnnOutput};
pub use simple_rnn::{SimpleRnn, SimpleRnnCell};
pub use time_distributed::TimeDistributed;

pub(crate) use params::check_weight_shapes;

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
    Lstm(RecurrentConfig),
    #[serde(rename = "GRU")]
    /// A [`Gru`].
    Gru(RecurrentConfig),
    #[serde(rename = "SimpleRNN")]
    /// A [`SimpleRnn`].
    SimpleRnn(RecurrentConfig),
    /// A [`Dense`] layer.
    Dense(DenseConfig),
    /// A [`Dropout`] layer.
    Dropout {
        /// Fraction dropped in training.
        rate: f32,
    },
    /// A [`Bidirectional`] recurrent layer.
    Bidirectional {
        /// The wrapped layer's settings (the backward copy mirrors them).
        layer: RecurrentConfig,
        /// Which recurrent layer it wraps (absent in files saved before GRU: LSTM).
        #[serde(default)]
        cell: RecurrentKind,
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

/// The settings of an [`Lstm`] (the name the notebooks know [`RecurrentConfig`] by).
pub type LstmConfig = RecurrentConfig;

/// The settings of a recurrent layer ([`Lstm`], [`Gru`], [`SimpleRnn`]), by their Keras names.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RecurrentConfig {
    /// Units (size of `h`, and of an LSTM's `c`).
    pub units: usize,
    /// The cell's nonlinearity (tanh or relu).
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
            LayerConfig::Gru(c) => Box::new(Gru::from_config(c)),
            LayerConfig::SimpleRnn(c) => Box::new(SimpleRnn::from_config(c)),
            LayerConfig::Dense(c) => Box::new(Dense::from_config(c)),
            LayerConfig::Dropout { rate } => Box::new(Dropout::new(*rate)),
            LayerConfig::Bidirectional {
                layer,
                cell,
                merge_mode,
            } => match cell {
                RecurrentKind::Lstm => {
                    Box::new(Bidirectional::new(Lstm::from_config(layer)).merge_mode(*merge_mode))
                }
                RecurrentKind::Gru => {
                    Box::new(Bidirectional::new(Gru::from_config(layer)).merge_mode(*merge_mode))
                }
                RecurrentKind::SimpleRnn => Box::new(
                    Bidirectional::new(SimpleRnn::from_config(layer)).merge_mode(*merge_mode),
                ),
            },
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
    impl<C: super::Cell> Sealed for super::Recurrent<C> {}
    impl Sealed for super::Dense {}
    impl Sealed for super::Dropout {}
    impl<C: super::Cell> Sealed for super::Bidirectional<C> {}
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
///   them by position. Layers keep their tensors in one `ParamSet` (name, value, gradient,
///   listed once in `build`) and answer all three methods from it (`tests/layers.rs` checks
///   every layer kind);
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

    /// A recurrent layer built with `return_state`: it returns several tensors, which a
    /// `Sequential` model cannot pass on.
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

/// Error for a layer used before `build`.
pub(crate) fn not_built(layer: &'static str) -> crate::error::LstmError {
    crate::error::LstmError::NotReady {
        what: layer,
        needed: "built",
        call: "Sequential::add (or the layer's `call`), which builds it for its input shape",
    }
}
