//! `Bidirectional(LSTM)` (or GRU, SimpleRNN): one layer reads the sequence forwards, a copy with
//! its own weights reads it backwards, and their outputs are merged. With `return_sequences` the backward outputs are
//! flipped back so that index t of both halves belongs to input step t, as Keras does.

use ndarray::{ArrayD, Axis, Slice};

use super::{Cell, Layer, LstmCell, Param, Recurrent, Weight, check_weight_shapes};
use crate::error::{LstmError, Result};
use crate::math::init::Rng;

/// How the forward and backward outputs are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MergeMode {
    /// Side by side: `2·units` features (Keras' default).
    #[default]
    Concat,
    /// Forward + backward.
    Sum,
    /// Forward ⊙ backward.
    Mul,
    /// The mean of the two.
    Ave,
}

/// `Bidirectional(LSTM(...))`, or of a [`Gru`](crate::Gru) or [`SimpleRnn`](crate::SimpleRnn):
/// one layer reads the sequence forward, a copy reads it backward, and their outputs are
/// merged. Parameters: twice the wrapped layer's.
#[derive(Debug, Clone)]
pub struct Bidirectional<C: Cell = LstmCell> {
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
        if self.forward_layer.settings().return_sequences {
            let mut a = a;
            a.slice_axis_inplace(Axis(1), Slice::new(0, None, -1));
            a.as_standard_layout().into_owned()
        } else {
            a
        }
    }
}

/// `Layer` for each cell kind, concretely, for the reason given at `recurrent_layer!`.
macro_rules! bidirectional_layer {
    ($($cell:ty),*) => {$(
        impl Layer for Bidirectional<$cell> {
            fn class_name(&self) -> &'static str {
                "Bidirectional"
            }
            fn base_name(&self) -> &'static str {
                "bidirectional"
            }

            fn config(&self) -> super::LayerConfig {
                super::LayerConfig::Bidirectional {
                    layer: self.forward_layer.settings(),
                    cell: <$cell>::KIND,
                    merge_mode: self.merge_mode,
                }
            }

            fn build(&mut self, input_shape: &[usize], rng: &mut Rng) -> Result<Vec<usize>> {
                if self.forward_layer.returns_state() {
                    return Err(LstmError::config(
                        "Bidirectional layer",
                        format!("a {} without return_state", <$cell>::CLASS),
                        "return_state = true",
                    ));
                }
                let mut shape = self.forward_layer.build(input_shape, rng)?;
                self.backward_layer.build(input_shape, rng)?;
                if self.merge_mode == MergeMode::Concat {
                    *shape.last_mut().expect("the output has units") *= 2;
                }
                Ok(shape)
            }

            fn forward(&mut self, x: &ArrayD<f32>, training: bool, rng: &mut Rng) -> Result<ArrayD<f32>> {
                let y_forward = self.forward_layer.forward(x, training, rng)?;
                let y_backward = self.backward_layer.forward(x, training, rng)?;
                let y_backward = self.flip_time(y_backward);
                let last = Axis(y_forward.ndim() - 1);
                let merged = match self.merge_mode {
                    MergeMode::Concat => ndarray::concatenate(last, &[y_forward.view(), y_backward.view()])
                        .expect("same shapes"),
                    MergeMode::Sum => &y_forward + &y_backward,
                    MergeMode::Mul => &y_forward * &y_backward,
                    MergeMode::Ave => (&y_forward + &y_backward) * 0.5,
                };
                self.outputs = Some((y_forward, y_backward));
                Ok(merged)
            }

            fn backward(&mut self, grad_output: &ArrayD<f32>) -> Result<ArrayD<f32>> {
                let (y_forward, y_backward) = self.outputs.as_ref().ok_or(LstmError::NotReady {
                    what: "Bidirectional backward",
                    needed: "preceded by a forward pass",
                    call: "forward(x, true, rng)",
                })?;
                let (g_forward, g_backward) = match self.merge_mode {
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
                };
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
                let named = |direction: &'static str, weights: Vec<Weight>| {
                    weights.into_iter().map(move |w| Weight {
                        name: format!("{direction}_{}/{}", <$cell>::BASE, w.name),
                        value: w.value,
                    })
                };
                named("forward", self.forward_layer.weights())
                    .chain(named("backward", self.backward_layer.weights()))
                    .collect()
            }

            fn set_weights(&mut self, weights: &[ArrayD<f32>]) -> Result<()> {
                check_weight_shapes("Bidirectional", &self.weights(), weights)?;
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
        }
    )*};
}

bidirectional_layer!(
    super::lstm::LstmCell,
    super::gru::GruCell,
    super::simple_rnn::SimpleRnnCell
);
