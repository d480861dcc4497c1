//! The GRU cell of Keras 3 (`reset_after=True`, its default), gate by gate.
//!
//! ```text
//! xp  = x_t·W + b_x                 input projection, three blocks packed: [ z | r | h ]
//! hp  = h_{t-1}·U + b_h             recurrent projection, the same three blocks
//! z_t = σ(xp_z + hp_z)              update gate: how much of the old state to keep
//! r_t = σ(xp_r + hp_r)              reset gate: how much of the old state the candidate sees
//! ĥ_t = tanh(xp_h + r_t ⊙ hp_h)     candidate (reset applied after the product, so b_h counts)
//! h_t = z_t ⊙ h_{t-1} + (1 − z_t) ⊙ ĥ_t
//! ```
//!
//! One state, `h`; no cell state. The bias is `[2, 3u]`: row 0 is `b_x`, row 1 is `b_h`.
//! The [`Gru`](crate::Gru) layer runs `step_in_place` and `step_backward_in_place`; [`step`]
//! calls them too, so what you read here is what trains. For teaching, each line above is a
//! function of its own: [`projections`], [`update_gate`], [`reset_gate`], [`candidate`],
//! [`interpolate`]; they compute the same bits, in the same order.

use ndarray::{Array2, ArrayView2, ArrayViewMut2, Zip, s};

use crate::check::fmt_shape;
use crate::error::{LstmError, Result};
use crate::math::activation::{self, Activation};
use crate::math::shapes::{activated, elementwise, same_shape};

/// The GRU's three blocks, in Keras' order along the packed `3·units` axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Block {
    /// `z`: how much of the old state to keep.
    Update,
    /// `r`: how much of the old state the candidate sees.
    Reset,
    /// `ĥ`: the new state on offer.
    Candidate,
}

impl Block {
    /// The blocks in Keras' packed order z, r, h.
    pub const ALL: [Block; 3] = [Block::Update, Block::Reset, Block::Candidate];

    /// Position of this block along the packed axis.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// One block's two projections, `xp = x·W_k + b_x,k` and `hp = h_prev·U_k + b_h,k`, each
/// `[batch, units]`, from Keras' packed weights (`kernel: [in, 3u]`, `recurrent_kernel:
/// [u, 3u]`, `bias: [2, 3u]`).
pub fn projections(
    x: ArrayView2<f32>,
    h_prev: ArrayView2<f32>,
    kernel: ArrayView2<f32>,
    recurrent_kernel: ArrayView2<f32>,
    bias: ArrayView2<f32>,
    block: Block,
) -> Result<(Array2<f32>, Array2<f32>)> {
    let context = "gru::projections";
    let units = recurrent_kernel.nrows();
    if units == 0 || recurrent_kernel.ncols() != 3 * units {
        return Err(LstmError::shape(
            format!("{context}: recurrent_kernel"),
            "(units, 3·units), three blocks packed side by side",
            fmt_shape(recurrent_kernel.shape()),
        ));
    }
    same_shape(context, "kernel", &[x.ncols(), 3 * units], kernel.shape())?;
    same_shape(context, "h_prev", &[x.nrows(), units], h_prev.shape())?;
    same_shape(context, "bias", &[2, 3 * units], bias.shape())?;
    let cols = s![.., block.index() * units..(block.index() + 1) * units];
    let xp = x.dot(&kernel.slice(cols)) + bias.slice(cols).row(0);
    let hp = h_prev.dot(&recurrent_kernel.slice(cols)) + bias.slice(cols).row(1);
    Ok((xp, hp))
}

/// `z_t = σ(xp_z + hp_z)`
pub fn update_gate(xp_z: ArrayView2<f32>, hp_z: ArrayView2<f32>) -> Result<Array2<f32>> {
    same_shape("gru::update_gate", "hp_z", xp_z.shape(), hp_z.shape())?;
    Ok(activated((&xp_z + &hp_z).view(), Activation::Sigmoid))
}

/// `r_t = σ(xp_r + hp_r)`
pub fn reset_gate(xp_r: ArrayView2<f32>, hp_r: ArrayView2<f32>) -> Result<Array2<f32>> {
    same_shape("gru::reset_gate", "hp_r", xp_r.shape(), hp_r.shape())?;
    Ok(activated((&xp_r + &hp_r).view(), Activation::Sigmoid))
}

/// `ĥ_t = act(xp_h + r_t ⊙ hp_h)`: the reset gate scales the recurrent projection, bias
/// included (Keras 3's `reset_after`).
pub fn candidate(
    xp_h: ArrayView2<f32>,
    r: ArrayView2<f32>,
    hp_h: ArrayView2<f32>,
    activation: Activation,
) -> Result<Array2<f32>> {
    let context = "gru::candidate";
    elementwise(context, activation)?;
    same_shape(context, "r", xp_h.shape(), r.shape())?;
    same_shape(context, "hp_h", xp_h.shape(), hp_h.shape())?;
    let a = Zip::from(xp_h)
        .and(r)
        .and(hp_h)
        .map_collect(|&x, &r, &h| x + r * h);
    Ok(activated(a.view(), activation))
}

/// `h_t = z_t ⊙ h_{t-1} + (1 − z_t) ⊙ ĥ_t`: keep `z` of the old state, take the rest from the
/// candidate.
pub fn interpolate(
    z: ArrayView2<f32>,
    h_prev: ArrayView2<f32>,
    candidate: ArrayView2<f32>,
) -> Result<Array2<f32>> {
    let context = "gru::interpolate";
    same_shape(context, "h_prev", z.shape(), h_prev.shape())?;
    same_shape(context, "candidate", z.shape(), candidate.shape())?;
    Ok(Zip::from(z)
        .and(h_prev)
        .and(candidate)
        .map_collect(|&z, &h, &c| z * h + (1.0 - z) * c))
}

/// Everything one GRU step computes, each `[batch, units]`.
#[derive(Debug, Clone, PartialEq)]
pub struct GruStep {
    /// Update gate `z_t`.
    pub z: Array2<f32>,
    /// Reset gate `r_t`.
    pub r: Array2<f32>,
    /// Candidate `ĥ_t`.
    pub candidate: Array2<f32>,
    /// New hidden state `h_t`.
    pub h: Array2<f32>,
}

/// One GRU step with Keras weights (`kernel: [in, 3u]`, `recurrent_kernel: [u, 3u]`,
/// `bias: [2, 3u]`), `x: [batch, in]`, `h_prev: [batch, u]`.
pub fn step(
    x: ArrayView2<f32>,
    h_prev: ArrayView2<f32>,
    kernel: ArrayView2<f32>,
    recurrent_kernel: ArrayView2<f32>,
    bias: ArrayView2<f32>,
    activation: Activation,
) -> Result<GruStep> {
    let (batch, units) = h_prev.dim();
    let context = "gru::step";
    for (name, expected, got) in [
        ("kernel", [x.ncols(), 3 * units], kernel.shape()),
        (
            "recurrent_kernel",
            [units, 3 * units],
            recurrent_kernel.shape(),
        ),
        ("bias", [2, 3 * units], bias.shape()),
        ("x", [batch, x.ncols()], x.shape()),
    ] {
        same_shape(context, name, &expected, got)?;
    }
    elementwise(context, activation)?;
    let mut gates = x.dot(&kernel) + bias.row(0);
    let hp = h_prev.dot(&recurrent_kernel) + bias.row(1);
    let mut hp_h = Array2::zeros((batch, units));
    let mut h = Array2::zeros((batch, units));
    step_in_place(
        gates.view_mut(),
        hp.view(),
        h_prev.as_standard_layout().view(),
        hp_h.view_mut(),
        h.view_mut(),
        activation,
    );
    let block = |k: usize| {
        gates
            .slice(ndarray::s![.., k * units..(k + 1) * units])
            .to_owned()
    };
    Ok(GruStep {
        z: block(0),
        r: block(1),
        candidate: block(2),
        h,
    })
}

/// The step as the layer runs it. `gates` holds `xp` on entry and `[ z | r | ĥ ]` on exit;
/// `hp` holds `h_{t-1}·U + b_h`; `hp_h` receives `hp`'s candidate block (backward needs it);
/// `h` receives `h_t`. Every array in standard layout.
pub(crate) fn step_in_place(
    mut gates: ArrayViewMut2<f32>,
    hp: ArrayView2<f32>,
    h_prev: ArrayView2<f32>,
    mut hp_h: ArrayViewMut2<f32>,
    mut h: ArrayViewMut2<f32>,
    activation: Activation,
) {
    let units = h_prev.ncols();
    let contiguous = "step buffers in standard layout";
    let rows = gates
        .as_slice_mut()
        .expect(contiguous)
        .chunks_exact_mut(3 * units)
        .zip(hp.as_slice().expect(contiguous).chunks_exact(3 * units))
        .zip(h_prev.as_slice().expect(contiguous).chunks_exact(units))
        .zip(
            hp_h.as_slice_mut()
                .expect(contiguous)
                .chunks_exact_mut(units),
        )
        .zip(h.as_slice_mut().expect(contiguous).chunks_exact_mut(units));
    for ((((gates, hp), h_prev), hp_h), h) in rows {
        let (zr, candidate) = gates.split_at_mut(2 * units);
        for (a, b) in zr.iter_mut().zip(&hp[..2 * units]) {
            *a += b;
        }
        activation::sigmoid_in_place(zr);
        let (z, r) = zr.split_at(units);
        hp_h.copy_from_slice(&hp[2 * units..]);
        for k in 0..units {
            candidate[k] += r[k] * hp_h[k];
        }
        activation.apply_in_place(candidate);
        for k in 0..units {
            h[k] = z[k] * h_prev[k] + (1.0 - z[k]) * candidate[k];
        }
    }
}

/// Backpropagation through one step. `dh` holds d(loss)/d(h_t) on entry and, on exit, the part
/// of d(loss)/d(h_{t-1}) that flows straight through `z ⊙ h_{t-1}` (the caller adds
/// `d_rec·Uᵀ`). `d_in` receives the gradient of `xp`, `d_rec` that of `hp`.
pub(crate) fn step_backward_in_place(
    gates: ArrayView2<f32>,
    h_prev: ArrayView2<f32>,
    hp_h: ArrayView2<f32>,
    mut dh: ArrayViewMut2<f32>,
    mut d_in: ArrayViewMut2<f32>,
    mut d_rec: ArrayViewMut2<f32>,
    activation: Activation,
) {
    let units = h_prev.ncols();
    let contiguous = "step buffers in standard layout";
    let rows = gates
        .as_slice()
        .expect(contiguous)
        .chunks_exact(3 * units)
        .zip(h_prev.as_slice().expect(contiguous).chunks_exact(units))
        .zip(hp_h.as_slice().expect(contiguous).chunks_exact(units))
        .zip(dh.as_slice_mut().expect(contiguous).chunks_exact_mut(units))
        .zip(
            d_in.as_slice_mut()
                .expect(contiguous)
                .chunks_exact_mut(3 * units),
        )
        .zip(
            d_rec
                .as_slice_mut()
                .expect(contiguous)
                .chunks_exact_mut(3 * units),
        );
    for (((((gates, h_prev), hp_h), dh), d_in), d_rec) in rows {
        let (z, rest) = gates.split_at(units);
        let (r, candidate) = rest.split_at(units);
        for k in 0..units {
            // h = z·h_prev + (1 − z)·ĥ
            let d_z = dh[k] * (h_prev[k] - candidate[k]);
            let d_candidate = dh[k] * (1.0 - z[k]);
            // ĥ = act(xp_h + r·hp_h)
            let da_h = d_candidate * activation.derivative_from_output(candidate[k]);
            let d_r = da_h * hp_h[k];
            let da_z = d_z * z[k] * (1.0 - z[k]);
            let da_r = d_r * r[k] * (1.0 - r[k]);
            d_in[k] = da_z;
            d_in[units + k] = da_r;
            d_in[2 * units + k] = da_h;
            d_rec[k] = da_z;
            d_rec[units + k] = da_r;
            d_rec[2 * units + k] = da_h * r[k];
            dh[k] *= z[k];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::arr2;

    #[test]
    fn one_unit_step_matches_hand_computation() {
        let kernel = arr2(&[[0.5, -0.3, 0.8]]);
        let recurrent = arr2(&[[0.2, 0.4, -0.6]]);
        let bias = arr2(&[[0.1, 0.0, 0.2], [-0.1, 0.3, 0.25]]);
        let (x, h) = (arr2(&[[2.0f32]]), arr2(&[[0.5f32]]));
        let got = step(
            x.view(),
            h.view(),
            kernel.view(),
            recurrent.view(),
            bias.view(),
            Activation::Tanh,
        )
        .unwrap();
        let sig = |v: f32| 1.0 / (1.0 + (-v).exp());
        let z = sig(2.0 * 0.5 + 0.1 + 0.5 * 0.2 - 0.1);
        let r = sig(2.0 * -0.3 + 0.5 * 0.4 + 0.3);
        // The reset gate multiplies the recurrent product *and* its bias.
        let candidate = (2.0f32 * 0.8 + 0.2 + r * (0.5 * -0.6 + 0.25)).tanh();
        let h_new = z * 0.5 + (1.0 - z) * candidate;
        for (g, w) in [
            (got.z[[0, 0]], z),
            (got.r[[0, 0]], r),
            (got.candidate[[0, 0]], candidate),
            (got.h[[0, 0]], h_new),
        ] {
            assert!((g - w).abs() < 1e-6, "{g} vs {w}");
        }
    }

    #[test]
    fn wrong_shapes_are_errors_naming_the_argument() {
        let x = Array2::<f32>::zeros((2, 3));
        let h = Array2::<f32>::zeros((2, 2));
        let w = Array2::<f32>::zeros((3, 6));
        let u = Array2::<f32>::zeros((2, 6));
        let b = Array2::<f32>::zeros((1, 6));
        let err = step(
            x.view(),
            h.view(),
            w.view(),
            u.view(),
            b.view(),
            Activation::Tanh,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("gru::step: bias: expected shape (2, 6), got (1, 6)"),
            "{err}"
        );
        let b = Array2::<f32>::zeros((2, 6));
        let err = step(
            x.view(),
            h.view(),
            w.view(),
            u.view(),
            b.view(),
            Activation::Softmax,
        )
        .unwrap_err();
        assert!(err.to_string().contains("got softmax"), "{err}");
    }
}
