//! `GRU`: the cell of [`crate::math::gru`], one step forward and back, for the shared
//! recurrent layer.

use std::any::Any;

use super::recurrent::cell::{Cell, RecurrentProduct, StepBackward, StepForward};
use super::recurrent::{HiddenStateOnly, Passes, Recurrent};
use crate::math::gru as equations;

/// `keras.layers.GRU` with Keras 3's defaults (`reset_after=True`). Weights in Keras layout:
/// `kernel [in, 3u]`, `recurrent_kernel [u, 3u]`, `bias [2, 3u]` (row 0 for the input
/// product, row 1 for the recurrent one), blocks packed z, r, h; `3·u·(in + u + 2)` parameters.
///
/// Defaults as in Keras: `activation` tanh (relu allowed), recurrent activation sigmoid,
/// `use_bias` true, glorot-uniform kernel, orthogonal recurrent kernel, zero bias, and the same
/// `return_sequences`, `return_state`, `go_backwards`, `stateful`, `dropout` as [`Lstm`](crate::Lstm).
pub type Gru = Recurrent<GruCell>;

/// The GRU's cell for [`Recurrent`]: equations in [`crate::math::gru`].
#[derive(Debug, Clone, Copy, Default)]
pub struct GruCell;

impl HiddenStateOnly for GruCell {}

impl Cell for GruCell {
    const CLASS: &'static str = "GRU";
    const BASE: &'static str = "gru";
    const GATES: usize = 3;
    /// The reset gate multiplies `h_{t-1}·U_h + b_h`, so the product comes apart.
    const RECURRENT_PRODUCT: RecurrentProduct = RecurrentProduct::Apart;
    /// `hp_h`, the candidate block of `h_{t-1}·U + b_h`, before the reset gate.
    const SAVED_BLOCKS: usize = 1;

    fn step(s: StepForward<'_>) {
        equations::step_in_place(s.gates, s.recurrent, s.h_prev, s.saved, s.h, s.activation);
    }

    fn step_back(s: StepBackward<'_>) {
        // Leaves dh ⊙ z in dh: the part of dh_{t-1} that skips U.
        equations::step_backward_in_place(
            s.gates,
            s.h_prev,
            s.saved,
            s.dh,
            s.d_gates,
            s.d_recurrent,
            s.activation,
        );
    }

    /// Keras 2's GRU default (`reset_after=False`) keeps one bias row, `[3u]`, and applies the
    /// reset gate before the recurrent product: other equations, not only another shape.
    fn weight_shape_hint(weight: &str, got: &[usize]) -> Option<String> {
        (weight == "bias" && got.len() == 1).then(|| {
            "a bias of one row is Keras' GRU(reset_after=False), the default of Keras 2 and \
             TensorFlow 1: other equations, which lstm-core's GRU does not run. It follows Keras \
             3's reset_after=True, whose bias is [2, 3·units]: retrain the Keras model with \
             reset_after=True"
                .into()
        })
    }

    fn compiled_passes() -> Option<&'static dyn Any> {
        static PASSES: Passes = Passes::of::<GruCell>();
        Some(&PASSES)
    }
}
