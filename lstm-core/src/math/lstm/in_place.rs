//! The LSTM's step as the layer runs it: the same equations as [`super`], written into buffers
//! the layer owns and vectorised (each row's gates in one fused SIMD pass, chosen for the
//! machine's instruction set at run time), forward and backward, for a whole batch or for the
//! block of units one core runs. `lstm::step` and `lstm::step_backward` call these, so what the
//! equations say is what trains.

use ndarray::{ArrayView2, ArrayViewMut2, Axis, s};
use rten_simd::ops::{BitOps, NumOps};
use rten_simd::{Isa, Simd, SimdOp, SimdUnaryOp};

use crate::math::activation::{self, Activation};

/// The step as the layer runs it: the same equations, written into buffers the layer owns,
/// vectorised (each row's equations in one fused pass, or for few units each nonlinearity over
/// the whole block).
///
/// `z` holds the pre-activations `[batch, 4u]` on entry and the gates `[ i | f | g | o ]` on exit;
/// `c`, `act_c = act(c)` (kept for backpropagation) and `h` are written. All arrays must be in
/// standard (row-major) layout.
pub(crate) fn step_in_place(
    z: ArrayViewMut2<f32>,
    c_prev: ArrayView2<f32>,
    c: ArrayViewMut2<f32>,
    act_c: ArrayViewMut2<f32>,
    h: ArrayViewMut2<f32>,
    activation: Activation,
) {
    if c_prev.ncols() < FUSED_FROM {
        step_block_in_place(z, c_prev, c, act_c, h, activation);
    } else {
        step_units_in_place(GateBlocks::of_all_units(z), c_prev, c, act_c, h, activation);
    }
}

/// From this many units [`step_in_place`] runs each row's equations in one fused pass
/// (`FusedStep`). Below, a row is less than one AVX-512 vector per gate and most lanes of the
/// fused pass would be padding: one call per nonlinearity over the whole block is faster
/// (LSTM(5): the tutorial's sum-of-two fit 0.031 s fused, 0.025 s by blocks).
const FUSED_FROM: usize = 16;

/// [`step_in_place`] with each nonlinearity called once over the whole block.
fn step_block_in_place(
    mut z: ArrayViewMut2<f32>,
    c_prev: ArrayView2<f32>,
    mut c: ArrayViewMut2<f32>,
    mut act_c: ArrayViewMut2<f32>,
    mut h: ArrayViewMut2<f32>,
    activation: Activation,
) {
    let units = c_prev.ncols();
    let contiguous = "step buffers in standard layout";
    let z = z.as_slice_mut().expect(contiguous);
    let act_c = act_c.as_slice_mut().expect(contiguous);
    let c = c.as_slice_mut().expect(contiguous);
    let h = h.as_slice_mut().expect(contiguous);
    let c_prev = c_prev.as_slice().expect(contiguous);
    // Each nonlinearity runs once over the whole block: vectorised calls on long slices. σ runs
    // over all four gates, so g's pre-activations are set aside first (in act_c, free until below).
    for (gates, g_pre) in z.chunks_exact(4 * units).zip(act_c.chunks_exact_mut(units)) {
        g_pre.copy_from_slice(&gates[2 * units..3 * units]);
    }
    activation::sigmoid_in_place(z);
    activation.apply_in_place(act_c);
    let rows = z
        .chunks_exact_mut(4 * units)
        .zip(act_c.chunks_exact_mut(units))
        .zip(c.chunks_exact_mut(units).zip(c_prev.chunks_exact(units)));
    for ((gates, act_c), (c, c_prev)) in rows {
        let (i, rest) = gates.split_at_mut(units);
        let (f, rest) = rest.split_at_mut(units);
        let g = &mut rest[..units];
        g.copy_from_slice(act_c);
        update_cell_row(f, c_prev, i, g, c, act_c);
    }
    activation.apply_in_place(act_c);
    let rows = z.chunks_exact(4 * units).zip(act_c.chunks_exact(units));
    for ((gates, act_c), h) in rows.zip(h.chunks_exact_mut(units)) {
        hidden_row(&gates[3 * units..], act_c, h);
    }
}

/// `c = f ⊙ c_prev + i ⊙ g` for one row, also written to `act_c` (where `act(c)` is computed
/// next: one loop, not a separate copy per row).
#[inline(always)]
fn update_cell_row(
    f: &[f32],
    c_prev: &[f32],
    i: &[f32],
    g: &[f32],
    c: &mut [f32],
    act_c: &mut [f32],
) {
    for k in 0..c.len() {
        c[k] = f[k] * c_prev[k] + i[k] * g[k];
        act_c[k] = c[k];
    }
}

/// `h = o ⊙ act(c)` for one row.
#[inline(always)]
fn hidden_row(o: &[f32], act_c: &[f32], h: &mut [f32]) {
    for k in 0..h.len() {
        h[k] = o[k] * act_c[k];
    }
}

/// The four gates of a block of units: `[batch, n]` each, rows contiguous.
pub(crate) struct GateBlocks<V> {
    pub(crate) i: V,
    pub(crate) f: V,
    pub(crate) g: V,
    pub(crate) o: V,
}

impl<'a> GateBlocks<ArrayViewMut2<'a, f32>> {
    /// The four gate blocks of a packed `[.., 4u]` array.
    pub(crate) fn of_all_units(packed: ArrayViewMut2<'a, f32>) -> Self {
        let units = packed.ncols() / 4;
        let (i, rest) = packed.split_at(Axis(1), units);
        let (f, rest) = rest.split_at(Axis(1), units);
        let (g, o) = rest.split_at(Axis(1), units);
        GateBlocks { i, f, g, o }
    }
}

impl<'a> GateBlocks<ArrayView2<'a, f32>> {
    /// The columns of the units in `range` in each gate block of a packed `[.., 4u]` array
    /// (a step's gates, or `U`).
    pub(crate) fn of_units(packed: ArrayView2<'a, f32>, range: std::ops::Range<usize>) -> Self {
        let units = packed.ncols() / 4;
        let block =
            |k: usize| packed.slice_move(s![.., k * units + range.start..k * units + range.end]);
        GateBlocks {
            i: block(0),
            f: block(1),
            g: block(2),
            o: block(3),
        }
    }
}

/// [`step_in_place`] for a block of units (columns) of every row, with each gate's block a
/// separate view: two cores can each run half of a layer's units.
///
/// # Panics
/// If the views are not all of one shape (the fused pass reads each row's chunks by lane masks).
pub(crate) fn step_units_in_place(
    z: GateBlocks<ArrayViewMut2<f32>>,
    c_prev: ArrayView2<f32>,
    c: ArrayViewMut2<f32>,
    act_c: ArrayViewMut2<f32>,
    h: ArrayViewMut2<f32>,
    activation: Activation,
) {
    let shape = c.dim();
    let shapes = [z.i.dim(), z.f.dim(), z.g.dim(), z.o.dim()];
    let states = [c_prev.dim(), act_c.dim(), h.dim()];
    assert!(
        shapes.iter().chain(&states).all(|&s| s == shape),
        "one [rows, units] shape for the step's blocks"
    );
    FusedStep {
        z,
        c_prev,
        c,
        act_c,
        h,
        activation,
    }
    .dispatch();
}

/// The step's equations for each row in one pass over chunks of a SIMD vector's width of units
/// (16 with AVX-512, 8 with AVX2, chosen at run time): a chunk's gates, cell state and `h` stay
/// in registers from the first equation to the last, instead of one pass through memory per
/// equation. σ and tanh are rten-vecmath's, the functions `Activation::apply_in_place` runs on
/// slices (each lane alone), and the arithmetic is the same operations in the same order: the
/// bits are those of the equations applied one at a time.
pub(super) struct FusedStep<'a, 'b> {
    pub(super) z: GateBlocks<ArrayViewMut2<'a, f32>>,
    pub(super) c_prev: ArrayView2<'b, f32>,
    pub(super) c: ArrayViewMut2<'a, f32>,
    pub(super) act_c: ArrayViewMut2<'a, f32>,
    pub(super) h: ArrayViewMut2<'a, f32>,
    pub(super) activation: Activation,
}

/// Which lanes of a chunk hold values: all (`None`), or the first few of a row's last chunk.
type Lanes<I> = Option<<<I as Isa>::F32 as Simd>::Mask>;

/// A chunk of `s` (at least `ops.len()` values, or as many as `lanes` has set), zero-padded.
#[inline(always)]
fn load_chunk<I: Isa>(isa: I, s: &[f32], lanes: Lanes<I>) -> I::F32 {
    let ops = isa.f32();
    match lanes {
        None => ops.load(s),
        // SAFETY: the mask's lanes index values of `s` (see `FusedStep::eval`).
        Some(mask) => unsafe { ops.load_ptr_mask(s.as_ptr(), mask) },
    }
}

/// `x` into `s`, or its lanes that `lanes` has set.
#[inline(always)]
fn store_chunk<I: Isa>(isa: I, x: I::F32, s: &mut [f32], lanes: Lanes<I>) {
    let ops = isa.f32();
    match lanes {
        None => ops.store(x, s),
        // SAFETY: as in `load_chunk`.
        Some(mask) => unsafe { ops.store_ptr_mask(x, s.as_mut_ptr(), mask) },
    }
}

#[inline(always)]
fn sigmoid_lanes<I: Isa>(isa: I, x: I::F32) -> I::F32 {
    rten_vecmath::Sigmoid::apply(isa, x)
}

/// `activation` lane by lane, as `Activation::apply_in_place` computes it.
#[inline(always)]
fn activate_lanes<I: Isa>(isa: I, activation: Activation, x: I::F32) -> I::F32 {
    let ops = isa.f32();
    match activation {
        Activation::Tanh => rten_vecmath::Tanh::apply(isa, x),
        Activation::Sigmoid => sigmoid_lanes(isa, x),
        // `v.max(0.0)`'s lanes: 0 for NaN and for -0.
        Activation::Relu => ops.max(x, ops.zero()),
        Activation::Linear | Activation::Softmax => x,
    }
}

impl SimdOp for FusedStep<'_, '_> {
    type Output = ();

    #[inline(always)]
    fn eval<I: Isa>(self, isa: I) {
        let ops = isa.f32();
        let lanes = ops.len();
        let activation = self.activation;
        let GateBlocks {
            mut i,
            mut f,
            mut g,
            mut o,
        } = self.z;
        let (mut c, mut act_c, mut h) = (self.c, self.act_c, self.h);
        let row = "rows of a unit block are contiguous";
        for r in 0..c.nrows() {
            let i = i.row_mut(r).into_slice().expect(row);
            let f = f.row_mut(r).into_slice().expect(row);
            let g = g.row_mut(r).into_slice().expect(row);
            let o = o.row_mut(r).into_slice().expect(row);
            let c_prev = self.c_prev.row(r).to_slice().expect(row);
            let c = c.row_mut(r).into_slice().expect(row);
            let act_c = act_c.row_mut(r).into_slice().expect(row);
            let h = h.row_mut(r).into_slice().expect(row);
            let mut k = 0;
            while k < c.len() {
                let n = lanes.min(c.len() - k);
                // Every slice has c.len() values, so the first n lanes from k are inside each.
                let chunk: Lanes<I> = (n < lanes).then(|| ops.first_n_mask(n));
                let i_t = sigmoid_lanes(isa, load_chunk(isa, &i[k..], chunk));
                let f_t = sigmoid_lanes(isa, load_chunk(isa, &f[k..], chunk));
                let g_t = activate_lanes(isa, activation, load_chunk(isa, &g[k..], chunk));
                let o_t = sigmoid_lanes(isa, load_chunk(isa, &o[k..], chunk));
                let c_t = ops.add(
                    ops.mul(f_t, load_chunk(isa, &c_prev[k..], chunk)),
                    ops.mul(i_t, g_t),
                );
                let act_c_t = activate_lanes(isa, activation, c_t);
                let h_t = ops.mul(o_t, act_c_t);
                for (value, s) in [
                    (i_t, &mut *i),
                    (f_t, &mut *f),
                    (g_t, &mut *g),
                    (o_t, &mut *o),
                    (c_t, &mut *c),
                    (act_c_t, &mut *act_c),
                    (h_t, &mut *h),
                ] {
                    store_chunk(isa, value, &mut s[k..], chunk);
                }
                k += n;
            }
        }
    }
}

/// The backward step as the layer runs it. `dc` holds the gradient reaching `c_t` on entry and
/// the one reaching `c_{t-1}` on exit; `dz` receives the gradient of the pre-activations.
pub(crate) fn step_backward_in_place(
    gates: ArrayView2<f32>,
    c_prev: ArrayView2<f32>,
    act_c: ArrayView2<f32>,
    dh: ArrayView2<f32>,
    dc: ArrayViewMut2<f32>,
    dz: ArrayViewMut2<f32>,
    activation: Activation,
) {
    with_derivative!(activation, backward_rows(gates, c_prev, act_c, dh, dc, dz))
}

/// Calls `$run(args…, act')` with the activation's derivative (from its output) as a closure of
/// its own per activation: one loop per activation, so each inner loop is branch-free and
/// vectorises.
macro_rules! with_derivative {
    ($activation:expr, $run:ident($($arg:expr),*)) => {
        match $activation {
            Activation::Tanh => $run($($arg,)* |y| 1.0 - y * y),
            Activation::Relu => $run($($arg,)* |y| (y > 0.0) as u8 as f32),
            other => $run($($arg,)* |y| other.derivative_from_output(y)),
        }
    };
}
use with_derivative;

#[inline(always)]
fn backward_rows(
    gates: ArrayView2<f32>,
    c_prev: ArrayView2<f32>,
    act_c: ArrayView2<f32>,
    dh: ArrayView2<f32>,
    mut dc: ArrayViewMut2<f32>,
    mut dz: ArrayViewMut2<f32>,
    act_derivative: impl Fn(f32) -> f32,
) {
    let units = c_prev.ncols();
    let contiguous = "step buffers in standard layout";
    let rows = gates
        .as_slice()
        .expect(contiguous)
        .chunks_exact(4 * units)
        .zip(c_prev.as_slice().expect(contiguous).chunks_exact(units))
        .zip(act_c.as_slice().expect(contiguous).chunks_exact(units))
        .zip(dh.as_slice().expect(contiguous).chunks_exact(units))
        .zip(dc.as_slice_mut().expect(contiguous).chunks_exact_mut(units))
        .zip(
            dz.as_slice_mut()
                .expect(contiguous)
                .chunks_exact_mut(4 * units),
        );
    for (((((gates, c_prev), act_c), dh), dc), dz) in rows {
        let (i, rest) = gates.split_at(units);
        let (f, rest) = rest.split_at(units);
        let (g, o) = rest.split_at(units);
        let (dz_i, rest) = dz.split_at_mut(units);
        let (dz_f, rest) = rest.split_at_mut(units);
        let (dz_g, dz_o) = rest.split_at_mut(units);
        let gates = GateBlocks { i, f, g, o };
        let dz = GateBlocks {
            i: dz_i,
            f: dz_f,
            g: dz_g,
            o: dz_o,
        };
        backward_row(gates, c_prev, act_c, dh, dc, dz, &act_derivative);
    }
}

/// One row of the backward step: `dc` holds the gradient reaching `c_t` on entry and the one
/// reaching `c_{t-1}` on exit.
#[inline(always)]
fn backward_row(
    gates: GateBlocks<&[f32]>,
    c_prev: &[f32],
    act_c: &[f32],
    dh: &[f32],
    dc: &mut [f32],
    dz: GateBlocks<&mut [f32]>,
    act_derivative: &impl Fn(f32) -> f32,
) {
    let GateBlocks { i, f, g, o } = gates;
    for k in 0..dc.len() {
        // h = o·act(c)
        let d_o = dh[k] * act_c[k];
        let dc_t = dc[k] + dh[k] * o[k] * act_derivative(act_c[k]);
        // c = f·c_prev + i·g
        let (d_f, d_i, d_g) = (dc_t * c_prev[k], dc_t * g[k], dc_t * i[k]);
        dz.i[k] = d_i * i[k] * (1.0 - i[k]);
        dz.f[k] = d_f * f[k] * (1.0 - f[k]);
        dz.g[k] = d_g * act_derivative(g[k]);
        dz.o[k] = d_o * o[k] * (1.0 - o[k]);
        dc[k] = dc_t * f[k];
    }
}

/// [`step_backward_in_place`] for a block of units of every row, each gate's block (of the
/// gates and of `dz`) a separate view. The same operations row by row, so the same bits.
pub(crate) fn step_backward_units_in_place(
    gates: GateBlocks<ArrayView2<f32>>,
    c_prev: ArrayView2<f32>,
    act_c: ArrayView2<f32>,
    dh: ArrayView2<f32>,
    dc: ArrayViewMut2<f32>,
    dz: GateBlocks<ArrayViewMut2<f32>>,
    activation: Activation,
) {
    with_derivative!(
        activation,
        backward_unit_rows(gates, c_prev, act_c, dh, dc, dz)
    )
}

#[inline(always)]
fn backward_unit_rows(
    gates: GateBlocks<ArrayView2<f32>>,
    c_prev: ArrayView2<f32>,
    act_c: ArrayView2<f32>,
    dh: ArrayView2<f32>,
    mut dc: ArrayViewMut2<f32>,
    dz: GateBlocks<ArrayViewMut2<f32>>,
    act_derivative: impl Fn(f32) -> f32,
) {
    let GateBlocks {
        mut i,
        mut f,
        mut g,
        mut o,
    } = dz;
    let row = "rows of a unit block are contiguous";
    for r in 0..dc.nrows() {
        let gates = GateBlocks {
            i: gates.i.row(r).to_slice().expect(row),
            f: gates.f.row(r).to_slice().expect(row),
            g: gates.g.row(r).to_slice().expect(row),
            o: gates.o.row(r).to_slice().expect(row),
        };
        let dz = GateBlocks {
            i: i.row_mut(r).into_slice().expect(row),
            f: f.row_mut(r).into_slice().expect(row),
            g: g.row_mut(r).into_slice().expect(row),
            o: o.row_mut(r).into_slice().expect(row),
        };
        backward_row(
            gates,
            c_prev.row(r).to_slice().expect(row),
            act_c.row(r).to_slice().expect(row),
            dh.row(r).to_slice().expect(row),
            dc.row_mut(r).into_slice().expect(row),
            dz,
            &act_derivative,
        );
    }
}
