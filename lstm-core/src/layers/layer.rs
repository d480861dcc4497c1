//! What every layer of a model does ([`Layer`]), and the named tensors it holds.

use ndarray::ArrayD;

use crate::error::Result;
use crate::layers::config::LayerConfig;
use crate::math::init::{Fill, Rng};

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

/// The layers this crate provides; [`Layer`] is implemented by these only (sealed), because a
/// model is saved by its layers' [`LayerConfig`]. Each layer's file implements `Sealed`; new
/// kinds of recurrent layer come as a [`Cell`](crate::layers::Cell), which any crate can write.
pub(crate) mod sealed {
    /// Implemented in each layer's file.
    pub trait Sealed {}
}

/// What every layer of a [`Sequential`](crate::Sequential) model does.
///
/// The trait is sealed: it is implemented by this crate's layers only. Adding a layer to the
/// crate means its own file in `layers/` (implementing `Sealed` there) and a [`LayerConfig`]
/// variant (for saving). A new recurrent layer needs none of this: write a
/// [`Cell`](crate::layers::Cell). For training to stay correct, a layer must:
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
pub trait Layer: sealed::Sealed + std::any::Any + std::fmt::Debug + Send {
    /// The Keras class name shown in summaries, e.g. `LSTM`.
    fn class_name(&self) -> &'static str;

    /// The base of Keras' automatic names, e.g. `lstm` (then `lstm_1`, ...).
    fn base_name(&self) -> &'static str;

    /// The layer's settings, for saving.
    fn config(&self) -> LayerConfig;

    /// Checks the layer's settings and the input shape (without the batch axis), creates the
    /// weights (drawn from `rng` by their initialisers), and returns the output shape (without
    /// the batch axis).
    fn build(&mut self, input_shape: &[usize], rng: &mut Rng) -> Result<Vec<usize>> {
        self.build_with(input_shape, Fill::Drawn(rng))
    }

    /// [`build`](Layer::build) with the weights' first values from `fill` (zeros, drawing
    /// nothing, for a model whose weights are loaded next).
    fn build_with(&mut self, input_shape: &[usize], fill: Fill<'_>) -> Result<Vec<usize>>;

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

    /// Keras' paths of the weights under the layer's name (`dense/kernel`; a recurrent layer
    /// keeps them in its cell: `lstm/lstm_cell/kernel`), for `.npz` files.
    fn weight_paths(&self, layer_name: &str) -> Vec<String> {
        self.weights()
            .iter()
            .map(|w| format!("{layer_name}/{}", w.name))
            .collect()
    }

    /// Why a weight given in the shape `got` (not the layer's) may have that shape, when it is
    /// another library's layout of the same weight (Keras 2's GRU bias); appended to the error.
    fn weight_shape_hint(&self, _weight: &str, _got: &[usize]) -> Option<String> {
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
