//! Getting data into the `(samples, timesteps, features)` shape an LSTM reads: sliding windows
//! and reshaping ([`windows`]), scaling ([`MinMaxScaler`], [`StandardScaler`], from
//! [`crate::math::scaler`]), splitting ([`split`]), and the tutorial's synthetic datasets
//! ([`datasets`]). Everything is re-exported here: `data::prepare_data`, `data::noisy_sine`, ...

pub mod datasets;
pub mod split;
pub mod windows;

pub use crate::math::scaler::{MinMaxScaler, Scaler, StandardScaler};
pub use datasets::*;
pub use split::*;
pub use windows::*;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::LstmError;
    use ndarray::{Array1, Array2, arr1, arr2, s};

    #[test]
    fn multistep_windows_cut_inputs_and_a_horizon_of_targets() {
        let series: Vec<f32> = (0..8).map(|v| v as f32).collect();
        let column = Array2::from_shape_vec((8, 1), series.clone()).unwrap();
        // Horizon 1 on the series itself is prepare_data + to_sequences.
        let (x, y) = multistep_windows(&column, &series, 3, 1).unwrap();
        let (x1, y1) = prepare_data(&series, 3).unwrap();
        assert_eq!(x, to_sequences(&x1, 1).unwrap());
        assert_eq!(y.column(0), y1);
        // Two features, three steps ahead: window k reads rows k..k+2, predicts k+3..k+5.
        let inputs = Array2::from_shape_fn((8, 2), |(t, f)| (10 * f + t) as f32);
        let (x, y) = multistep_windows(&inputs, &series, 3, 3).unwrap();
        assert_eq!(x.dim(), (3, 3, 2));
        assert_eq!(x.slice(s![1, .., 1]).to_vec(), vec![11.0, 12.0, 13.0]);
        assert_eq!(y.row(2).to_vec(), vec![5.0, 6.0, 7.0]);
        // Bad input: rows that do not match the target, too short a series, NaN.
        let e = multistep_windows(&inputs, &series[..7], 3, 3)
            .unwrap_err()
            .to_string();
        assert!(e.contains("(7, features)") && e.contains("(8, 2)"), "{e}");
        let e = multistep_windows(&inputs, &series, 6, 3).unwrap_err();
        assert!(
            matches!(
                e,
                LstmError::WindowTooLong {
                    needed: 9,
                    len: 8,
                    ..
                }
            ),
            "{e}"
        );
        let mut bad = inputs.clone();
        bad[[4, 1]] = f32::NAN;
        let e = multistep_windows(&bad, &series, 3, 3)
            .unwrap_err()
            .to_string();
        assert!(e.contains("NaN at index [4, 1]"), "{e}");
    }

    #[test]
    fn cycle_features_put_the_end_of_a_cycle_next_to_its_start() {
        let f = cycle_features(&[0.0, 91.25, 364.0], 365.0).unwrap();
        assert_eq!(f.dim(), (3, 2));
        assert!((f[[0, 0]] - 0.0).abs() < 1e-6 && (f[[0, 1]] - 1.0).abs() < 1e-6);
        assert!((f[[1, 0]] - 1.0).abs() < 1e-6 && f[[1, 1]].abs() < 1e-6);
        // Day 364 is as close to day 0 as day 1 is.
        let gap = |a: usize, b: usize| (f[[a, 0]] - f[[b, 0]]).hypot(f[[a, 1]] - f[[b, 1]]);
        let one_day = cycle_features(&[1.0], 365.0).unwrap();
        let step = (one_day[[0, 0]] - f[[0, 0]]).hypot(one_day[[0, 1]] - f[[0, 1]]);
        assert!((gap(2, 0) - step).abs() < 1e-5);
        assert!(
            cycle_features(&[1.0], 0.0)
                .unwrap_err()
                .to_string()
                .contains("period")
        );
        assert!(cycle_features(&[f32::NAN], 7.0).is_err());
    }

    #[test]
    fn differences_and_forecasts_from_them_add_up() {
        use crate::prelude::*;
        assert_eq!(differences(&[1.0, 3.0, 6.0]), vec![2.0, 3.0]);
        // A model whose output is always 0.5 (zero Dense kernel, bias 0.5) predicts a scaled
        // change of 0.5, i.e. 0.5·std + mean per step.
        let mut model = Sequential::with_seed(&[2, 1], 0);
        model.add(Lstm::new(2)).unwrap();
        model.add(Dense::new(1)).unwrap();
        let mut weights = model.get_weights();
        weights[3].fill(0.0);
        weights[4].fill(0.5);
        model.set_weights(&weights).unwrap();
        let mut scaler = StandardScaler::new();
        scaler.fit(&Array1::from(vec![1.0f32, 3.0])).unwrap(); // mean 2, std 1
        let levels = [10.0f32, 11.0, 13.0, 16.0];
        let f = forecast_from_differences(&mut model, &scaler, &levels, 3).unwrap();
        assert_eq!(f, vec![18.5, 21.0, 23.5]);
        assert!(forecast_from_differences(&mut model, &StandardScaler::new(), &levels, 1).is_err());
        assert!(forecast_from_differences(&mut model, &scaler, &levels[..2], 1).is_err());
    }

    #[test]
    fn delayed_recall_shifts_the_sequence_by_the_delay() {
        let (x, y) = delayed_recall(3, 5, 2, 9);
        assert_eq!(
            y.slice(s![.., ..2, ..])
                .iter()
                .filter(|&&v| v != 0.0)
                .count(),
            0
        );
        assert_eq!(y.slice(s![.., 2.., ..]), x.slice(s![.., ..3, ..]));
        let (x0, y0) = delayed_recall(2, 4, 0, 1);
        assert_eq!(x0, y0);
        let (_, y_long) = delayed_recall(2, 4, 9, 1);
        assert!(y_long.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn windows_match_hand_computed_values() {
        let (x, y) = prepare_data(&[1.0, 2.0, 3.0, 4.0, 5.0], 3).unwrap();
        assert_eq!(x, arr2(&[[1.0, 2.0, 3.0], [2.0, 3.0, 4.0]]));
        assert_eq!(y, arr1(&[4.0, 5.0]));
    }

    #[test]
    fn window_errors_say_what_was_given() {
        let err = prepare_data(&[1.0, 2.0, 3.0], 3).unwrap_err();
        assert_eq!(
            err,
            LstmError::WindowTooLong {
                n_steps: 3,
                needed: 4,
                len: 3
            }
        );
        assert!(
            err.to_string()
                .contains("window of 3 steps needs a series of at least 4 values, got 3"),
            "{err}"
        );
        assert!(matches!(prepare_data(&[], 1), Err(LstmError::Empty { .. })));
        assert!(matches!(
            prepare_data(&[1.0, 2.0], 0),
            Err(LstmError::Config { .. })
        ));
        let nan = prepare_data(&[1.0, f32::NAN, 3.0], 1).unwrap_err();
        assert!(nan.to_string().contains("at index [1]"), "{nan}");
    }

    #[test]
    fn to_sequences_adds_the_feature_axis() {
        let (x, _) = prepare_data(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0], 4).unwrap();
        let x3 = to_sequences(&x, 1).unwrap();
        assert_eq!(x3.shape(), &[2, 4, 1]);
        assert_eq!(x3[[1, 3, 0]], 4.0);
        let two_features = to_sequences(&x, 2).unwrap();
        assert_eq!(two_features.shape(), &[2, 2, 2]);
        assert_eq!(two_features[[0, 1, 0]], 2.0);
        let err = to_sequences(&x, 3).unwrap_err();
        assert!(err.to_string().contains("got (2, 4)"), "{err}");
    }

    #[test]
    fn minmax_round_trips_and_uses_one_range_for_all_values() {
        let x = arr2(&[[0.0f32, 50.0], [100.0, 25.0]]);
        let mut scaler = MinMaxScaler::new();
        let scaled = scaler.fit_transform(&x).unwrap();
        assert_eq!(scaled, arr2(&[[0.0, 0.5], [1.0, 0.25]]));
        assert_eq!(scaler.inverse_transform(&scaled).unwrap(), x);
        let ranged = MinMaxScaler::with_range(-1.0, 1.0)
            .unwrap()
            .fit_transform(&x)
            .unwrap();
        assert_eq!(ranged[[0, 1]], 0.0);
        assert!(MinMaxScaler::with_range(1.0, 1.0).is_err());
    }

    #[test]
    fn scalers_refuse_zero_range_unfitted_and_nan() {
        let flat = arr1(&[3.0f32, 3.0, 3.0]);
        let err = MinMaxScaler::new().fit(&flat).unwrap_err();
        assert_eq!(
            err,
            LstmError::ZeroRange {
                scaler: "MinMaxScaler",
                value: 3.0
            }
        );
        assert!(StandardScaler::new().fit(&flat).is_err());
        assert!(matches!(
            MinMaxScaler::new().transform(&flat),
            Err(LstmError::NotReady { .. })
        ));
        assert!(
            MinMaxScaler::new()
                .fit(&arr1(&[1.0, f32::INFINITY]))
                .is_err()
        );
        assert!(MinMaxScaler::new().fit(&Array1::<f32>::zeros(0)).is_err());
    }

    #[test]
    fn standard_scaler_matches_population_statistics() {
        let x = arr1(&[1.0f32, 2.0, 3.0, 4.0]);
        let mut scaler = StandardScaler::new();
        let z = scaler.fit_transform(&x).unwrap();
        let (mean, std) = scaler.mean_std().unwrap();
        assert_eq!(mean, 2.5);
        assert!((std - 1.25f32.sqrt()).abs() < 1e-7);
        assert!((z.sum()).abs() < 1e-6);
        let back = scaler.inverse_transform(&z).unwrap();
        assert!(back.iter().zip(&x).all(|(a, b)| (a - b).abs() < 1e-6));
    }

    #[test]
    fn random_split_is_seeded_sized_and_keeps_pairs() {
        let x = Array2::from_shape_fn((10, 2), |(i, j)| (i * 10 + j) as f32);
        let y = Array1::from_shape_fn(10, |i| i as f32);
        let a = train_test_split(&x, &y, 0.2, 7).unwrap();
        let b = train_test_split(&x, &y, 0.2, 7).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.x_test.nrows(), 2);
        assert_eq!(a.x_train.nrows(), 8);
        for (row, target) in a.x_test.rows().into_iter().zip(&a.y_test) {
            assert_eq!(row[0], target * 10.0);
        }
        for (&i, target) in a.test_index.iter().zip(&a.y_test) {
            assert_eq!(y[i], *target);
        }
        assert!(a.train_index.iter().all(|i| !a.test_index.contains(i)));
        let many = Array1::from_shape_fn(100, |i| i as f32);
        let seed_1 = train_test_split(&many, &many, 0.2, 1).unwrap();
        let seed_2 = train_test_split(&many, &many, 0.2, 2).unwrap();
        assert_eq!(seed_1.y_test.len(), 20);
        assert_ne!(
            seed_1.y_test, seed_2.y_test,
            "another seed should draw another test set"
        );
    }

    #[test]
    fn chronological_split_keeps_time_order() {
        let x = Array2::from_shape_fn((10, 1), |(i, _)| i as f32);
        let y = Array1::from_shape_fn(10, |i| i as f32);
        let s = chronological_split(&x, &y, 0.8).unwrap();
        assert_eq!(s.y_train, Array1::from_iter((0..8).map(|v| v as f32)));
        assert_eq!(s.y_test, arr1(&[8.0, 9.0]));
        // 0.7f32 is 0.69999999…; a user means 0.7, so 7 of 10 samples train.
        assert_eq!(chronological_split(&x, &y, 0.7).unwrap().y_train.len(), 7);
    }

    #[test]
    fn split_errors() {
        let x = Array2::<f32>::zeros((4, 1));
        let short = Array1::<f32>::zeros(3);
        let err = train_test_split(&x, &short, 0.25, 0).unwrap_err();
        assert!(
            err.to_string().contains("expected 4 targets, got 3"),
            "{err}"
        );
        assert!(train_test_split(&x, &Array1::zeros(4), 1.0, 0).is_err());
        assert!(chronological_split(&x, &Array1::zeros(4), 0.0).is_err());
    }

    #[test]
    fn synthetic_datasets_have_the_tutorial_shapes_and_rules() {
        let (x, y) = sum_of_first_two(1000, 1);
        assert_eq!(x.dim(), (1000, 3));
        assert!(
            x.iter()
                .all(|&v| (0.0..100.0).contains(&v) && v.fract() == 0.0)
        );
        for (row, target) in x.rows().into_iter().zip(&y) {
            assert_eq!(row[0] + row[1], *target);
        }
        assert_eq!(sum_of_first_two(5, 1), sum_of_first_two(5, 1));

        let (x, y) = next_number();
        assert_eq!(x.slice(s![0, .., 0]), arr1(&[0.01, 0.02, 0.03]));
        assert_eq!(y.column(0), arr1(&[0.04, 0.05, 0.06, 0.07]));

        let (x, y) = copy_task(3, 5, 2);
        assert_eq!(x, y);
        let (x, y) = reverse_task(3, 5, 2);
        assert_eq!(x[[1, 0, 0]], y[[1, 4, 0]]);
        assert!(
            y.is_standard_layout(),
            "reshapes of the target must just work"
        );

        let (x, y) = look_ahead_task(2, 4, 5);
        assert_eq!(y[[1, 2, 0]], x[[1, 3, 0]]);
        assert_eq!(y[[1, 3, 0]], 0.0);

        let (x, y) = alternating_bits(6, 4, 3);
        for k in 0..6 {
            assert_ne!(x[[k, 0, 0]], x[[k, 1, 0]]);
            assert_eq!(y[[k, 0]], 1.0 - x[[k, 3, 0]]);
        }

        let bank = sine_bank(3, 500, 1);
        assert_eq!(bank.dim(), (3, 500));
        let residual = (bank[[2, 100]] - ((0.07f32 * 100.0) + 2.0).sin()).abs();
        assert!(residual < 0.5, "a sine plus small noise: {residual}");

        let (t, series) = noisy_sine(200, 42);
        assert_eq!(t.len(), 200);
        assert_eq!(t[199], 20.0);
        let noise: Vec<f32> = t.iter().zip(&series).map(|(t, s)| s - t.sin()).collect();
        let std = (noise.iter().map(|n| n * n).sum::<f32>() / 200.0).sqrt();
        assert!(
            (0.07..0.13).contains(&std),
            "noise std {std} should be about 0.1"
        );
    }

    #[test]
    fn the_tutorials_copy_and_reverse_tasks_are_as_defined_and_distinct() {
        let (x, y) = tutorial_copy();
        assert_eq!((x.dim(), y.len()), ((1000, 4, 1), 1000));
        // Row 123 is [0.1, 0.2, 0.3, 0] → 0.1.
        assert_eq!(x.slice(s![123, .., 0]).to_vec(), vec![0.1, 0.2, 0.3, 0.0]);
        assert_eq!(y[123], 0.1);
        assert!((0..1000).all(|k| y[k] == x[[k, 0, 0]] && x[[k, 3, 0]] == 0.0));
        let (xr, yr) = tutorial_reverse();
        assert_eq!(xr.dim(), (1000, 3, 1));
        assert!((0..1000).all(|k| yr[k] == xr[[k, 2, 0]]));
        assert_eq!(xr.slice(s![987, .., 0]).to_vec(), vec![0.9, 0.8, 0.7]);
        // Every triple once: a split never repeats a training sequence in the held-out part.
        let split = train_test_split(&x, &y, 0.2, 5).unwrap();
        assert_eq!(shared_sequences(&split.x_train, &split.x_test).unwrap(), 0);
        assert_eq!(shared_sequences(&x, &x).unwrap(), 1000);
    }

    #[test]
    fn shared_sequences_are_counted_and_dropped() {
        let train = arr2(&[[0.1f32, 0.2], [0.3, 0.4]]);
        let held_out = arr2(&[[0.3f32, 0.4], [0.5, 0.6], [0.1, 0.2], [-0.0, 0.0]]);
        assert_eq!(shared_sequences(&train, &held_out).unwrap(), 2);
        let y = arr1(&[1.0f32, 2.0, 3.0, 4.0]);
        let (x_new, y_new) = drop_shared(&train, &held_out, &y).unwrap();
        assert_eq!(x_new, arr2(&[[0.5f32, 0.6], [-0.0, 0.0]]));
        assert_eq!(y_new, arr1(&[2.0f32, 4.0]));
        // -0.0 and 0.0 are one value.
        let zero = arr2(&[[0.0f32, 0.0]]);
        assert_eq!(
            shared_sequences(&zero, &arr2(&[[-0.0f32, 0.0]])).unwrap(),
            1
        );
        let err = shared_sequences(&train, &arr2(&[[0.1f32, 0.2, 0.3]])).unwrap_err();
        assert!(
            err.to_string()
                .contains("expected shape (None, 2), got (1, 3)"),
            "{err}"
        );
        let err = drop_shared(&train, &held_out, &arr1(&[1.0f32])).unwrap_err();
        assert!(
            err.to_string().contains("one target per input sample"),
            "{err}"
        );
    }
}
