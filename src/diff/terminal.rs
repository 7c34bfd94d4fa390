//! `--format terminal`: a summary line per group of environments with the same changes, the
//! failures and findings, then a unified diff per distinct change, coloured when asked
//! (green additions, red removals, cyan hunk headers, yellow for what can break a rollout).

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
    for a in &report.apps {
        let _ = writeln!(
            out,
            "{} -> {} ({}): {}",
            p.wrap("1", &a.name),
            a.destination,
            a.source,
            a.status
        );
    }
    for c in &report.columns {
        let e = &report.envs[c.members[0]];
        if !e.failures.is_empty() {
            for f in &e.failures {
                let _ = writeln!(
                    out,
                    "\n{} {}",
                    p.wrap("1", &format!("== {}:", c.folded)),
                    p.wrap(
                        "31",
                        &format!("the {} ({}) does not render:", f.side, f.label)
                    )
                );
                for line in f.message.trim_end().lines() {
                    let _ = writeln!(out, "   {line}");
                }
            }
            continue;
        }
        let _ = writeln!(
            out,
            "\n{} {} added, {} removed, {} changed, {} unchanged ({}, {})",
            p.wrap("1", &format!("== {}:", c.folded)),
            e.added,
            e.removed,
            e.changed,
            e.unchanged,
            p.wrap("32", &format!("+{}", e.added_lines)),
            p.wrap("31", &format!("-{}", e.removed_lines)),
        );
    }
    for g in &report.findings {
        let what = if g.introduced {
            "new finding"
        } else {
            "resolved"
        };
        finding(&mut out, &p, what, &g.finding, &g.folded);
    }
    for g in &report.groups {
        let r = &report.envs[g.at.0].resources[g.at.1];
        let _ = writeln!(
            out,
            "\n{} {}",
            p.wrap("1", &r.title()),
            p.wrap("2", &format!("in {}", g.folded))
        );
        for h in &r.highlights {
            let line = format!("! {}", h.message);
            let _ = writeln!(
                out,
                "{}",
                if h.is_breaking() {
                    p.wrap("33", &line)
                } else {
                    line
                }
            );
        }
        for (path, by) in &g.set_by {
            let _ = writeln!(out, "  {path} set by {}", by.join("; "));
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
    if report.columns.len() > 1 && !report.matrix.is_empty() {
        let _ = writeln!(out, "\n{}", p.wrap("1", "Changes across environments:"));
        let all: Vec<String> = report.envs.iter().map(|e| e.name.clone()).collect();
        for row in &report.matrix {
            let _ = writeln!(
                out,
                "  {}: {}",
                row.change,
                super::group::fold(&row.envs, &all)
            );
        }
    }
    if !report.has_differences() {
        let _ = writeln!(out, "\nno differences");
    }
    out
}

fn finding(out: &mut String, p: &Paint, what: &str, f: &Finding, envs: &str) {
    let sev = if f.severity == "error" { "31" } else { "33" };
    let _ = writeln!(
        out,
        "{} {} {} {} in {envs} at {}: {}",
        p.wrap(sev, &format!("{what}: {}", f.severity)),
        f.code,
        f.resource,
        f.path,
        f.location,
        f.message,
    );
}
