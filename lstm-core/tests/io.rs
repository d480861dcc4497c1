//! Saving and loading: exact round trips, Keras-layout .npz both ways (checked on Keras' own
//! golden weights), and every kind of bad file: a clear error, never a panic, nothing changed.

use std::path::{Path, PathBuf};

use lstm_core::prelude::*;
use lstm_core::support::data::Scaler;
use lstm_core::training::io;
use lstm_core::{LstmError, MergeMode};
use ndarray::{ArrayD, IxDyn};
use proptest::prelude::*;
use proptest::test_runner::RngSeed;

mod common;
use common::json_array;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lstm-core-io-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn trained_model() -> (Sequential, Array3<f32>, Array1<f32>) {
    let (x, y) = data::sum_of_first_two(64, 3);
    let mut x_scaler = MinMaxScaler::new();
    let x = data::to_sequences(&x_scaler.fit_transform(&x).unwrap(), 1).unwrap();
    let y = y / 200.0;
    let mut model = Sequential::with_seed(&[3, 1], 5);
    model.add(Lstm::new(6).dropout(0.1)).unwrap();
    model.add(Dropout::new(0.2)).unwrap();
    model.add(Dense::new(1)).unwrap();
    model
        .compile_with_metrics(
            Adam::new(0.01).clipnorm(1.0),
            Loss::MeanSquaredError,
            &[Metric::MeanAbsoluteError],
        )
        .unwrap();
    model
        .fit(
            &x,
            &y,
            &FitConfig::new().epochs(3).batch_size(16).verbose(0),
        )
        .unwrap();
    model.attach_scaler("x", x_scaler);
    (model, x, y)
}

#[test]
fn save_and_load_give_bit_identical_predictions_and_training() {
    let dir = temp_dir("roundtrip");
    let (mut model, x, y) = trained_model();
    let path = dir.join("model.lstm");
    model.save(&path).unwrap();
    let mut loaded = Sequential::load(&path).unwrap();

    assert_eq!(loaded.get_weights(), model.get_weights());
    assert_eq!(loaded.predict(&x).unwrap(), model.predict(&x).unwrap());
    assert_eq!(loaded.summary().to_string(), model.summary().to_string());
    assert!(
        matches!(loaded.scaler("x"), Some(Scaler::MinMax(s)) if s.data_range() == Some((0.0, 99.0)))
    );
    // The optimizer state (Adam's moments and step count) came back too: one more step is identical.
    let a = model.train_on_batch(&x, &y).unwrap();
    let b = loaded.train_on_batch(&x, &y).unwrap();
    assert_eq!(a, b);
    assert_eq!(loaded.get_weights(), model.get_weights());
    // Nothing but the file is left behind.
    let entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(entries, vec![std::ffi::OsString::from("model.lstm")]);
}

#[test]
fn every_layer_kind_round_trips() {
    let mut model = Sequential::with_seed(&[5, 2], 9);
    model
        .add(
            Bidirectional::new(
                Lstm::new(3)
                    .return_sequences(true)
                    .activation(Activation::Relu),
            )
            .merge_mode(MergeMode::Ave),
        )
        .unwrap();
    model
        .add(
            Lstm::new(4)
                .return_sequences(true)
                .go_backwards(true)
                .use_bias(false),
        )
        .unwrap();
    model
        .add(TimeDistributed::new(
            Dense::new(2).activation(Activation::Softmax),
        ))
        .unwrap();
    model
        .compile(
            RmsProp::new(0.01).momentum(0.5),
            Loss::CategoricalCrossentropy,
        )
        .unwrap();
    let x = Array3::from_shape_fn((4, 5, 2), |(a, b, c)| {
        ((a * 7 + b * 3 + c) % 5) as f32 / 5.0
    });
    let bytes = io::to_bytes(&model).unwrap();
    let mut back = io::from_bytes(&bytes, "memory").unwrap();
    assert_eq!(back.predict(&x).unwrap(), model.predict(&x).unwrap());
    assert_eq!(
        io::to_bytes(&back).unwrap(),
        bytes,
        "saving the loaded model gives the same bytes"
    );

    let mut stateful = Sequential::new(&[2, 1]);
    stateful.add(Lstm::new(2).stateful(true)).unwrap();
    stateful.add(Dense::new(1)).unwrap();
    stateful
        .compile(
            Sgd::new(0.1).momentum(0.9).nesterov(true),
            Loss::MeanAbsoluteError,
        )
        .unwrap();
    let back = io::from_bytes(&io::to_bytes(&stateful).unwrap(), "memory").unwrap();
    assert!(back.layers()[0].is_stateful());
}

/// GRU and SimpleRNN models save and load like LSTM ones, as `.npz` too, under Keras' names.
#[test]
fn gru_and_simple_rnn_models_round_trip_with_keras_names() {
    let mut model = Sequential::with_seed(&[6, 3], 5);
    model
        .add(Bidirectional::new(Gru::new(3).return_sequences(true)))
        .unwrap();
    model
        .add(
            Gru::new(4)
                .return_sequences(true)
                .go_backwards(true)
                .use_bias(false),
        )
        .unwrap();
    model
        .add(SimpleRnn::new(2).activation(Activation::Relu))
        .unwrap();
    model.add(Dense::new(1)).unwrap();
    model
        .compile(Adam::default(), Loss::MeanSquaredError)
        .unwrap();
    assert_eq!(
        io::keras_weight_names(&model),
        [
            "bidirectional/forward_gru/gru_cell/kernel",
            "bidirectional/forward_gru/gru_cell/recurrent_kernel",
            "bidirectional/forward_gru/gru_cell/bias",
            "bidirectional/backward_gru/gru_cell/kernel",
            "bidirectional/backward_gru/gru_cell/recurrent_kernel",
            "bidirectional/backward_gru/gru_cell/bias",
            "gru/gru_cell/kernel",
            "gru/gru_cell/recurrent_kernel",
            "simple_rnn/simple_rnn_cell/kernel",
            "simple_rnn/simple_rnn_cell/recurrent_kernel",
            "simple_rnn/simple_rnn_cell/bias",
            "dense/kernel",
            "dense/bias",
        ]
    );
    let x = Array3::from_shape_fn((4, 6, 3), |(a, b, c)| {
        ((a * 5 + b * 3 + c) % 7) as f32 / 7.0 - 0.4
    });
    let bytes = io::to_bytes(&model).unwrap();
    let mut back = io::from_bytes(&bytes, "memory").unwrap();
    assert_eq!(back.predict(&x).unwrap(), model.predict(&x).unwrap());
    assert_eq!(io::to_bytes(&back).unwrap(), bytes);
    assert_eq!(back.layers()[0].weights()[2].value.shape(), [2, 9]);

    let dir = temp_dir("gru_npz");
    let path = dir.join("weights.npz");
    model.save_npz(&path).unwrap();
    let mut fresh = Sequential::with_seed(&[6, 3], 99);
    fresh
        .add(Bidirectional::new(Gru::new(3).return_sequences(true)))
        .unwrap();
    fresh
        .add(
            Gru::new(4)
                .return_sequences(true)
                .go_backwards(true)
                .use_bias(false),
        )
        .unwrap();
    fresh
        .add(SimpleRnn::new(2).activation(Activation::Relu))
        .unwrap();
    fresh.add(Dense::new(1)).unwrap();
    assert_ne!(fresh.predict(&x).unwrap(), model.predict(&x).unwrap());
    fresh.load_npz(&path).unwrap();
    assert_eq!(fresh.predict(&x).unwrap(), model.predict(&x).unwrap());
}

#[test]
fn damaged_model_files_are_refused_with_a_reason() {
    let (model, ..) = trained_model();
    let good = io::to_bytes(&model).unwrap();
    let message = |bytes: &[u8]| io::from_bytes(bytes, "m.lstm").unwrap_err().to_string();

    assert!(
        message(&[]).contains("0 bytes is too short"),
        "{}",
        message(&[])
    );
    assert!(message(&good[..good.len() / 2]).contains("checksum mismatch"));
    assert!(message(&good[..20]).contains("too short"));
    let mut flipped = good.clone();
    flipped[good.len() / 2] ^= 0x10;
    assert!(message(&flipped).contains("checksum mismatch"));
    let mut not_ours = good.clone();
    not_ours[0] = b'X';
    assert!(message(&not_ours).contains("does not start with LSTMCORE"));
    // A newer format: version 2, with a valid checksum.
    let mut newer = good[..good.len() - 8].to_vec();
    newer[8..12].copy_from_slice(&2u32.to_le_bytes());
    let sum = newer.iter().fold(0xcbf29ce484222325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    });
    newer.extend_from_slice(&sum.to_le_bytes());
    assert!(
        message(&newer).contains("format version 2; this build reads version 1"),
        "{}",
        message(&newer)
    );

    let dir = temp_dir("damaged");
    let err = Sequential::load(dir.join("missing.lstm")).unwrap_err();
    assert!(matches!(err, LstmError::Io { .. }), "{err}");
    std::fs::write(dir.join("empty.lstm"), b"").unwrap();
    assert!(
        Sequential::load(dir.join("empty.lstm"))
            .unwrap_err()
            .to_string()
            .contains("too short")
    );
}

#[test]
fn a_failed_write_leaves_the_old_file_and_no_temporary() {
    let dir = temp_dir("atomic");
    let path = dir.join("model.lstm");
    std::fs::write(&path, b"the good old file").unwrap();
    let err = io::write_atomic(&path, |file| {
        use std::io::Write;
        file.write_all(b"half a fi").unwrap();
        Err(LstmError::Io {
            path: "disk".into(),
            message: "No space left on device".into(),
        })
    })
    .unwrap_err();
    assert!(err.to_string().contains("No space left"));
    assert_eq!(std::fs::read(&path).unwrap(), b"the good old file");
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        1,
        "the temporary file is removed"
    );
    let err = Sequential::new(&[1, 1])
        .save(dir.join("no/such/dir/model.lstm"))
        .unwrap_err();
    assert!(matches!(err, LstmError::Io { .. }));
}

fn golden_single_lstm() -> (serde_json::Value, Sequential) {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/lstm_u5_d4_t3_b2_float32.json");
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut model = Sequential::new(&[3, 4]);
    model.add(Lstm::new(5)).unwrap();
    model.add(Dense::new(1)).unwrap();
    (j, model)
}

#[test]
fn keras_weights_in_npz_load_and_predict_as_in_keras() {
    let (j, mut model) = golden_single_lstm();
    let reg = &j["regression"];
    // What `np.savez(path, **{w.path: w.numpy() for w in model.weights})` writes in Keras 3.
    let keras = [
        (
            "sequential/lstm/lstm_cell/kernel",
            json_array(&j["weights"]["kernel"]),
        ),
        (
            "sequential/lstm/lstm_cell/recurrent_kernel",
            json_array(&j["weights"]["recurrent_kernel"]),
        ),
        (
            "sequential/lstm/lstm_cell/bias",
            json_array(&j["weights"]["bias"]),
        ),
        ("sequential/dense/kernel", json_array(&reg["dense_kernel"])),
        ("sequential/dense/bias", json_array(&reg["dense_bias"])),
    ];
    let dir = temp_dir("npz");
    let from_keras = dir.join("from_keras.npz");
    {
        let mut npz = ndarray_npy::NpzWriter::new(std::fs::File::create(&from_keras).unwrap());
        for (name, a) in &keras {
            npz.add_array(*name, a).unwrap();
        }
        npz.finish().unwrap();
    }
    io::load_npz(&mut model, &from_keras).unwrap();
    let pred = model.predict(&json_array(&j["x"])).unwrap();
    let want = json_array(&reg["pred"]);
    assert!(
        pred.iter()
            .zip(want.iter())
            .all(|(a, b)| (a - b).abs() <= 1e-5 * b.abs().max(1.0)),
        "{pred} vs {want}"
    );

    // And back out: our names are Keras' paths, the arrays Keras' own, bit for bit.
    let ours = dir.join("ours.npz");
    io::save_npz(&model, &ours).unwrap();
    let mut npz = ndarray_npy::NpzReader::new(std::fs::File::open(&ours).unwrap()).unwrap();
    let names = npz.names().unwrap();
    assert_eq!(
        names,
        vec![
            "lstm/lstm_cell/kernel.npy",
            "lstm/lstm_cell/recurrent_kernel.npy",
            "lstm/lstm_cell/bias.npy",
            "dense/kernel.npy",
            "dense/bias.npy"
        ]
        .into_iter()
        .map(|n| n.trim_end_matches(".npy").to_string())
        .collect::<Vec<_>>()
    );
    for (name, (_, a)) in names.iter().zip(&keras) {
        let back: ArrayD<f32> = npz.by_name(name).unwrap();
        assert_eq!(&back, a);
    }
}

#[test]
fn bad_npz_files_name_the_array_and_change_nothing() {
    let (j, mut model) = golden_single_lstm();
    let before = model.get_weights();
    let dir = temp_dir("badnpz");
    let write = |name: &str, arrays: &[(&str, ArrayD<f32>)]| {
        let path = dir.join(name);
        write_npz_as(&path, arrays, |v| v);
        path
    };
    let k = json_array(&j["weights"]["kernel"]);
    let missing = write("missing.npz", &[("kernel", k.clone())]);
    let err = io::load_npz(&mut model, &missing).unwrap_err();
    assert!(
        err.to_string()
            .contains("expected 5 (lstm/lstm_cell/kernel (4, 20)"),
        "{err}"
    );
    assert!(err.to_string().ends_with("got 1"), "{err}");

    let mut wrong = before.clone();
    wrong[1] = ArrayD::zeros(IxDyn(&[20, 5]));
    // Keras names its layers lstm_1, dense_1 in a second model: matched by role, in order.
    let names = [
        "sequential_1/lstm_1/lstm_cell/kernel",
        "sequential_1/lstm_1/lstm_cell/recurrent_kernel",
        "sequential_1/lstm_1/lstm_cell/bias",
        "sequential_1/dense_1/kernel",
        "sequential_1/dense_1/bias",
    ];
    let arrays: Vec<(&str, ArrayD<f32>)> = names.iter().copied().zip(wrong).collect();
    let err = io::load_npz(&mut model, write("shape.npz", &arrays)).unwrap_err();
    assert!(
        err.to_string().contains(
            "array 'sequential_1/lstm_1/lstm_cell/recurrent_kernel' (for lstm/lstm_cell/recurrent_kernel): expected shape (5, 20), got (20, 5)"
        ),
        "{err}"
    );

    let named: Vec<(&str, ArrayD<f32>)> = names.iter().copied().zip(before.clone()).collect();
    let path = dir.join("f64.npz");
    write_npz_as(&path, &named, |v| v as f64);
    // float64 (NumPy's default) is read as Keras' set_weights reads it: cast to float32.
    io::load_npz(&mut model, &path).unwrap();
    assert_eq!(
        model.get_weights(),
        before,
        "float64 of float32 values is exact"
    );

    let path = dir.join("int.npz");
    write_npz_as(&path, &named, |v| v as i64);
    let err = io::load_npz(&mut model, &path).unwrap_err();
    assert!(
        err.to_string()
            .contains("array 'sequential_1/lstm_1/lstm_cell/kernel'")
            && err
                .to_string()
                .contains("holds int64 numbers; expected float32"),
        "{err}"
    );

    std::fs::write(dir.join("junk.npz"), b"not a zip file at all").unwrap();
    let err = io::load_npz(&mut model, dir.join("junk.npz")).unwrap_err();
    assert!(err.to_string().contains("is not an .npz archive"), "{err}");
    assert_eq!(
        model.get_weights(),
        before,
        "no failed load changed the model"
    );
}

/// Writes `arrays` under their names as an `.npz`, each value converted by `cast` (NumPy's
/// other dtypes: float64, int64).
fn write_npz_as<T: ndarray_npy::WritableElement>(
    path: &Path,
    arrays: &[(&str, ArrayD<f32>)],
    cast: impl Fn(f32) -> T,
) {
    let mut npz = ndarray_npy::NpzWriter::new(std::fs::File::create(path).unwrap());
    for (name, a) in arrays {
        npz.add_array(*name, &a.mapv(&cast)).unwrap();
    }
    npz.finish().unwrap();
}

proptest! {
    // A fixed seed: the same inputs on every run (a test that can fail at random is a bug).
    #![proptest_config(ProptestConfig {
        cases: 256,
        rng_seed: RngSeed::Fixed(20261204),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_bytes_never_panic_the_model_loader(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = io::from_bytes(&bytes, "fuzz");
        let mut with_magic = b"LSTMCORE".to_vec();
        with_magic.extend(&bytes);
        let _ = io::from_bytes(&with_magic, "fuzz");
    }

    #[test]
    fn damaging_a_valid_file_never_panics(position in 0usize..10_000, value in any::<u8>(), cut in 0usize..10_000) {
        let (model, ..) = trained_model_small();
        let mut bytes = io::to_bytes(&model).unwrap();
        let p = position % bytes.len();
        bytes[p] = value;
        let _ = io::from_bytes(&bytes, "fuzz");
        bytes.truncate(cut % bytes.len());
        prop_assert!(io::from_bytes(&bytes, "fuzz").is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_npz_loader(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let dir = std::env::temp_dir().join(format!("lstm-core-npz-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("fuzz.npz");
        let mut zipped = b"PK\x03\x04".to_vec();
        zipped.extend(&bytes);
        for content in [&bytes, &zipped] {
            std::fs::write(&path, content).unwrap();
            let mut model = Sequential::new(&[2, 1]);
            model.add(Dense::new(1)).unwrap();
            prop_assert!(io::load_npz(&mut model, &path).is_err());
        }
    }
}

fn trained_model_small() -> (Sequential, ()) {
    let mut model = Sequential::new(&[2, 1]);
    model.add(Lstm::new(2)).unwrap();
    model.add(Dense::new(1)).unwrap();
    model
        .compile(Adam::default(), Loss::MeanSquaredError)
        .unwrap();
    model
        .train_on_batch(&Array3::<f32>::ones((2, 2, 1)), &Array1::<f32>::zeros(2))
        .unwrap();
    (model, ())
}
