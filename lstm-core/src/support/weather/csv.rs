//! Loading a real CSV (a date column and a value column) with a policy for each kind of mess,
//! and a report of what was found and done (see the table in [`super`]).

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;
use polars::prelude::*;

use super::{frame, polars_error};
use crate::display::html_escape;
use crate::error::{LstmError, Result};

/// What to do with a day that has no row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Gaps {
    /// Fill it by linear interpolation between the neighbouring days.
    #[default]
    Interpolate,
    /// Leave it out; [`windows`](super::windows()) skips windows that would span it.
    Skip,
}

/// What to do with two rows for the same date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Duplicates {
    /// Refuse, naming both rows.
    #[default]
    Error,
    /// Keep the first row of the date.
    KeepFirst,
    /// Average the rows of the date.
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

/// What to do with a value far outside the column's robust range (see [`CsvOptions::outliers`]):
/// a typo (`250` for `25.0`), a sentinel (`-999`), a unit mix-up, a corrupt cell (`1e30`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Outliers {
    /// Refuse, listing the rows and values.
    #[default]
    Error,
    /// Treat the day as missing, then apply the [`Gaps`] policy (listed in the report).
    Drop,
    /// Keep the value (listed in the report).
    Keep,
}

/// A value far outside the column's robust range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outlier {
    /// 1-based data row (the header is line 1, so this is line `row + 1`).
    pub row: usize,
    /// The row's date.
    pub date: NaiveDate,
    /// The value.
    pub value: f32,
}

/// How far outside the middle half of the values a value must lie to be an outlier, in
/// interquartile ranges. Ten is far: for normal data that is beyond 13 standard deviations.
pub const OUTLIER_IQR_MULTIPLE: f32 = 10.0;

/// How to read a CSV: which columns, the file's format, and the policy for each kind of mess.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvOptions {
    /// Name of the date column.
    pub date_column: String,
    /// Name of the value column.
    pub value_column: String,
    /// A chrono format such as `"%d/%m/%Y"` or `"%m/%d/%y"`; `None` accepts only the
    /// unambiguous forms [`parse_date`] reads.
    pub date_format: Option<String>,
    /// The field separator (default `b','`).
    pub delimiter: u8,
    /// Numbers written with a decimal comma (`12,5`), as in `;`-separated European files.
    pub decimal_comma: bool,
    /// What to do with a day without a row.
    pub gaps: Gaps,
    /// What to do with two rows for one date.
    pub duplicates: Duplicates,
    /// What to do with an empty value.
    pub missing: Missing,
    /// What to do with a value far outside the column's range.
    pub outliers: Outliers,
    /// Days from one row to the next: 1 for a daily series (the default), 7 for a weekly one.
    /// Gaps are counted and filled in these steps.
    pub period_days: u32,
}

impl CsvOptions {
    /// Columns by name; comma-separated, unambiguous dates; policies at their defaults
    /// (interpolate gaps, refuse duplicates, empty values and outliers).
    pub fn new(date_column: &str, value_column: &str) -> Self {
        CsvOptions {
            date_column: date_column.into(),
            value_column: value_column.into(),
            date_format: None,
            delimiter: b',',
            decimal_comma: false,
            gaps: Gaps::default(),
            duplicates: Duplicates::default(),
            missing: Missing::default(),
            outliers: Outliers::default(),
            period_days: 1,
        }
    }
    /// One row every `days` days (default 1): 7 reads a weekly series, whose missing weeks are
    /// then the gaps.
    pub fn period_days(mut self, days: u32) -> Self {
        self.period_days = days;
        self
    }
    /// Names the date format (chrono's `strftime` codes), e.g. `"%d/%m/%y"`.
    pub fn date_format(mut self, format: &str) -> Self {
        self.date_format = Some(format.into());
        self
    }
    /// The field separator, e.g. `b';'` or `b'\t'`.
    pub fn delimiter(mut self, delimiter: u8) -> Self {
        self.delimiter = delimiter;
        self
    }
    /// Read `12,5` as 12.5 (with `delimiter(b';')`).
    pub fn decimal_comma(mut self, yes: bool) -> Self {
        self.decimal_comma = yes;
        self
    }
    /// The gaps policy (default interpolate).
    pub fn gaps(mut self, gaps: Gaps) -> Self {
        self.gaps = gaps;
        self
    }
    /// The duplicates policy (default refuse).
    pub fn duplicates(mut self, duplicates: Duplicates) -> Self {
        self.duplicates = duplicates;
        self
    }
    /// The empty-value policy (default refuse).
    pub fn missing(mut self, missing: Missing) -> Self {
        self.missing = missing;
        self
    }
    /// The outliers policy (default refuse).
    pub fn outliers(mut self, outliers: Outliers) -> Self {
        self.outliers = outliers;
        self
    }
}

/// What [`load_csv`] found and did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CsvReport {
    /// Data rows in the file.
    pub rows_read: usize,
    /// Whether the rows had to be sorted by date.
    pub sorted: bool,
    /// Dates that appeared more than once (merged by the duplicates policy).
    pub duplicate_dates: Vec<NaiveDate>,
    /// Rows whose value was empty (1-based data rows).
    pub empty_rows: Vec<usize>,
    /// The range a value must fall in to be plausible: the middle half of the values widened by
    /// [`OUTLIER_IQR_MULTIPLE`] interquartile ranges on each side.
    pub plausible_range: Option<(f32, f32)>,
    /// Values outside that range (dropped or kept by the outliers policy).
    pub outliers: Vec<Outlier>,
    /// Missing dates (days, or periods of [`CsvOptions::period_days`]), as inclusive ranges.
    pub gaps: Vec<(NaiveDate, NaiveDate)>,
    /// Rows (days or periods) added by interpolation.
    pub interpolated_days: usize,
    /// Rows of the frame returned (one per day).
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
        if let Some((low, high)) = self.plausible_range {
            writeln!(
                f,
                "implausible values (outside {low:.4} … {high:.4}): {}",
                if self.outliers.is_empty() {
                    "none".to_string()
                } else {
                    list_outliers(&self.outliers)
                }
            )?;
        }
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
            "missing dates: {} ({} filled by interpolation)",
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

fn list_outliers(outliers: &[Outlier]) -> String {
    outliers
        .iter()
        .map(|o| format!("row {} ({}) = {}", o.row, o.date, o.value))
        .collect::<Vec<_>>()
        .join(", ")
}

impl CsvReport {
    /// Rich display in evcxr: the report as text.
    pub fn evcxr_display(&self) {
        crate::display::show_html(&format!("<pre>{}</pre>", html_escape(&self.to_string())));
    }
}

/// Parses the unambiguous date forms people put in CSVs: `2023-01-31`, `2023/01/31`,
/// `31.01.2023`, `20230131`, and ISO timestamps (`2023-01-31T00:00:00`, `2023-01-31 00:00`).
/// Years must have four digits: `01/02/21` could be any of three dates in two centuries, so it
/// needs a named format ([`CsvOptions::date_format`]).
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    let text = text.trim();
    let day_part = text.split(['T', ' ']).next().unwrap_or(text);
    let digits = |s: &str, lengths: std::ops::RangeInclusive<usize>| {
        lengths.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
    };
    let separators: Vec<char> = day_part.chars().filter(|c| !c.is_ascii_digit()).collect();
    let fields: Vec<&str> = day_part.split(['-', '/', '.']).collect();
    let number = |s: &str| s.parse::<u32>().ok();
    let (year, month, day) = match (separators.as_slice(), fields.as_slice()) {
        ([], [ymd]) if digits(ymd, 8..=8) => (
            ymd[..4].parse().ok()?,
            number(&ymd[4..6])?,
            number(&ymd[6..])?,
        ),
        (['-', '-'] | ['/', '/'], [y, m, d])
            if digits(y, 4..=4) && digits(m, 1..=2) && digits(d, 1..=2) =>
        {
            (y.parse().ok()?, number(m)?, number(d)?)
        }
        (['.', '.'], [d, m, y]) if digits(y, 4..=4) && digits(m, 1..=2) && digits(d, 1..=2) => {
            (y.parse().ok()?, number(m)?, number(d)?)
        }
        _ => return None,
    };
    NaiveDate::from_ymd_opt(year, month, day)
}

/// A date in `format` (chrono codes), or in a timestamp that starts with it.
fn parse_date_with(text: &str, format: &str) -> Option<NaiveDate> {
    let text = text.trim();
    NaiveDate::parse_from_str(text, format)
        .ok()
        .or_else(|| {
            chrono::NaiveDateTime::parse_from_str(text, format)
                .ok()
                .map(|t| t.date())
        })
        .or_else(|| {
            let day_part = text.split(['T', ' ']).next()?;
            NaiveDate::parse_from_str(day_part, format).ok()
        })
}

/// Why `text` is not a date [`parse_date`] accepts, and what to do about it.
fn date_hint(text: &str) -> String {
    let day_part = text.trim().split(['T', ' ']).next().unwrap_or("");
    let fields: Vec<&str> = day_part.split(['-', '/', '.']).collect();
    let short_year = fields.len() == 3
        && fields
            .iter()
            .all(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
        && fields.iter().all(|f| f.len() <= 2);
    let slash_day_first = fields.len() == 3
        && day_part.contains('/')
        && fields[2].len() == 4
        && fields[..2].iter().all(|f| (1..=2).contains(&f.len()));
    if short_year {
        // The example format uses the file's own separator: `01.01.21` needs "%d.%m.%y".
        let separator = day_part
            .chars()
            .find(|c| ['-', '/', '.'].contains(c))
            .unwrap_or('/');
        let example = ["%d", "%m", "%y"].join(&separator.to_string());
        format!(
            "a two-digit year is ambiguous ('{day_part}' could be day/month/year or month/day/year, \
             in the 1900s or the 2000s); name the format, e.g. CsvOptions::date_format(\"{example}\")"
        )
    } else if slash_day_first {
        format!(
            "'{day_part}' could be day/month or month/day; name the format: \
             CsvOptions::date_format(\"%d/%m/%Y\") or CsvOptions::date_format(\"%m/%d/%Y\")"
        )
    } else {
        "expected an unambiguous date such as 2023-01-31, 2023/01/31, 31.01.2023 or 20230131, \
         or name the format with CsvOptions::date_format"
            .into()
    }
}

/// One data row as read: its date, its value (None if empty or dropped) and its 1-based number.
struct Row {
    date: NaiveDate,
    value: Option<f32>,
    row: usize,
}

/// Loads a CSV with a date column and a numeric column into a `DataFrame` with columns `Date`
/// and the value column, one row per day, cleaned as the module documentation describes.
pub fn load_csv(path: impl AsRef<Path>, options: &CsvOptions) -> Result<(DataFrame, CsvReport)> {
    let path = path.as_ref();
    let context = path.display().to_string();
    let (date_text, value_text) = read_text_columns(path, options)?;
    let mut report = CsvReport {
        rows_read: date_text.len(),
        ..CsvReport::default()
    };
    let mut rows = parse_rows(&context, &date_text, &value_text, options, &mut report)?;
    check_plausible(&context, &mut rows, options, &mut report)?;
    report.sorted = rows.windows(2).any(|w| w[1].date < w[0].date);
    rows.sort_by_key(|r| (r.date, r.row));
    let days = merge_duplicates(&context, rows, options, &mut report)?;
    let (dates, values) = fill_gaps(&context, &days, options, &mut report)?;
    report.rows_out = dates.len();
    let df = frame(&dates, &options.value_column, &values)?;
    Ok((df, report))
}

/// The two columns as text (every cell read as text, so that errors can name the row).
type TextColumns = (Vec<Option<String>>, Vec<Option<String>>);

fn read_text_columns(path: &Path, options: &CsvOptions) -> Result<TextColumns> {
    let context = path.display().to_string();
    let io = |message: &str| LstmError::Io {
        path: context.clone(),
        message: message.into(),
    };
    if path.is_dir() {
        return Err(io("is a directory; expected a CSV file"));
    }
    let metadata = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => io("no such file"),
        _ => io(&e.to_string()),
    })?;
    if metadata.len() == 0 {
        return Err(LstmError::Parse {
            context,
            message: "the file is empty; expected a header line and rows of data".into(),
        });
    }
    // Read only when something failed: the header line, for a separator hint.
    let hint = || separator_hint(path, options.delimiter);
    let raw = CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .map_parse_options(|p| p.with_separator(options.delimiter))
        .try_into_reader_with_file_path(Some(path.into()))
        .and_then(|r| r.finish())
        .map_err(|e| LstmError::Parse {
            context: context.clone(),
            // With a separator hint, polars' own advice (about ragged lines) points the wrong way.
            message: match hint() {
                hint if hint.is_empty() => e.to_string(),
                hint => format!("{}.{hint}", e.to_string().lines().next().unwrap_or("")),
            },
        })?;
    let text_column = |name: &str| -> Result<Vec<Option<String>>> {
        let col = raw.column(name).map_err(|_| {
            let names: Vec<String> = raw
                .get_column_names()
                .iter()
                .map(|n| format!("'{n}'"))
                .collect();
            LstmError::Parse {
                context: format!("{context}: column '{name}'"),
                message: format!(
                    "not in the file; its columns are {}.{}",
                    names.join(", "),
                    hint()
                ),
            }
        })?;
        let strings = col.str().map_err(polars_error(&context))?;
        Ok(strings.iter().map(|s| s.map(str::to_string)).collect())
    };
    let mut dates = text_column(&options.date_column)?;
    let mut values = text_column(&options.value_column)?;
    // Blank lines at the end of a file (an editor's habit) are not rows of data.
    let blank = |cell: Option<&Option<String>>| {
        cell.is_some_and(|c| c.as_deref().is_none_or(|t| t.trim().is_empty()))
    };
    while blank(dates.last()) && blank(values.last()) {
        dates.pop();
        values.pop();
    }
    if dates.is_empty() {
        return Err(LstmError::Parse {
            context,
            message: "no data rows under the header; expected at least one row of data".into(),
        });
    }
    Ok((dates, values))
}

/// A hint when the header line has no `delimiter` but another usual separator: the file is
/// probably separated by that one.
fn separator_hint(path: &Path, delimiter: u8) -> String {
    use std::io::BufRead;
    let mut header = String::new();
    let read = std::fs::File::open(path)
        .map(std::io::BufReader::new)
        .and_then(|mut r| r.read_line(&mut header));
    if read.is_err() || header.contains(delimiter as char) {
        return String::new();
    }
    match [';', '\t', '|', ',']
        .into_iter()
        .find(|&c| header.contains(c))
    {
        Some(c) => format!(
            " The header line has no '{}' but has '{}': the file looks '{}'-separated, so use \
             CsvOptions::new(..).delimiter(b'{}')",
            (delimiter as char).escape_default(),
            c.escape_default(),
            c.escape_default(),
            c.escape_default()
        ),
        None => String::new(),
    }
}

fn parse_rows(
    context: &str,
    date_text: &[Option<String>],
    value_text: &[Option<String>],
    options: &CsvOptions,
    report: &mut CsvReport,
) -> Result<Vec<Row>> {
    let mut rows = Vec::with_capacity(date_text.len());
    for (k, (d, v)) in date_text.iter().zip(value_text).enumerate() {
        let row = k + 1;
        let cell_error = |column: &str, message: String| LstmError::Parse {
            context: format!("{context}: row {row} (line {}), column '{column}'", row + 1),
            message,
        };
        let d = d.as_deref().unwrap_or("");
        let date = match &options.date_format {
            Some(format) => parse_date_with(d, format).ok_or_else(|| {
                cell_error(
                    &options.date_column,
                    format!("cannot read '{d}' as a date in the format '{format}'"),
                )
            })?,
            None => parse_date(d).ok_or_else(|| {
                cell_error(
                    &options.date_column,
                    format!("cannot read '{d}' as a date: {}", date_hint(d)),
                )
            })?,
        };
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
            Some(s) => {
                let text = if options.decimal_comma {
                    s.replace(',', ".")
                } else {
                    s.to_string()
                };
                match text.parse::<f32>() {
                    Ok(x) if x.is_finite() => Some(x),
                    _ => {
                        let hint = if !options.decimal_comma && s.contains(',') {
                            " (a decimal comma? use CsvOptions::decimal_comma(true))"
                        } else {
                            ""
                        };
                        return Err(cell_error(
                            &options.value_column,
                            format!("'{s}' is not a number{hint}"),
                        ));
                    }
                }
            }
        };
        rows.push(Row { date, value, row });
    }
    Ok(rows)
}

/// The plausibility check: values beyond [`OUTLIER_IQR_MULTIPLE`] interquartile ranges from the
/// middle half of the column are refused, dropped or kept by the outliers policy.
fn check_plausible(
    context: &str,
    rows: &mut [Row],
    options: &CsvOptions,
    report: &mut CsvReport,
) -> Result<()> {
    let mut present: Vec<f32> = rows.iter().filter_map(|r| r.value).collect();
    let Some((low, high)) = plausible_range(&mut present) else {
        return Ok(());
    };
    report.plausible_range = Some((low, high));
    for r in rows.iter_mut() {
        if let Some(value) = r.value.filter(|v| !(low..=high).contains(v)) {
            report.outliers.push(Outlier {
                row: r.row,
                date: r.date,
                value,
            });
            if options.outliers == Outliers::Drop {
                r.value = None;
            }
        }
    }
    if options.outliers == Outliers::Error && !report.outliers.is_empty() {
        return Err(LstmError::Parse {
            context: format!("{context}: column '{}'", options.value_column),
            message: format!(
                "{} value(s) far outside the column's plausible range {low} … {high} (its middle half \
                 widened by {OUTLIER_IQR_MULTIPLE} interquartile ranges): {}. Fix the file, or choose \
                 CsvOptions::outliers(Outliers::Drop) to treat them as missing or Outliers::Keep to keep them",
                report.outliers.len(),
                list_outliers(&report.outliers)
            ),
        });
    }
    Ok(())
}

/// `[q1 − k·s, q3 + k·s]` for the quartiles q1, q3 and a robust spread s (the interquartile range,
/// or a wider percentile range when more than half the values are equal); None for < 4 values.
pub fn plausible_range(values: &mut [f32]) -> Option<(f32, f32)> {
    if values.len() < 4 {
        return None;
    }
    values.sort_by(f32::total_cmp);
    let quantile = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    let (q1, q3) = (quantile(0.25), quantile(0.75));
    let spread = [
        q3 - q1,
        quantile(0.95) - quantile(0.05),
        quantile(0.5).abs(),
    ]
    .into_iter()
    .find(|s| *s > 0.0)
    .unwrap_or(1.0);
    let k = OUTLIER_IQR_MULTIPLE;
    Some((q1 - k * spread, q3 + k * spread))
}

/// One entry per date, by the duplicates policy.
fn merge_duplicates(
    context: &str,
    rows: Vec<Row>,
    options: &CsvOptions,
    report: &mut CsvReport,
) -> Result<Vec<(NaiveDate, Option<f32>)>> {
    let mut by_date: BTreeMap<NaiveDate, Vec<Row>> = BTreeMap::new();
    for row in rows {
        by_date.entry(row.date).or_default().push(row);
    }
    let mut days = Vec::with_capacity(by_date.len());
    for (date, entries) in by_date {
        if entries.len() > 1 {
            if options.duplicates == Duplicates::Error {
                let rows: Vec<String> = entries.iter().map(|e| e.row.to_string()).collect();
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
        let present: Vec<f32> = entries.iter().filter_map(|e| e.value).collect();
        let value = match options.duplicates {
            Duplicates::Mean if !present.is_empty() => {
                Some(present.iter().sum::<f32>() / present.len() as f32)
            }
            _ => entries[0].value.or(present.first().copied()),
        };
        days.push((date, value));
    }
    Ok(days)
}

/// Missing days (calendar gaps, and days whose only value was empty or dropped) filled or left
/// out by the gaps policy.
fn fill_gaps(
    context: &str,
    days: &[(NaiveDate, Option<f32>)],
    options: &CsvOptions,
    report: &mut CsvReport,
) -> Result<(Vec<NaiveDate>, Vec<f32>)> {
    let period = options.period_days as i64;
    if period == 0 {
        return Err(LstmError::config(
            "CsvOptions::period_days",
            "at least 1",
            0,
        ));
    }
    let closest = days.windows(2).map(|w| (w[1].0 - w[0].0).num_days()).min();
    if let Some(closest) = closest.filter(|&c| period == 1 && c > 1) {
        return Err(LstmError::Parse {
            context: format!("{context}: column '{}'", options.date_column),
            message: format!(
                "consecutive rows are at least {closest} days apart, so this is not a daily series; \
                 for one row every {closest} days use CsvOptions::period_days({closest})"
            ),
        });
    }
    let step = chrono::Duration::days(period);
    let mut out_dates = Vec::new();
    let mut out_values: Vec<Option<f32>> = Vec::new();
    for (k, &(date, value)) in days.iter().enumerate() {
        if let Some(&(prev, _)) = k.checked_sub(1).map(|j| &days[j]) {
            let apart = (date - prev).num_days();
            if apart % period != 0 {
                return Err(LstmError::Parse {
                    context: format!("{context}: column '{}'", options.date_column),
                    message: format!(
                        "{date} is {apart} days after the previous row ({prev}), not a whole number \
                         of periods of {period} days (CsvOptions::period_days)"
                    ),
                });
            }
            let missing = apart / period - 1;
            if missing > 0 {
                report.gaps.push((prev + step, date - step));
                if options.gaps == Gaps::Interpolate {
                    for m in 1..=missing {
                        out_dates.push(prev + step * m as i32);
                        out_values.push(None);
                    }
                }
            }
        }
        if value.is_none() {
            report.gaps.push((date, date));
        }
        if value.is_some() || options.gaps == Gaps::Interpolate {
            out_dates.push(date);
            out_values.push(value);
        }
    }
    report.gaps.sort();
    report.interpolated_days = interpolate(&mut out_values).map_err(|_| LstmError::Parse {
        context: format!("{context}: column '{}'", options.value_column),
        message: "no values to interpolate from: every value is empty or dropped".into(),
    })?;
    let values = out_values
        .into_iter()
        .map(|v| v.expect("interpolated"))
        .collect();
    Ok((out_dates, values))
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
