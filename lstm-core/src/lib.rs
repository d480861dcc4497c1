//! # lstm-core
//!
//! A Keras-exact LSTM in Rust, small enough to read in one sitting and fast enough to train
//! interactively in evcxr notebooks.
//!
//! ## Map
//!
//! Five tiers; each module uses only its own tier's modules below it and the tiers above it (and
//! [`error`], [`check`], [`display`], which everything may use). No module imports one that
//! imports it back (`tests/architecture.rs` checks both).
//!
//! ```text
//! engine/      the fast engine: packed matrix products (AVX-512 / AVX2 / portable kernels,
//!   packed       chosen at run time), the second core's thread, denormals flushed
//!   helper denormals
//! math/        the cells' mathematics, no model in sight
//!   activation   sigmoid, tanh, relu, ... (vectorised) and their derivatives
//!   lstm         the LSTM's gates written like the equations, and the in-place kernels it runs
//!   gru          the GRU's gates (Keras 3, reset_after), one function per equation
//!   simple_rnn   the plain RNN step, and BPTT's product of Jacobians, measured
//!   init         Keras' initialisers from one seeded RNG     scaler   min–max and standard
//!   shapes       the shape checks the cells' functions share
//! layers/      Keras' layers and weight layout
//!   layer        the Layer trait            config   each layer's settings, as saved
//!   recurrent/   one layer for any Cell: the cell contract (the extension point), the time
//!                loops forward and backward, buffers, U packed, the two cores
//!   lstm gru simple_rnn   the three cells, one step forward and back each
//!   registry     the cells a saved model can name, and layers from configs
//!   dense dropout bidirectional time_distributed params
//! training/    a model that learns as Keras' does
//!   model        Sequential: add, compile, weights, predict, forecast
//!   trainer      train steps (undone on divergence), fit, evaluate, FitConfig
//!   loss         losses and metrics      optim      Adam, SGD, RMSprop, clipping
//!   callbacks    EarlyStopping           history    the loss and metrics of each epoch
//!   summary      model.summary()         io         save/load, Keras-layout .npz
//! support/     what the notebooks use around the LSTM (feature `notebook`, on by default)
//!   data         windows, splits, the tutorial's datasets (scalers re-exported)
//!   baselines    forecasts without a network: persistence, moving average, linear, climatology
//!   learning     one step's gradient by finite differences; gradient norms while training
//!   text         characters in and out, sampling with a temperature
//!   weather      dates, messy CSVs, forecasts as polars DataFrames (feature `polars`)
//!   tuner        random search and Hyperband
//!   plot         charts as inline SVG        inspect    the gates of every step, for heatmaps
//!   reference    the Keras reference results the notebooks compare with
//!   memory       SimpleRNN, GRU and LSTM at one budget on long-range recall
//! error        LstmError: what was expected, what was given
//! check        shapes as Keras prints them, finite and non-empty inputs
//! display      rich HTML output in evcxr
//! ```
//!
//! Types are at the crate's root, modules under their tier (`lstm_core::math::init`), and
//! `use lstm_core::prelude::*;` brings in what a notebook needs.
//!
//! ## Features
//!
//! * `notebook` (default): the `support` tier and plotters.
//! * `npz` (default): weights in Keras' `.npz` layout (`save_npz`, `load_npz`, `read_npz`).
//!
//! Without default features (`default-features = false`) the crate is the engine alone:
//! layers, training, saving and loading its own model files.
//! * `polars`: dates, CSV files and DataFrames (`support::weather`); turns on `notebook`.

#![warn(missing_docs)]

pub mod check;
pub mod display;
pub mod engine;
pub mod error;
pub mod layers;
pub mod math;
#[cfg(feature = "notebook")]
pub mod support;
pub mod training;

pub use error::{Divergence, KeptWeights, LstmError, Result};
pub use layers::{
    Bidirectional, Cell, Dense, Dropout, Gru, GruCell, Layer, Lstm, LstmCell, LstmOutput,
    LstmState, MergeMode, Recurrent, RnnOutput, SimpleRnn, SimpleRnnCell, TimeDistributed,
    register_cell,
};
pub use math::activation::Activation;
pub use training::callbacks::EarlyStopping;
pub use training::history::{Evaluation, History};
pub use training::loss::{Loss, Metric};
pub use training::model::Sequential;
pub use training::optim::{Adam, Optimizer, RmsProp, Sgd};
pub use training::trainer::{FitConfig, Gradients};

/// The README's examples compile and run as doc tests.
#[cfg(all(doctest, feature = "notebook"))]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

// What notebooks need, from one `:dep`.
pub use ndarray;
#[cfg(feature = "notebook")]
pub use plotters;
#[cfg(feature = "polars")]
pub use polars;

/// `use lstm_core::prelude::*;` brings in the model API, the data helpers and ndarray's macros.
pub mod prelude {
    pub use crate::display::elapsed;
    pub use crate::{
        Activation, Adam, Bidirectional, Dense, Dropout, EarlyStopping, FitConfig, Gru, History,
        Layer, Loss, Lstm, LstmError, LstmState, Metric, Optimizer, RmsProp, Sequential, Sgd,
        SimpleRnn, TimeDistributed,
    };
    pub use ndarray::{Array, Array1, Array2, Array3, ArrayD, Axis, array, s};

    #[cfg(feature = "notebook")]
    pub use crate::support::baselines;
    #[cfg(feature = "notebook")]
    pub use crate::support::data::{self, MinMaxScaler, StandardScaler};
    #[cfg(feature = "notebook")]
    pub use crate::support::inspect::{self, GateTrace};
    #[cfg(feature = "notebook")]
    pub use crate::support::plot::{self, Figure};
}
