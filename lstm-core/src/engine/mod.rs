//! The fast engine under the mathematics: matrix products on packed panels with kernels for
//! each instruction set (chosen at run time), the second core's thread, and denormals flushed
//! to zero. Nothing here knows a model; the equations in [`crate::math`] and the layers call it,
//! as candle-nn's layers sit on candle-core's CPU kernels.

pub(crate) mod denormals;
pub mod helper;
pub mod packed;
