//! Rich output in evcxr notebooks: a type's `evcxr_display` prints its HTML or SVG between
//! markers that the kernel turns into a rendered cell output.

/// A duration as the notebooks print it: `82 ms` below a second, `3.7 s` below a minute, `51 s`.
///
/// Timings change from run to run. When the notebook runner asks for it (environment variable
/// `LSTM_CORE_TIMINGS=marked`), the text comes marked as `⟪3.7 s⟫`: the runner keeps it in the
/// HTML export and leaves it out of the committed notebook, which then stays the same from run
/// to run. Interactively (`make lab`, your own Jupyter) it is plain text.
pub fn elapsed(duration: std::time::Duration) -> String {
    let seconds = duration.as_secs_f64();
    let text = if seconds < 1.0 {
        format!("{:.0} ms", seconds * 1000.0)
    } else if seconds < 10.0 {
        format!("{seconds:.1} s")
    } else {
        format!("{seconds:.0} s")
    };
    match std::env::var("LSTM_CORE_TIMINGS").as_deref() {
        Ok("marked") => format!("⟪{text}⟫"),
        _ => text,
    }
}

/// Prints `html` as the cell's rich output.
pub fn show_html(html: &str) {
    println!("EVCXR_BEGIN_CONTENT text/html\n{html}\nEVCXR_END_CONTENT");
}

/// Escapes `&`, `<`, `>` and quotes for text placed in HTML.
pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Any HTML fragment, shown as such when it is a cell's last expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Html(pub String);

impl Html {
    /// Rich display in evcxr: the HTML itself.
    pub fn evcxr_display(&self) {
        show_html(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn durations_read_at_a_glance() {
        // (The marked form is checked by scripts/check_runner.py, which sets the variable.)
        if std::env::var("LSTM_CORE_TIMINGS").is_err() {
            assert_eq!(elapsed(Duration::from_micros(82_400)), "82 ms");
            assert_eq!(elapsed(Duration::from_millis(3_740)), "3.7 s");
            assert_eq!(elapsed(Duration::from_millis(51_200)), "51 s");
        }
    }
}
