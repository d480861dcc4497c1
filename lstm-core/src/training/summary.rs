//! `model.summary()`: the same table, shapes and parameter counts Keras prints.

use crate::check::batch_shape;
use crate::display::{html_escape, show_html};

#[derive(Debug, Clone, PartialEq)]
/// One layer's row of the summary.
pub struct SummaryRow {
    /// The layer's name (`lstm`, `dense_1`, ...).
    pub name: String,
    /// The Keras class (`LSTM`, `Dense`, ...).
    pub class_name: String,
    /// Without the batch axis (printed as `None`).
    pub output_shape: Vec<usize>,
    /// Trainable scalars.
    pub params: usize,
}

#[derive(Debug, Clone, PartialEq)]
/// What `model.summary()` prints: a row per layer and the totals.
pub struct Summary {
    /// The model's name (`sequential`).
    pub model_name: String,
    /// One row per layer.
    pub rows: Vec<SummaryRow>,
}

impl Summary {
    /// All trainable scalars.
    pub fn total_params(&self) -> usize {
        self.rows.iter().map(|r| r.params).sum()
    }

    /// Parameters of one layer by name (`lstm`, `dense_1`, ...).
    pub fn params_of(&self, name: &str) -> Option<usize> {
        self.rows.iter().find(|r| r.name == name).map(|r| r.params)
    }

    /// The summary as an HTML table.
    pub fn to_html(&self) -> String {
        let mut html = format!(
            "<div class=\"lstm-summary\"><p><b>Model: \"{}\"</b></p><table><thead><tr><th style=\"text-align:left\">Layer (type)</th><th style=\"text-align:left\">Output Shape</th><th style=\"text-align:right\">Param #</th></tr></thead><tbody>",
            html_escape(&self.model_name)
        );
        for r in &self.rows {
            html += &format!(
                "<tr><td style=\"text-align:left\">{} ({})</td><td style=\"text-align:left\">{}</td><td style=\"text-align:right\">{}</td></tr>",
                html_escape(&r.name),
                html_escape(&r.class_name),
                batch_shape(&r.output_shape),
                thousands(r.params)
            );
        }
        let total = self.total_params();
        html += &format!(
            "</tbody></table><p>Total params: {t} ({m})<br>Trainable params: {t} ({m})<br>Non-trainable params: 0 (0.00 B)</p></div>",
            t = thousands(total),
            m = memory_size(total * 4)
        );
        html
    }

    /// Rich display in evcxr: the table.
    pub fn evcxr_display(&self) {
        show_html(&self.to_html());
    }
}

/// The text table, character for character as Keras 3 prints it.
impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cells: Vec<[String; 3]> = self
            .rows
            .iter()
            .map(|r| {
                [
                    format!("{} ({})", r.name, r.class_name),
                    batch_shape(&r.output_shape),
                    thousands(r.params),
                ]
            })
            .collect();
        let mut widths = [31usize, 22, 13];
        for row in &cells {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let rule = |left: &str, fill: &str, mid: &str, right: &str| {
            let parts: Vec<String> = widths.iter().map(|w| fill.repeat(w + 2)).collect();
            format!("{left}{}{right}", parts.join(mid))
        };
        let line = |edge: &str, c: &[String; 3]| {
            format!(
                "{edge} {:<w0$} {edge} {:<w1$} {edge} {:>w2$} {edge}",
                c[0],
                c[1],
                c[2],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2]
            )
        };
        writeln!(f, "Model: \"{}\"", self.model_name)?;
        writeln!(f, "{}", rule("┏", "━", "┳", "┓"))?;
        let header = [
            "Layer (type)".to_string(),
            "Output Shape".into(),
            "Param #".into(),
        ];
        writeln!(f, "{}", line("┃", &header))?;
        writeln!(f, "{}", rule("┡", "━", "╇", "┩"))?;
        for (k, row) in cells.iter().enumerate() {
            if k > 0 {
                writeln!(f, "{}", rule("├", "─", "┼", "┤"))?;
            }
            writeln!(f, "{}", line("│", row))?;
        }
        writeln!(f, "{}", rule("└", "─", "┴", "┘"))?;
        let total = self.total_params();
        let bytes = memory_size(total * 4);
        writeln!(f, " Total params: {} ({bytes})", thousands(total))?;
        writeln!(f, " Trainable params: {} ({bytes})", thousands(total))?;
        write!(f, " Non-trainable params: 0 (0.00 B)")
    }
}

/// `12345` → `12,345`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (k, ch) in digits.chars().enumerate() {
        if k > 0 && (digits.len() - k).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Keras' `readable_memory_size`: `584.00 B`, `15.12 KB`, ...
pub fn memory_size(bytes: usize) -> String {
    let mut size = bytes as f64;
    for unit in ["B", "KB", "MB", "GB", "TB"] {
        if size / 1024.0 < 1.0 {
            return format!("{size:.2} {unit}");
        }
        size /= 1024.0;
    }
    format!("{size:.2} PB")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_formats() {
        assert_eq!(thousands(75073), "75,073");
        assert_eq!(thousands(146), "146");
        assert_eq!(thousands(1053185), "1,053,185");
        assert_eq!(memory_size(584), "584.00 B");
        assert_eq!(memory_size(3871 * 4), "15.12 KB");
    }
}
