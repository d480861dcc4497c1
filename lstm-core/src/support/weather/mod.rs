//! Weather forecasting with dates (feature `polars`): the tutorial's synthetic weather as a polars
//! `DataFrame`, loading a real CSV (date column + value column) with a clear policy for each kind
//! of mess, windows that never span a gap, and forecasts returned as a `DataFrame` with dates.
//!
//! How a CSV is cleaned ([`load_csv`]):
//!
//! | problem | what happens |
//! |---|---|
//! | a file that is not UTF-8 (Latin-1, Windows-1252, UTF-16) | error naming the row of the first byte that is not, and the fix ([`CsvOptions::encoding`] reads Latin-1) |
//! | old Mac line ends (`\r` alone), a byte-order mark, blank lines at the end | read as a usual file |
//! | a column name that is not in the file | error listing the columns that are there (and the separator the header suggests, for a `;`- or tab-separated file: [`CsvOptions::delimiter`]) |
//! | rows out of order | sorted by date (reported) |
//! | a date that cannot be parsed | error naming the row and column |
//! | an ambiguous date (`01/02/21`: which is the day, which century?) | error: name the format with [`CsvOptions::date_format`]; only unambiguous forms are read by default (see [`parse_date`]) |
//! | a value that is not a number | error naming the row and column |
//! | an empty value | [`Missing::Error`] (default): error naming the row; [`Missing::Interpolate`]: treated as a missing day |
//! | the same date twice | [`Duplicates::Error`] (default): error naming both rows; or keep the first; or average them |
//! | a value far outside the column's range (`1e30`, `-999`, `250` for `25.0`) | [`Outliers::Error`] (default): error listing rows and values; [`Outliers::Drop`]: treated as a missing day; [`Outliers::Keep`]; always in the report |
//! | a missing day | [`Gaps::Interpolate`] (default): filled linearly between its neighbours (reported); [`Gaps::Skip`]: left out, and windows that would span it are skipped |
//! | a gap longer than the file's own rows or than a year (a typo in a year: 1918 for 1981) | [`Gaps::Interpolate`]: error naming the row(s) on the gap's short side, never a straight line through decades; [`Gaps::Skip`] keeps the gap |
//! | the same date on many rows (an hourly file) | error counting the rows per date and naming [`Duplicates::Mean`] (the daily mean) |
//! | a column whose values are mostly one number (rain: 0 mm on most days) | the plausible range comes from the other values ([`plausible_range`]) |
//! | rows further apart than a day (a weekly series) | error, unless [`CsvOptions::period_days`] names the period (7 for weekly); then a missing *week* is the gap, and windows and forecasts step in weeks |
//! | a date off the period's grid (8 days after the previous row of a weekly series) | error naming both dates |

use std::path::Path;

pub use chrono;

mod csv;
mod windows;

use chrono::NaiveDate;
pub use csv::{
    CsvOptions, CsvReport, Duplicates, Encoding, Gaps, Missing, OUTLIER_IQR_MULTIPLE, Outlier,
    Outliers, load_csv, parse_date, plausible_range,
};
use polars::prelude::*;
pub use windows::{Windows, forecast, period_days, windows};

use crate::display::{Html, html_escape};
use crate::error::{LstmError, Result};
use crate::math::init::seeded_rng;
use crate::support::plot::{self, Figure, Labels, Series as PlotSeries};

/// Name of the date column in the frames this module builds.
pub const DATE: &str = "Date";
/// Name of the value column of [`synthetic_weather`].
pub const TEMPERATURE: &str = "temperature";

pub(super) fn polars_error(context: &str) -> impl Fn(PolarsError) -> LstmError + '_ {
    move |e| LstmError::Parse {
        context: context.to_string(),
        message: e.to_string(),
    }
}

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date")
}

/// Days since 1970-01-01, as polars stores a `Date`.
pub fn days_since_epoch(date: NaiveDate) -> i32 {
    (date - epoch()).num_days() as i32
}

/// The date `days` days after 1970-01-01 (polars' `Date`).
pub fn date_from_days(days: i32) -> NaiveDate {
    epoch() + chrono::Duration::days(days as i64)
}

/// A frame with a `Date` column and one `f32` column.
pub fn frame(dates: &[NaiveDate], column: &str, values: &[f32]) -> Result<DataFrame> {
    if dates.len() != values.len() {
        return Err(LstmError::count(
            "weather frame",
            "values (one per date)",
            dates.len(),
            values.len().to_string(),
        ));
    }
    let days: Vec<i32> = dates.iter().map(|d| days_since_epoch(*d)).collect();
    let date_series = Series::new(DATE.into(), days)
        .cast(&DataType::Date)
        .map_err(polars_error("weather frame"))?;
    let value_series = Series::new(column.into(), values.to_vec());
    DataFrame::new(
        dates.len(),
        vec![date_series.into_column(), value_series.into_column()],
    )
    .map_err(polars_error("weather frame"))
}

/// The tutorial's synthetic weather: one row per day from 2022-01-01 to 2023-12-31 (a polars date
/// range) and `temperature = 20 + 10·sin(2πt/365) + N(0, 2)` for day t, seeded.
pub fn synthetic_weather(seed: u64) -> Result<DataFrame> {
    let start = NaiveDate::from_ymd_opt(2022, 1, 1)
        .expect("valid")
        .and_hms_opt(0, 0, 0)
        .expect("valid");
    let end = NaiveDate::from_ymd_opt(2023, 12, 31)
        .expect("valid")
        .and_hms_opt(0, 0, 0)
        .expect("valid");
    let range = polars::time::date_range(
        DATE.into(),
        start,
        end,
        polars::time::Duration::parse("1d"),
        ClosedWindow::Both,
        TimeUnit::Milliseconds,
        None,
    )
    .map_err(polars_error("synthetic_weather: date range"))?;
    let dates = range
        .into_series()
        .cast(&DataType::Date)
        .map_err(polars_error("synthetic_weather: dates"))?;
    let temperature = crate::support::data::synthetic_temperature(dates.len(), seed).to_vec();
    let n = dates.len();
    DataFrame::new(
        n,
        vec![
            dates.into_column(),
            Series::new(TEMPERATURE.into(), temperature).into_column(),
        ],
    )
    .map_err(polars_error("synthetic_weather"))
}

/// The dates of a frame's `Date` column (polars' `Date` type).
pub fn dates(df: &DataFrame) -> Result<Vec<NaiveDate>> {
    let column = df.column(DATE).map_err(|_| missing_column(DATE, df))?;
    if column.dtype() != &DataType::Date {
        return Err(LstmError::Parse {
            context: format!("column '{DATE}'"),
            message: format!(
                "holds {} values; expected dates (polars' Date type). Cast it first, e.g. \
                 df.with_column(df.column(\"{DATE}\")?.cast(&DataType::Date)?), or read the \
                 file with load_csv",
                column.dtype()
            ),
        });
    }
    let days = column
        .cast(&DataType::Int32)
        .map_err(polars_error("dates"))?;
    let days = days.i32().map_err(polars_error("dates"))?;
    days.iter()
        .enumerate()
        .map(|(row, d)| d.map(date_from_days).ok_or_else(|| null_at(DATE, row)))
        .collect()
}

/// The values of a numeric column as `f32`; text that is not a number is named with its row.
pub fn values(df: &DataFrame, column: &str) -> Result<Vec<f32>> {
    let col = df.column(column).map_err(|_| missing_column(column, df))?;
    let floats = col
        .cast(&DataType::Float32)
        .map_err(polars_error("values"))?;
    let floats = floats.f32().map_err(polars_error("values"))?;
    floats
        .iter()
        .enumerate()
        .map(|(row, v)| {
            v.ok_or_else(|| match col.get(row).ok().filter(|a| !a.is_null()) {
                // A value the cast could not read: text such as "NA", named as it is.
                Some(text) => LstmError::Parse {
                    context: format!("column '{column}', row {}", row + 1),
                    message: format!("{text} is not a number"),
                },
                None => null_at(column, row),
            })
        })
        .collect()
}

fn missing_column(name: &str, df: &DataFrame) -> LstmError {
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|n| format!("'{n}'"))
        .collect();
    LstmError::config(
        "column name",
        format!("one of {}", names.join(", ")),
        format!("'{name}'"),
    )
}

/// An empty cell at 0-based `row`, named 1-based as `load_csv` counts rows.
fn null_at(column: &str, row: usize) -> LstmError {
    LstmError::Parse {
        context: format!("column '{column}', row {}", row + 1),
        message: "empty value".into(),
    }
}

/// The first and last rows of a frame as an HTML table (all rows if it is short).
pub fn preview(df: &DataFrame, rows: usize) -> Html {
    let n = df.height();
    let shown: Vec<usize> = if n <= 2 * rows {
        (0..n).collect()
    } else {
        (0..rows).chain(n - rows..n).collect()
    };
    let columns = df.columns();
    let mut html = String::from("<table class=\"lstm-frame\"><thead><tr><th></th>");
    for c in columns {
        html += &format!(
            "<th>{}<br><small>{}</small></th>",
            html_escape(c.name()),
            html_escape(&c.dtype().to_string())
        );
    }
    html += "</tr></thead><tbody>";
    for (pos, &r) in shown.iter().enumerate() {
        if pos > 0 && r != shown[pos - 1] + 1 {
            html += &format!(
                "<tr><td colspan=\"{}\">⋮ {} more rows</td></tr>",
                columns.len() + 1,
                r - shown[pos - 1] - 1
            );
        }
        html += &format!("<tr><td>{r}</td>");
        for c in columns {
            let cell = c.get(r).map(|v| v.to_string()).unwrap_or_default();
            html += &format!("<td>{}</td>", html_escape(cell.trim_matches('"')));
        }
        html += "</tr>";
    }
    html += &format!(
        "</tbody></table><p>{n} rows × {} columns</p>",
        columns.len()
    );
    Html(html)
}

/// Actual values and forecasts on a date axis. Each forecast is `(label, dates, values)`.
pub fn plot_on_dates(
    title: &str,
    y_label: &str,
    actual: (&[NaiveDate], &[f32]),
    forecasts: &[(&str, &[NaiveDate], &[f32])],
) -> Result<Figure> {
    let points = |d: &[NaiveDate], v: &[f32]| -> Vec<(f32, f32)> {
        d.iter()
            .zip(v)
            .map(|(d, v)| (days_since_epoch(*d) as f32, *v))
            .collect()
    };
    let colors = [plot::TEST, plot::HIGHLIGHT, plot::VALIDATION];
    let all_dates = actual
        .0
        .iter()
        .chain(forecasts.iter().flat_map(|f| f.1.iter()));
    let (first, last) = all_dates.fold((None::<NaiveDate>, None::<NaiveDate>), |(lo, hi), &d| {
        (
            Some(lo.map_or(d, |l| l.min(d))),
            Some(hi.map_or(d, |h| h.max(d))),
        )
    });
    let span_days = match (first, last) {
        (Some(a), Some(b)) => (b - a).num_days(),
        _ => 0,
    };
    let mut series = vec![PlotSeries::line(
        "actual",
        points(actual.0, actual.1),
        plot::ACTUAL,
    )];
    for (k, (label, d, v)) in forecasts.iter().enumerate() {
        series.push(PlotSeries::line(
            label,
            points(d, v),
            colors[k % colors.len()],
        ));
    }
    plot::line_chart_with_x_format(
        &Labels {
            title,
            x: "date",
            y: y_label,
        },
        &series,
        false,
        &|v| date_tick(date_from_days(*v as i32), span_days),
    )
}

/// The day of the year (1 to 366) of each date, for [`crate::support::baselines::Climatology`].
pub fn days_of_year(dates: &[NaiveDate]) -> Vec<u32> {
    use chrono::Datelike;
    dates.iter().map(|d| d.ordinal()).collect()
}

/// A date tick as precise as the axis needs and no more, so that neighbouring ticks (about ten
/// per axis) never read the same: days up to two years, months up to ten years, years beyond.
fn date_tick(d: NaiveDate, span_days: i64) -> String {
    if span_days <= 730 {
        d.format("%Y-%m-%d").to_string()
    } else if span_days <= 3650 {
        d.format("%Y-%m").to_string()
    } else {
        d.format("%Y").to_string()
    }
}

/// Writes the example CSV of `data/` (see `data/README.md`): a year of daily temperatures for a
/// made-up city with the kinds of mess real files have.
pub fn write_example_csv(path: impl AsRef<Path>, seed: u64) -> Result<()> {
    use ndarray_rand::rand_distr::{Distribution, Normal};
    let path = path.as_ref();
    let noise = Normal::new(0.0f32, 1.5).expect("valid std");
    let mut rng = seeded_rng(seed);
    let start = NaiveDate::from_ymd_opt(2023, 1, 1).expect("valid");
    let mut lines: Vec<String> = (0..365)
        .map(|t| {
            let date = start + chrono::Duration::days(t);
            let temp = 11.0
                + 9.0 * (2.0 * std::f32::consts::PI * (t as f32 - 105.0) / 365.0).sin()
                + noise.sample(&mut rng);
            format!("{date},{temp:.1},{}", 990 + (t % 17))
        })
        .collect();
    // The mess, each kind once (see data/README.md):
    let day_100 = start + chrono::Duration::days(100);
    lines[100] = format!("{day_100},,{}", 990 + 100 % 17); // an empty temperature (2023-04-11)
    lines.remove(200); // a missing day (2023-07-20)
    let duplicate = lines[50].clone();
    lines.insert(51, duplicate); // the same day twice (2023-02-20)
    lines.swap(300, 301); // two rows out of order
    let mut text = String::from("date,temp_c,pressure_hpa\n");
    for line in lines {
        text += &line;
        text.push('\n');
    }
    std::fs::write(path, text).map_err(|e| LstmError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}
