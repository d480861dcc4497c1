//! # lstm-core
//!
//! A Keras-exact LSTM in Rust, small enough to read in one sitting and fast enough to train
//! interactively in evcxr notebooks.
//!
//! ## Map
//!
//! Four tiers; each module uses only the tiers above it (and [`error`], [`check`], [`display`],
//! which everything may use).
//!
//! ```text
//! math/        the LSTM's mathematics, no model in sight
//!   activation   sigmoid, tanh, relu, ... (vectorised) and their derivatives
//!   cell         the LSTM's gates written like the equations, and the in-place kernels it runs
//!   gru          the GRU's gates (Keras 3, reset_after), one function per equation
//!   simple_rnn   the plain RNN step, and BPTT's product of Jacobians, measured
//!   init         Keras' initialisers from one seeded RNG
//!   packed       h·U with U packed once per pass: AVX-512 / AVX2 / portable kernels
//!   helper       the second core's thread, awake between passes; large products split on it
//!   scaler       min–max and standard scaling
//! layers/      Keras' layers and weight layout
//!   recurrent    what LSTM, GRU and SimpleRNN share (buffers, states, BPTT's products)
//!   lstm gru simple_rnn   each cell's time loop     params   a layer's tensors, listed once
//!   dense dropout bidirectional time_distributed
//! training/    a model that learns as Keras' does
//!   model        Sequential: add, compile, fit, evaluate, predict, gradients
//!   loss         losses and metrics      optim      Adam, SGD, RMSprop, clipping
//!   callbacks    EarlyStopping           history    the loss and metrics of each epoch
//!   summary      model.summary()         io         save/load, Keras-layout .npz
//! support/     what the notebooks use around the LSTM
//!   data         windows, splits, the tutorial's datasets (scalers re-exported)
//!   baselines    forecasts without a network: persistence, moving average, linear, climatology
//!   learning     one step's gradient by finite differences; gradient norms while training
//!   text         characters in and out, sampling with a temperature
//!   weather      dates, messy CSVs, forecasts as polars DataFrames (feature `polars`)
//!   tuner        random search and Hyperband
//!   plot         charts as inline SVG        inspect    the gates of every step, for heatmaps
//!   memory       SimpleRNN, GRU and LSTM at one budget on long-range recall; `study`: the
//!                experiment that decides (plateaus, rates chosen on validation, five seeds)
//! error        LstmError: what was expected, what was given
//! check        shapes as Keras prints them, finite and non-empty inputs
//! display      rich HTML output in evcxr
//! ```
//!
//! Every module is also reachable from the crate root (`lstm_core::cell`, `lstm_core::data`, ...),
//! and `use lstm_core::prelude::*;` brings in what a notebook needs.

#![warn(missing_docs)]

// The tiers of the map above.
pub mod check;
pub mod display;
pub mod error;
pub mod layers;
pub mod math;
pub mod support;
pub mod training;

// Every module at the crate's root too, as the notebooks and examples name them.
pub use math::{activation, cell, gru, init, scaler, simple_rnn};
#[cfg(feature = "polars")]
pub use support::weather;
pub use support::{baselines, data, inspect, plot, reference, text, tuner};
pub use training::{callbacks, history, io, loss, model, optim, summary};

pub use activation::Activation;
pub use callbacks::EarlyStopping;
pub use error::{Divergence, KeptWeights, LstmError, Result};
pub use history::{Evaluation, History};
pub use layers::{
    Bidirectional, Dense, Dropout, Gru, GruCell, Layer, Lstm, LstmCell, LstmOutput, LstmState,
    MergeMode, RnnOutput, SimpleRnn, SimpleRnnCell, TimeDistributed,
};
pub use loss::{Loss, Metric};
pub use model::{FitConfig, Gradients, Sequential};
pub use optim::{Adam, Optimizer, RmsProp, Sgd};

/// The README's examples compile and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

// What notebooks need, from one `:dep`.
pub use ndarray;
pub use plotters;
#[cfg(feature = "polars")]
pub use polars;

/// `use lstm_core::prelude::*;` brings in the model API, the data helpers and ndarray's macros.
pub mod prelude {
    pub use crate::baselines;
    pub use crate::data::{self, MinMaxScaler, StandardScaler};
    pub use crate::display::elapsed;
    pub use crate::inspect::{self, GateTrace};
    pub use crate::plot::{self, Figure};
    pub use crate::{
        Activation, Adam, Bidirectional, Dense, Dropout, EarlyStopping, FitConfig, Gru, History,
        Layer, Loss, Lstm, LstmError, LstmState, Metric, Optimizer, RmsProp, Sequential, Sgd,
        SimpleRnn, TimeDistributed,
    };
    pub use ndarray::{Array, Array1, Array2, Array3, ArrayD, Axis, array, s};
}
