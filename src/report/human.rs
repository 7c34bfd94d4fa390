//! rustc/ruff-like text: `error[PT002]: message`, `--> file:line:col`, the source line with a
//! caret, the other party and the overlay line responsible, and the fix.

use std::fmt::Write;
use std::path::Path;

use crate::kustomize::load::Loader;
use crate::validate::{Report, Severity};

pub fn render(report: &Report, loader: &Loader, color: bool) -> String {
    let paint = |code: &str, s: &str| {
        if color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    };
    let mut out = String::new();
    for d in &report.diagnostics {
        let (label, c) = match d.severity {
            Severity::Error => ("error", "1;31"),
            Severity::Warning => ("warning", "1;33"),
        };
        let _ = writeln!(
            out,
            "{}: {}",
            paint(c, &format!("{label}[{}]", d.code)),
            d.message
        );
        let _ = writeln!(
            out,
            "  --> {}:{}:{}",
            d.location.file, d.location.line, d.location.column
        );
        // Resource files were kept by the loader; an overlay's kustomization (where a field an
        // entry added is pointed at) is read again.
        let src: Option<std::sync::Arc<str>> =
            loader.source(Path::new(&d.location.file)).or_else(|| {
                std::fs::read_to_string(&d.location.file)
                    .ok()
                    .map(Into::into)
            });
        if let Some(src) = src
            && let Some(text) = src.lines().nth(d.location.line.saturating_sub(1))
        {
            {
                let num = d.location.line.to_string();
                let pad = " ".repeat(num.len());
                let _ = writeln!(out, "{pad} |");
                let _ = writeln!(out, "{num} | {}", shown_line(d, text));
                let caret = " ".repeat(d.location.column.saturating_sub(1));
                let _ = writeln!(out, "{pad} | {caret}{}", paint(c, "^"));
            }
        }
        let _ = writeln!(out, "  = field: {} of {}", d.path, d.resource);
        if !d.environments.is_empty() {
            let _ = writeln!(out, "  = in: {}", super::environments(d, report));
        }
        for r in &d.related {
            let _ = writeln!(
                out,
                "  = note: {} at {}:{}:{}",
                r.message, r.location.file, r.location.line, r.location.column
            );
        }
        let _ = writeln!(out, "  = help: {}", d.fix);
        out.push('\n');
    }
    for a in &report.assumptions {
        let _ = writeln!(out, "note: assumed: {a}");
    }
    let _ = writeln!(
        out,
        "{} error{}, {} warning{}{}",
        report.errors(),
        if report.errors() == 1 { "" } else { "s" },
        report.warnings(),
        if report.warnings() == 1 { "" } else { "s" },
        if report.suppressed > 0 {
            format!(", {} suppressed", report.suppressed)
        } else {
            String::new()
        }
    );
    out
}

/// The source line as quoted, a Secret's value masked: a finding about a field of a
/// Secret's `data` or `stringData` quotes the key, never the value.
fn shown_line(d: &crate::validate::Diagnostic, text: &str) -> String {
    let secret_value = d.resource.kind == "Secret"
        && (d.path.starts_with("/data") || d.path.starts_with("/stringData"));
    match text.split_once(':') {
        Some((key, rest)) if secret_value && !rest.trim().is_empty() => {
            format!("{key}: <secret value not shown>")
        }
        _ => text.to_string(),
    }
}
