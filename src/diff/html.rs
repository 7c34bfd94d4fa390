//! `--format html`: one self-contained page (inline CSS, no script, nothing fetched): the
//! summary, the environment matrix, the validation findings, then per resource a
//! side-by-side diff with the fields' provenance and host-network highlights.

use std::fmt::Write;

use similar::{DiffOp, TextDiff};

use super::escape_html as esc;
use super::group::ChangeGroup;
use super::model::{DiffReport, Finding, ResourceDiff};

const STYLE: &str = r#"
:root { color-scheme: light; }
body { font: 14px/1.45 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 24px; color: #1f2328; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
.sub { color: #59636e; margin-bottom: 16px; }
table.summary { border-collapse: collapse; margin: 8px 0 16px; }
table.summary th, table.summary td { border: 1px solid #d0d7de; padding: 4px 10px; text-align: right; }
table.summary th:first-child, table.summary td:first-child { text-align: left; }
table.summary th { background: #f6f8fa; }
.plus { color: #1a7f37; } .minus { color: #cf222e; }
ul.findings { padding-left: 20px; }
ul.findings li { margin: 2px 0; }
.sev-error { color: #cf222e; font-weight: 600; } .sev-warning { color: #9a6700; font-weight: 600; } .resolved { color: #1a7f37; font-weight: 600; }
details.res { border: 1px solid #d0d7de; border-radius: 6px; margin: 10px 0; overflow: hidden; }
details.res > summary { background: #f6f8fa; padding: 6px 10px; cursor: pointer; font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 13px; }
.badge { display: inline-block; border-radius: 10px; padding: 0 8px; font-size: 12px; color: #fff; margin-right: 6px; font-family: sans-serif; }
.b-added { background: #1a7f37; } .b-removed { background: #cf222e; } .b-changed { background: #9a6700; }
.highlight { background: #fff8c5; border-left: 4px solid #d4a72c; padding: 4px 10px; margin: 0; }
.note { background: #ddf4ff; border-left: 4px solid #54aeff; padding: 4px 10px; margin: 0; }
.envs { color: #59636e; font-family: sans-serif; }
table.prov { border-collapse: collapse; margin: 6px 10px; font-size: 12px; }
table.prov td { padding: 1px 8px; border-bottom: 1px solid #eaeef2; }
table.sbs { width: 100%; border-collapse: collapse; table-layout: fixed; font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; }
table.sbs td { padding: 0 6px; white-space: pre-wrap; word-break: break-all; vertical-align: top; }
table.sbs td.n { width: 3.5em; color: #8c959f; text-align: right; user-select: none; background: #f6f8fa; }
td.del { background: #ffebe9; } td.ins { background: #e6ffec; } td.empty { background: repeating-linear-gradient(135deg, #f6f8fa 0 6px, #eaeef2 6px 8px); }
tr.gap td { background: #ddf4ff; color: #59636e; text-align: center; }
"#;

pub fn render(report: &DiffReport) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
         <title>strata diff: {} → {}</title><style>{STYLE}</style></head><body>\n",
        esc(&report.base),
        esc(&report.head)
    );
    let _ = writeln!(
        s,
        "<h1>strata diff</h1><div class=\"sub\">{} → {}{}</div>",
        esc(&report.base),
        esc(&report.head),
        if report.secrets_masked {
            " · Secret values masked"
        } else {
            ""
        }
    );
    s.push_str("<table class=\"summary\"><tr><th>environments</th><th>added</th><th>removed</th><th>changed</th><th>unchanged</th><th>lines</th></tr>\n");
    for c in &report.columns {
        let e = &report.envs[c.members[0]];
        if !e.failures.is_empty() {
            let sides: Vec<&str> = e.failures.iter().map(|f| f.side.as_str()).collect();
            let _ = writeln!(
                s,
                "<tr><td>{}</td><td colspan=\"5\" class=\"minus\">the {} does not render</td></tr>",
                esc(&c.folded),
                sides.join(" and the ")
            );
            continue;
        }
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><span class=\"plus\">+{}</span> <span class=\"minus\">−{}</span></td></tr>",
            esc(&c.folded),
            e.added,
            e.removed,
            e.changed,
            e.unchanged,
            e.added_lines,
            e.removed_lines
        );
    }
    s.push_str("</table>\n");
    if !report.apps.is_empty() {
        s.push_str("<h2>Applications</h2><table class=\"summary\"><tr><th>application</th><th>destination</th><th>source</th><th>this change</th></tr>\n");
        for a in &report.apps {
            let _ = writeln!(
                s,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&a.name),
                esc(&a.destination),
                esc(&a.source),
                esc(&a.status)
            );
        }
        s.push_str("</table>\n");
    }
    if report.has_failures() {
        s.push_str("<h2>Render failures</h2>\n");
        for e in report.envs.iter().filter(|e| !e.failures.is_empty()) {
            for f in &e.failures {
                let _ = writeln!(
                    s,
                    "<p><span class=\"sev-error\">{}</span>: the <b>{}</b> ({}) does not render:</p><pre>{}</pre>",
                    esc(&e.name),
                    esc(&f.side),
                    esc(&f.label),
                    esc(&f.message)
                );
            }
        }
    }
    if !report.has_differences() && !report.has_failures() {
        s.push_str("<p>No differences.</p>\n");
    }
    let columns: Vec<_> = report
        .columns
        .iter()
        .filter(|c| !c.changes.is_empty())
        .collect();
    if report.columns.len() > 1 && !report.matrix.is_empty() {
        s.push_str(
            "<h2>Environments each change touches</h2><table class=\"summary\"><tr><th>change</th>",
        );
        for c in &columns {
            let _ = write!(s, "<th>{}</th>", esc(&c.folded));
        }
        s.push_str("</tr>\n");
        for row in &report.matrix {
            let _ = write!(s, "<tr><td>{}</td>", esc(&row.change));
            for c in &columns {
                let mark = if c.envs.iter().any(|e| row.envs.contains(e)) {
                    "✓"
                } else {
                    ""
                };
                let _ = write!(s, "<td style=\"text-align:center\">{mark}</td>");
            }
            s.push_str("</tr>\n");
        }
        s.push_str("</table>\n");
    }
    if !report.findings.is_empty() {
        s.push_str("<h2>Validation findings</h2><ul class=\"findings\">\n");
        for g in &report.findings {
            let f = &g.finding;
            let (class, label) = if g.introduced {
                (format!("sev-{}", f.severity), format!("new {}", f.severity))
            } else {
                ("resolved".to_string(), format!("resolved {}", f.severity))
            };
            finding(&mut s, &g.folded, f, &class, &label);
        }
        s.push_str("</ul>\n");
    }
    if !report.groups.is_empty() {
        s.push_str("<h2>Changes</h2>\n");
    }
    for g in &report.groups {
        resource(&mut s, g, &report.envs[g.at.0].resources[g.at.1]);
    }
    s.push_str("</body></html>\n");
    s
}

fn finding(s: &mut String, env: &str, f: &Finding, class: &str, label: &str) {
    let _ = writeln!(
        s,
        "<li><span class=\"{class}\">{}</span> <code>{}</code> {} <code>{}</code> in {}: {} <small>({})</small></li>",
        esc(label),
        esc(&f.code),
        esc(&f.resource),
        esc(&f.path),
        esc(env),
        esc(&f.message),
        esc(&f.location)
    );
}

fn resource(s: &mut String, g: &ChangeGroup, r: &ResourceDiff) {
    let _ = writeln!(
        s,
        "<details class=\"res\" open><summary><span class=\"badge b-{}\">{}</span>{} <span class=\"plus\">+{}</span> <span class=\"minus\">−{}</span> <span class=\"envs\">in {}</span></summary>",
        r.class.as_str(),
        if r.renamed_from.is_some() {
            "renamed"
        } else {
            r.class.as_str()
        },
        esc(&r
            .renamed_from
            .as_ref()
            .map(|f| format!("{f} → {}", r.key))
            .unwrap_or_else(|| r.key.to_string())),
        r.added_lines,
        r.removed_lines,
        esc(&g.folded)
    );
    for h in &r.highlights {
        let (class, icon) = if h.is_breaking() {
            ("highlight", "⚠")
        } else {
            ("note", "ℹ")
        };
        let _ = writeln!(s, "<p class=\"{class}\">{icon} {}</p>", esc(&h.message));
    }
    if !g.set_by.is_empty() {
        s.push_str("<table class=\"prov\">");
        for (path, by) in &g.set_by {
            let _ = write!(
                s,
                "<tr><td><code>{}</code></td><td>set by {}</td></tr>",
                esc(path),
                esc(&by.join("; "))
            );
        }
        s.push_str("</table>\n");
    }
    s.push_str("<table class=\"sbs\">\n");
    let td = TextDiff::from_lines(&r.before, &r.after);
    let old: Vec<&str> = r.before.lines().collect();
    let new: Vec<&str> = r.after.lines().collect();
    for (gi, group) in td.grouped_ops(3).iter().enumerate() {
        if gi > 0 {
            s.push_str("<tr class=\"gap\"><td colspan=\"4\">⋯</td></tr>\n");
        }
        for op in group {
            match *op {
                DiffOp::Equal {
                    old_index,
                    new_index,
                    len,
                } => {
                    for k in 0..len {
                        row(
                            s,
                            Some((old_index + k, old[old_index + k], "")),
                            Some((new_index + k, new[new_index + k], "")),
                        );
                    }
                }
                DiffOp::Delete {
                    old_index, old_len, ..
                } => {
                    for k in 0..old_len {
                        row(s, Some((old_index + k, old[old_index + k], "del")), None);
                    }
                }
                DiffOp::Insert {
                    new_index, new_len, ..
                } => {
                    for k in 0..new_len {
                        row(s, None, Some((new_index + k, new[new_index + k], "ins")));
                    }
                }
                DiffOp::Replace {
                    old_index,
                    old_len,
                    new_index,
                    new_len,
                } => {
                    for k in 0..old_len.max(new_len) {
                        row(
                            s,
                            (k < old_len).then(|| (old_index + k, old[old_index + k], "del")),
                            (k < new_len).then(|| (new_index + k, new[new_index + k], "ins")),
                        );
                    }
                }
            }
        }
    }
    s.push_str("</table></details>\n");
}

fn row(s: &mut String, left: Option<(usize, &str, &str)>, right: Option<(usize, &str, &str)>) {
    s.push_str("<tr>");
    for side in [left, right] {
        match side {
            Some((i, text, class)) => {
                let _ = write!(
                    s,
                    "<td class=\"n\">{}</td><td class=\"{class}\">{}</td>",
                    i + 1,
                    esc(text)
                );
            }
            None => s.push_str("<td class=\"n\"></td><td class=\"empty\"></td>"),
        }
    }
    s.push_str("</tr>\n");
}
