//! What every recurrent layer shares, written once for any [`Cell`]: the cell contract (the
//! extension point), the layer and its settings, the time loops forward and backward, the
//! buffers, `U` packed for the SIMD kernel, and the views a loop works on.

mod buffers;
pub mod cell;
mod layer;
mod packing;
mod passes;
pub mod steps;

pub use cell::{
    Cell, History, RecurrentProduct, StepBackward, StepForward, UnitSplitLoops, WeightSpec,
    standard_weights,
};
pub use layer::{HiddenStateOnly, Recurrent, RnnOutput};
#[cfg(test)]
pub(crate) use packing::DIRECT_PRODUCT_BELOW;
pub use passes::Passes;
