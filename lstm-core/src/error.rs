//! One error type for the whole crate. Every message says what was expected and what was given.

use thiserror::Error;

/// Everything that can go wrong in `lstm-core`.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum LstmError {
    /// An array has the wrong rank or size.
    #[error("{context}: expected shape {expected}, got {got}")]
    Shape {
        /// What was being checked, e.g. `predict: input x`.
        context: String,
        /// The shape that works, as Keras prints it: `(None, 3, 1)`.
        expected: String,
        /// The shape given.
        got: String,
    },

    /// A count that does not match: samples, weight arrays, ...
    #[error("{context}: expected {expected} {what}, got {got}")]
    Count {
        /// What was being checked.
        context: String,
        /// What is counted, e.g. `weight arrays`.
        what: &'static str,
        /// The count that works.
        expected: String,
        /// The count given.
        got: String,
    },

    /// An input holds NaN or infinity.
    #[error("{context}: expected finite numbers, found {value} at index {index}")]
    NonFinite {
        /// What was being checked.
        context: String,
        /// Where the first bad value sits, e.g. `[3, 0, 0]`.
        index: String,
        /// The bad value (NaN or ±inf).
        value: f32,
    },

    /// An input with nothing in it.
    #[error("{context}: expected at least {min} element(s), got an empty input")]
    Empty {
        /// What was empty.
        context: String,
        /// How many elements are needed at least.
        min: usize,
    },

    /// A sliding window that does not fit in the series.
    #[error("a window of {n_steps} steps needs a series of at least {needed} values, got {len}")]
    WindowTooLong {
        /// The window's length.
        n_steps: usize,
        /// The shortest series that works: `n_steps + 1` to cut one (window, next value) pair,
        /// `n_steps` to forecast from.
        needed: usize,
        /// The series' length.
        len: usize,
    },

    /// A scaler fitted on data where every value is the same.
    #[error(
        "{scaler}: cannot scale data whose values are all equal ({value}); expected at least two distinct values"
    )]
    ZeroRange {
        /// The scaler's name.
        scaler: &'static str,
        /// The one value every element has.
        value: f32,
    },

    /// A scaler or model used before it was fitted / compiled.
    #[error("{what} must be {needed} first: call {call}")]
    NotReady {
        /// What was used too early.
        what: &'static str,
        /// The state it needs, e.g. `compiled`.
        needed: &'static str,
        /// The call that gets it there.
        call: &'static str,
    },

    /// A hyperparameter outside its valid range.
    #[error("invalid {param}: expected {expected}, got {got}")]
    Config {
        /// The setting, e.g. `learning_rate`.
        param: String,
        /// What works.
        expected: String,
        /// What was given.
        got: String,
    },

    /// Training produced a NaN or infinite loss, gradient or weight.
    #[error(
        "training diverged at epoch {epoch}, batch {batch}: {cause}. {kept} \
         Try a lower learning rate or gradient clipping (e.g. `Adam::new(lr).clipnorm(1.0)`)"
    )]
    Diverged {
        /// The epoch (1-based) that diverged.
        epoch: usize,
        /// The batch (1-based) within it.
        batch: usize,
        /// What overflowed.
        cause: Divergence,
        /// Which weights the model holds now.
        kept: KeptWeights,
    },

    /// A hyperparameter search stopped because its trials kept failing (as Keras Tuner stops
    /// after `max_consecutive_failed_trials`, 3).
    #[error(
        "{search} stopped: {failed} trials in a row failed, so the build or train function \
         itself is likely wrong. {trials}. {finished} trial(s) had finished"
    )]
    TrialsFailed {
        /// `random_search` or `hyperband`.
        search: &'static str,
        /// How many in a row.
        failed: usize,
        /// Each failed trial: its number, configuration and error.
        trials: String,
        /// Trials that had finished before.
        finished: usize,
    },

    /// Reading or writing a file failed.
    #[error("{path}: {message}")]
    Io {
        /// The user's path.
        path: String,
        /// What went wrong with it.
        message: String,
    },

    /// A chart could not be drawn.
    #[error("drawing {what}: {message}")]
    Plot {
        /// The chart.
        what: String,
        /// plotters' message.
        message: String,
    },

    /// A file or text could not be parsed.
    #[error("{context}: {message}")]
    Parse {
        /// The file, row and column (or the text) that could not be read.
        context: String,
        /// Why, and what to do about it.
        message: String,
    },
}

/// What stopped training in [`LstmError::Diverged`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Divergence {
    /// The batch's loss was NaN or infinite.
    Loss(f32),
    /// The loss was finite but a gradient was not.
    Gradient,
    /// The optimizer's update pushed a weight past the largest f32.
    Weights,
}

impl std::fmt::Display for Divergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Divergence::Loss(loss) => write!(f, "the loss became {loss}"),
            Divergence::Gradient => write!(f, "a gradient became NaN or infinite"),
            Divergence::Weights => write!(f, "the update made a weight overflow"),
        }
    }
}

/// Which weights a model keeps after [`LstmError::Diverged`]: always finite ones whose loss was
/// finite, so `predict` keeps working.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeptWeights {
    /// The weights this batch started from (the failed update was undone).
    BeforeThisBatch,
    /// The weights before the previous batch's update (the last whose loss was finite).
    BeforePreviousBatch,
    /// No update was taken: the weights are the ones training started from.
    Unchanged,
}

impl std::fmt::Display for KeptWeights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KeptWeights::BeforeThisBatch => {
                "The model keeps the weights this batch started from (finite, with a finite loss)."
            }
            KeptWeights::BeforePreviousBatch => {
                "The model was reset to its weights before the previous update, the last whose loss was finite."
            }
            KeptWeights::Unchanged => {
                "No update was taken and the weights are unchanged: the loss is not finite even at the \
                 starting weights, so check the scale of x and y."
            }
        })
    }
}

/// Shorthand used across the crate.
pub type Result<T, E = LstmError> = std::result::Result<T, E>;

impl LstmError {
    pub(crate) fn shape(
        context: impl Into<String>,
        expected: impl Into<String>,
        got: impl Into<String>,
    ) -> Self {
        LstmError::Shape {
            context: context.into(),
            expected: expected.into(),
            got: got.into(),
        }
    }

    pub(crate) fn count(
        context: impl Into<String>,
        what: &'static str,
        expected: impl std::fmt::Display,
        got: impl Into<String>,
    ) -> Self {
        LstmError::Count {
            context: context.into(),
            what,
            expected: expected.to_string(),
            got: got.into(),
        }
    }

    pub(crate) fn config(
        param: impl Into<String>,
        expected: impl Into<String>,
        got: impl std::fmt::Display,
    ) -> Self {
        LstmError::Config {
            param: param.into(),
            expected: expected.into(),
            got: got.to_string(),
        }
    }
}
