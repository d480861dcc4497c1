//! What loading costs: `weather::load_csv` on a big file, with and without empty values, and
//! `Sequential::load` of a saved LSTM(1024) against building one.
//! `make bench-load`, or `cargo run --release -p lstm-core --features polars --example loading`.
//!
//! Writes two CSVs of `--rows` daily rows (default 2,000,000) into `target/csv-load/`: one with a
//! value on every row, one with every 10th value empty (read with `Missing::Interpolate`). Each
//! load runs in its own child process, alternating the two files, so its peak memory (the
//! kernel's high-water mark, `VmHWM`) is that of the load alone. Prints the medians and the
//! ratio; `--json F` writes them. The model is built, saved and loaded in this process, each
//! timed five times (median).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use lstm_core::prelude::*;
use lstm_core::support::weather::{self, CsvOptions, Missing};

const DEFAULT_ROWS: usize = 2_000_000;
const RUNS: usize = 5;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, path] = args.as_slice()
        && flag == "--child"
    {
        return child(Path::new(path));
    }
    let mut rows = DEFAULT_ROWS;
    let mut json = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--rows" => rows = it.next().ok_or("--rows needs a number")?.parse()?,
            "--json" => json = Some(PathBuf::from(it.next().ok_or("--json needs a path")?)),
            other => return Err(format!("unknown argument '{other}' (--rows N, --json F)").into()),
        }
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/loading");
    std::fs::create_dir_all(&dir)?;
    let full = dir.join(format!("full-{rows}.csv"));
    let holes = dir.join(format!("missing-{rows}.csv"));
    write_csv(&full, rows, false)?;
    write_csv(&holes, rows, true)?;

    let (mut full_runs, mut hole_runs) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        full_runs.push(run_child(&full)?);
        hole_runs.push(run_child(&holes)?);
    }
    let median = |runs: &mut Vec<(f64, f64)>, k: usize| {
        let mut v: Vec<f64> = runs
            .iter()
            .map(|r| if k == 0 { r.0 } else { r.1 })
            .collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (t_full, m_full) = (median(&mut full_runs, 0), median(&mut full_runs, 1));
    let (t_holes, m_holes) = (median(&mut hole_runs, 0), median(&mut hole_runs, 1));
    println!(
        "load_csv, {rows} daily rows, median of {RUNS} runs each (alternated, one process per load)"
    );
    println!("| file | seconds | rows/s | peak memory (MB) |");
    println!("|---|---:|---:|---:|");
    for (name, t, m) in [
        ("every value present", t_full, m_full),
        ("every 10th value empty (interpolated)", t_holes, m_holes),
    ] {
        println!("| {name} | {t:.2} | {:.0} | {m:.0} |", rows as f64 / t);
    }
    println!("10 % missing / none: {:.2}× the time", t_holes / t_full);
    let (build, load) = model_times(&dir)?;
    println!(
        "LSTM(1024) on 32 features + Dense(1), median of {RUNS}: build {build:.3} s, \
         Sequential::load of the saved model {load:.3} s"
    );
    if let Some(path) = json {
        let text = format!(
            "{{\"rows\": {rows}, \"runs\": {RUNS}, \"full_seconds\": {t_full}, \"full_peak_mb\": {m_full}, \
             \"missing_seconds\": {t_holes}, \"missing_peak_mb\": {m_holes}, \
             \"lstm1024_build_seconds\": {build}, \"lstm1024_load_seconds\": {load}}}\n"
        );
        std::fs::write(&path, text)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// Median seconds to build LSTM(1024) + Dense(1) and to load it once saved.
fn model_times(dir: &Path) -> Result<(f64, f64), Box<dyn std::error::Error>> {
    let build = || -> lstm_core::Result<Sequential> {
        let mut model = Sequential::with_seed(&[30, 32], 1);
        model.add(Lstm::new(1024))?;
        model.add(Dense::new(1))?;
        Ok(model)
    };
    let path = dir.join("lstm1024.lstm");
    build()?.save(&path)?;
    let (mut builds, mut loads) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let started = Instant::now();
        let model = build()?;
        builds.push(started.elapsed().as_secs_f64());
        let started = Instant::now();
        let loaded = Sequential::load(&path)?;
        loads.push(started.elapsed().as_secs_f64());
        assert_eq!(
            loaded.get_weights(),
            model.get_weights(),
            "same seed, same weights"
        );
    }
    builds.sort_by(f64::total_cmp);
    loads.sort_by(f64::total_cmp);
    Ok((builds[RUNS / 2], loads[RUNS / 2]))
}

/// Daily rows from 1900-01-01 (2 million rows reach the 76th century: chrono's dates go far
/// enough), a seasonal temperature with a little pattern.
fn write_csv(path: &Path, rows: usize, with_holes: bool) -> std::io::Result<()> {
    if path.exists() {
        return Ok(());
    }
    let start = weather::chrono::NaiveDate::from_ymd_opt(1900, 1, 1).expect("valid date");
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "date,temp")?;
    for k in 0..rows {
        let date = start + weather::chrono::Duration::days(k as i64);
        let season = (k % 365) as f32 / 365.0 * std::f32::consts::TAU;
        let temp = 12.0 - 9.0 * season.cos() + (k % 7) as f32 * 0.3;
        if with_holes && k % 10 == 5 {
            writeln!(out, "{date},")?;
        } else {
            writeln!(out, "{date},{temp:.1}")?;
        }
    }
    out.flush()
}

/// Runs one load in a child process; its seconds and peak memory in MB.
fn run_child(path: &Path) -> Result<(f64, f64), Box<dyn std::error::Error>> {
    let out = Command::new(std::env::current_exe()?)
        .arg("--child")
        .arg(path)
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "the load of {} failed: {stdout}{}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let mut fields = stdout.split_whitespace().map(str::parse::<f64>);
    match (fields.next(), fields.next()) {
        (Some(Ok(seconds)), Some(Ok(mb))) => Ok((seconds, mb)),
        _ => Err(format!("unexpected child output: {stdout}").into()),
    }
}

/// The child: one load, then its time and the process's peak resident memory.
fn child(path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let options = CsvOptions::new("date", "temp").missing(Missing::Interpolate);
    let started = Instant::now();
    let (df, report) = weather::load_csv(path, &options)?;
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(df.height(), report.rows_read, "one row out per row in");
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let peak_kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(f64::NAN);
    println!("{seconds} {}", peak_kb / 1024.0);
    Ok(())
}
