//! Charts drawn with plotters as SVG: shown inline in notebooks (as a cell's last expression)
//! and saved as files. Colours are the same everywhere: train blue, validation orange, test green,
//! actual data grey.

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::display::show_html;
use crate::error::{LstmError, Result};
use crate::history::History;

pub const TRAIN: RGBColor = RGBColor(31, 119, 180);
pub const VALIDATION: RGBColor = RGBColor(255, 127, 14);
pub const TEST: RGBColor = RGBColor(44, 160, 44);
pub const ACTUAL: RGBColor = RGBColor(120, 120, 120);
pub const HIGHLIGHT: RGBColor = RGBColor(214, 39, 40);

/// A finished chart as SVG text.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    svg: String,
}

impl Figure {
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
    pub label: String,
    pub points: Vec<(f32, f32)>,
    pub color: RGBColor,
    pub style: Style,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Line,
    ThickLine,
    Dots,
}

impl Series {
    pub fn line(label: &str, points: Vec<(f32, f32)>, color: RGBColor) -> Self {
        Series {
            label: label.into(),
            points,
            color,
            style: Style::Line,
        }
    }
    pub fn thick(label: &str, points: Vec<(f32, f32)>, color: RGBColor) -> Self {
        Series {
            label: label.into(),
            points,
            color,
            style: Style::ThickLine,
        }
    }
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
    pub title: &'a str,
    pub x: &'a str,
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
    let all = || series.iter().flat_map(|s| s.points.iter().copied());
    let (x0, x1) = padded_range(all().map(|p| p.0));
    let (y0, y1) = padded_range(all().map(|p| p.1));
    let log_y = log_y && all().all(|p| p.1 > 0.0);
    draw(labels.title, (720, 400), |root| {
        let mut builder = ChartBuilder::on(root);
        builder
            .caption(labels.title, ("sans-serif", 20))
            .margin(12)
            .margin_right(30)
            .x_label_area_size(42)
            .y_label_area_size(70);
        macro_rules! finish {
            ($chart:expr) => {{
                let mut chart = $chart;
                chart
                    .configure_mesh()
                    .x_desc(labels.x)
                    .y_desc(labels.y)
                    .light_line_style(WHITE.mix(0.0))
                    .draw()?;
                for s in series {
                    let color = s.color;
                    let anno = match s.style {
                        Style::Line => chart.draw_series(LineSeries::new(
                            s.points.iter().copied(),
                            color.stroke_width(2),
                        ))?,
                        Style::ThickLine => chart.draw_series(LineSeries::new(
                            s.points.iter().copied(),
                            color.stroke_width(5),
                        ))?,
                        Style::Dots => chart.draw_series(
                            s.points.iter().map(|&p| Circle::new(p, 4, color.filled())),
                        )?,
                    };
                    anno.label(s.label.clone()).legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3))
                    });
                }
                chart
                    .configure_series_labels()
                    .position(SeriesLabelPosition::UpperRight)
                    .background_style(WHITE.mix(0.85))
                    .border_style(BLACK.mix(0.3))
                    .draw()?;
            }};
        }
        if log_y {
            let (lo, hi) = (
                y0.max(all().map(|p| p.1).fold(f32::INFINITY, f32::min) * 0.8),
                y1 * 1.25,
            );
            finish!(builder.build_cartesian_2d(x0..x1, (lo..hi).log_scale())?);
        } else {
            finish!(builder.build_cartesian_2d(x0..x1, y0..y1)?);
        }
        Ok(())
    })
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
    if t.len() != series.len() || start + n_steps >= series.len() {
        return Err(LstmError::shape(
            "series_with_window",
            format!(
                "t and series of equal length > start + n_steps = {}",
                start + n_steps
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
