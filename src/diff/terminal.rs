//! `--format terminal`: per environment a summary line, then a unified diff per resource,
//! coloured when asked (green additions, red removals, cyan hunk headers, yellow highlights).

use std::fmt::Write;

use super::model::{DiffReport, Finding};

struct Paint(bool);

impl Paint {
    fn wrap(&self, code: &str, s: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
}

pub fn render(report: &DiffReport, color: bool) -> String {
    let p = Paint(color);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}",
        p.wrap(
            "1",
            &format!("strata diff: {} → {}", report.base, report.head)
        )
    );
    for env in &report.envs {
        let _ = writeln!(
            out,
            "\n{} {} added, {} removed, {} changed, {} unchanged ({}, {})",
            p.wrap("1", &format!("== {}:", env.name)),
            env.added,
            env.removed,
            env.changed,
            env.unchanged,
            p.wrap("32", &format!("+{}", env.added_lines)),
            p.wrap("31", &format!("-{}", env.removed_lines)),
        );
        findings(&mut out, &p, "new finding", &env.findings.introduced);
        findings(&mut out, &p, "resolved", &env.findings.resolved);
        for r in &env.resources {
            let _ = writeln!(out, "\n{}", p.wrap("1", &r.title()));
            for h in &r.highlights {
                let _ = writeln!(out, "{}", p.wrap("33", &format!("! {h}")));
            }
            for f in r.fields.iter().filter(|f| f.by.is_some()) {
                let _ = writeln!(
                    out,
                    "  {} set by {}",
                    f.path,
                    f.by.as_deref().unwrap_or_default()
                );
            }
            let from = r.renamed_from.as_ref().unwrap_or(&r.key);
            let _ = writeln!(out, "{}", p.wrap("1", &format!("--- a/{from}")));
            let _ = writeln!(out, "{}", p.wrap("1", &format!("+++ b/{}", r.key)));
            for line in r.unified.lines() {
                let painted = if line.starts_with("@@") {
                    p.wrap("36", line)
                } else if line.starts_with('+') {
                    p.wrap("32", line)
                } else if line.starts_with('-') {
                    p.wrap("31", line)
                } else {
                    line.to_string()
                };
                let _ = writeln!(out, "{painted}");
            }
        }
    }
    if report.envs.len() > 1 && !report.matrix.is_empty() {
        let _ = writeln!(out, "\n{}", p.wrap("1", "Changes across environments:"));
        for row in &report.matrix {
            let _ = writeln!(out, "  {}: {}", row.change, row.envs.join(", "));
        }
    }
    if !report.has_differences() {
        let _ = writeln!(out, "\nno differences");
    }
    out
}

fn findings(out: &mut String, p: &Paint, what: &str, list: &[Finding]) {
    for f in list {
        let sev = if f.severity == "error" { "31" } else { "33" };
        let _ = writeln!(
            out,
            "{} {} {} {} at {}: {}",
            p.wrap(sev, &format!("{what}: {}", f.severity)),
            f.code,
            f.resource,
            f.path,
            f.location,
            f.message,
        );
    }
}
