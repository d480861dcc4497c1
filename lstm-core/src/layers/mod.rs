//! Layers with Keras' weight layout, defaults and shapes. Each one runs forward, caches what
//! backpropagation needs, and runs backward analytically. Recurrent layers are one
//! [`Recurrent<C>`] for any [`Cell`]: the LSTM, GRU and SimpleRNN cells each sit in their own
//! file, and a cell of your own plugs in the same way.

mod bidirectional;
mod config;
mod dense;
mod dropout;
mod gru;
mod layer;
mod lstm;
mod params;
pub mod recurrent;
mod registry;
mod simple_rnn;
mod time_distributed;

pub use bidirectional::Bidirectional;
pub use config::{DenseConfig, LayerConfig, MergeMode, RecurrentConfig};
pub use dense::{Dense, softmax_rows};
pub use dropout::Dropout;
pub use gru::{Gru, GruCell};
pub use layer::{Layer, Param, Weight};
pub use lstm::{Lstm, LstmCell, LstmOutput, LstmState};
pub use recurrent::{
    Cell, HiddenStateOnly, History, Recurrent, RecurrentProduct, RnnOutput, StepBackward,
    StepForward, WeightSpec, standard_weights,
};
pub use registry::{CellKind, register_cell};
pub use simple_rnn::{SimpleRnn, SimpleRnnCell};
pub use time_distributed::TimeDistributed;

pub(crate) use params::check_weight_shapes;
