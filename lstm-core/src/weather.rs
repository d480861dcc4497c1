//! Weather forecasting with dates (feature `polars`): the tutorial's synthetic weather as a polars
//! `DataFrame`, loading a real CSV (date column + value column) with a clear policy for each kind
//! of mess, windows that never span a gap, and forecasts returned as a `DataFrame` with dates.
//!
//! How a CSV is cleaned ([`load_csv`]):
//!
//! | problem | what happens |
//! |---|---|
//! | a column name that is not in the file | error listing the columns that are there |
//! | rows out of order | sorted by date (reported) |
//! | a date that cannot be parsed | error naming the row and column |
//! | a value that is not a number | error naming the row and column |
//! | an empty value | [`Missing::Error`] (default): error naming the row; [`Missing::Interpolate`]: treated as a missing day |
//! | the same date twice | [`Duplicates::Error`] (default): error naming both rows; or keep the first; or average them |
//! | a missing day | [`Gaps::Interpolate`] (default): filled linearly between its neighbours (reported); [`Gaps::Skip`]: left out, and windows that would span it are skipped |

use std::collections::BTreeMap;
use std::path::Path;

pub use chrono;
use chrono::{Datelike, NaiveDate};
use ndarray::{Array1, Array3};
use polars::prelude::*;

use crate::display::{Html, html_escape};
use crate::error::{LstmError, Result};
use crate::init::seeded_rng;
use crate::model::Sequential;
use crate::plot::{self, Figure, Labels, Series as PlotSeries};

/// Name of the date column in the frames this module builds.
pub const DATE: &str = "Date";
/// Name of the value column of [`synthetic_weather`].
pub const TEMPERATURE: &str = "temperature";

fn polars_error(context: &str) -> impl Fn(PolarsError) -> LstmError + '_ {
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
    let temperature = crate::data::synthetic_temperature(dates.len(), seed).to_vec();
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

/// The dates of a frame's `Date` column.
pub fn dates(df: &DataFrame) -> Result<Vec<NaiveDate>> {
    let column = df.column(DATE).map_err(|_| missing_column(DATE, df))?;
    let days = column
        .cast(&DataType::Int32)
        .map_err(polars_error("dates"))?;
    let days = days.i32().map_err(polars_error("dates"))?;
    days.iter()
        .enumerate()
        .map(|(row, d)| d.map(date_from_days).ok_or_else(|| null_at(DATE, row)))
        .collect()
}

/// The values of a numeric column as `f32`.
pub fn values(df: &DataFrame, column: &str) -> Result<Vec<f32>> {
    let col = df.column(column).map_err(|_| missing_column(column, df))?;
    let floats = col
        .cast(&DataType::Float32)
        .map_err(polars_error("values"))?;
    let floats = floats.f32().map_err(polars_error("values"))?;
    floats
        .iter()
        .enumerate()
        .map(|(row, v)| v.ok_or_else(|| null_at(column, row)))
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

fn null_at(column: &str, row: usize) -> LstmError {
    LstmError::Parse {
        context: format!("column '{column}', row {row}"),
        message: "empty value".into(),
    }
}

/// What to do with a day that has no row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Gaps {
    /// Fill it by linear interpolation between the neighbouring days.
    #[default]
    Interpolate,
    /// Leave it out; [`windows`] skips windows that would span it.
    Skip,
}

/// What to do with two rows for the same date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Duplicates {
    /// Refuse, naming both rows.
    #[default]
    Error,
    KeepFirst,
    Mean,
}

/// What to do with an empty value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Missing {
    /// Refuse, naming the row.
    #[default]
    Error,
    /// Treat the day as missing, then apply the [`Gaps`] policy.
    Interpolate,
}

/// How to read a CSV: which columns, and the policy for each kind of mess.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvOptions {
    pub date_column: String,
    pub value_column: String,
    pub gaps: Gaps,
    pub duplicates: Duplicates,
    pub missing: Missing,
}

impl CsvOptions {
    /// Columns by name; policies at their defaults (interpolate gaps, refuse duplicates and empty values).
    pub fn new(date_column: &str, value_column: &str) -> Self {
        CsvOptions {
            date_column: date_column.into(),
            value_column: value_column.into(),
            gaps: Gaps::default(),
            duplicates: Duplicates::default(),
            missing: Missing::default(),
        }
    }
    pub fn gaps(mut self, gaps: Gaps) -> Self {
        self.gaps = gaps;
        self
    }
    pub fn duplicates(mut self, duplicates: Duplicates) -> Self {
        self.duplicates = duplicates;
        self
    }
    pub fn missing(mut self, missing: Missing) -> Self {
        self.missing = missing;
        self
    }
}

/// What [`load_csv`] found and did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CsvReport {
    pub rows_read: usize,
    /// Whether the rows had to be sorted by date.
    pub sorted: bool,
    /// Dates that appeared more than once (merged by the duplicates policy).
    pub duplicate_dates: Vec<NaiveDate>,
    /// Rows whose value was empty (1-based data rows).
    pub empty_rows: Vec<usize>,
    /// Missing days, as inclusive ranges.
    pub gaps: Vec<(NaiveDate, NaiveDate)>,
    /// Days added by interpolation.
    pub interpolated_days: usize,
    pub rows_out: usize,
}

impl std::fmt::Display for CsvReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "rows read: {}, rows out: {}",
            self.rows_read, self.rows_out
        )?;
        writeln!(
            f,
            "sorted by date: {}",
            if self.sorted {
                "yes (rows were out of order)"
            } else {
                "already in order"
            }
        )?;
        writeln!(f, "duplicate dates: {}", list(&self.duplicate_dates))?;
        writeln!(f, "empty values in rows: {:?}", self.empty_rows)?;
        let gaps: Vec<String> = self
            .gaps
            .iter()
            .map(|(a, b)| {
                if a == b {
                    a.to_string()
                } else {
                    format!("{a}..{b}")
                }
            })
            .collect();
        write!(
            f,
            "missing days: {} ({} filled by interpolation)",
            if gaps.is_empty() {
                "none".into()
            } else {
                gaps.join(", ")
            },
            self.interpolated_days
        )
    }
}

fn list(dates: &[NaiveDate]) -> String {
    if dates.is_empty() {
        "none".into()
    } else {
        dates
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl CsvReport {
    pub fn evcxr_display(&self) {
        crate::display::show_html(&format!("<pre>{}</pre>", html_escape(&self.to_string())));
    }
}

/// Parses the date formats people put in CSVs: `2023-01-31`, `2023/01/31`, `31.01.2023`,
/// and ISO timestamps (`2023-01-31T00:00:00`, `2023-01-31 00:00`).
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    let text = text.trim();
    let day_part = text.split(['T', ' ']).next().unwrap_or(text);
    ["%Y-%m-%d", "%Y/%m/%d", "%d.%m.%Y"]
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(day_part, f).ok())
}

/// Loads a CSV with a date column and a numeric column into a `DataFrame` with columns `Date`
/// and the value column, one row per day, cleaned as the module documentation describes.
pub fn load_csv(path: impl AsRef<Path>, options: &CsvOptions) -> Result<(DataFrame, CsvReport)> {
    let path = path.as_ref();
    let context = path.display().to_string();
    if !path.exists() {
        return Err(LstmError::Io {
            path: context,
            message: "no such file".into(),
        });
    }
    // Read every column as text: the parsing below names the row and column of any bad cell.
    let raw = CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .try_into_reader_with_file_path(Some(path.into()))
        .and_then(|r| r.finish())
        .map_err(polars_error(&context))?;
    let text_column = |name: &str| -> Result<Vec<Option<String>>> {
        let col = raw.column(name).map_err(|_| missing_column(name, &raw))?;
        let strings = col.str().map_err(polars_error(&context))?;
        Ok(strings.iter().map(|s| s.map(str::to_string)).collect())
    };
    let date_text = text_column(&options.date_column)?;
    let value_text = text_column(&options.value_column)?;
    if date_text.is_empty() {
        return Err(LstmError::Empty {
            context: format!("{context}: data rows"),
            min: 2,
        });
    }

    let mut report = CsvReport {
        rows_read: date_text.len(),
        ..CsvReport::default()
    };
    let mut rows: Vec<(NaiveDate, Option<f32>, usize)> = Vec::with_capacity(date_text.len());
    for (k, (d, v)) in date_text.iter().zip(&value_text).enumerate() {
        let row = k + 1;
        let cell_error = |column: &str, message: String| LstmError::Parse {
            context: format!("{context}: row {row} (line {}), column '{column}'", row + 1),
            message,
        };
        let d = d.as_deref().unwrap_or("");
        let date = parse_date(d).ok_or_else(|| {
            cell_error(
                &options.date_column,
                format!("cannot read '{d}' as a date (expected e.g. 2023-01-31)"),
            )
        })?;
        let value = match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None if options.missing == Missing::Error => {
                return Err(cell_error(
                    &options.value_column,
                    "empty value (use Missing::Interpolate to fill it)".into(),
                ));
            }
            None => {
                report.empty_rows.push(row);
                None
            }
            Some(s) => match s.parse::<f32>() {
                Ok(x) if x.is_finite() => Some(x),
                _ => {
                    return Err(cell_error(
                        &options.value_column,
                        format!("'{s}' is not a number"),
                    ));
                }
            },
        };
        rows.push((date, value, row));
    }

    report.sorted = rows.windows(2).any(|w| w[1].0 < w[0].0);
    rows.sort_by_key(|r| (r.0, r.2));

    // One entry per date, by the duplicates policy.
    let mut by_date: BTreeMap<NaiveDate, Vec<(Option<f32>, usize)>> = BTreeMap::new();
    for (date, value, row) in rows {
        by_date.entry(date).or_default().push((value, row));
    }
    let mut days: Vec<(NaiveDate, Option<f32>)> = Vec::with_capacity(by_date.len());
    for (date, entries) in by_date {
        if entries.len() > 1 {
            if options.duplicates == Duplicates::Error {
                let rows: Vec<String> = entries.iter().map(|e| e.1.to_string()).collect();
                return Err(LstmError::Parse {
                    context: format!("{context}: column '{}'", options.date_column),
                    message: format!(
                        "date {date} appears in rows {} (use Duplicates::KeepFirst or Duplicates::Mean)",
                        rows.join(" and ")
                    ),
                });
            }
            report.duplicate_dates.push(date);
        }
        let present: Vec<f32> = entries.iter().filter_map(|e| e.0).collect();
        let value = match options.duplicates {
            Duplicates::Mean if !present.is_empty() => {
                Some(present.iter().sum::<f32>() / present.len() as f32)
            }
            _ => entries[0].0.or(present.first().copied()),
        };
        days.push((date, value));
    }

    // Missing days: calendar gaps, plus days whose only value was empty.
    let mut out_dates = Vec::new();
    let mut out_values: Vec<Option<f32>> = Vec::new();
    for (k, (date, value)) in days.iter().enumerate() {
        if let Some((prev, _)) = k.checked_sub(1).map(|j| days[j]) {
            let missing = (*date - prev).num_days() - 1;
            if missing > 0 {
                report.gaps.push((
                    prev.succ_opt().expect("date"),
                    date.pred_opt().expect("date"),
                ));
                if options.gaps == Gaps::Interpolate {
                    for m in 1..=missing {
                        out_dates.push(prev + chrono::Duration::days(m));
                        out_values.push(None);
                    }
                }
            }
        }
        if value.is_none() {
            report.gaps.push((*date, *date));
        }
        if value.is_some() || options.gaps == Gaps::Interpolate {
            out_dates.push(*date);
            out_values.push(*value);
        }
    }
    report.gaps.sort();
    let filled = interpolate(&mut out_values).map_err(|e| match e {
        LstmError::Empty { .. } => LstmError::Parse {
            context: format!("{context}: column '{}'", options.value_column),
            message: "no values to interpolate from".into(),
        },
        other => other,
    })?;
    report.interpolated_days = filled;
    report.rows_out = out_dates.len();
    let values: Vec<f32> = out_values
        .into_iter()
        .map(|v| v.expect("interpolated"))
        .collect();
    let df = frame(&out_dates, &options.value_column, &values)?;
    Ok((df, report))
}

/// Fills `None`s linearly between known neighbours (and flat at the ends); returns how many.
fn interpolate(values: &mut [Option<f32>]) -> Result<usize> {
    let known: Vec<usize> = (0..values.len()).filter(|&i| values[i].is_some()).collect();
    if known.is_empty() {
        return Err(LstmError::Empty {
            context: "interpolate".into(),
            min: 1,
        });
    }
    let mut filled = 0;
    for i in 0..values.len() {
        if values[i].is_some() {
            continue;
        }
        let before = known.iter().rev().find(|&&k| k < i).copied();
        let after = known.iter().find(|&&k| k > i).copied();
        let v = match (before, after) {
            (Some(a), Some(b)) => {
                let (va, vb) = (values[a].expect("known"), values[b].expect("known"));
                va + (vb - va) * (i - a) as f32 / (b - a) as f32
            }
            (Some(a), None) => values[a].expect("known"),
            (None, Some(b)) => values[b].expect("known"),
            (None, None) => unreachable!("known is not empty"),
        };
        values[i] = Some(v);
        filled += 1;
    }
    Ok(filled)
}

/// Windows over one column: `x[k]` holds `n_steps` consecutive days, `y[k]` the day after.
/// Windows that would span a missing day are skipped. `target_dates[k]` is the date of `y[k]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Windows {
    pub x: Array3<f32>,
    pub y: Array1<f32>,
    pub target_dates: Vec<NaiveDate>,
    /// Windows left out because they spanned a gap.
    pub skipped: usize,
}

pub fn windows(df: &DataFrame, column: &str, n_steps: usize) -> Result<Windows> {
    let (dates, values) = (dates(df)?, values(df, column)?);
    if n_steps == 0 {
        return Err(LstmError::config("n_steps", "at least 1", 0));
    }
    if n_steps >= values.len() {
        return Err(LstmError::WindowTooLong {
            n_steps,
            len: values.len(),
        });
    }
    let mut x = Vec::new();
    let mut y = Vec::new();
    let mut target_dates = Vec::new();
    let mut skipped = 0;
    for k in 0..values.len() - n_steps {
        let span = &dates[k..=k + n_steps];
        if (span[n_steps] - span[0]).num_days() != n_steps as i64 {
            skipped += 1;
            continue;
        }
        x.extend_from_slice(&values[k..k + n_steps]);
        y.push(values[k + n_steps]);
        target_dates.push(span[n_steps]);
    }
    if y.is_empty() {
        return Err(LstmError::Empty {
            context: format!("windows of {n_steps} consecutive days"),
            min: 1,
        });
    }
    let count = y.len();
    Ok(Windows {
        x: Array3::from_shape_vec((count, n_steps, 1), x).expect("sizes match"),
        y: Array1::from(y),
        target_dates,
        skipped,
    })
}

/// Forecasts `days` days after the last row, feeding each prediction back as input, and
/// returns them as a frame with dates. `scale` and `unscale` map values to and from the units
/// the model was trained in (pass `|v| v` for both if it was trained on raw values).
pub fn forecast(
    model: &mut Sequential,
    df: &DataFrame,
    column: &str,
    days: usize,
    scale: impl Fn(f32) -> f32,
    unscale: impl Fn(f32) -> f32,
) -> Result<DataFrame> {
    let n_steps = model.input_shape()[0];
    let (dates, values) = (dates(df)?, values(df, column)?);
    if values.len() < n_steps {
        return Err(LstmError::WindowTooLong {
            n_steps,
            len: values.len(),
        });
    }
    let history: Vec<f32> = values[values.len() - n_steps..]
        .iter()
        .map(|&v| scale(v))
        .collect();
    let predicted = model.forecast(&history, days)?;
    let last = *dates.last().expect("non-empty");
    let future: Vec<NaiveDate> = (1..=days as i64)
        .map(|d| last + chrono::Duration::days(d))
        .collect();
    let values: Vec<f32> = predicted.into_iter().map(unscale).collect();
    frame(&future, column, &values)
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
        &|v| {
            let d = date_from_days(*v as i32);
            format!("{}-{:02}", d.year(), d.month())
        },
    )
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
