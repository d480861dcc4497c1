//! `U` packed for the SIMD kernel once per pass and kept while the weights are unchanged:
//! whole, or (when a pass splits its units between the cores) each core's half of every gate
//! block, with `W`'s columns likewise.

use ndarray::{ArrayView2, Axis, s};

use super::steps::{Recurrence, UnitSplit};
use crate::engine::helper;
use crate::engine::packed::PackedMatrix;
use crate::layers::params::ParamSet;

/// Step products below this many multiply-adds run as a direct loop: packing would cost more.
pub(crate) const DIRECT_PRODUCT_BELOW: usize = 4096;

/// `U` in the SIMD kernel's panels, packed once per pass: whole, or in halves by units.
#[derive(Debug, Clone, Default)]
pub(crate) struct Packing {
    /// What is packed: the weights' version, and whether by units and whole (a pass with the
    /// same key reuses the panels: predicting chunk after chunk packs `U` once).
    pub(crate) key: Option<(u64, bool, bool)>,
    pub(crate) whole: PackedMatrix,
    pub(crate) by_units: Vec<PackedMatrix>,
    /// `W` by units as `U` (forward only).
    pub(crate) input_by_units: Vec<PackedMatrix>,
}

/// Columns `k·u + range` of `matrix` for each of its `gates` blocks: the blocks of one half of
/// the units.
fn blocks_of_units(
    matrix: ArrayView2<'_, f32>,
    gates: usize,
    range: std::ops::Range<usize>,
) -> Vec<ArrayView2<'_, f32>> {
    let units = matrix.ncols() / gates;
    (0..gates)
        .map(|k| matrix.slice_move(s![.., k * units + range.start..k * units + range.end]))
        .collect()
}

/// The recurrent kernel and, with `apart_bias`, the recurrent bias row (row 1 of a `[2, G·u]`
/// bias; none without bias). For batches whose step products are large enough, also `U` (or
/// `Uᵀ` if `transposed`) packed for the SIMD kernel: whole, or in halves by units if
/// `by_units`, for a cell of `gates` blocks.
pub(crate) fn recurrence<'a>(
    params: &'a ParamSet,
    gates: usize,
    apart_bias: bool,
    batch: usize,
    packed: &'a mut Packing,
    transposed: bool,
    by_units: bool,
) -> Recurrence<'a> {
    let kernel = params.matrix("recurrent_kernel");
    let use_packed = !by_units && batch * kernel.len() >= DIRECT_PRODUCT_BELOW;
    let key = Some((params.version(), by_units, use_packed));
    let packed_already = packed.key == key;
    packed.key = key;
    if use_packed && !packed_already {
        packed.whole.pack(if transposed {
            kernel.t()
        } else {
            kernel.view()
        });
    }
    let units = kernel.nrows();
    let at = units / 2;
    if by_units && !packed_already {
        let halves = [0..at, at..units];
        let parts: Vec<ArrayView2<f32>> = if transposed {
            halves
                .map(|r| kernel.slice_move(s![r, ..]).reversed_axes())
                .into()
        } else {
            halves
                .into_iter()
                .flat_map(|r| blocks_of_units(kernel, gates, r))
                .collect()
        };
        // Forward, each part's input projection needs the same columns of W.
        let input_parts: Vec<ArrayView2<f32>> = if transposed {
            vec![]
        } else {
            let w = params.matrix("kernel");
            [0..at, at..units]
                .into_iter()
                .flat_map(|r| blocks_of_units(w, gates, r))
                .collect()
        };
        packed
            .by_units
            .resize_with(parts.len(), PackedMatrix::default);
        packed
            .input_by_units
            .resize_with(input_parts.len(), PackedMatrix::default);
        // Each core packs the parts of one half.
        let (first, second) = packed.by_units.split_at_mut(parts.len() / 2);
        let (first_parts, second_parts) = parts.split_at(parts.len() / 2);
        let (first_w, second_w) = packed.input_by_units.split_at_mut(input_parts.len() / 2);
        let (first_w_parts, second_w_parts) = input_parts.split_at(input_parts.len() / 2);
        let pack = |targets: &mut [PackedMatrix], parts: &[ArrayView2<f32>]| {
            for (target, part) in targets.iter_mut().zip(parts) {
                target.pack(*part);
            }
        };
        helper::join(
            || {
                pack(first, first_parts);
                pack(first_w, first_w_parts);
            },
            || {
                pack(second, second_parts);
                pack(second_w, second_w_parts);
            },
        );
    }
    let bias = params.get("bias").filter(|_| apart_bias).map(|bias| {
        bias.index_axis(Axis(0), 1)
            .into_dimensionality()
            .expect("[2, G·u] bias")
    });
    Recurrence {
        kernel,
        bias,
        packed: use_packed.then_some(&packed.whole),
        by_units: by_units.then_some(UnitSplit {
            at,
            parts: &packed.by_units,
            input_parts: &packed.input_by_units,
        }),
    }
}
