//! The recurrent cell, the one extension point of the recurrent layers. A cell states what it is
//! (its weights, its states, what a step keeps for its step back) and computes one step,
//! forward and back. [`Recurrent<C>`](super::Recurrent) owns the rest: the loops over time,
//! the buffers, the products with `U`, the two cores, saving, `.npz` paths and summaries.
//!
//! A new cell is one file: a type, `impl Cell`, and (to load saved models of it)
//! [`register_cell`](crate::layers::register_cell). `tests/custom_cell.rs` adds a peephole LSTM
//! this way, with nothing but this public API.

use std::any::Any;

use ndarray::{ArrayView2, ArrayViewD, ArrayViewMut2, ArrayViewMutD};

use super::steps::{StepGrads, Steps, StepsRef, UnitSplit};
use crate::math::activation::Activation;
use crate::math::init::Initializer;

/// How the recurrent product `h_{t-1}·U` reaches a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecurrentProduct {
    /// Added to the input projection before the step: `z = x_t·W + b + h_{t-1}·U` (LSTM,
    /// SimpleRNN). The bias is `[G·u]`.
    Summed,
    /// Given to the step apart, with its own bias row: `h_{t-1}·U + b_rec` (Keras' GRU, whose
    /// reset gate multiplies it). The bias is `[2, G·u]`: row 0 for the input, row 1 for `U`.
    Apart,
}

/// One weight of a cell, as Keras lists it: name, shape and initialiser.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightSpec {
    /// Keras' name (`kernel`, `recurrent_kernel`, `bias`, or the cell's own).
    pub name: &'static str,
    /// Shape.
    pub shape: Vec<usize>,
    /// How it starts.
    pub initializer: Initializer,
}

/// Whether `name` is one of Keras' three weights (`kernel`, `recurrent_kernel`, `bias`), which
/// the layer reads by name; every other weight is the cell's own.
pub fn is_standard_weight(name: &str) -> bool {
    matches!(name, "kernel" | "recurrent_kernel" | "bias")
}

/// Keras' three weights of a recurrent cell with `gates` blocks: `kernel [in, G·u]`
/// (glorot-uniform), `recurrent_kernel [u, G·u]` (orthogonal) and, with `use_bias`, `bias`
/// (`[G·u]`, or `[2, G·u]` when the product is [`RecurrentProduct::Apart`]) starting as `bias`.
pub fn standard_weights(
    gates: usize,
    product: RecurrentProduct,
    features: usize,
    units: usize,
    use_bias: bool,
    bias: Initializer,
) -> Vec<WeightSpec> {
    let width = gates * units;
    let mut weights = vec![
        WeightSpec {
            name: "kernel",
            shape: vec![features, width],
            initializer: Initializer::GlorotUniform,
        },
        WeightSpec {
            name: "recurrent_kernel",
            shape: vec![units, width],
            initializer: Initializer::Orthogonal,
        },
    ];
    if use_bias {
        let shape = match product {
            RecurrentProduct::Summed => vec![width],
            RecurrentProduct::Apart => vec![2, width],
        };
        weights.push(WeightSpec {
            name: "bias",
            shape,
            initializer: bias,
        });
    }
    weights
}

/// One step forward, for a batch of `B` rows and `u` units. Every array is in standard layout.
/// The buffers are reused from batch to batch: a step must write every element of `h`, `c`
/// and `saved` (and leave in `gates` what its step back reads).
pub struct StepForward<'a> {
    /// `[B, G·u]`: the pre-activations on entry (`x_t·W + b`, plus `h_{t-1}·U` when the product
    /// is [`RecurrentProduct::Summed`]); on exit, what the step back reads (usually the gates).
    pub gates: ArrayViewMut2<'a, f32>,
    /// `[B, G·u]`: `h_{t-1}·U + b_rec` when the product is [`RecurrentProduct::Apart`]; `[B, 0]`
    /// otherwise.
    pub recurrent: ArrayView2<'a, f32>,
    /// `h_{t-1}`, `[B, u]`.
    pub h_prev: ArrayView2<'a, f32>,
    /// Receives `h_t`, `[B, u]` (the layer's output at this step).
    pub h: ArrayViewMut2<'a, f32>,
    /// The states after `h` before the step, side by side (an LSTM's `c_{t-1}`):
    /// `[B, (states − 1)·u]`.
    pub c_prev: ArrayView2<'a, f32>,
    /// Receives the states after `h` (an LSTM's `c_t`).
    pub c: ArrayViewMut2<'a, f32>,
    /// `[B, SAVED_BLOCKS·u]`: anything else the step back will need (an LSTM's `act(c_t)`).
    pub saved: ArrayViewMut2<'a, f32>,
    /// The cell's own weights (those after `kernel`, `recurrent_kernel`, `bias`), as declared.
    pub weights: &'a [ArrayViewD<'a, f32>],
    /// The layer's activation (tanh or relu).
    pub activation: Activation,
}

/// One step back, for a batch of `B` rows: the gradients of the step's inputs from the
/// gradients of its outputs. The buffers are reused: a step back must write every element of
/// `dh`, `dc`, `d_gates` and (when the product is apart) `d_recurrent`.
pub struct StepBackward<'a> {
    /// What the forward step left in its `gates`.
    pub gates: ArrayView2<'a, f32>,
    /// `h_{t-1}`.
    pub h_prev: ArrayView2<'a, f32>,
    /// `h_t`.
    pub h: ArrayView2<'a, f32>,
    /// The states after `h` before the step (an LSTM's `c_{t-1}`).
    pub c_prev: ArrayView2<'a, f32>,
    /// The states after `h` after the step.
    pub c: ArrayView2<'a, f32>,
    /// What the forward step saved.
    pub saved: ArrayView2<'a, f32>,
    /// On entry d(loss)/d(h_t). On exit the part of d(loss)/d(h_{t-1}) that does not pass
    /// through `U` (the GRU's `dh ⊙ z`), which the step must write: **zero** for a cell whose
    /// `h_{t-1}` only enters through `U` (LSTM, SimpleRNN). The layer then adds the product of
    /// `d_gates` (or `d_recurrent`, when apart) with `Uᵀ`.
    pub dh: ArrayViewMut2<'a, f32>,
    /// On entry d(loss)/d(states after `h`) at `t`, on exit at `t − 1` (an LSTM's `dc`).
    pub dc: ArrayViewMut2<'a, f32>,
    /// Receives d(loss)/d(pre-activations), `[B, G·u]`. The layer turns it into the gradients
    /// of `kernel` (·xᵀ), of the input's input (·Wᵀ) and of `bias` (row 0 when apart); when
    /// the product is summed also of `recurrent_kernel` and of `h_{t-1}` (·Uᵀ).
    pub d_gates: ArrayViewMut2<'a, f32>,
    /// Receives d(loss)/d(recurrent product) when it is [`RecurrentProduct::Apart`]: the layer
    /// turns it into the gradients of `recurrent_kernel`, bias row 1 and `h_{t-1}` (·Uᵀ).
    /// `[B, 0]` otherwise.
    pub d_recurrent: ArrayViewMut2<'a, f32>,
    /// The cell's own weights, as in [`StepForward::weights`].
    pub weights: &'a [ArrayViewD<'a, f32>],
    /// The layer's activation.
    pub activation: Activation,
}

/// Every step of one pass, time-major (row `t·B + b` is sample `b` at step `t`, in processing
/// order: reversed with `go_backwards`), for the gradients of a cell's own weights.
pub struct History<'a> {
    /// Rows per step.
    pub batch: usize,
    /// What each forward step left in its `gates`, `[T·B, G·u]`.
    pub gates: ArrayView2<'a, f32>,
    /// `h`, `[(T+1)·B, u]`: block 0 the initial state, block `t+1` the state after step `t`.
    pub h: ArrayView2<'a, f32>,
    /// The states after `h`, likewise.
    pub c: ArrayView2<'a, f32>,
    /// What each step saved, `[T·B, SAVED_BLOCKS·u]`.
    pub saved: ArrayView2<'a, f32>,
    /// d(loss)/d(pre-activations) of every step, `[T·B, G·u]`.
    pub d_gates: ArrayView2<'a, f32>,
    /// d(loss)/d(recurrent product) of every step when it is apart, `[T·B, G·u]` (`[T·B, 0]`
    /// otherwise).
    pub d_recurrent: ArrayView2<'a, f32>,
}

/// A recurrent cell: what [`Recurrent<C>`](super::Recurrent) asks of it. Implement it for a
/// new kind of recurrent layer; the layer then builds, trains, saves, prints its summary and
/// runs on two cores like the built-in ones.
pub trait Cell: Clone + Copy + std::fmt::Debug + Default + Send + Sync + 'static {
    /// Keras' class name, e.g. `GRU`: summaries, saved files, messages.
    const CLASS: &'static str;
    /// Keras' automatic layer name, e.g. `gru` (then `gru_1`, ...); weights are saved under
    /// `<name>/<BASE>_cell/`.
    const BASE: &'static str;
    /// Blocks along the gate axis: `kernel` is `[in, GATES·u]`.
    const GATES: usize;
    /// The states carried from step to step, `h` first, each `[B, u]`: `["h"]`, or
    /// `["h", "c"]`.
    const STATES: &'static [&'static str] = &["h"];
    /// How `h_{t-1}·U` reaches the step.
    const RECURRENT_PRODUCT: RecurrentProduct = RecurrentProduct::Summed;
    /// `[B, u]` blocks a step saves for its step back.
    const SAVED_BLOCKS: usize = 0;

    /// The weights in Keras order: `kernel`, `recurrent_kernel`, `bias` (with `use_bias`)
    /// first, then the cell's own. By default the three, with a zero bias.
    fn weights(features: usize, units: usize, use_bias: bool) -> Vec<WeightSpec> {
        standard_weights(
            Self::GATES,
            Self::RECURRENT_PRODUCT,
            features,
            units,
            use_bias,
            Initializer::Zeros,
        )
    }

    /// One step forward.
    fn step(step: StepForward<'_>);

    /// One step back.
    fn step_back(step: StepBackward<'_>);

    /// Why a weight given in the shape `got` instead of its declared one may have that shape,
    /// when it is another library's layout of the same weight; appended to the shape error of
    /// `set_weights` and `load_npz`. Default: no hint.
    fn weight_shape_hint(_weight: &str, _got: &[usize]) -> Option<String> {
        None
    }

    /// The gradients of the cell's own weights (in declared order), once per backward pass,
    /// after the loop, over the whole batch: `gradients` arrive zeroed, to be added to. The layer
    /// computes those of `kernel`, `recurrent_kernel` and `bias` (the usual products). A cell
    /// that declares weights of its own must implement this: the default refuses them.
    fn own_weight_gradients(
        history: History<'_>,
        weights: &[ArrayViewD<'_, f32>],
        gradients: &mut [ArrayViewMutD<'_, f32>],
    ) -> crate::error::Result<()> {
        let _ = (history, weights);
        if gradients.is_empty() {
            return Ok(());
        }
        Err(crate::error::LstmError::config(
            format!("{}: the cell's own weights", Self::CLASS),
            "gradients from Cell::own_weight_gradients",
            format!(
                "{} weight(s) of its own and no gradients for them",
                gradients.len()
            ),
        ))
    }

    /// Time loops that split the units between the two cores, if the cell has faster ones than
    /// the layer's (the LSTM at many units and small batches).
    #[doc(hidden)]
    fn unit_split() -> Option<UnitSplitLoops> {
        None
    }

    /// The layer's passes compiled where the cell is, with that crate's build settings: the
    /// built-in cells return ones compiled (optimised) in this crate, so that a notebook's
    /// unoptimised cells only hold thin calls. `None`: compiled wherever the layer is used.
    #[doc(hidden)]
    fn compiled_passes() -> Option<&'static dyn Any> {
        None
    }
}

/// A cell's own forward and backward time loops with its units split between the cores.
#[doc(hidden)]
#[derive(Clone, Copy)]
pub struct UnitSplitLoops {
    /// The forward loop.
    pub forward: fn(Steps<'_>, UnitSplit<'_>, Activation),
    /// The backward loop.
    pub backward: fn(StepsRef<'_>, UnitSplit<'_>, ArrayViewD<'_, f32>, StepGrads<'_>, Activation),
}
