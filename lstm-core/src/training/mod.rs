//! Training a stack of layers as Keras does: `Sequential` with `compile`, `fit`, `evaluate` and
//! `predict`; losses and metrics; optimizers; callbacks; the history of a fit; summaries; saving
//! and loading.

pub mod callbacks;
pub mod history;
pub mod io;
pub mod loss;
pub mod model;
pub mod optim;
pub mod summary;
pub mod trainer;
