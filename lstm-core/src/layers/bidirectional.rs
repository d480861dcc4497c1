//! `Bidirectional(LSTM)` (or GRU, SimpleRNN): one layer reads the sequence forwards, a copy with
//! its own weights reads it backwards, and their outputs are merged. With `return_sequences` the backward outputs are
//! flipped back so that index t of both halves belongs to input step t, as Keras does.

use ndarray::{ArrayD, Axis, Slice};

use super::config::{LayerConfig, MergeMode};
use super::layer::{Layer, Param, Weight, sealed};
use super::params::check_weight_shapes;
use super::recurrent::{Cell, Recurrent};
use crate::error::{LstmError, Result};
use crate::math::init::{Fill, Rng};

/// `Bidirectional(LSTM(...))`, or of a [`Gru`](crate::Gru) or [`SimpleRnn`](crate::SimpleRnn):
/// one layer reads the sequence forward, a copy reads it backward, and their outputs are
/// merged. Parameters: twice the wrapped layer's.
#[derive(Debug, Clone)]
pub struct Bidirectional<C: Cell> {
    forward_layer: Recurrent<C>,
    backward_layer: Recurrent<C>,
    merge_mode: MergeMode,
    outputs: Option<(ArrayD<f32>, ArrayD<f32>)>,
}

impl<C: Cell> Bidirectional<C> {
    /// Wraps `layer`; the backward copy reads in the opposite direction.
    pub fn new(layer: Recurrent<C>) -> Self {
        let backward_layer = layer.clone().go_backwards(!layer.settings().go_backwards);
        Bidirectional {
            forward_layer: layer,
            backward_layer,
            merge_mode: MergeMode::Concat,
            outputs: None,
        }
    }

    /// How the two directions are combined (default `Concat`, as Keras).
    pub fn merge_mode(mut self, mode: MergeMode) -> Self {
        self.merge_mode = mode;
        self
    }

    /// The layer that reads the sequence left to right.
    pub fn forward_layer(&self) -> &Recurrent<C> {
        &self.forward_layer
    }

    /// The layer that reads it right to left (`go_backwards`).
    pub fn backward_layer(&self) -> &Recurrent<C> {
        &self.backward_layer
    }

    fn flip_time(&self, a: ArrayD<f32>) -> ArrayD<f32> {
        flip_time(a, self.forward_layer.settings().return_sequences)
    }
}

// The array work below is in plain functions, not in the generic `Layer` impl, so it is compiled
// (optimised) in this crate whichever crate uses the layer.

/// The backward layer's outputs (or gradients) in the other time order, for sequences.
fn flip_time(a: ArrayD<f32>, sequences: bool) -> ArrayD<f32> {
    if sequences {
        let mut a = a;
        a.slice_axis_inplace(Axis(1), Slice::new(0, None, -1));
        a.as_standard_layout().into_owned()
    } else {
        a
    }
}

/// The two directions' outputs combined.
fn merge(mode: MergeMode, y_forward: &ArrayD<f32>, y_backward: &ArrayD<f32>) -> ArrayD<f32> {
    let last = Axis(y_forward.ndim() - 1);
    match mode {
        MergeMode::Concat => {
            ndarray::concatenate(last, &[y_forward.view(), y_backward.view()]).expect("same shapes")
        }
        MergeMode::Sum => y_forward + y_backward,
        MergeMode::Mul => y_forward * y_backward,
        MergeMode::Ave => (y_forward + y_backward) * 0.5,
    }
}

/// d(loss)/d(each direction's output) from d(loss)/d(merged output).
fn split_gradient(
    mode: MergeMode,
    grad_output: &ArrayD<f32>,
    y_forward: &ArrayD<f32>,
    y_backward: &ArrayD<f32>,
) -> (ArrayD<f32>, ArrayD<f32>) {
    match mode {
        MergeMode::Concat => {
            let last = Axis(grad_output.ndim() - 1);
            let units = y_forward.shape()[last.index()];
            (
                grad_output
                    .slice_axis(last, Slice::from(..units))
                    .to_owned(),
                grad_output
                    .slice_axis(last, Slice::from(units..))
                    .to_owned(),
            )
        }
        MergeMode::Sum => (grad_output.clone(), grad_output.clone()),
        MergeMode::Mul => (grad_output * y_backward, grad_output * y_forward),
        MergeMode::Ave => (grad_output * 0.5, grad_output * 0.5),
    }
}

/// Weights named after the direction and the wrapped layer: `forward_lstm/kernel`, ...
fn directions(base: &str, forward: Vec<Weight>, backward: Vec<Weight>) -> Vec<Weight> {
    let named = |direction: &'static str, weights: Vec<Weight>| {
        weights.into_iter().map(move |w| Weight {
            name: format!("{direction}_{base}/{}", w.name),
            value: w.value,
        })
    };
    named("forward", forward)
        .chain(named("backward", backward))
        .collect()
}

impl<C: Cell> sealed::Sealed for Bidirectional<C> {}

impl<C: Cell> Layer for Bidirectional<C> {
    fn class_name(&self) -> &'static str {
        "Bidirectional"
    }
    fn base_name(&self) -> &'static str {
        "bidirectional"
    }

    fn config(&self) -> LayerConfig {
        LayerConfig::Bidirectional {
            layer: self.forward_layer.settings(),
            cell: C::CLASS.to_string(),
            merge_mode: self.merge_mode,
        }
    }

    fn build_with(&mut self, input_shape: &[usize], mut fill: Fill<'_>) -> Result<Vec<usize>> {
        if self.forward_layer.returns_state() {
            return Err(LstmError::config(
                "Bidirectional layer",
                format!("a {} without return_state", C::CLASS),
                "return_state = true",
            ));
        }
        let mut shape = self
            .forward_layer
            .build_with(input_shape, fill.reborrow())?;
        self.backward_layer.build_with(input_shape, fill)?;
        if self.merge_mode == MergeMode::Concat {
            *shape.last_mut().expect("the output has units") *= 2;
        }
        Ok(shape)
    }

    fn forward(&mut self, x: &ArrayD<f32>, training: bool, rng: &mut Rng) -> Result<ArrayD<f32>> {
        let y_forward = self.forward_layer.forward(x, training, rng)?;
        let y_backward = self.backward_layer.forward(x, training, rng)?;
        let y_backward = self.flip_time(y_backward);
        let merged = merge(self.merge_mode, &y_forward, &y_backward);
        self.outputs = Some((y_forward, y_backward));
        Ok(merged)
    }

    fn backward(&mut self, grad_output: &ArrayD<f32>) -> Result<ArrayD<f32>> {
        let (y_forward, y_backward) = self.outputs.as_ref().ok_or(LstmError::NotReady {
            what: "Bidirectional backward",
            needed: "preceded by a forward pass",
            call: "forward(x, true, rng)",
        })?;
        let (g_forward, g_backward) =
            split_gradient(self.merge_mode, grad_output, y_forward, y_backward);
        let dx_forward = self.forward_layer.backward(&g_forward)?;
        let g_backward = self.flip_time(g_backward);
        let dx_backward = self.backward_layer.backward(&g_backward)?;
        Ok(dx_forward + dx_backward)
    }

    fn params(&mut self) -> Vec<Param<'_>> {
        let mut params = self.forward_layer.params();
        params.extend(self.backward_layer.params());
        params
    }

    fn weights(&self) -> Vec<Weight> {
        // Keras names the halves after the wrapped layer: forward_lstm, backward_gru, ...
        directions(
            C::BASE,
            self.forward_layer.weights(),
            self.backward_layer.weights(),
        )
    }

    fn set_weights(&mut self, weights: &[ArrayD<f32>]) -> Result<()> {
        check_weight_shapes("Bidirectional", &self.weights(), weights, &|name, got| {
            // forward_gru/gru_cell/bias → bias, the name the cell knows.
            C::weight_shape_hint(name.rsplit('/').next().unwrap_or(name), got)
        })?;
        let half = weights.len() / 2;
        self.forward_layer.set_weights(&weights[..half])?;
        self.backward_layer.set_weights(&weights[half..])
    }

    fn reset_states(&mut self) {
        self.forward_layer.reset_states();
        self.backward_layer.reset_states();
    }

    fn is_stateful(&self) -> bool {
        self.forward_layer.is_stateful()
    }

    fn weight_paths(&self, layer_name: &str) -> Vec<String> {
        // `bidirectional/forward_lstm/lstm_cell/kernel`
        let cell = format!("{}_cell", C::BASE);
        let paths = |direction: &str, layer: &Recurrent<C>| -> Vec<String> {
            layer
                .weights()
                .iter()
                .map(|w| format!("{layer_name}/{direction}_{}/{cell}/{}", C::BASE, w.name))
                .collect()
        };
        let mut all = paths("forward", &self.forward_layer);
        all.extend(paths("backward", &self.backward_layer));
        all
    }
}
