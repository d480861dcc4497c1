//! Reading `.npz` files (NumPy's zip of `.npy` arrays) without trusting them: every size a file
//! states (an entry's length, a `.npy` header's length, an array's shape) is checked against the
//! bytes the file holds, and against the shape the caller expects, before anything is allocated.
//! A crafted entry claiming a 400 GB array is an error, never an aborted process. Messages name
//! the file and the array, in NumPy's words.

use std::fs::File;
use std::io::{Read, Seek};
use std::path::Path;

use ndarray::{ArrayD, IxDyn, ShapeBuilder};
use ndarray_npy::npy::header::{Header, Layout};

use crate::check::fmt_shape;
use crate::error::{LstmError, Result};

/// Deflate expands at most about 1032:1; an entry claiming more than this per compressed byte
/// is lying about its size.
const MAX_DEFLATE_RATIO: u64 = 1100;
/// NumPy's own reader refuses `.npy` headers longer than 10,000 bytes by default.
const MAX_HEADER_BYTES: usize = 65_536;

/// An open `.npz` file: its array names (NumPy's, without `.npy`) and the archive.
pub(super) struct Npz {
    context: String,
    /// The file's length: no entry's compressed data can be longer.
    file_len: u64,
    zip: zip::ZipArchive<File>,
    /// Array name and entry index, in file order.
    entries: Vec<(String, usize)>,
}

impl Npz {
    /// Opens `path`, refusing with a message that says what the file is when it is not an `.npz`.
    pub(super) fn open(path: &Path) -> Result<Npz> {
        let context = path.display().to_string();
        let mut file = File::open(path).map_err(super::io_error(path))?;
        let file_len = file.metadata().map_err(super::io_error(path))?.len();
        // The first bytes say what the file is when it is not a zip archive.
        let mut start = [0u8; 8];
        let head_len = file.read(&mut start).unwrap_or(0);
        file.rewind().map_err(super::io_error(path))?;
        let zip = zip::ZipArchive::new(file).map_err(|_| not_npz(&context, &start[..head_len]))?;
        let entries = (0..zip.len())
            .filter_map(|k| {
                let name = zip.name_for_index(k)?;
                Some((name.strip_suffix(".npy").unwrap_or(name).to_string(), k))
            })
            .collect();
        Ok(Npz {
            context,
            file_len,
            zip,
            entries,
        })
    }

    /// The arrays' names, in file order.
    pub(super) fn names(&self) -> Vec<String> {
        self.entries.iter().map(|(n, _)| n.clone()).collect()
    }

    /// The array `name` as float32 (float64 is converted, as Keras' `set_weights` does). With
    /// `expected` (a shape and the weight it is for), its shape must be that one, checked before
    /// its data is read; `hint` may explain a wrong shape (another library's layout).
    pub(super) fn array(
        &mut self,
        name: &str,
        expected: Option<(&[usize], &str)>,
        hint: &dyn Fn(&[usize]) -> Option<String>,
    ) -> Result<ArrayD<f32>> {
        let context = match expected {
            Some((_, weight)) => format!("{}: array '{name}' (for {weight})", self.context),
            None => format!("{}: array '{name}'", self.context),
        };
        let fail = |message: String| LstmError::Parse {
            context: context.clone(),
            message,
        };
        let index = self
            .entries
            .iter()
            .find(|(n, _)| n == name)
            .map(|&(_, k)| k)
            .ok_or_else(|| fail("not in the file".into()))?;
        let mut entry = self
            .zip
            .by_index(index)
            .map_err(|_| fail("its entry in the zip archive is damaged".into()))?;
        let declared = entry.size();
        let compressed = entry.compressed_size().min(self.file_len);
        if declared > compressed.saturating_mul(MAX_DEFLATE_RATIO) + 4096 {
            return Err(fail(format!(
                "claims {declared} bytes from {compressed} compressed bytes, more than compression \
                 can give: the file is damaged or crafted"
            )));
        }
        let damaged = |what: &str| fail(format!("{what}: the file is truncated or damaged"));
        // The preamble: magic, version, header length (2 bytes in version 1, 4 in 2 and 3).
        let mut preamble = vec![0u8; 10];
        entry
            .read_exact(&mut preamble)
            .map_err(|_| damaged("shorter than a .npy header"))?;
        if &preamble[..6] != b"\x93NUMPY" {
            return Err(fail(
                "is not a .npy array (it does not start with \\x93NUMPY)".into(),
            ));
        }
        let header_len = match preamble[6] {
            1 => u16::from_le_bytes([preamble[8], preamble[9]]) as usize,
            2 | 3 => {
                let mut rest = [0u8; 2];
                entry
                    .read_exact(&mut rest)
                    .map_err(|_| damaged("its header is cut short"))?;
                preamble.extend_from_slice(&rest);
                u32::from_le_bytes([preamble[8], preamble[9], rest[0], rest[1]]) as usize
            }
            v => {
                return Err(fail(format!(
                    ".npy format version {v} is not one NumPy writes"
                )));
            }
        };
        let data_bytes = (declared as usize)
            .checked_sub(preamble.len() + header_len)
            .filter(|_| header_len <= MAX_HEADER_BYTES)
            .ok_or_else(|| damaged("its header claims more bytes than the array holds"))?;
        let mut header_bytes = preamble;
        let preamble_len = header_bytes.len();
        header_bytes.resize(preamble_len + header_len, 0);
        entry
            .read_exact(&mut header_bytes[preamble_len..])
            .map_err(|_| damaged("its header is cut short"))?;
        let header = Header::from_reader(&mut header_bytes.as_slice())
            .map_err(|_| damaged("its header cannot be read"))?;
        let descriptor = header
            .type_descriptor
            .as_string()
            .map(String::as_str)
            .unwrap_or("");
        let (size, read): (usize, fn(&[u8]) -> f64) = match descriptor {
            "<f4" => (4, |b| f32::from_le_bytes(b.try_into().expect("4")) as f64),
            ">f4" => (4, |b| f32::from_be_bytes(b.try_into().expect("4")) as f64),
            "<f8" => (8, |b| f64::from_le_bytes(b.try_into().expect("8"))),
            ">f8" => (8, |b| f64::from_be_bytes(b.try_into().expect("8"))),
            other => {
                return Err(fail(format!(
                    "holds {} numbers; expected float32 (or float64): convert it in Python with \
                     arr.astype('float32') before np.savez",
                    dtype_name(other)
                )));
            }
        };
        if let Some((want, _)) = expected
            && header.shape != want
        {
            let got = match hint(&header.shape) {
                Some(hint) => format!("{} ({hint})", fmt_shape(&header.shape)),
                None => fmt_shape(&header.shape),
            };
            return Err(LstmError::shape(context, fmt_shape(want), got));
        }
        let count = header
            .shape
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
            .filter(|n| n.checked_mul(size) == Some(data_bytes))
            .ok_or_else(|| {
                damaged(&format!(
                    "its shape {} does not match the {data_bytes} bytes of data it holds",
                    fmt_shape(&header.shape)
                ))
            })?;
        // Read what is there (up to the claim): memory follows the bytes present, not the claim.
        let mut data = Vec::new();
        (&mut entry)
            .take(data_bytes as u64)
            .read_to_end(&mut data)
            .map_err(|_| damaged("its data cannot be read"))?;
        if data.len() != data_bytes {
            return Err(damaged("its data is cut short"));
        }
        let values: Vec<f32> = data.chunks_exact(size).map(|b| read(b) as f32).collect();
        if let Some(k) = (0..count)
            .find(|&k| values[k].is_infinite() && read(&data[k * size..][..size]).is_finite())
        {
            return Err(fail(format!(
                "value {} (element {k}) is too large for float32",
                read(&data[k * size..][..size])
            )));
        }
        let shape = IxDyn(&header.shape);
        let array = match header.layout {
            Layout::Standard => ArrayD::from_shape_vec(shape, values),
            Layout::Fortran => ArrayD::from_shape_vec(shape.f(), values),
        };
        array.map_err(|_| damaged("its shape does not match its data"))
    }
}

/// NumPy's name for a `.npy` type descriptor (`<i8` is int64).
fn dtype_name(descriptor: &str) -> String {
    let kind = match descriptor.get(1..2) {
        Some("i") => "int",
        Some("u") => "uint",
        Some("f") => "float",
        Some("c") => "complex",
        Some("b") => return "bool".into(),
        Some("U") | Some("S") => return format!("string ('{descriptor}')"),
        Some("O") => return "Python object".into(),
        _ => return format!("'{descriptor}'"),
    };
    match descriptor.get(2..).and_then(|n| n.parse::<u32>().ok()) {
        Some(bytes) => format!("{kind}{}", bytes * 8),
        None => format!("'{descriptor}'"),
    }
}

/// What a file that is not a zip archive is, from its first bytes, and how to make an `.npz`.
fn not_npz(context: &str, start: &[u8]) -> LstmError {
    let what = if start.starts_with(b"\x93NUMPY") {
        "is a single .npy array (np.save), not an .npz archive of the model's weights"
    } else if start.starts_with(b"\x89HDF") {
        "is an HDF5 file (Keras' .h5 or .weights.h5), not an .npz archive"
    } else if start.starts_with(b"PK") {
        "is a damaged zip archive (truncated or cut short while copying?), not a readable .npz"
    } else if start.starts_with(b"LSTMCORE") {
        "is an lstm-core model file: load it with Sequential::load"
    } else {
        "is not an .npz archive (NumPy's zip of .npy arrays)"
    };
    LstmError::Parse {
        context: context.to_string(),
        message: format!(
            "{what}. Write one in Python with np.savez(path, **{{w.path: w.numpy() for w in \
             model.weights}}), or with Sequential::save_npz"
        ),
    }
}
