//! Loading a real CSV (a date column and a value column) with a policy for each kind of mess,
//! and a report of what was found and done (see the table in [`super`]).

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

/// The file's text encoding. Files that are not UTF-8 are refused naming the row of the first
/// byte that is not, so a wrong guess never reads as garbage silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    /// UTF-8 (ASCII included), with or without a byte-order mark.
    #[default]
    Utf8,
    /// ISO-8859-1, as older Excel and European tools save: every byte is one character. Also
    /// reads Windows-1252 files, whose bytes 0x80–0x9F (`€`, curly quotes) then become control
    /// characters; dates and numbers never use them.
    Latin1,
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
    /// The file's encoding (default UTF-8).
    pub encoding: Encoding,
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
            encoding: Encoding::default(),
        }
    }
    /// The file's encoding: `Encoding::Latin1` for a file that is not UTF-8 (the error that
    /// refuses it says so).
    pub fn encoding(mut self, encoding: Encoding) -> Self {
        self.encoding = encoding;
        self
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
        writeln!(f, "empty values in rows: {}", list_rows(&self.empty_rows))?;
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

/// The first few outliers, with a count of the rest: a file with a sentinel on a thousand
/// rows gets one line, not a thousand.
fn list_outliers(outliers: &[Outlier]) -> String {
    const SHOWN: usize = 5;
    let mut text = outliers
        .iter()
        .take(SHOWN)
        .map(|o| format!("row {} ({}) = {}", o.row, o.date, o.value))
        .collect::<Vec<_>>()
        .join(", ");
    if outliers.len() > SHOWN {
        text.push_str(&format!(" and {} more", outliers.len() - SHOWN));
    }
    text
}

/// `[3, 7, 12]`, or the first ten rows and how many more.
fn list_rows(rows: &[usize]) -> String {
    const SHOWN: usize = 10;
    let shown: Vec<String> = rows.iter().take(SHOWN).map(|r| r.to_string()).collect();
    match rows.len() {
        0 => "none".into(),
        n if n > SHOWN => format!("{} and {} more ({n} in all)", shown.join(", "), n - SHOWN),
        _ => shown.join(", "),
    }
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
    let (raw, header) = read_frame(path, options)?;
    let (date_text, value_text) = text_columns(&context, &raw, &header, options)?;
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

/// The two columns as text (every cell read as text, so that errors can name the row), borrowed
/// from the frame polars read.
type TextColumns<'a> = (Vec<Option<&'a str>>, Vec<Option<&'a str>>);

/// Every column of the file as text, and its header line (for a separator hint).
fn read_frame(path: &Path, options: &CsvOptions) -> Result<(DataFrame, String)> {
    let context = path.display().to_string();
    let io = |message: &str| LstmError::Io {
        path: context.clone(),
        message: message.into(),
    };
    if path.is_dir() {
        return Err(io("is a directory; expected a CSV file"));
    }
    let bytes = std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => io("no such file"),
        _ => io(&e.to_string()),
    })?;
    if bytes.is_empty() {
        return Err(LstmError::Parse {
            context,
            message: "the file is empty; expected a header line and rows of data".into(),
        });
    }
    let text = decode(&context, bytes, options.encoding)?;
    let header = text.lines().next().unwrap_or("").to_string();
    // Read only when something failed: a separator hint from the header line.
    let hint = || separator_hint(&header, options.delimiter);
    let raw = CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .map_parse_options(|p| p.with_separator(options.delimiter))
        .into_reader_with_file_handle(std::io::Cursor::new(text.as_bytes()))
        .finish()
        .map_err(|e| LstmError::Parse {
            context: context.clone(),
            // Only when polars refused the file: a row with more fields than the header, named
            // in the user's terms (polars suggests an option this loader does not have).
            message: ragged_row(&text, &header, options).unwrap_or_else(|| {
                format!(
                    "the file cannot be read as CSV: {}.{}",
                    e.to_string().lines().next().unwrap_or(""),
                    hint()
                )
            }),
        })?;
    Ok((raw, header))
}

fn text_columns<'a>(
    context: &str,
    raw: &'a DataFrame,
    header: &str,
    options: &CsvOptions,
) -> Result<TextColumns<'a>> {
    let hint = || separator_hint(header, options.delimiter);
    let text_column = |name: &str| -> Result<Vec<Option<&'a str>>> {
        let col = raw.column(name).map_err(|_| LstmError::Parse {
            context: format!("{context}: column '{name}'"),
            message: format!(
                "not in the file; its columns are {}.{}",
                column_list(raw.get_column_names().iter().map(|n| n.as_str())),
                hint()
            ),
        })?;
        let strings = col.str().map_err(polars_error(context))?;
        Ok(strings.iter().collect())
    };
    let mut dates = text_column(&options.date_column)?;
    let mut values = text_column(&options.value_column)?;
    // Blank lines at the end of a file (an editor's habit) are not rows of data.
    let blank =
        |cell: Option<&Option<&str>>| cell.is_some_and(|c| c.is_none_or(|t| t.trim().is_empty()));
    while blank(dates.last()) && blank(values.last()) {
        dates.pop();
        values.pop();
    }
    if dates.is_empty() {
        return Err(LstmError::Parse {
            context: context.to_string(),
            message: "no data rows under the header; expected at least one row of data".into(),
        });
    }
    Ok((dates, values))
}

/// The file as UTF-8 text with `\n` line ends: a byte-order mark dropped, old Mac line ends
/// (`\r` alone) read as line ends, Latin-1 decoded when asked. A file in another encoding is
/// refused naming the row of the first byte that is not UTF-8 and what to do.
fn decode(context: &str, bytes: Vec<u8>, encoding: Encoding) -> Result<String> {
    let parse_error = |message: String| LstmError::Parse {
        context: context.to_string(),
        message,
    };
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(parse_error(
            "the file is UTF-16 (it starts with a UTF-16 byte-order mark, as Excel's \"Unicode \
             text\" saves); save it as \"CSV UTF-8\" and load it again"
                .into(),
        ));
    }
    let mut text = match encoding {
        Encoding::Latin1 => bytes.iter().map(|&b| b as char).collect(),
        Encoding::Utf8 => String::from_utf8(bytes).map_err(|e| {
            let bytes = e.as_bytes();
            let at = e.utf8_error().valid_up_to();
            let line = 1 + bytes[..at].iter().filter(|&&b| b == b'\n').count();
            let where_ = if line == 1 {
                "in the header line (line 1)".to_string()
            } else {
                format!("in row {} (line {line})", line - 1)
            };
            let byte = bytes[at];
            parse_error(format!(
                "the file is not UTF-8: byte 0x{byte:02X} {where_} is not valid UTF-8. It looks \
                 like Latin-1 (ISO-8859-1) or Windows-1252, where it is '{}', as older Excel and \
                 European tools save. Read it with CsvOptions::encoding(Encoding::Latin1), or \
                 save the file as UTF-8",
                byte as char
            ))
        })?,
    };
    if text.starts_with('\u{feff}') {
        text.drain(..'\u{feff}'.len_utf8());
    }
    if text.contains('\r') {
        text = text.replace("\r\n", "\n").replace('\r', "\n");
    }
    Ok(text)
}

/// The first data row with more fields than the header (outside quotes), as a message naming
/// it and the likely cause; None if every row fits.
fn ragged_row(text: &str, header: &str, options: &CsvOptions) -> Option<String> {
    let fields = |line: &str| {
        let mut quoted = false;
        1 + line
            .chars()
            .filter(|&c| {
                if c == '"' {
                    quoted = !quoted;
                }
                !quoted && c == options.delimiter as char
            })
            .count()
    };
    let columns = fields(header);
    let (k, line) = text
        .lines()
        .enumerate()
        .skip(1)
        .find(|(_, line)| fields(line) > columns)?;
    let separator = (options.delimiter as char).escape_default();
    // Two neighbouring numbers where one was meant: 1,234.5 or 12,5.
    let parts: Vec<&str> = line
        .split(options.delimiter as char)
        .map(str::trim)
        .collect();
    let numeric = |f: &str| !f.is_empty() && f.parse::<f64>().is_ok();
    let split_number = parts.windows(2).any(|w| numeric(w[0]) && numeric(w[1]));
    let cause = if split_number {
        " A number with a thousands separator (1,234.5) or a decimal comma (12,5)? Remove the \
         thousands separator, or quote the number; decimal commas need another separator \
         (CsvOptions::delimiter(b';')) and CsvOptions::decimal_comma(true)."
    } else {
        " Quote the field that holds the separator, or remove the extra one."
    };
    let shown: String = line.chars().take(120).collect();
    Some(format!(
        "row {k} (line {}) has {} fields where the header has {columns} (separated by \
         '{separator}'): \"{shown}\".{cause}{}",
        k + 1,
        fields(line),
        separator_hint(header, options.delimiter)
    ))
}

/// `'a', 'b', 'c'`, or the first ten names and how many more.
fn column_list<'a>(names: impl ExactSizeIterator<Item = &'a str>) -> String {
    const SHOWN: usize = 10;
    let total = names.len();
    let mut shown: Vec<String> = names.take(SHOWN).map(|n| format!("'{n}'")).collect();
    if total > SHOWN {
        shown.push(format!("… ({total} columns in all)"));
    }
    shown.join(", ")
}

/// A hint when the header line has no `delimiter` but another usual separator: the file is
/// probably separated by that one.
fn separator_hint(header: &str, delimiter: u8) -> String {
    if header.contains(delimiter as char) {
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
    date_text: &[Option<&str>],
    value_text: &[Option<&str>],
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
        // Many rows with one value is a code for "no reading" (-999, -9999), not a typo.
        let first = report.outliers[0].value;
        let sentinel = if report.outliers.len() >= 3
            && report.outliers.iter().all(|o| o.value == first)
        {
            format!(
                " All {} are {first}: a code for a missing reading? Outliers::Drop treats them as \
                 missing days.",
                report.outliers.len()
            )
        } else {
            String::new()
        };
        return Err(LstmError::Parse {
            context: format!("{context}: column '{}'", options.value_column),
            message: format!(
                "{} value(s) far outside the column's plausible range {low} … {high} (its middle half \
                 widened by {OUTLIER_IQR_MULTIPLE} interquartile ranges): {}.{sentinel} Fix the file, or choose \
                 CsvOptions::outliers(Outliers::Drop) to treat them as missing or Outliers::Keep to keep them",
                report.outliers.len(),
                list_outliers(&report.outliers)
            ),
        });
    }
    Ok(())
}

/// `[q1 − k·s, q3 + k·s]` for the quartiles q1, q3 and a robust spread s, the interquartile
/// range; None for < 4 values. When more than half the values are one number (rain: 0 mm on
/// most days), the quartiles and spread are those of the other values, widened to include that
/// number. Only a constant column falls back to a spread of `max(|value|, 1)`.
pub fn plausible_range(values: &mut [f32]) -> Option<(f32, f32)> {
    if values.len() < 4 {
        return None;
    }
    values.sort_by(f32::total_cmp);
    let quartiles = |v: &[f32]| {
        let quantile = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
        (quantile(0.25), quantile(0.75))
    };
    let k = OUTLIER_IQR_MULTIPLE;
    let (q1, q3) = quartiles(values);
    if q3 > q1 {
        return Some((q1 - k * (q3 - q1), q3 + k * (q3 - q1)));
    }
    // q1 == q3: the middle half is one number. Its run in the sorted values, and the others.
    let mode = q1;
    let first = values.partition_point(|v| v.total_cmp(&mode).is_lt());
    let end = values.partition_point(|v| v.total_cmp(&mode).is_le());
    let others: Vec<f32> = values[..first]
        .iter()
        .chain(&values[end..])
        .copied()
        .collect();
    let (low, high, spread) = match others.as_slice() {
        [] => (mode, mode, mode.abs().max(1.0)),
        [single] => (mode.min(*single), mode.max(*single), (single - mode).abs()),
        _ => {
            let (o1, o3) = quartiles(&others);
            let spread = if o3 > o1 { o3 - o1 } else { (o1 - mode).abs() };
            (mode.min(o1), mode.max(o3), spread)
        }
    };
    Some((low - k * spread, high + k * spread))
}

/// One date of the file, after merging: its value (None if empty or dropped) and its first row.
struct Day {
    date: NaiveDate,
    value: Option<f32>,
    row: usize,
}

/// One entry per date, by the duplicates policy (`rows` sorted by date, then row).
fn merge_duplicates(
    context: &str,
    rows: Vec<Row>,
    options: &CsvOptions,
    report: &mut CsvReport,
) -> Result<Vec<Day>> {
    let groups: Vec<&[Row]> = rows.chunk_by(|a, b| a.date == b.date).collect();
    let repeated: Vec<&[Row]> = groups.iter().copied().filter(|g| g.len() > 1).collect();
    if let (Duplicates::Error, Some(first)) = (options.duplicates, repeated.first()) {
        let numbers: Vec<String> = first.iter().map(|e| e.row.to_string()).collect();
        let rows_text = match numbers.as_slice() {
            [a, b] => format!("rows {a} and {b}"),
            [a, b, c] => format!("rows {a}, {b} and {c}"),
            [a, b, .., z] => format!("{} rows ({a}, {b}, …, {z})", numbers.len()),
            _ => unreachable!("a repeated date has at least two rows"),
        };
        let more = match repeated.len() - 1 {
            0 => String::new(),
            n => format!(", and {n} more date(s) appear more than once"),
        };
        let most = repeated.iter().map(|g| g.len()).max().unwrap_or(2);
        let hint = if most > 2 && repeated.len() > 1 {
            format!(
                ". Up to {most} rows per date: the timestamps of an hourly (sub-daily) series? \
                 Duplicates::Mean averages each date's rows into a daily mean, \
                 Duplicates::KeepFirst keeps the first"
            )
        } else {
            " (use Duplicates::KeepFirst or Duplicates::Mean)".into()
        };
        return Err(LstmError::Parse {
            context: format!("{context}: column '{}'", options.date_column),
            message: format!("date {} appears in {rows_text}{more}{hint}", first[0].date),
        });
    }
    report.duplicate_dates = repeated.iter().map(|g| g[0].date).collect();
    let days = groups
        .into_iter()
        .map(|entries| {
            let value = match options.duplicates {
                Duplicates::Mean => {
                    let present: Vec<f32> = entries.iter().filter_map(|e| e.value).collect();
                    (!present.is_empty())
                        .then(|| present.iter().sum::<f32>() / present.len() as f32)
                }
                _ => entries.iter().find_map(|e| e.value),
            };
            Day {
                date: entries[0].date,
                value,
                row: entries[0].row,
            }
        })
        .collect();
    Ok(days)
}

/// Missing days (calendar gaps, and days whose only value was empty or dropped) filled or left
/// out by the gaps policy.
fn fill_gaps(
    context: &str,
    days: &[Day],
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
    let date_error = |message: String| LstmError::Parse {
        context: format!("{context}: column '{}'", options.date_column),
        message,
    };
    let closest = days
        .windows(2)
        .map(|w| (w[1].date - w[0].date).num_days())
        .min();
    if let Some(closest) = closest.filter(|&c| period == 1 && c > 1) {
        return Err(date_error(format!(
            "consecutive rows are at least {closest} days apart, so this is not a daily series; \
             for one row every {closest} days use CsvOptions::period_days({closest})"
        )));
    }
    // More invented rows than real ones, or more than a year of them, is never a gap worth
    // filling with a straight line: usually a typo in a year.
    let most_invented = days.len().min((366 / period).max(1) as usize);
    let step = chrono::Duration::days(period);
    let mut out_dates = Vec::with_capacity(days.len());
    let mut out_values: Vec<Option<f32>> = Vec::with_capacity(days.len());
    for (k, day) in days.iter().enumerate() {
        if let Some(prev) = k.checked_sub(1).map(|j| &days[j]) {
            let apart = (day.date - prev.date).num_days();
            if apart % period != 0 {
                return Err(date_error(format!(
                    "{} is {apart} days after the previous row ({}), not a whole number of \
                     periods of {period} days (CsvOptions::period_days)",
                    day.date, prev.date
                )));
            }
            let missing = apart / period - 1;
            if missing > 0 {
                if options.gaps == Gaps::Interpolate && missing as usize > most_invented {
                    return Err(date_error(gap_too_long(days, k, missing, most_invented)));
                }
                report.gaps.push((prev.date + step, day.date - step));
                if options.gaps == Gaps::Interpolate {
                    for m in 1..=missing {
                        out_dates.push(prev.date + step * m as i32);
                        out_values.push(None);
                    }
                }
            }
        }
        if day.value.is_none() {
            report.gaps.push((day.date, day.date));
        }
        if day.value.is_some() || options.gaps == Gaps::Interpolate {
            out_dates.push(day.date);
            out_values.push(day.value);
        }
    }
    report.gaps.sort();
    report.interpolated_days = interpolate(&mut out_values).ok_or_else(|| LstmError::Parse {
        context: format!("{context}: column '{}'", options.value_column),
        message: "no values to interpolate from: every value is empty or dropped".into(),
    })?;
    let values = out_values.into_iter().flatten().collect();
    Ok((out_dates, values))
}

/// Why the gap before `days[k]` is refused: the rows on its smaller side when they are few (a
/// typo), else the two dates around it.
fn gap_too_long(days: &[Day], k: usize, missing: i64, most_invented: usize) -> String {
    let (before, after) = (&days[..k], &days[k..]);
    let limit = if most_invented == days.len() {
        format!("more than the file's {} dates", days.len())
    } else {
        "more than a year".into()
    };
    let lone = if before.len() <= after.len() {
        before
    } else {
        after
    };
    let fix = "Fix the date, or use CsvOptions::gaps(Gaps::Skip) to leave the gap unfilled \
               (windows never span it)";
    if lone.len() <= 3 {
        let named: Vec<String> = lone
            .iter()
            .map(|d| format!("row {} ({})", d.row, d.date))
            .collect();
        let (side, near) = if lone.len() == before.len() {
            ("before", &after[0])
        } else {
            ("after", &before[before.len() - 1])
        };
        format!(
            "{} {} far {side} every other row: the nearest is {} (row {}), and filling the gap \
             would invent {missing} rows, {limit}. A typo in a year? {fix}",
            named.join(", "),
            if lone.len() == 1 { "lies" } else { "lie" },
            near.date,
            near.row
        )
    } else {
        let (a, b) = (&before[before.len() - 1], &after[0]);
        format!(
            "the rows stop at {} (row {}) and resume at {} (row {}): filling the gap would \
             invent {missing} rows, {limit}. {fix}, or load the two parts separately",
            a.date, a.row, b.date, b.row
        )
    }
}

/// Fills `None`s linearly between known neighbours (and flat at the ends), in one pass; returns
/// how many, or None when nothing is known.
fn interpolate(values: &mut [Option<f32>]) -> Option<usize> {
    let mut last_known: Option<(usize, f32)> = None;
    let mut filled = 0;
    for i in 0..values.len() {
        let Some(v) = values[i] else { continue };
        let start = last_known.map_or(0, |(a, _)| a + 1);
        filled += i - start;
        for (j, slot) in values[start..i].iter_mut().enumerate() {
            *slot = Some(match last_known {
                Some((a, va)) => va + (v - va) * (start + j - a) as f32 / (i - a) as f32,
                None => v,
            });
        }
        last_known = Some((i, v));
    }
    let (a, va) = last_known?;
    filled += values.len() - a - 1;
    values[a + 1..].fill(Some(va));
    Some(filled)
}
