//! The layer's memory: its weights, carried states, and the buffers of the last pass, time-major
//! and reused from batch to batch.

use ndarray::{Array2, ArrayView3, ArrayViewMut3, s};

use super::cell::Cell;
use super::packing::Packing;
use crate::engine::packed::PackedMatrix;
use crate::layers::params::ParamSet;

/// Everything a recurrent layer holds besides its settings.
#[derive(Debug, Clone, Default)]
pub(crate) struct State {
    /// The weights, once built.
    pub(crate) params: Option<ParamSet>,
    /// The final states of the last batch, for a stateful layer.
    pub(crate) carried: Option<Vec<Array2<f32>>>,
    /// The forward pass's buffers, for backward.
    pub(crate) cache: Option<Cache>,
    /// The backward pass's buffers.
    pub(crate) scratch: Option<Scratch>,
}

/// What backpropagation needs from the forward pass. Every step's values sit in one array, in
/// blocks of `batch` rows (block t is step t), and the buffers are reused from batch to batch.
#[derive(Debug, Clone, Default)]
pub(crate) struct Cache {
    pub(crate) batch: usize,
    pub(crate) timesteps: usize,
    /// Inputs in processing order, time-major: row `t·B + b` is sample b at step t.
    pub(crate) x: Array2<f32>,
    pub(crate) dropout_mask: Option<Array2<f32>>,
    /// Gate values of every step, `[T·B, G·u]`.
    pub(crate) gates: Array2<f32>,
    /// `h` (and `c`), `[(T+1)·B, u]`: block 0 the initial state, block t+1 the state after step t.
    pub(crate) h: Array2<f32>,
    pub(crate) c: Array2<f32>,
    pub(crate) aux: Array2<f32>,
    pub(crate) work: Array2<f32>,
    /// `U` in the SIMD kernel's panels, packed once per pass.
    pub(crate) packed: Packing,
    /// `W` likewise, and the weights' version it was packed from.
    pub(crate) packed_w: PackedMatrix,
    pub(crate) packed_w_version: Option<u64>,
}

/// Buffers of the backward pass, reused from batch to batch.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scratch {
    pub(crate) d_in: Array2<f32>,
    pub(crate) d_rec: Array2<f32>,
    pub(crate) dh: Array2<f32>,
    pub(crate) dc: Array2<f32>,
    /// `Uᵀ` in the SIMD kernel's panels, packed once per pass.
    pub(crate) packed_t: Packing,
    /// `d_in` packed for the weight gradients: whole, or each core's half of its columns.
    pub(crate) packed_grads: [PackedMatrix; 2],
}

/// `buffer` in `shape`, its memory reused (contents are overwritten by the caller): a fit whose
/// last batch is smaller switches shapes twice per epoch, and fresh zeroed pages cost time.
pub(crate) fn reuse(buffer: Array2<f32>, shape: (usize, usize)) -> Array2<f32> {
    if buffer.dim() == shape {
        return buffer;
    }
    match buffer.into_raw_vec_and_offset() {
        (mut data, None | Some(0)) => {
            data.resize(shape.0 * shape.1, 0.0);
            Array2::from_shape_vec(shape, data).expect("length matches the shape")
        }
        _ => Array2::zeros(shape),
    }
}

/// A time-major `[steps·batch, width]` array as `[steps, batch, width]`.
pub(crate) fn by_step(a: &Array2<f32>, batch: usize) -> ArrayView3<'_, f32> {
    let (rows, width) = a.dim();
    a.view()
        .into_shape_with_order((rows / batch, batch, width))
        .expect("contiguous")
}

pub(crate) fn by_step_mut(a: &mut Array2<f32>, batch: usize) -> ArrayViewMut3<'_, f32> {
    let (rows, width) = a.dim();
    a.view_mut()
        .into_shape_with_order((rows / batch, batch, width))
        .expect("contiguous")
}

impl Cache {
    pub(crate) fn new<C: Cell>(
        old: Option<Cache>,
        timesteps: usize,
        batch: usize,
        features: usize,
        units: usize,
    ) -> Cache {
        let old = old.unwrap_or_default();
        let rows = timesteps * batch;
        let c_width = (C::STATES.len() - 1) * units;
        Cache {
            batch,
            timesteps,
            x: reuse(old.x, (rows, features)),
            dropout_mask: None,
            gates: reuse(old.gates, (rows, C::GATES * units)),
            h: reuse(old.h, (rows + batch, units)),
            c: reuse(old.c, (rows + batch, c_width)),
            aux: reuse(old.aux, (rows, C::SAVED_BLOCKS * units)),
            work: reuse(old.work, (batch, C::GATES * units)),
            packed: old.packed,
            packed_w: old.packed_w,
            packed_w_version: old.packed_w_version,
        }
    }

    /// Rows of step `t` (block t).
    pub(crate) fn block(&self, t: usize) -> std::ops::Range<usize> {
        t * self.batch..(t + 1) * self.batch
    }

    /// The states after the last step, in the cell's order (`h` first), each `[B, u]`.
    pub(crate) fn final_states(&self) -> Vec<Array2<f32>> {
        let last = s![self.timesteps * self.batch.., ..];
        let mut states = vec![self.h.slice(last).to_owned()];
        let units = self.h.ncols();
        if let Some(others) = self.c.ncols().checked_div(units) {
            for k in 0..others {
                states.push(
                    self.c
                        .slice(last)
                        .slice(s![.., k * units..(k + 1) * units])
                        .to_owned(),
                );
            }
        }
        states
    }
}
