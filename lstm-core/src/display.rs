//! Rich output in evcxr notebooks: a type's `evcxr_display` prints its HTML or SVG between
//! markers that the kernel turns into a rendered cell output.

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
