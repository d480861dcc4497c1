//! The LSTM cell, gate by gate, written like the equations.
//!
//! Every function works on a batch: one row per sequence. For one sequence, use a batch of one.
//! The [`Lstm`](crate::Lstm) layer runs `step_in_place` and `step_backward_in_place`: the same
//! equations into reused buffers. [`step`] and [`step_backward`] call them too, so what you read
//! here is what trains.
//!
//! ```text
//! z   = x_t·W + h_{t-1}·U + b      four gates packed side by side: [ i | f | g | o ]
//! i_t = σ(z_i)                     input gate: how much new information to write
//! f_t = σ(z_f)                     forget gate: how much of the old cell state to keep
//! g_t = tanh(z_g)                  candidate: the new information itself
//! o_t = σ(z_o)                     output gate: how much of the cell state to show
//! c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t  cell state update
//! h_t = o_t ⊙ tanh(c_t)            hidden state (the layer's output)
//! ```

use ndarray::{Array2, ArrayView1, ArrayView2, Zip, s};

use crate::check::fmt_shape;
use crate::error::{LstmError, Result};
use crate::math::activation::Activation;
use crate::math::shapes::{activated, elementwise, same_shape};

mod in_place;

pub(crate) use in_place::{
    GateBlocks, step_backward_in_place, step_backward_units_in_place, step_in_place,
    step_units_in_place,
};

/// The four gates in Keras' order along the packed `4·units` axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// `i`: how much new information to write.
    Input,
    /// `f`: how much of the old cell state to keep.
    Forget,
    /// `g` (Keras' "c" slice): the new information itself.
    Candidate,
    /// `o`: how much of the cell state to show.
    Output,
}

impl Gate {
    /// The gates in Keras' packed order i, f, c (the candidate), o.
    pub const ALL: [Gate; 4] = [Gate::Input, Gate::Forget, Gate::Candidate, Gate::Output];

    /// Position of this gate's block along the packed axis (i, f, g, o; Keras calls the
    /// candidate's block "c").
    pub fn index(self) -> usize {
        self as usize
    }

    /// The letter used in the equations.
    pub fn symbol(self) -> &'static str {
        ["i", "f", "g", "o"][self.index()]
    }
}

/// This gate's columns of a packed `[.., 4·units]` array.
pub fn gate_slice(packed: ArrayView2<'_, f32>, gate: Gate) -> Result<ArrayView2<'_, f32>> {
    let units = packed_units("gate_slice: packed array", packed.ncols(), packed.shape())?;
    let start = gate.index() * units;
    Ok(packed.slice_move(s![.., start..start + units]))
}

/// This gate's part of a packed `[4·units]` bias.
pub fn gate_bias(packed: ArrayView1<'_, f32>, gate: Gate) -> Result<ArrayView1<'_, f32>> {
    let units = packed_units("gate_bias: packed bias", packed.len(), packed.shape())?;
    let start = gate.index() * units;
    Ok(packed.slice_move(s![start..start + units]))
}

/// `units` of a packed axis of length `4·units`.
fn packed_units(context: &str, len: usize, shape: &[usize]) -> Result<usize> {
    if len == 0 || !len.is_multiple_of(4) {
        return Err(LstmError::shape(
            context,
            "four gates packed side by side: a last axis of 4·units",
            fmt_shape(shape),
        ));
    }
    Ok(len / 4)
}

/// `z = x·W + h_prev·U + b`, for one gate (`W: [in, u]`) or all four packed (`W: [in, 4u]`).
/// Shapes: `x: [batch, in]`, `h_prev: [batch, u]`, `U: [u, cols]`, `b: [cols]`.
pub fn preactivation(
    x: ArrayView2<f32>,
    h_prev: ArrayView2<f32>,
    kernel: ArrayView2<f32>,
    recurrent_kernel: ArrayView2<f32>,
    bias: ArrayView1<f32>,
) -> Result<Array2<f32>> {
    let context = "cell::preactivation";
    let (batch, cols) = (x.nrows(), kernel.ncols());
    same_shape(context, "kernel", &[x.ncols(), cols], kernel.shape())?;
    same_shape(context, "h_prev", &[batch, h_prev.ncols()], h_prev.shape())?;
    same_shape(
        context,
        "recurrent_kernel",
        &[h_prev.ncols(), cols],
        recurrent_kernel.shape(),
    )?;
    same_shape(context, "bias", &[cols], bias.shape())?;
    Ok(x.dot(&kernel) + h_prev.dot(&recurrent_kernel) + bias)
}

/// `i_t = σ(z_i)`
pub fn input_gate(z_i: ArrayView2<f32>) -> Array2<f32> {
    activated(z_i, Activation::Sigmoid)
}

/// `f_t = σ(z_f)`
pub fn forget_gate(z_f: ArrayView2<f32>) -> Array2<f32> {
    activated(z_f, Activation::Sigmoid)
}

/// `g_t = act(z_g)`, where `act` is the layer's activation (tanh by default).
pub fn candidate(z_g: ArrayView2<f32>, activation: Activation) -> Result<Array2<f32>> {
    elementwise("cell::candidate", activation)?;
    Ok(activated(z_g, activation))
}

/// `o_t = σ(z_o)`
pub fn output_gate(z_o: ArrayView2<f32>) -> Array2<f32> {
    activated(z_o, Activation::Sigmoid)
}

/// `c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t`, all `[batch, units]`.
pub fn update_cell_state(
    f: ArrayView2<f32>,
    c_prev: ArrayView2<f32>,
    i: ArrayView2<f32>,
    g: ArrayView2<f32>,
) -> Result<Array2<f32>> {
    let context = "cell::update_cell_state";
    same_shape(context, "c_prev", f.shape(), c_prev.shape())?;
    same_shape(context, "i", f.shape(), i.shape())?;
    same_shape(context, "g", f.shape(), g.shape())?;
    Ok(Zip::from(f)
        .and(c_prev)
        .and(i)
        .and(g)
        .map_collect(|&f, &c, &i, &g| f * c + i * g))
}

/// `h_t = o_t ⊙ act(c_t)`, both `[batch, units]`.
pub fn hidden_state(
    o: ArrayView2<f32>,
    c: ArrayView2<f32>,
    activation: Activation,
) -> Result<Array2<f32>> {
    let context = "cell::hidden_state";
    elementwise(context, activation)?;
    same_shape(context, "c", o.shape(), c.shape())?;
    Ok(&o * &activated(c, activation))
}

/// Everything one step computes; [`crate::Lstm::last_steps`] returns these for `inspect`.
#[derive(Debug, Clone, PartialEq)]
pub struct CellStep {
    /// Input gate `i_t`, `[batch, units]`.
    pub i: Array2<f32>,
    /// Forget gate `f_t`.
    pub f: Array2<f32>,
    /// Candidate `g_t`.
    pub g: Array2<f32>,
    /// Output gate `o_t`.
    pub o: Array2<f32>,
    /// New cell state `c_t`.
    pub c: Array2<f32>,
    /// New hidden state `h_t`.
    pub h: Array2<f32>,
}

impl CellStep {
    /// From the packed gates `[batch, 4u]` of a step and its new states `[batch, u]`.
    pub(crate) fn from_gates(gates: ArrayView2<f32>, c: Array2<f32>, h: Array2<f32>) -> CellStep {
        let units = c.ncols();
        let gate = |g: Gate| {
            let start = g.index() * units;
            gates.slice(s![.., start..start + units]).to_owned()
        };
        CellStep {
            i: gate(Gate::Input),
            f: gate(Gate::Forget),
            g: gate(Gate::Candidate),
            o: gate(Gate::Output),
            c,
            h,
        }
    }
}

/// One step from the packed pre-activations `z = x·W + h_prev·U + b` (`[batch, 4u]`) and
/// `c_prev: [batch, u]`.
pub fn step_from_preactivations(
    z: ArrayView2<f32>,
    c_prev: ArrayView2<f32>,
    activation: Activation,
) -> Result<CellStep> {
    let context = "cell::step_from_preactivations";
    elementwise(context, activation)?;
    let (batch, units) = c_prev.dim();
    same_shape(context, "z (packed gates)", &[batch, 4 * units], z.shape())?;
    let mut gates = z.as_standard_layout().into_owned();
    let (mut c, mut act_c, mut h) = (
        Array2::zeros((batch, units)),
        Array2::zeros((batch, units)),
        Array2::zeros((batch, units)),
    );
    step_in_place(
        gates.view_mut(),
        c_prev.as_standard_layout().view(),
        c.view_mut(),
        act_c.view_mut(),
        h.view_mut(),
        activation,
    );
    Ok(CellStep::from_gates(gates.view(), c, h))
}

/// One full step of the cell with packed Keras weights
/// (`kernel: [in, 4u]`, `recurrent_kernel: [u, 4u]`, `bias: [4u]`).
pub fn step(
    x: ArrayView2<f32>,
    h_prev: ArrayView2<f32>,
    c_prev: ArrayView2<f32>,
    kernel: ArrayView2<f32>,
    recurrent_kernel: ArrayView2<f32>,
    bias: ArrayView1<f32>,
    activation: Activation,
) -> Result<CellStep> {
    let units = recurrent_kernel.nrows();
    same_shape(
        "cell::step",
        "recurrent_kernel",
        &[units, 4 * units],
        recurrent_kernel.shape(),
    )?;
    let z = preactivation(x, h_prev, kernel, recurrent_kernel, bias)?;
    step_from_preactivations(z.view(), c_prev, activation)
}

/// Backpropagation through one step.
///
/// Given `dh` (gradient reaching `h_t`) and `dc_next` (gradient reaching `c_t` from step t+1),
/// returns `(dz, dc_prev)`: the gradient of the packed pre-activations `[batch, 4u]` and of `c_{t-1}`.
/// Every array of `step`, `c_prev`, `dh` and `dc_next` is `[batch, units]`.
pub fn step_backward(
    step: &CellStep,
    c_prev: ArrayView2<f32>,
    dh: ArrayView2<f32>,
    dc_next: ArrayView2<f32>,
    activation: Activation,
) -> Result<(Array2<f32>, Array2<f32>)> {
    let context = "cell::step_backward";
    elementwise(context, activation)?;
    let (batch, units) = step.c.dim();
    let shape = [batch, units];
    for (name, got) in [
        ("step.i", step.i.shape()),
        ("step.f", step.f.shape()),
        ("step.g", step.g.shape()),
        ("step.o", step.o.shape()),
        ("step.h", step.h.shape()),
        ("c_prev", c_prev.shape()),
        ("dh", dh.shape()),
        ("dc_next", dc_next.shape()),
    ] {
        same_shape(context, name, &shape, got)?;
    }
    let gates = ndarray::concatenate(
        ndarray::Axis(1),
        &[step.i.view(), step.f.view(), step.g.view(), step.o.view()],
    )
    .expect("four gates of one shape, checked above")
    .as_standard_layout()
    .into_owned();
    let act_c = activated(step.c.view(), activation);
    let mut dz = Array2::zeros((batch, 4 * units));
    let mut dc = dc_next.as_standard_layout().into_owned();
    step_backward_in_place(
        gates.view(),
        c_prev.as_standard_layout().view(),
        act_c.view(),
        dh.as_standard_layout().view(),
        dc.view_mut(),
        dz.view_mut(),
        activation,
    );
    Ok((dz, dc))
}

#[cfg(test)]
mod tests {
    use super::in_place::FusedStep;
    use super::*;
    use crate::math::activation;
    use ndarray::{ArrayViewMut2, Axis};
    use rten_simd::isa::GenericIsa;
    #[cfg(target_arch = "x86_64")]
    use rten_simd::isa::{Avx2Isa, Avx512Isa};
    use rten_simd::{Isa, SimdOp, SimdUnaryOp};

    /// A step's outputs: gates, c, act(c), h.
    type StepOut = (Array2<f32>, [Array2<f32>; 3]);

    fn step_outputs(
        z: &Array2<f32>,
        c_prev: &Array2<f32>,
        run: impl FnOnce(ArrayViewMut2<f32>, [ArrayViewMut2<f32>; 3]),
    ) -> StepOut {
        let mut gates = z.clone();
        let mut out = [(); 3].map(|_| Array2::<f32>::zeros(c_prev.dim()));
        let [c, act_c, h] = &mut out;
        run(
            gates.view_mut(),
            [c.view_mut(), act_c.view_mut(), h.view_mut()],
        );
        (gates, out)
    }

    /// The fused pass on a given instruction set.
    fn fused_on<I: Isa>(
        isa: I,
        z: &Array2<f32>,
        c_prev: &Array2<f32>,
        activation: Activation,
    ) -> StepOut {
        step_outputs(z, c_prev, |z, [c, act_c, h]| {
            let z = GateBlocks::of_all_units(z);
            let c_prev = c_prev.view();
            FusedStep {
                z,
                c_prev,
                c,
                act_c,
                h,
                activation,
            }
            .eval(isa)
        })
    }

    /// The step's equations one at a time over whole slices, as the layer ran them before
    /// fusing, with the given nonlinearities over a slice.
    fn one_at_a_time(
        z: &Array2<f32>,
        c_prev: &Array2<f32>,
        sigmoid: &dyn Fn(&mut [f32]),
        act: &dyn Fn(&mut [f32]),
    ) -> StepOut {
        let mut gates = z.clone();
        let GateBlocks { i, f, g, o } = GateBlocks::of_all_units(gates.view_mut());
        let [mut i, mut f, mut g, mut o] = [i, f, g, o].map(|gate| gate.to_owned());
        for gate in [&mut i, &mut f, &mut o] {
            sigmoid(gate.as_slice_mut().unwrap());
        }
        act(g.as_slice_mut().unwrap());
        let c = &f * c_prev + &i * &g;
        let mut act_c = c.clone();
        act(act_c.as_slice_mut().unwrap());
        let h = &o * &act_c;
        (ndarray::concatenate![Axis(1), i, f, g, o], [c, act_c, h])
    }

    /// [`one_at_a_time`] with rten-vecmath's σ and tanh on a given instruction set.
    fn one_at_a_time_on<I: Isa>(
        isa: I,
        z: &Array2<f32>,
        c_prev: &Array2<f32>,
        activation: Activation,
    ) -> StepOut {
        let map = |op: &dyn Fn(I::F32) -> I::F32, s: &mut [f32]| {
            rten_simd::functional::simd_map(isa.f32(), s, op);
        };
        let sigmoid = |s: &mut [f32]| map(&|x| rten_vecmath::Sigmoid::apply(isa, x), s);
        let act = |s: &mut [f32]| match activation {
            Activation::Sigmoid => sigmoid(s),
            Activation::Tanh => map(&|x| rten_vecmath::Tanh::apply(isa, x), s),
            other => other.apply_in_place(s),
        };
        one_at_a_time(z, c_prev, &sigmoid, &act)
    }

    /// The layer's step gives the bits of its equations run one at a time over whole slices,
    /// for every element-wise activation, by blocks (few units) or fused; so does the fused pass
    /// at every width on each instruction set this machine has (AVX-512, AVX2, portable).
    #[test]
    fn fused_step_gives_the_bits_of_one_equation_at_a_time() {
        // Unit counts below, at and across the SIMD widths (4, 8, 16): full chunks and short
        // last ones. Values include -0, tiny and saturating pre-activations.
        for units in [1, 5, 8, 16, 40, 100] {
            for activation in [
                Activation::Tanh,
                Activation::Relu,
                Activation::Sigmoid,
                Activation::Linear,
            ] {
                let batch = 7;
                let z = Array2::from_shape_fn((batch, 4 * units), |(b, j)| {
                    match (b * 31 + j * 7) % 43 {
                        41 => -0.0,
                        42 => 1e-5,
                        v => v as f32 * 0.53 - 10.5,
                    }
                });
                let c_prev = Array2::from_shape_fn((batch, units), |(b, j)| {
                    ((b + j * 3) % 9) as f32 * 0.3 - 1.2
                });
                let layer = step_outputs(&z, &c_prev, |z, [c, act_c, h]| {
                    step_in_place(z, c_prev.view(), c, act_c, h, activation)
                });
                let sigmoid = |s: &mut [f32]| activation::sigmoid_in_place(s);
                let act = |s: &mut [f32]| activation.apply_in_place(s);
                let mut runs = vec![(
                    "step_in_place",
                    layer,
                    one_at_a_time(&z, &c_prev, &sigmoid, &act),
                )];
                let isa = GenericIsa::new();
                runs.push((
                    "portable",
                    fused_on(isa, &z, &c_prev, activation),
                    one_at_a_time_on(isa, &z, &c_prev, activation),
                ));
                #[cfg(target_arch = "x86_64")]
                {
                    if let Some(isa) = Avx2Isa::new() {
                        runs.push((
                            "AVX2",
                            fused_on(isa, &z, &c_prev, activation),
                            one_at_a_time_on(isa, &z, &c_prev, activation),
                        ));
                    }
                    if let Some(isa) = Avx512Isa::new() {
                        runs.push((
                            "AVX-512",
                            fused_on(isa, &z, &c_prev, activation),
                            one_at_a_time_on(isa, &z, &c_prev, activation),
                        ));
                    }
                }

                let bits = |a: &Array2<f32>| a.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                for (name, got, want) in &runs {
                    let case = format!("{name}, {units} units, {activation:?}");
                    assert_eq!(bits(&got.0), bits(&want.0), "gates, {case}");
                    for (k, state) in ["c", "act(c)", "h"].iter().enumerate() {
                        assert_eq!(bits(&got.1[k]), bits(&want.1[k]), "{state}, {case}");
                    }
                }
            }
        }
    }
    use ndarray::{arr1, arr2};

    #[test]
    fn one_unit_step_matches_hand_computation() {
        // units = 1, input_dim = 1: z = x·W + h·U + b per gate.
        let kernel = arr2(&[[0.5, -0.3, 0.8, 0.1]]);
        let recurrent = arr2(&[[0.2, 0.4, -0.6, 0.7]]);
        let bias = arr1(&[0.0, 1.0, 0.1, -0.2]);
        let (x, h, c) = (arr2(&[[2.0]]), arr2(&[[0.5]]), arr2(&[[-1.0]]));
        let out = step(
            x.view(),
            h.view(),
            c.view(),
            kernel.view(),
            recurrent.view(),
            bias.view(),
            Activation::Tanh,
        )
        .unwrap();
        let sig = |v: f32| 1.0 / (1.0 + (-v).exp());
        let i = sig(2.0 * 0.5 + 0.5 * 0.2);
        let f = sig(2.0 * -0.3 + 0.5 * 0.4 + 1.0);
        let g = (2.0f32 * 0.8 + 0.5 * -0.6 + 0.1).tanh();
        let o = sig(2.0 * 0.1 + 0.5 * 0.7 - 0.2);
        let c_new = -f + i * g; // c_prev = -1
        let h_new = o * c_new.tanh();
        for (got, want) in [
            (out.i[[0, 0]], i),
            (out.f[[0, 0]], f),
            (out.g[[0, 0]], g),
            (out.o[[0, 0]], o),
            (out.c[[0, 0]], c_new),
            (out.h[[0, 0]], h_new),
        ] {
            assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        }
    }

    #[test]
    fn backward_matches_finite_differences() {
        let units = 2;
        let z = arr2(&[[0.3, -0.2, 0.5, 0.1, -0.4, 0.9, 0.2, -0.7]]);
        let c_prev = arr2(&[[0.4, -0.6]]);
        let (dh, dc_next) = (arr2(&[[1.0, -0.5]]), arr2(&[[0.3, 0.2]]));
        for act in [Activation::Tanh, Activation::Relu] {
            let loss = |z: &Array2<f32>, c_prev: &Array2<f32>| {
                let s = step_from_preactivations(z.view(), c_prev.view(), act).unwrap();
                (&s.h * &dh).sum() + (&s.c * &dc_next).sum()
            };
            let s = step_from_preactivations(z.view(), c_prev.view(), act).unwrap();
            let (dz, dc_prev) =
                step_backward(&s, c_prev.view(), dh.view(), dc_next.view(), act).unwrap();
            let h = 1e-3;
            for k in 0..4 * units {
                let (mut zp, mut zm) = (z.clone(), z.clone());
                zp[[0, k]] += h;
                zm[[0, k]] -= h;
                let numeric = (loss(&zp, &c_prev) - loss(&zm, &c_prev)) / (2.0 * h);
                assert!(
                    (numeric - dz[[0, k]]).abs() < 2e-3,
                    "{act:?} dz[{k}]: {numeric} vs {}",
                    dz[[0, k]]
                );
            }
            for u in 0..units {
                let (mut cp, mut cm) = (c_prev.clone(), c_prev.clone());
                cp[[0, u]] += h;
                cm[[0, u]] -= h;
                let numeric = (loss(&z, &cp) - loss(&z, &cm)) / (2.0 * h);
                assert!((numeric - dc_prev[[0, u]]).abs() < 2e-3);
            }
        }
    }

    #[test]
    fn any_memory_layout_gives_the_same_step() {
        // Column-major copies of the same values: the in-place kernels need rows, the public
        // functions must not care.
        let z = arr2(&[
            [0.3, -0.2, 0.5, 0.1, -0.4, 0.9, 0.2, -0.7],
            [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8],
        ]);
        let c_prev = arr2(&[[0.4, -0.6], [0.1, 0.2]]);
        let dh = arr2(&[[1.0, -0.5], [0.2, 0.3]]);
        let f = |a: &Array2<f32>| a.t().as_standard_layout().t().to_owned();
        let (zf, cf, dhf) = (f(&z), f(&c_prev), f(&dh));
        assert!(!cf.is_standard_layout());
        let act = Activation::Tanh;
        let a = step_from_preactivations(z.view(), c_prev.view(), act).unwrap();
        let b = step_from_preactivations(zf.view(), cf.view(), act).unwrap();
        assert_eq!(a, b);
        let back_a = step_backward(&a, c_prev.view(), dh.view(), c_prev.view(), act).unwrap();
        let back_b = step_backward(&b, cf.view(), dhf.view(), cf.view(), act).unwrap();
        assert_eq!(back_a, back_b);
    }

    #[test]
    fn gate_by_gate_functions_give_the_layers_exact_bits() {
        // What notebook 03 shows: the readable functions and the fused step agree bit for bit.
        let z = arr2(&[
            [
                0.3, -0.2, 0.5, 0.1, -0.4, 0.9, 0.2, -0.7, 1.3, -2.1, 0.05, 4.0,
            ],
            [
                0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, -0.9, -1.0, -1.1, -1.2,
            ],
        ]);
        let c_prev = arr2(&[[0.4, -0.6, 0.25], [0.1, 0.2, -0.3]]);
        for act in [Activation::Tanh, Activation::Relu] {
            let fused = step_from_preactivations(z.view(), c_prev.view(), act).unwrap();
            let gate = |g| gate_slice(z.view(), g).unwrap();
            let i = input_gate(gate(Gate::Input));
            let f = forget_gate(gate(Gate::Forget));
            let g = candidate(gate(Gate::Candidate), act).unwrap();
            let o = output_gate(gate(Gate::Output));
            let c = update_cell_state(f.view(), c_prev.view(), i.view(), g.view()).unwrap();
            let h = hidden_state(o.view(), c.view(), act).unwrap();
            assert_eq!(fused, CellStep { i, f, g, o, c, h }, "{act:?}");
        }
    }

    #[test]
    fn wrong_shapes_and_softmax_are_errors_naming_the_argument() {
        let z = Array2::<f32>::zeros((2, 8));
        let c_prev = Array2::<f32>::zeros((2, 2));
        let s = step_from_preactivations(z.view(), c_prev.view(), Activation::Tanh).unwrap();
        // dh of the wrong width used to be truncated silently.
        let dh = Array2::<f32>::zeros((2, 3));
        let err = step_backward(
            &s,
            c_prev.view(),
            dh.view(),
            c_prev.view(),
            Activation::Tanh,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("cell::step_backward: dh: expected shape (2, 2), got (2, 3)"),
            "{err}"
        );
        let short = Array2::<f32>::zeros((1, 2));
        let err = step_backward(
            &s,
            short.view(),
            c_prev.view(),
            c_prev.view(),
            Activation::Tanh,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("c_prev: expected shape (2, 2), got (1, 2)"),
            "{err}"
        );
        let err =
            step_from_preactivations(z.view(), c_prev.view(), Activation::Softmax).unwrap_err();
        assert!(err.to_string().contains("element-wise activation"), "{err}");
        let err = candidate(c_prev.view(), Activation::Softmax).unwrap_err();
        assert!(err.to_string().contains("got softmax"), "{err}");
        let err = step_from_preactivations(z.slice(s![.., ..7]), c_prev.view(), Activation::Tanh)
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("expected shape (2, 8), got (2, 7)"),
            "{err}"
        );
        assert!(gate_slice(z.slice(s![.., ..6]), Gate::Output).is_err());
        let w = Array2::<f32>::zeros((3, 8));
        let u = Array2::<f32>::zeros((2, 8));
        let b = ndarray::Array1::<f32>::zeros(8);
        let x = Array2::<f32>::zeros((2, 2)); // 2 features, the kernel expects 3
        let err = preactivation(x.view(), c_prev.view(), w.view(), u.view(), b.view()).unwrap_err();
        assert!(
            err.to_string()
                .contains("kernel: expected shape (2, 8), got (3, 8)"),
            "{err}"
        );
        let err = update_cell_state(c_prev.view(), c_prev.view(), short.view(), c_prev.view())
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("i: expected shape (2, 2), got (1, 2)"),
            "{err}"
        );
    }
}
