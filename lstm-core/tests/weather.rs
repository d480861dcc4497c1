//! The weather module (feature `polars`): synthetic data, and the CSV loader's handling of each
//! kind of messy file.
#![cfg(feature = "polars")]

use std::path::PathBuf;

use lstm_core::LstmError;
use lstm_core::prelude::*;
use lstm_core::support::weather::chrono::NaiveDate;
use lstm_core::support::weather::{self, CsvOptions, Duplicates, Gaps, Missing};

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// Writes `text` to a fresh temporary CSV file.
fn csv(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lstm-core-weather-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.csv"));
    std::fs::write(&path, text).unwrap();
    path
}

fn options() -> CsvOptions {
    CsvOptions::new("date", "temp")
}

#[test]
fn synthetic_weather_is_two_daily_years_and_seeded() {
    let df = weather::synthetic_weather(42).unwrap();
    assert_eq!(df.height(), 730);
    let dates = weather::dates(&df).unwrap();
    assert_eq!((dates[0], dates[729]), (day(2022, 1, 1), day(2023, 12, 31)));
    assert!(dates.windows(2).all(|w| (w[1] - w[0]).num_days() == 1));
    let t = weather::values(&df, weather::TEMPERATURE).unwrap();
    let mean = t.iter().sum::<f32>() / 730.0;
    assert!((mean - 20.0).abs() < 0.5, "mean {mean}");
    // 20 + 10·sin(2πt/365) + noise: day 91 (1 April) is near the top of the curve.
    assert!((t[91] - 30.0).abs() < 7.0);
    assert_eq!(
        weather::values(
            &weather::synthetic_weather(42).unwrap(),
            weather::TEMPERATURE
        )
        .unwrap(),
        t
    );
    assert_ne!(
        weather::values(
            &weather::synthetic_weather(1).unwrap(),
            weather::TEMPERATURE
        )
        .unwrap(),
        t
    );
}

#[test]
fn a_clean_file_loads_unchanged() {
    let path = csv(
        "clean",
        "date,temp\n2023-01-01,1.5\n2023-01-02,2.5\n2023-01-03,3.5\n",
    );
    let (df, report) = weather::load_csv(&path, &options()).unwrap();
    assert_eq!(weather::values(&df, "temp").unwrap(), vec![1.5, 2.5, 3.5]);
    assert_eq!(weather::dates(&df).unwrap()[2], day(2023, 1, 3));
    assert!(!report.sorted && report.gaps.is_empty() && report.duplicate_dates.is_empty());
    assert_eq!((report.rows_read, report.rows_out), (3, 3));
}

#[test]
fn unsorted_rows_are_sorted_and_reported() {
    let path = csv(
        "unsorted",
        "date,temp\n2023-01-03,3\n2023-01-01,1\n2023-01-02,2\n",
    );
    let (df, report) = weather::load_csv(&path, &options()).unwrap();
    assert!(report.sorted);
    assert_eq!(weather::values(&df, "temp").unwrap(), vec![1.0, 2.0, 3.0]);
}

#[test]
fn a_missing_day_is_interpolated_or_skipped() {
    let path = csv(
        "gap",
        "date,temp\n2023-01-01,1\n2023-01-02,2\n2023-01-04,6\n2023-01-05,7\n",
    );
    let (df, report) = weather::load_csv(&path, &options()).unwrap();
    assert_eq!(report.gaps, vec![(day(2023, 1, 3), day(2023, 1, 3))]);
    assert_eq!(report.interpolated_days, 1);
    assert_eq!(
        weather::values(&df, "temp").unwrap(),
        vec![1.0, 2.0, 4.0, 6.0, 7.0]
    );

    let (df, report) = weather::load_csv(&path, &options().gaps(Gaps::Skip)).unwrap();
    assert_eq!(report.gaps.len(), 1);
    assert_eq!(df.height(), 4);
    let w = weather::windows(&df, "temp", 1).unwrap();
    assert_eq!(w.skipped, 1, "the window 01-02 → 01-04 spans the gap");
    assert_eq!(w.target_dates, vec![day(2023, 1, 2), day(2023, 1, 5)]);
}

#[test]
fn duplicated_dates_are_refused_by_default_or_merged() {
    let path = csv(
        "dup",
        "date,temp\n2023-01-01,1\n2023-01-02,2\n2023-01-02,4\n2023-01-03,3\n",
    );
    let err = weather::load_csv(&path, &options()).unwrap_err();
    assert!(
        err.to_string()
            .contains("date 2023-01-02 appears in rows 2 and 3"),
        "{err}"
    );
    let (df, report) =
        weather::load_csv(&path, &options().duplicates(Duplicates::KeepFirst)).unwrap();
    assert_eq!(weather::values(&df, "temp").unwrap(), vec![1.0, 2.0, 3.0]);
    assert_eq!(report.duplicate_dates, vec![day(2023, 1, 2)]);
    let (df, _) = weather::load_csv(&path, &options().duplicates(Duplicates::Mean)).unwrap();
    assert_eq!(weather::values(&df, "temp").unwrap(), vec![1.0, 3.0, 3.0]);
}

#[test]
fn an_empty_value_is_refused_by_default_or_interpolated() {
    let path = csv(
        "empty",
        "date,temp\n2023-01-01,1\n2023-01-02,\n2023-01-03,3\n",
    );
    let err = weather::load_csv(&path, &options()).unwrap_err();
    assert!(
        err.to_string()
            .contains("row 2 (line 3), column 'temp': empty value"),
        "{err}"
    );
    let (df, report) = weather::load_csv(&path, &options().missing(Missing::Interpolate)).unwrap();
    assert_eq!(report.empty_rows, vec![2]);
    assert_eq!(weather::values(&df, "temp").unwrap(), vec![1.0, 2.0, 3.0]);
}

#[test]
fn bad_cells_are_named_by_row_and_column() {
    let path = csv("text", "date,temp\n2023-01-01,1\n2023-01-02,warm\n");
    let err = weather::load_csv(&path, &options()).unwrap_err();
    assert!(
        err.to_string()
            .contains("row 2 (line 3), column 'temp': 'warm' is not a number"),
        "{err}"
    );

    let path = csv("baddate", "date,temp\n2023-01-01,1\n2023-13-45,2\n");
    let err = weather::load_csv(&path, &options()).unwrap_err();
    assert!(
        err.to_string()
            .contains("row 2 (line 3), column 'date': cannot read '2023-13-45' as a date"),
        "{err}"
    );

    let path = csv("nan", "date,temp\n2023-01-01,NaN\n");
    assert!(
        weather::load_csv(&path, &options())
            .unwrap_err()
            .to_string()
            .contains("'NaN' is not a number")
    );
}

#[test]
fn wrong_column_names_list_the_columns_that_exist() {
    let path = csv("columns", "day,temperature\n2023-01-01,1\n");
    let err = weather::load_csv(&path, &options()).unwrap_err();
    assert!(
        err.to_string().ends_with(
            "columns.csv: column 'date': not in the file; its columns are 'day', 'temperature'."
        ),
        "{err}"
    );
}

#[test]
fn empty_and_missing_files() {
    let path = csv("header_only", "date,temp\n");
    let err = weather::load_csv(&path, &options()).unwrap_err();
    assert!(matches!(err, LstmError::Parse { .. }), "{err}");
    assert!(
        err.to_string().contains("no data rows under the header"),
        "{err}"
    );
    let err = weather::load_csv("/nonexistent/weather.csv", &options()).unwrap_err();
    assert_eq!(err.to_string(), "/nonexistent/weather.csv: no such file");
}

#[test]
fn other_date_formats_are_read() {
    for (text, expected) in [
        ("2023-02-03", day(2023, 2, 3)),
        ("2023/02/03", day(2023, 2, 3)),
        ("03.02.2023", day(2023, 2, 3)),
        ("2023-02-03T00:00:00", day(2023, 2, 3)),
    ] {
        assert_eq!(weather::parse_date(text), Some(expected), "{text}");
    }
    assert_eq!(
        weather::parse_date("02/03/2023"),
        None,
        "ambiguous US/EU dates are refused"
    );
}

#[test]
fn the_committed_example_csv_is_what_the_code_writes() {
    let committed =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/city_temperature.csv");
    let fresh = csv("example", "");
    weather::write_example_csv(&fresh, 7).unwrap();
    assert_eq!(
        std::fs::read_to_string(&fresh).unwrap(),
        std::fs::read_to_string(&committed).unwrap()
    );

    let strict = CsvOptions::new("date", "temp_c");
    let err = weather::load_csv(&committed, &strict).unwrap_err();
    assert!(
        err.to_string()
            .contains("row 102 (line 103), column 'temp_c': empty value"),
        "{err}"
    );
    let lenient = strict
        .missing(Missing::Interpolate)
        .duplicates(Duplicates::Mean);
    let (df, report) = weather::load_csv(&committed, &lenient).unwrap();
    assert_eq!(df.height(), 365);
    assert!(report.sorted);
    assert_eq!(report.duplicate_dates, vec![day(2023, 2, 20)]);
    assert_eq!(
        report.gaps,
        vec![
            (day(2023, 4, 11), day(2023, 4, 11)),
            (day(2023, 7, 20), day(2023, 7, 20))
        ]
    );
}

#[test]
fn forecasts_come_back_with_the_following_dates() {
    let df = weather::synthetic_weather(3).unwrap();
    let mut model = Sequential::with_seed(&[5, 1], 1);
    model.add(Lstm::new(4)).unwrap();
    model.add(Dense::new(1)).unwrap();
    let future = weather::forecast(
        &mut model,
        &df,
        weather::TEMPERATURE,
        10,
        |v| v / 40.0,
        |v| v * 40.0,
    )
    .unwrap();
    let dates = weather::dates(&future).unwrap();
    assert_eq!(dates.len(), 10);
    assert_eq!((dates[0], dates[9]), (day(2024, 1, 1), day(2024, 1, 10)));
    assert!(
        weather::values(&future, weather::TEMPERATURE)
            .unwrap()
            .iter()
            .all(|v| v.is_finite())
    );
    let err = weather::windows(&df, weather::TEMPERATURE, 730).unwrap_err();
    assert!(matches!(err, LstmError::WindowTooLong { .. }));
}

#[test]
fn a_weekly_series_needs_its_period_and_then_fills_missing_weeks() {
    // Saturdays, one week absent (2001-01-20) and one empty cell, as the Mauna Loa CO₂ file.
    let path = csv(
        "weekly",
        "date,temp\n20010106,1.0\n20010113,2.0\n20010127,4.0\n20010203,\n20010210,6.0\n",
    );
    let err = weather::load_csv(&path, &options().missing(Missing::Interpolate)).unwrap_err();
    assert!(
        err.to_string().contains("period_days(7)"),
        "a weekly file is not read as daily with 6 days missing each week: {err}"
    );
    let weekly = options().missing(Missing::Interpolate).period_days(7);
    let (df, report) = weather::load_csv(&path, &weekly).unwrap();
    let dates = weather::dates(&df).unwrap();
    assert_eq!(dates.len(), 6);
    assert!(dates.windows(2).all(|w| (w[1] - w[0]).num_days() == 7));
    assert_eq!(
        weather::values(&df, "temp").unwrap(),
        vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    );
    assert_eq!(
        report.gaps,
        vec![
            (day(2001, 1, 20), day(2001, 1, 20)),
            (day(2001, 2, 3), day(2001, 2, 3))
        ]
    );
    assert_eq!(report.interpolated_days, 2);
    assert_eq!(weather::period_days(&dates), 7);
    // Windows step in weeks; a forecast continues on Saturdays.
    let w = weather::windows(&df, "temp", 2).unwrap();
    assert_eq!((w.y.len(), w.skipped), (4, 0));
    let mut model = Sequential::with_seed(&[2, 1], 0);
    model.add(Lstm::new(2)).unwrap();
    model.add(Dense::new(1)).unwrap();
    let future = weather::forecast(&mut model, &df, "temp", 2, |v| v, |v| v).unwrap();
    assert_eq!(
        weather::dates(&future).unwrap(),
        vec![day(2001, 2, 17), day(2001, 2, 24)]
    );
}

#[test]
fn a_date_off_the_weekly_grid_is_named() {
    let path = csv(
        "offgrid",
        "date,temp\n20010106,1.0\n20010113,2.0\n20010121,3.0\n",
    );
    let err = weather::load_csv(&path, &options().period_days(7))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("2001-01-21") && err.contains("8 days") && err.contains("2001-01-13"),
        "{err}"
    );
    assert!(
        weather::load_csv(&path, &options().period_days(0))
            .unwrap_err()
            .to_string()
            .contains("at least 1")
    );
}

#[test]
fn the_committed_co2_file_loads_as_a_weekly_series() {
    let root =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/co2_mauna_loa_weekly.csv");
    let options = CsvOptions::new("date", "co2")
        .missing(Missing::Interpolate)
        .period_days(7);
    let (df, report) = weather::load_csv(&root, &options).unwrap();
    assert_eq!(report.rows_read, 2284);
    assert_eq!(report.empty_rows.len(), 59);
    assert_eq!(df.height(), 2284, "no week is absent, only empty");
    let dates = weather::dates(&df).unwrap();
    assert_eq!(
        (dates[0], dates[2283]),
        (day(1958, 3, 29), day(2001, 12, 29))
    );
    let co2 = weather::values(&df, "co2").unwrap();
    assert_eq!((co2[0], co2[2283]), (316.1, 371.5));
}

/// The x tick labels of a chart's SVG (the texts under the plotting area).
fn x_ticks(svg: &str) -> Vec<String> {
    svg.split("<text")
        .filter(|t| t.contains("text-anchor=\"middle\"") && !t.contains("rotate"))
        .filter_map(|t| t.split('>').nth(1))
        .map(|t| t.split('<').next().unwrap_or("").trim().to_string())
        .filter(|t| t.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .collect()
}

#[test]
fn date_axes_have_unique_ticks_at_every_span() {
    for days in [90usize, 730, 2284 * 7] {
        let dates: Vec<NaiveDate> = (0..days as i64)
            .map(|d| day(1990, 1, 1) + weather::chrono::Duration::days(d))
            .collect();
        let values: Vec<f32> = (0..days).map(|d| d as f32).collect();
        let chart = weather::plot_on_dates("t", "v", (&dates, &values), &[]).unwrap();
        let ticks = x_ticks(chart.svg());
        assert!(ticks.len() >= 4, "{days} days: {ticks:?}");
        let mut unique = ticks.clone();
        unique.dedup();
        assert_eq!(unique, ticks, "{days} days: repeated tick labels");
    }
}
