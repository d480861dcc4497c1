//! The recurrent cells' mathematics, with no notion of a model: activations, the cell gate by gate,
//! Keras' initialisers, and the scalers that bring data into the range the gates work in.

pub mod activation;
pub mod cell;
pub(crate) mod denormals;
pub mod gru;
pub mod helper;
pub mod init;
pub mod packed;
pub mod scaler;
pub mod simple_rnn;
