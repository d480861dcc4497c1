//! Saving and loading.
//!
//! * A whole model in one file ([`save`], [`load`]): architecture, weights, optimizer state and
//!   attached scalers. Loading gives back bit-identical predictions. The file is
//!   `LSTMCORE`, a format version, a JSON header, the raw little-endian `f32` data and a checksum;
//!   a truncated, corrupted or newer file is refused with a message saying which.
//! * Weights in Keras layout as `.npz` ([`save_npz`], [`load_npz`]), one array per weight in
//!   Keras' order, to move a model to or from Keras:
//!   ```python
//!   # Keras → lstm-core
//!   np.savez("weights.npz", **{w.path: w.numpy() for w in model.weights})
//!   # lstm-core → Keras (a model with the same layers)
//!   d = np.load("weights.npz"); model.set_weights([d[k] for k in d.files])
//!   ```
//!
//! Every write goes to a temporary file that is renamed over the target only when complete, so
//! a crash or a full disk never leaves half a file where a good one was.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use ndarray::{ArrayD, IxDyn};
use serde::{Deserialize, Serialize};

#[cfg(feature = "npz")]
use crate::check::fmt_shape;
use crate::error::{LstmError, Result};
use crate::layers::LayerConfig;
use crate::math::scaler::Scaler;
use crate::training::loss::{Loss, Metric};
use crate::training::model::Sequential;
use crate::training::optim::{OptimizerState, optimizer_from_state};

#[cfg(feature = "npz")]
mod npz;

const MAGIC: &[u8; 8] = b"LSTMCORE";
/// The model file format this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    seed: u64,
    /// Where the model's RNG stands, so resumed training draws the same shuffles and masks.
    rng: crate::math::init::Rng,
    input_shape: Vec<usize>,
    layers: Vec<LayerConfig>,
    /// Shapes of the weights, in Keras order; their data follows the header.
    weight_shapes: Vec<Vec<usize>>,
    compiled: Option<CompiledHeader>,
    scalers: BTreeMap<String, Scaler>,
}

#[derive(Debug, Serialize, Deserialize)]
struct CompiledHeader {
    loss: Loss,
    metrics: Vec<Metric>,
    /// The optimizer without its buffers; their lengths follow, their data after the weights.
    optimizer: OptimizerState,
    slot_lengths: Vec<Vec<usize>>,
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> LstmError + '_ {
    move |e| LstmError::Io {
        path: path.display().to_string(),
        message: match e.kind() {
            std::io::ErrorKind::NotFound => "no such file".into(),
            std::io::ErrorKind::IsADirectory => "is a directory; expected a file".into(),
            _ => e.to_string(),
        },
    }
}

fn corrupt(path: &str, message: impl Into<String>) -> LstmError {
    LstmError::Parse {
        context: format!("{path}: not a valid lstm-core model file"),
        message: message.into(),
    }
}

/// Why the JSON header cannot be read, in the user's terms: serde's own words ("expected u64 at
/// line 1 column 7") only when they are a message of ours (an unknown cell class).
fn header_error(e: &serde_json::Error) -> String {
    let at = e.column();
    match e.classify() {
        serde_json::error::Category::Eof => "its header is cut short (the file is damaged)".into(),
        serde_json::error::Category::Data => {
            let message = e.to_string();
            let message = message
                .rsplit_once(" at line ")
                .map_or(message.as_str(), |(m, _)| m);
            let serde_words = ["invalid ", "expected ", "missing field", "unknown field"];
            if serde_words.iter().any(|w| message.starts_with(w))
                || message.contains("duplicate field")
            {
                format!(
                    "its header is damaged: character {at} of it is not what lstm-core writes \
                     there (the file was edited or corrupted after its checksum was computed)"
                )
            } else {
                format!("its header names something this build cannot rebuild: {message}")
            }
        }
        _ => format!("its header is damaged: it stops being valid JSON at character {at}"),
    }
}

/// FNV-1a, 64 bit: enough to notice a flipped or missing byte.
fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, flushed, then renamed.
/// Errors name `path`, never the temporary file.
pub fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut std::fs::File) -> Result<()>,
) -> Result<()> {
    let shown = path.display().to_string();
    let fail = |message: String| LstmError::Io {
        path: shown.clone(),
        message,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| fail("not a file path (it ends in '..' or '/')".into()))?;
    if path.is_dir() {
        return Err(fail("is a directory; expected a file name".into()));
    }
    if !dir.is_dir() {
        return Err(fail(format!(
            "the directory '{}' does not exist; create it first (std::fs::create_dir_all)",
            dir.display()
        )));
    }
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let cannot_write = |e: std::io::Error| fail(format!("cannot write: {e}"));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp).map_err(cannot_write)?;
        write(&mut file)?;
        file.sync_all().map_err(cannot_write)?;
        std::fs::rename(&tmp, path).map_err(cannot_write)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The model as bytes (see the module documentation for the layout). A model that `load`
/// could not rebuild (a cell of your own not registered, or a class name another cell owns) is
/// refused here, before anything is written.
pub fn to_bytes(model: &Sequential) -> Result<Vec<u8>> {
    for layer in model.layers() {
        // An unknown class: the error names register_cell.
        let rebuilt = layer.config().to_layer()?;
        let (saved, rebuilt): (&dyn std::any::Any, &dyn std::any::Any) =
            (layer.as_ref(), rebuilt.as_ref());
        if saved.type_id() != rebuilt.type_id() {
            return Err(LstmError::config(
                format!("saving a {} layer", layer.class_name()),
                "a class name that no other layer or cell uses",
                format!("{:?}, which loads as another cell", layer.class_name()),
            ));
        }
    }
    let weights = model.get_weights();
    let compiled = model.compiled_state();
    let mut slot_data: Vec<f32> = vec![];
    let compiled_header = compiled.map(|(mut optimizer, loss, metrics)| {
        let slot_lengths = optimizer
            .slots
            .iter()
            .map(|kind| kind.iter().map(|v| v.len()).collect())
            .collect();
        for kind in optimizer.slots.drain(..) {
            for v in kind {
                slot_data.extend(v);
            }
        }
        CompiledHeader {
            loss,
            metrics,
            optimizer,
            slot_lengths,
        }
    });
    let header = Header {
        seed: model.seed(),
        rng: model.rng().clone(),
        input_shape: model.input_shape().to_vec(),
        layers: model.layers().iter().map(|l| l.config()).collect(),
        weight_shapes: weights.iter().map(|w| w.shape().to_vec()).collect(),
        compiled: compiled_header,
        scalers: model.scalers().clone(),
    };
    let json = serde_json::to_vec(&header).map_err(|e| LstmError::Parse {
        context: "model header".into(),
        message: e.to_string(),
    })?;
    let mut bytes = Vec::with_capacity(
        28 + json.len() + 4 * (weights.iter().map(|w| w.len()).sum::<usize>() + slot_data.len()),
    );
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    bytes.extend_from_slice(&(json.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&json);
    for w in &weights {
        for v in w.iter() {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
    }
    for v in slot_data {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    let sum = checksum(&bytes);
    bytes.extend_from_slice(&sum.to_le_bytes());
    Ok(bytes)
}

/// Rebuilds a model from [`to_bytes`] output; `name` is used in error messages.
pub fn from_bytes(bytes: &[u8], name: &str) -> Result<Sequential> {
    if bytes.len() < 28 {
        return Err(corrupt(
            name,
            format!(
                "{} bytes is too short to be a model file (truncated or empty?)",
                bytes.len()
            ),
        ));
    }
    if &bytes[..8] != MAGIC {
        return Err(corrupt(name, "it does not start with LSTMCORE"));
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
    if version != FORMAT_VERSION {
        return Err(corrupt(
            name,
            format!("format version {version}; this build reads version {FORMAT_VERSION}"),
        ));
    }
    let (body, sum) = bytes.split_at(bytes.len() - 8);
    if checksum(body) != u64::from_le_bytes(sum.try_into().expect("8 bytes")) {
        return Err(corrupt(
            name,
            "checksum mismatch: the file is truncated or corrupted",
        ));
    }
    let json_len = u64::from_le_bytes(body[12..20].try_into().expect("8 bytes"));
    let json_end = 20usize
        .checked_add(usize::try_from(json_len).unwrap_or(usize::MAX))
        .filter(|&e| e <= body.len());
    let json_end =
        json_end.ok_or_else(|| corrupt(name, "header length runs past the end of the file"))?;
    let header: Header =
        serde_json::from_slice(&body[20..json_end]).map_err(|e| corrupt(name, header_error(&e)))?;

    // The layers' sizes are claims too: checked against the weights the file holds before any
    // layer is built (a header saying LSTM(100000) in a 5 KB file would otherwise ask for 320 GB).
    let stored = header.weight_shapes.iter().fold(0usize, |n, s| {
        n.saturating_add(s.iter().fold(1usize, |m, &d| m.saturating_mul(d)))
    });
    let available = (body.len() - json_end) / 4;
    let mut shape = header.input_shape.clone();
    let mut needed = 0usize;
    for config in &header.layers {
        let (count, output) = config.weight_count(&shape)?;
        needed = needed.saturating_add(count);
        shape = output;
    }
    if needed > stored.min(available) {
        return Err(corrupt(
            name,
            format!(
                "its layers need {needed} weights, but it holds {} (the header's layer sizes do not match its data)",
                stored.min(available)
            ),
        ));
    }

    let mut floats = body[json_end..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")));
    if (body.len() - json_end) % 4 != 0 {
        return Err(corrupt(name, "data is not a whole number of f32 values"));
    }
    let mut take = |n: usize, what: &str| -> Result<Vec<f32>> {
        let v: Vec<f32> = floats.by_ref().take(n).collect();
        if v.len() == n {
            Ok(v)
        } else {
            Err(corrupt(
                name,
                format!("{what}: expected {n} values, found {}", v.len()),
            ))
        }
    };
    let mut weights = Vec::with_capacity(header.weight_shapes.len());
    for shape in &header.weight_shapes {
        let n = shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(|| corrupt(name, "weight shape overflows"))?;
        weights.push(
            ArrayD::from_shape_vec(IxDyn(shape), take(n, "weights")?).expect("length matches"),
        );
    }

    let mut model = Sequential::with_seed(&header.input_shape, header.seed);
    for config in &header.layers {
        // The weights come next: nothing drawn for them.
        model.add_unfilled(config.to_layer()?)?;
    }
    model.set_weights(&weights)?;
    if let Some(c) = header.compiled {
        let mut optimizer = c.optimizer;
        let param_sizes: Vec<usize> = weights.iter().map(|w| w.len()).collect();
        for lengths in &c.slot_lengths {
            let mut kind = Vec::with_capacity(lengths.len());
            if !lengths.is_empty() && lengths[..] != param_sizes[..] {
                return Err(corrupt(name, "optimizer buffers do not match the weights"));
            }
            for &n in lengths {
                kind.push(take(n, "optimizer state")?);
            }
            optimizer.slots.push(kind);
        }
        model.compile_boxed(optimizer_from_state(&optimizer)?, c.loss, &c.metrics)?;
    }
    if floats.next().is_some() {
        return Err(corrupt(name, "unexpected data after the last tensor"));
    }
    for (k, s) in header.scalers {
        model.attach_scaler(&k, s);
    }
    model.set_rng(header.rng);
    Ok(model)
}

/// Saves the whole model to `path` (atomically).
pub fn save(model: &Sequential, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let bytes = to_bytes(model)?;
    write_atomic(path, |file| file.write_all(&bytes).map_err(io_error(path)))
}

/// Loads a model saved with [`save`].
pub fn load(path: impl AsRef<Path>) -> Result<Sequential> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(io_error(path))?;
    from_bytes(&bytes, &path.display().to_string())
}

/// Keras 3 weight paths, in Keras' order (`lstm/lstm_cell/kernel`, `dense/bias`, ...).
pub fn keras_weight_names(model: &Sequential) -> Vec<String> {
    model
        .layers()
        .iter()
        .zip(model.layer_names())
        .flat_map(|(layer, layer_name)| layer.weight_paths(layer_name))
        .collect()
}

#[cfg(feature = "npz")]
/// Writes the weights as `.npz`, one float32 array per Keras weight, in Keras' order.
pub fn save_npz(model: &Sequential, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let names = keras_weight_names(model);
    let weights = model.get_weights();
    let npz_error = |e: ndarray_npy::WriteNpzError| LstmError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    write_atomic(path, |file| {
        let mut npz = ndarray_npy::NpzWriter::new(file);
        for (name, w) in names.iter().zip(&weights) {
            npz.add_array(name.as_str(), w).map_err(npz_error)?;
        }
        npz.finish().map_err(npz_error)?;
        Ok(())
    })
}

#[cfg(feature = "npz")]
/// Reads `.npz` weights (from [`save_npz`] or from Keras, as the module documentation shows)
/// into `model`. Arrays are matched to weights by their Keras names:
///
/// * names that end in this model's weight paths (`lstm/lstm_cell/kernel`, with or without a
///   model prefix such as `sequential/`) are matched by name, in any order;
/// * otherwise, in file order, each name must end in its weight's role (`lstm_cell/kernel`,
///   `lstm_cell/recurrent_kernel`, `bias`, ...), so a file whose layers Keras named `lstm_3`
///   loads and a file with two same-shaped arrays swapped is refused;
/// * `arr_0`, `arr_1`, ... (NumPy's names for `np.savez(path, *model.get_weights())`) are taken
///   in that numeric order.
///
/// Every array must be float32 and have its weight's shape; otherwise nothing changes and the
/// error names the array.
pub fn load_npz(model: &mut Sequential, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let context = path.display().to_string();
    let mut npz = npz::Npz::open(path)?;
    let names = npz.names();
    let expected = keras_weight_names(model);
    // Each weight's shape, and its layer and name there (for a hint when a shape is another
    // library's layout), in one pass over the layers' weights.
    let (owners, shapes): (Vec<_>, Vec<Vec<usize>>) = model
        .layers()
        .iter()
        .flat_map(|l| {
            l.weights()
                .into_iter()
                .map(move |w| ((l.as_ref(), w.name), w.value.shape().to_vec()))
        })
        .unzip();
    let listing = || -> String {
        expected
            .iter()
            .zip(&shapes)
            .map(|(n, s)| format!("{n} {}", fmt_shape(s)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if names.len() != expected.len() {
        return Err(LstmError::count(
            context,
            "arrays",
            format!("{} ({})", expected.len(), listing()),
            names.len().to_string(),
        ));
    }
    let order = match_npz_names(&names, &expected).map_err(|message| LstmError::Parse {
        context: format!("{context}: array names"),
        message: format!("{message}; this model's weights, in order: {}", listing()),
    })?;
    let mut arrays = Vec::with_capacity(names.len());
    for ((name, want), shape) in order.iter().map(|&k| &names[k]).zip(&expected).zip(&shapes) {
        let (layer, weight) = &owners[arrays.len()];
        let array = npz.array(name, Some((shape, want)), &|got| {
            layer.weight_shape_hint(weight, got)
        })?;
        arrays.push(array);
    }
    model.set_weights(&arrays)
}

#[cfg(feature = "npz")]
/// For each expected weight (in Keras order), the position in `names` of the array that holds
/// it, by the rules of [`load_npz`]; an error message naming the first mismatch otherwise.
fn match_npz_names(
    names: &[String],
    expected: &[String],
) -> std::result::Result<Vec<usize>, String> {
    let ends_with_path = |name: &str, path: &str| {
        name == path
            || name
                .strip_suffix(path)
                .is_some_and(|head| head.ends_with('/'))
    };
    // NumPy's positional names: arr_0, arr_1, ...
    let positional: Option<Vec<usize>> = names
        .iter()
        .map(|n| n.strip_prefix("arr_").and_then(|k| k.parse::<usize>().ok()))
        .collect();
    if let Some(indices) = positional {
        let mut order: Vec<usize> = (0..names.len()).collect();
        order.sort_by_key(|&k| indices[k]);
        if order.iter().enumerate().all(|(i, &k)| indices[k] == i) {
            return Ok(order);
        }
    }
    // Exact paths, in any order.
    let by_name: Option<Vec<usize>> = expected
        .iter()
        .map(|want| {
            let mut hits = names
                .iter()
                .enumerate()
                .filter(|(_, n)| ends_with_path(n, want));
            match (hits.next(), hits.next()) {
                (Some((k, _)), None) => Some(k),
                _ => None,
            }
        })
        .collect();
    if let Some(order) = by_name {
        return Ok(order);
    }
    // File order, each name ending in its weight's role (the path without the layer's name).
    for (k, (name, want)) in names.iter().zip(expected).enumerate() {
        let role = want.split_once('/').map_or(want.as_str(), |(_, role)| role);
        if !ends_with_path(name, role) {
            return Err(format!(
                "array {k} is '{name}', but weight {k} is {want} (its name should end in '{role}')"
            ));
        }
    }
    Ok((0..names.len()).collect())
}

#[cfg(feature = "npz")]
/// Every array of an `.npz` file, in file order, as float32 (to look at what a file holds).
pub fn read_npz(path: impl AsRef<Path>) -> Result<Vec<(String, ArrayD<f32>)>> {
    let path = path.as_ref();
    let mut npz = npz::Npz::open(path)?;
    npz.names()
        .into_iter()
        .map(|name| {
            let array = npz.array(&name, None, &|_| None)?;
            Ok((name, array))
        })
        .collect()
}

impl Sequential {
    /// Saves the whole model (see [`crate::training::io`]).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        save(self, path)
    }

    #[cfg(feature = "npz")]
    /// Writes the weights as Keras-layout `.npz` (see [`crate::training::io`]).
    pub fn save_npz(&self, path: impl AsRef<Path>) -> Result<()> {
        save_npz(self, path)
    }

    #[cfg(feature = "npz")]
    /// Reads Keras-layout `.npz` weights into this model (see [`crate::training::io`]).
    pub fn load_npz(&mut self, path: impl AsRef<Path>) -> Result<()> {
        load_npz(self, path)
    }

    /// Loads a model saved with [`Sequential::save`].
    pub fn load(path: impl AsRef<Path>) -> Result<Sequential> {
        load(path)
    }
}
