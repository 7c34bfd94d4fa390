//! GitHub workflow commands: `::error file=...,line=...,col=...,title=PT002::message`.

use std::fmt::Write;

use crate::validate::{Report, Severity};

/// Escapes a workflow command's data and properties as GitHub's toolkit does.
fn escape(s: &str, property: bool) -> String {
    let mut out = s
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A");
    if property {
        out = out.replace(':', "%3A").replace(',', "%2C");
    }
    out
}

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    for d in &report.diagnostics {
        let level = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let _ = writeln!(
            out,
            "::{level} file={},line={},col={},title={}::{}",
            escape(&d.location.file, true),
            d.location.line,
            d.location.column,
            escape(d.code, true),
            escape(
                &if d.environments.is_empty() {
                    format!("{} ({}). {}", d.message, d.path, d.fix)
                } else {
                    format!(
                        "{} ({}; in {}). {}",
                        d.message,
                        d.path,
                        super::environments(d, report),
                        d.fix
                    )
                },
                false
            )
        );
    }
    out
}
