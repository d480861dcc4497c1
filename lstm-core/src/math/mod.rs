//! The recurrent cells' mathematics, with no notion of a model: activations, each cell gate by
//! gate, Keras' initialisers, the shape checks they share, and the scalers that bring data into
//! the range the gates work in.

pub mod activation;
pub mod gru;
pub mod init;
pub mod lstm;
pub mod scaler;
pub(crate) mod shapes;
pub mod simple_rnn;
