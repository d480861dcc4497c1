//! Charts drawn with plotters as SVG: shown inline in notebooks (as a cell's last expression)
//! and saved as files. Colours are the same everywhere: train blue, validation orange, test green,
//! actual data grey.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

pub use plotters::style::RGBColor;

use crate::display::show_html;
use crate::error::{LstmError, Result};
use crate::training::history::History;

/// Colour of training data and curves (blue).
pub const TRAIN: RGBColor = RGBColor(31, 119, 180);
/// Colour of validation data and curves (orange).
pub const VALIDATION: RGBColor = RGBColor(255, 127, 14);
/// Colour of held-out test data (green).
pub const TEST: RGBColor = RGBColor(44, 160, 44);
/// Colour of the actual series (grey).
pub const ACTUAL: RGBColor = RGBColor(120, 120, 120);
/// Colour of what a chart points at (red).
pub const HIGHLIGHT: RGBColor = RGBColor(214, 39, 40);

/// A finished chart as SVG text.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    svg: String,
}

impl Figure {
    /// The figure as SVG text.
    pub fn svg(&self) -> &str {
        &self.svg
    }

    /// Writes the SVG to `path`.
    pub fn save(&self, path: impl AsRef<std::path::Path>) -> Result<()> {
        let path = path.as_ref();
        std::fs::write(path, &self.svg).map_err(|e| LstmError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }

    /// Rich display in evcxr: the SVG inline.
    pub fn evcxr_display(&self) {
        show_html(&self.svg);
    }
}

/// Draws on a fresh `width × height` SVG canvas.
pub fn draw(
    what: &str,
    size: (u32, u32),
    paint: impl for<'a, 'b> FnOnce(
        &'a DrawingArea<SVGBackend<'b>, Shift>,
    ) -> std::result::Result<(), Box<dyn std::error::Error + 'a>>,
) -> Result<Figure> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        let result = root
            .fill(&WHITE)
            .map_err(|e| e.to_string())
            .and_then(|_| paint(&root).map_err(|e| e.to_string()))
            .and_then(|_| root.present().map_err(|e| e.to_string()));
        result.map_err(|message| LstmError::Plot {
            what: what.to_string(),
            message,
        })?;
    }
    Ok(Figure { svg })
}

/// One line (or set of points) on a chart.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend text.
    pub label: String,
    /// The `(x, y)` points, in drawing order.
    pub points: Vec<(f32, f32)>,
    /// Colour (see the constants of this module).
    pub color: RGBColor,
    /// Line, thick line or dots.
    pub style: Style,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// How a series is drawn.
pub enum Style {
    /// A 2-px line.
    Line,
    /// A 5-px line, for what a chart is about.
    ThickLine,
    /// One dot per point.
    Dots,
}

impl Series {
    /// A series drawn as a line.
    pub fn line(label: &str, points: Vec<(f32, f32)>, color: RGBColor) -> Self {
        Series {
            label: label.into(),
            points,
            color,
            style: Style::Line,
        }
    }
    /// A series drawn as a thick line.
    pub fn thick(label: &str, points: Vec<(f32, f32)>, color: RGBColor) -> Self {
        Series {
            label: label.into(),
            points,
            color,
            style: Style::ThickLine,
        }
    }
    /// A series drawn as dots.
    pub fn dots(label: &str, points: Vec<(f32, f32)>, color: RGBColor) -> Self {
        Series {
            label: label.into(),
            points,
            color,
            style: Style::Dots,
        }
    }
}

/// Axis labels and title of a chart.
#[derive(Debug, Clone, Default)]
pub struct Labels<'a> {
    /// Title above the chart.
    pub title: &'a str,
    /// x-axis label.
    pub x: &'a str,
    /// y-axis label.
    pub y: &'a str,
}

fn padded_range(values: impl Iterator<Item = f32>) -> (f32, f32) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = if hi > lo { (hi - lo) * 0.05 } else { 0.5 };
    (lo - pad, hi + pad)
}

/// A line chart of several series with a legend.
pub fn line_chart(labels: &Labels<'_>, series: &[Series], log_y: bool) -> Result<Figure> {
    let integer_x = series
        .iter()
        .flat_map(|s| &s.points)
        .all(|p| p.0.fract() == 0.0);
    let x_format = move |v: &f32| {
        if integer_x {
            format!("{v:.0}")
        } else {
            format!("{v:.1}")
        }
    };
    line_chart_with_x_format(labels, series, log_y, &x_format)
}

/// [`line_chart`] with x tick labels from `x_format` (e.g. dates from day numbers).
pub fn line_chart_with_x_format(
    labels: &Labels<'_>,
    series: &[Series],
    log_y: bool,
    x_format: &dyn Fn(&f32) -> String,
) -> Result<Figure> {
    // A log axis needs positive values; without any finite one it falls back to linear.
    let smallest = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .filter(|v| v.is_finite())
        .fold(f32::INFINITY, f32::min);
    let log_y = log_y && smallest.is_finite() && smallest > 0.0;
    // A log axis is drawn as a linear axis of log10(y), labelled with y itself: its ticks then
    // spread over the data's own range (plotters' log axis labels only whole steps of a decade,
    // which can leave the lower half of a loss curve without a label).
    let plotted: Vec<Series> = if log_y {
        series
            .iter()
            .map(|s| Series {
                points: s
                    .points
                    .iter()
                    .filter(|p| p.1 > 0.0)
                    .map(|&(x, y)| (x, y.log10()))
                    .collect(),
                ..s.clone()
            })
            .collect()
    } else {
        series.to_vec()
    };
    let all = || plotted.iter().flat_map(|s| s.points.iter().copied());
    let (x0, x1) = padded_range(all().map(|p| p.0));
    let (y0, y1) = padded_range(all().map(|p| p.1));
    let y_format = |v: &f32| significant(10f32.powf(*v));
    // The legend gets its own column right of the chart, so it never hides a curve.
    let legend_width = if plotted.len() > 1 || plotted.iter().any(|s| !s.label.is_empty()) {
        legend_width(plotted.iter().map(|s| s.label.as_str()))
    } else {
        0
    };
    draw(labels.title, (720 + legend_width, 400), |root| {
        let (chart_area, legend_area) = root.split_horizontally(720);
        let mut chart = ChartBuilder::on(&chart_area)
            .caption(labels.title, ("sans-serif", 20))
            .margin(12)
            .margin_right(30)
            .x_label_area_size(42)
            .y_label_area_size(70)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        let mut mesh = chart.configure_mesh();
        mesh.x_desc(labels.x)
            .y_desc(labels.y)
            .x_label_formatter(x_format)
            .light_line_style(WHITE.mix(0.0));
        if log_y {
            mesh.y_label_formatter(&y_format);
        }
        mesh.draw()?;
        for s in &plotted {
            let color = s.color;
            match s.style {
                Style::Line => chart.draw_series(LineSeries::new(
                    s.points.iter().copied(),
                    color.stroke_width(2),
                ))?,
                Style::ThickLine => chart.draw_series(LineSeries::new(
                    s.points.iter().copied(),
                    color.stroke_width(5),
                ))?,
                Style::Dots => chart
                    .draw_series(s.points.iter().map(|&p| Circle::new(p, 4, color.filled())))?,
            };
        }
        if legend_width > 0 {
            for (k, s) in plotted.iter().enumerate() {
                let y = 60 + 24 * k as i32;
                let mark: DynElement<SVGBackend, (i32, i32)> = match s.style {
                    Style::Dots => Circle::new((18, y), 4, s.color.filled()).into_dyn(),
                    _ => {
                        PathElement::new(vec![(4, y), (32, y)], s.color.stroke_width(3)).into_dyn()
                    }
                };
                legend_area.draw(&mark)?;
                legend_area.draw(&Text::new(
                    s.label.clone(),
                    (40, y - 7),
                    ("sans-serif", 13).into_font(),
                ))?;
            }
        }
        Ok(())
    })
}

/// Width of the legend column right of a line chart, in pixels: at least 230, and wide enough
/// for the longest label (13-px sans-serif averages under 7.5 px per character) so that no label
/// is cut off at the SVG's edge.
fn legend_width<'a>(labels: impl Iterator<Item = &'a str>) -> u32 {
    let longest = labels.map(|l| l.chars().count()).max().unwrap_or(0) as u32;
    (48 + longest * 15 / 2).max(230)
}

/// Two significant digits, without trailing noise: 0.013, 0.25, 1.5, 40, 1200.
fn significant(v: f32) -> String {
    if v >= 100.0 {
        return format!("{v:.0}");
    }
    // Below a thousandth the zeros would run into the axis title: 1.0e-16, not 0.00…010.
    if v < 1e-3 {
        return format!("{v:.1e}");
    }
    let decimals = (1 - v.log10().floor() as i32).max(0) as usize;
    format!("{v:.decimals$}")
}

/// One horizontal bar per named value (e.g. every model's test error), in the order given, each
/// labelled with its value; the label column is as wide as the longest name.
pub fn bar_chart(title: &str, x_label: &str, bars: &[(&str, f32, RGBColor)]) -> Result<Figure> {
    if bars.is_empty() {
        return Err(LstmError::Empty {
            context: format!("bar_chart {title:?}: bars"),
            min: 1,
        });
    }
    if let Some((name, value, _)) = bars.iter().find(|b| !(b.1.is_finite() && b.1 >= 0.0)) {
        return Err(LstmError::config(
            "bar_chart: value",
            "a finite value ≥ 0 for every bar",
            format!("{value} for {name:?}"),
        ));
    }
    let longest = bars.iter().map(|b| b.0.chars().count()).max().unwrap_or(0) as u32;
    let label_width = 24 + longest * 13 / 2;
    let top = bars
        .iter()
        .map(|b| b.1)
        .fold(0.0f32, f32::max)
        .max(f32::MIN_POSITIVE)
        * 1.18;
    // Row k from the bottom holds bar n − 1 − k, so the first bar is drawn on top. plotters'
    // integer ranges are inclusive (0..n − 1 has n rows) and need two rows at least: a single
    // bar sits on an empty row.
    let n = bars.len().max(2);
    let blank = std::iter::repeat(("", 0.0, WHITE));
    let bars: Vec<(&str, f32, RGBColor)> = bars.iter().copied().chain(blank).take(n).collect();
    let height = 90 + 34 * n as u32;
    let bar_of = |v: &SegmentValue<usize>| match v {
        SegmentValue::Exact(k) | SegmentValue::CenterOf(k) if *k < n => Some(&bars[n - 1 - k]),
        _ => None,
    };
    draw(title, (label_width + 560, height), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .margin_right(40)
            .x_label_area_size(42)
            .y_label_area_size(label_width)
            .build_cartesian_2d(0f32..top, (0..n - 1).into_segmented())?;
        let name_of = |v: &SegmentValue<usize>| match v {
            SegmentValue::CenterOf(_) => bar_of(v).map(|b| b.0.to_string()).unwrap_or_default(),
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_label_formatter(&name_of)
            .y_labels(n)
            .disable_y_mesh()
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        // Drawn in order (a histogram would iterate a hash map, and the SVG would change from
        // run to run), each bar 6 px short of its row's edges.
        chart.draw_series((0..n).map(|k| {
            let (_, value, color) = bars[n - 1 - k];
            let mut bar = Rectangle::new(
                [
                    (0.0, SegmentValue::Exact(k)),
                    (value, SegmentValue::Exact(k + 1)),
                ],
                color.mix(0.85).filled(),
            );
            bar.set_margin(6, 6, 0, 0);
            bar
        }))?;
        chart.draw_series((0..n).filter(|&k| !bars[n - 1 - k].0.is_empty()).map(|k| {
            Text::new(
                format!(" {}", significant_3(bars[n - 1 - k].1)),
                (bars[n - 1 - k].1, SegmentValue::CenterOf(k)),
                TextStyle::from(("sans-serif", 13).into_font())
                    .pos(Pos::new(HPos::Left, VPos::Center)),
            )
        }))?;
        Ok(())
    })
}

/// Three significant digits: 0.0142, 4.12, 153.
fn significant_3(v: f32) -> String {
    if v == 0.0 || v >= 100.0 {
        return format!("{v:.0}");
    }
    let decimals = (2 - v.log10().floor() as i32).max(0) as usize;
    format!("{v:.decimals$}")
}

/// Training (and validation) loss per epoch, on a log scale.
pub fn loss_curves(history: &History, title: &str) -> Result<Figure> {
    let epochs = |v: &[f32]| {
        v.iter()
            .enumerate()
            .map(|(e, &l)| ((e + 1) as f32, l))
            .collect::<Vec<_>>()
    };
    let mut series = vec![Series::line("training loss", epochs(&history.loss), TRAIN)];
    if !history.val_loss.is_empty() {
        series.push(Series::line(
            "validation loss",
            epochs(&history.val_loss),
            VALIDATION,
        ));
    }
    line_chart(
        &Labels {
            title,
            x: "epoch",
            y: "loss (log scale)",
        },
        &series,
        true,
    )
}

/// A series with one training window and its target highlighted, to show what `prepare_data` cuts.
pub fn series_with_window(
    t: &[f32],
    series: &[f32],
    start: usize,
    n_steps: usize,
) -> Result<Figure> {
    if t.len() != series.len() || start.saturating_add(n_steps) >= series.len() {
        return Err(LstmError::shape(
            "series_with_window",
            format!(
                "t and series of equal length > start + n_steps = {}",
                start.saturating_add(n_steps)
            ),
            format!("t: {}, series: {}", t.len(), series.len()),
        ));
    }
    let points: Vec<(f32, f32)> = t.iter().copied().zip(series.iter().copied()).collect();
    let window = points[start..start + n_steps].to_vec();
    let target = vec![points[start + n_steps]];
    line_chart(
        &Labels {
            title: &format!("One window: {n_steps} inputs → the next value"),
            x: "t",
            y: "value",
        },
        &[
            Series::line("series", points, ACTUAL),
            Series::thick(
                &format!("window X[{start}] ({n_steps} steps)"),
                window,
                TRAIN,
            ),
            Series::dots(&format!("target y[{start}]"), target, HIGHLIGHT),
        ],
        false,
    )
}

/// White → dark blue, for values in [0, 1] (gates).
fn sequential_color(v: f32) -> RGBColor {
    let v = v.clamp(0.0, 1.0);
    let mix = |a: u8, b: u8| (a as f32 + (b as f32 - a as f32) * v).round() as u8;
    RGBColor(mix(247, 8), mix(251, 48), mix(255, 107))
}

/// Blue ← white → red, for values in [-1, 1] (candidate, states).
fn diverging_color(v: f32) -> RGBColor {
    let v = v.clamp(-1.0, 1.0);
    let (end, t) = if v < 0.0 {
        ((33u8, 102u8, 172u8), -v)
    } else {
        ((178, 24, 43), v)
    };
    let mix = |b: u8| (255.0 + (b as f32 - 255.0) * t).round() as u8;
    RGBColor(mix(end.0), mix(end.1), mix(end.2))
}

/// How a heatmap colours its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeatScale {
    /// Values in 0…1 (gates), in blues.
    UnitInterval,
    /// Values around 0 (candidate, states), blue–white–red, scaled to the largest |value|.
    AroundZero,
}

/// Heatmaps three to a row, each `(caption, values [timesteps, units], scale)`: units down,
/// time steps across. [`crate::support::inspect::GateTrace::heatmaps`] draws an LSTM's gates with it.
pub fn heatmap_grid(
    title: &str,
    panels: &[(&str, &ndarray::Array2<f32>, HeatScale)],
) -> Result<Figure> {
    let (timesteps, units) = panels.first().map_or((0, 0), |p| p.1.dim());
    if timesteps == 0 || units == 0 || panels.iter().any(|p| p.1.dim() != (timesteps, units)) {
        return Err(LstmError::shape(
            "heatmap_grid: panels",
            "one or more arrays of one shape [timesteps, units], neither empty",
            panels
                .iter()
                .map(|(name, a, _)| format!("'{name}' {}", crate::check::fmt_shape(a.shape())))
                .collect::<Vec<_>>()
                .join(", "),
        ));
    }
    let rows = panels.len().div_ceil(3);
    let height = (160 + 14 * units.min(40)) as u32 * rows as u32 + 40;
    draw(title, (900, height), |root| {
        let (top, body) = root.split_vertically(36);
        top.draw(&Text::new(
            title.to_string(),
            (10, 8),
            ("sans-serif", 20).into_font(),
        ))?;
        for (area, &(name, values, heat)) in body.split_evenly((rows, 3)).iter().zip(panels) {
            let is_gate = heat == HeatScale::UnitInterval;
            let scale = if is_gate {
                1.0
            } else {
                values.iter().fold(1e-6f32, |m, v| m.max(v.abs()))
            };
            let caption = if is_gate {
                format!("{name} (0 to 1)")
            } else {
                format!("{name} (±{scale:.2})")
            };
            let mut chart = ChartBuilder::on(area)
                .caption(caption, ("sans-serif", 15))
                .margin(6)
                .x_label_area_size(28)
                .y_label_area_size(34)
                .build_cartesian_2d(0f32..timesteps as f32, 0f32..units as f32)?;
            chart
                .configure_mesh()
                .disable_mesh()
                .x_desc("time step")
                .y_desc("unit")
                .x_labels(timesteps.min(10))
                .y_labels(units.min(8))
                .x_label_formatter(&|v| format!("{}", *v as usize))
                .y_label_formatter(&|v| format!("{}", *v as usize))
                .draw()?;
            chart.draw_series(values.indexed_iter().map(|((t, u), &v)| {
                let color = if is_gate {
                    sequential_color(v)
                } else {
                    diverging_color(v / scale)
                };
                Rectangle::new(
                    [(t as f32, u as f32), (t as f32 + 1.0, u as f32 + 1.0)],
                    color.filled(),
                )
            }))?;
        }
        Ok(())
    })
}

/// The actual series with the model's predictions on training and test windows.
/// `train` and `test` are `(x positions, predictions)`.
pub fn actual_vs_predicted(
    title: &str,
    x_label: &str,
    actual: &[(f32, f32)],
    train: &[(f32, f32)],
    test: &[(f32, f32)],
) -> Result<Figure> {
    line_chart(
        &Labels {
            title,
            x: x_label,
            y: "value",
        },
        &[
            Series::line("actual", actual.to_vec(), ACTUAL),
            Series::dots("train predictions", train.to_vec(), TRAIN),
            Series::dots("test predictions", test.to_vec(), TEST),
        ],
        false,
    )
}

/// The LSTM cell as in the tutorial's drawing: the cell-state line on top, the four gates
/// below, and the paths between them, labelled with the equations.
pub fn lstm_cell_diagram() -> Result<Figure> {
    let ink = RGBColor(40, 40, 40);
    let line = ink.stroke_width(2);
    let gate_colors = [
        RGBColor(214, 39, 40),
        RGBColor(44, 160, 44),
        RGBColor(148, 103, 189),
        RGBColor(31, 119, 180),
    ];
    draw("LSTM cell diagram", (860, 520), |root| {
        let text = |s: &str, at: (i32, i32), size: u32| {
            Text::new(
                s.to_string(),
                at,
                ("sans-serif", size).into_font().color(&ink),
            )
        };
        let path = |points: Vec<(i32, i32)>| PathElement::new(points, line);
        let arrow_up = |x: i32, y: i32| {
            Polygon::new(vec![(x - 6, y + 10), (x + 6, y + 10), (x, y)], ink.filled())
        };
        let arrow_right = |x: i32, y: i32| {
            Polygon::new(vec![(x - 10, y - 6), (x - 10, y + 6), (x, y)], ink.filled())
        };
        let node = |at: (i32, i32),
                    symbol: &str|
         -> std::result::Result<(), Box<dyn std::error::Error + '_>> {
            root.draw(&Circle::new(at, 15, WHITE.filled()))?;
            root.draw(&Circle::new(at, 15, line))?;
            root.draw(&Text::new(
                symbol.to_string(),
                (at.0 - 7, at.1 - 12),
                ("sans-serif", 22).into_font().color(&ink),
            ))?;
            Ok(())
        };
        // The cell.
        root.draw(&Rectangle::new(
            [(100, 55), (740, 395)],
            RGBColor(246, 246, 240).filled(),
        ))?;
        root.draw(&Rectangle::new(
            [(100, 55), (740, 395)],
            RGBColor(180, 180, 170).stroke_width(2),
        ))?;
        // Inputs: h_{t-1} along the bottom bus, x_t from below.
        root.draw(&path(vec![(20, 350), (590, 350)]))?;
        root.draw(&path(vec![(150, 430), (150, 350)]))?;
        root.draw(&text("h(t-1)", (12, 325), 18))?;
        root.draw(&text("x(t)", (160, 405), 18))?;
        // Four gates reading [h(t-1), x(t)].
        let gates = [
            (230, "σ", "forget f"),
            (330, "σ", "input i"),
            (430, "tanh", "candidate g"),
            (560, "σ", "output o"),
        ];
        for ((x, symbol, name), color) in gates.iter().zip(gate_colors) {
            root.draw(&path(vec![(*x, 350), (*x, 296)]))?;
            root.draw(&Rectangle::new(
                [(x - 44, 244), (x + 44, 296)],
                color.mix(0.9).filled(),
            ))?;
            let offset = if *symbol == "tanh" { 18 } else { 6 };
            root.draw(&Text::new(
                symbol.to_string(),
                (x - offset, 247),
                ("sans-serif", 22).into_font().color(&WHITE),
            ))?;
            let width = 7 * name.len() as i32 / 2;
            root.draw(&Text::new(
                name.to_string(),
                (x - width, 276),
                ("sans-serif", 13).into_font().color(&WHITE),
            ))?;
        }
        // Cell state line: c(t-1) → ×f → +(i·g) → c(t).
        root.draw(&path(vec![(20, 100), (840, 100)]))?;
        root.draw(&arrow_right(840, 100))?;
        root.draw(&text("c(t-1)", (12, 72), 18))?;
        root.draw(&text("c(t)", (800, 72), 18))?;
        root.draw(&path(vec![(230, 250), (230, 100)]))?;
        root.draw(&arrow_up(230, 116))?;
        node((230, 100), "×")?;
        root.draw(&path(vec![(330, 250), (330, 180), (430, 180)]))?;
        root.draw(&path(vec![(430, 250), (430, 100)]))?;
        node((430, 180), "×")?;
        root.draw(&arrow_up(430, 116))?;
        node((430, 100), "+")?;
        // Output: h(t) = o · tanh(c(t)).
        root.draw(&path(vec![(650, 100), (650, 265)]))?;
        root.draw(&Rectangle::new([(616, 150), (684, 186)], WHITE.filled()))?;
        root.draw(&Rectangle::new([(616, 150), (684, 186)], line))?;
        root.draw(&text("tanh", (632, 156), 20))?;
        root.draw(&path(vec![(604, 270), (650, 270)]))?;
        node((650, 270), "×")?;
        root.draw(&path(vec![(665, 270), (780, 270), (780, 350), (840, 350)]))?;
        root.draw(&arrow_right(840, 350))?;
        root.draw(&path(vec![(780, 270), (780, 20)]))?;
        root.draw(&arrow_up(780, 14))?;
        root.draw(&text("h(t)", (800, 325), 18))?;
        root.draw(&text("h(t): output", (670, 10), 16))?;
        // The equations.
        let eq = [
            "f = σ(x·Wf + h(t-1)·Uf + bf)   what to keep",
            "i = σ(x·Wi + h(t-1)·Ui + bi)    what to write",
            "g = tanh(x·Wc + h(t-1)·Uc + bc)",
            "o = σ(x·Wo + h(t-1)·Uo + bo)   what to show",
            "c(t) = f·c(t-1) + i·g,    h(t) = o·tanh(c(t))",
        ];
        for (k, e) in eq.iter().enumerate() {
            let (col, row) = (k % 2, k / 2);
            root.draw(&text(
                e,
                (110 + col as i32 * 360, 445 + row as i32 * 22),
                15,
            ))?;
        }
        Ok(())
    })
}

/// A plain RNN unrolled in time: one cell, drawn once per step, the same `W`, `U` and `b` at
/// every step; `h` flows right, the input comes from below, and backpropagation runs the other
/// way, multiplying by the same Jacobian shape at every step.
pub fn rnn_unrolled_diagram() -> Result<Figure> {
    let ink = RGBColor(40, 40, 40);
    let line = ink.stroke_width(2);
    let cell = RGBColor(214, 39, 40);
    let back = RGBColor(148, 103, 189);
    draw("RNN unrolled in time", (860, 420), |root| {
        let text = |s: &str, at: (i32, i32), size: u32, color: RGBColor| {
            Text::new(
                s.to_string(),
                at,
                ("sans-serif", size).into_font().color(&color),
            )
        };
        let arrow_right = |x: i32, y: i32, color: RGBColor| {
            Polygon::new(
                vec![(x - 10, y - 6), (x - 10, y + 6), (x, y)],
                color.filled(),
            )
        };
        let arrow_left = |x: i32, y: i32, color: RGBColor| {
            Polygon::new(
                vec![(x + 10, y - 6), (x + 10, y + 6), (x, y)],
                color.filled(),
            )
        };
        let arrow_up = |x: i32, y: i32| {
            Polygon::new(vec![(x - 6, y + 10), (x + 6, y + 10), (x, y)], ink.filled())
        };
        let steps = ["1", "2", "3", "T"];
        let xs = [190, 360, 530, 740];
        root.draw(&text("h(0) = 0", (14, 168), 18, ink))?;
        for (k, (&x, step)) in xs.iter().zip(steps).enumerate() {
            // h flows right through U.
            let from = if k == 0 { 100 } else { xs[k - 1] + 55 };
            if k == 3 {
                root.draw(&PathElement::new(vec![(from, 175), (from + 40, 175)], line))?;
                root.draw(&text("…", (from + 55, 160), 28, ink))?;
                root.draw(&PathElement::new(
                    vec![(from + 95, 175), (x - 55, 175)],
                    line,
                ))?;
            } else {
                root.draw(&PathElement::new(vec![(from, 175), (x - 55, 175)], line))?;
            }
            root.draw(&arrow_right(x - 55, 175, ink))?;
            if k > 0 {
                root.draw(&text("U", (x - 95, 150), 18, ink))?;
            }
            // The cell.
            root.draw(&Rectangle::new(
                [(x - 55, 145), (x + 55, 205)],
                cell.mix(0.9).filled(),
            ))?;
            root.draw(&text("tanh", (x - 18, 160), 20, WHITE))?;
            // Input from below through W, output above.
            root.draw(&PathElement::new(vec![(x, 285), (x, 205)], line))?;
            root.draw(&arrow_up(x, 205))?;
            root.draw(&text(&format!("x({step})"), (x - 14, 290), 18, ink))?;
            root.draw(&text("W", (x + 8, 240), 18, ink))?;
            root.draw(&PathElement::new(vec![(x, 145), (x, 85)], line))?;
            root.draw(&arrow_up(x, 85))?;
            root.draw(&text(&format!("h({step})"), (x - 14, 60), 18, ink))?;
            // The gradient flows left, one Jacobian per step.
            if k > 0 {
                let left = if k == 3 { xs[2] + 60 } else { xs[k - 1] + 60 };
                root.draw(&PathElement::new(
                    vec![(x - 60, 230), (left, 230)],
                    back.stroke_width(2),
                ))?;
                root.draw(&arrow_left(left, 230, back))?;
            }
        }
        root.draw(&text(
            "the same W, U and b at every step:  h(t) = tanh(x(t)·W + h(t-1)·U + b)",
            (60, 330),
            17,
            ink,
        ))?;
        root.draw(&text(
            "backward (purple): dL/dh(t-1) = (dL/dh(t) ⊙ (1 − h(t)²))·Uᵀ, the same shape of product at every step,",
            (60, 358),
            15,
            back,
        ))?;
        root.draw(&text(
            "so the gradient from step T reaching step T − k is a product of k such factors",
            (60, 380),
            15,
            back,
        ))?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_charts_show_every_name_and_value_and_refuse_bad_bars() {
        let bars = [
            ("LSTM(50, relu) on raw °C", 5.3884, TEST),
            ("climatology (day of year ±15 days)", 4.124, ACTUAL),
            ("persistence", 8.0, ACTUAL),
        ];
        let svg = bar_chart("Test error", "MSE (°C²)", &bars)
            .unwrap()
            .svg()
            .to_string();
        for text in [
            "LSTM(50, relu) on raw °C",
            "climatology (day of year ±15 days)",
            "5.39",
            "4.12",
            "8.00",
        ] {
            assert!(svg.contains(text), "{text} missing");
        }
        // Drawn in order: the same bars give the same SVG, byte for byte.
        assert_eq!(
            svg,
            bar_chart("Test error", "MSE (°C²)", &bars).unwrap().svg()
        );
        let e = bar_chart("t", "x", &[("nan", f32::NAN, TEST)])
            .unwrap_err()
            .to_string();
        assert!(e.contains("NaN for \"nan\""), "{e}");
        assert!(bar_chart("t", "x", &[]).is_err());
        assert_eq!(
            (significant_3(0.014237), significant_3(4.124)),
            ("0.0142".into(), "4.12".into())
        );
    }

    #[test]
    fn the_legend_is_as_wide_as_its_longest_label() {
        assert_eq!(legend_width(["train", "validation"].into_iter()), 230);
        let long = "stateful LSTM, truncated BPTT in chunks of 50 steps";
        assert!(legend_width([long].into_iter()) >= 48 + 7 * long.len() as u32);
        // The chart's SVG grows with the legend, so the label is drawn inside it.
        let series = [Series::line(long, vec![(0.0, 1.0), (1.0, 2.0)], TRAIN)];
        let labels = Labels {
            title: "t",
            x: "x",
            y: "y",
        };
        let svg = line_chart(&labels, &series, false)
            .unwrap()
            .svg()
            .to_string();
        let width = 720 + legend_width([long].into_iter());
        assert!(
            svg.contains(&format!("width=\"{width}\"")),
            "{}",
            &svg[..200]
        );
    }

    #[test]
    fn tick_labels_stay_short_at_any_scale() {
        assert_eq!(significant(1e-16), "1.0e-16");
        assert_eq!(significant(3.4e-5), "3.4e-5");
        assert_eq!(significant(0.013), "0.013");
        assert_eq!(significant(1.5), "1.5");
        assert_eq!(significant(1200.0), "1200");
    }

    #[test]
    fn the_unrolled_rnn_draws() {
        let svg = rnn_unrolled_diagram().unwrap();
        assert!(svg.svg().contains("x(T)") && svg.svg().contains("U"));
    }
}
