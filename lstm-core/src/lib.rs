//! # lstm-core
//!
//! A Keras-exact LSTM in Rust, small enough to read in one sitting and fast enough to train
//! interactively in evcxr notebooks.
//!
//! * [`cell`]: the gates, written like the equations, and the in-place kernels the layer runs
//!   (the readable functions give the same bits).
//! * [`layers`]: `Lstm`, `Dense`, `Dropout`, `Bidirectional`, `TimeDistributed`, in Keras' weight layout.
//! * [`model`]: `Sequential` with `compile`, `fit`, `evaluate`, `predict`, `summary`.
//! * [`data`]: windows, reshaping, scalers, splits and the tutorial's datasets.
//! * [`text`]: characters in and out: vocabulary, encodings, sampling with a temperature.
//! * [`io`]: save and load whole models; weights in Keras layout as `.npz`.
//! * [`tuner`]: random search and Hyperband (Keras Tuner's schedule).
//! * [`inspect`]: the gates and states of every step, for heatmaps.
//! * `weather` (feature `polars`): dates, CSVs and forecasts as polars `DataFrame`s.
//! * [`plot`]: training curves, data charts, gate heatmaps and the cell diagram, as inline SVG.

pub mod activation;
pub mod callbacks;
pub mod cell;
pub mod data;
pub mod display;
pub mod error;
pub mod history;
pub mod init;
pub mod inspect;
pub mod io;
pub mod layers;
pub mod loss;
pub mod model;
pub mod optim;
pub mod plot;
pub mod summary;
pub mod text;
pub mod tuner;
#[cfg(feature = "polars")]
pub mod weather;

pub use activation::Activation;
pub use callbacks::EarlyStopping;
pub use error::{Divergence, KeptWeights, LstmError, Result};
pub use history::{Evaluation, History};
pub use layers::{
    Bidirectional, Dense, Dropout, Layer, Lstm, LstmOutput, MergeMode, TimeDistributed,
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
    pub use crate::data::{self, MinMaxScaler, StandardScaler};
    pub use crate::inspect::{self, GateTrace};
    pub use crate::plot::{self, Figure};
    pub use crate::{
        Activation, Adam, Bidirectional, Dense, Dropout, EarlyStopping, FitConfig, History, Layer,
        Loss, Lstm, LstmError, Metric, RmsProp, Sequential, Sgd, TimeDistributed,
    };
    pub use ndarray::{Array, Array1, Array2, Array3, ArrayD, Axis, array, s};
}
