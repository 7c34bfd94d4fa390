//! `--format markdown`: a pull-request comment. A summary table per environment, the matrix
//! of which environments each change touches, the validation findings the change introduces
//! (errors first) and resolves, then one collapsible `<details>` per resource with a
//! ```` ```diff ```` block. A comment has a size budget (`--max-bytes`): whole resources are
//! included until it runs out, then a note names what was left out; `split` packs every
//! resource into numbered comments instead.

use std::fmt::Write;

use super::escape_html as esc;
use super::model::{DiffReport, EnvDiff, Finding, ResourceDiff};

/// Rows of the environment matrix shown before it is cut short.
const MATRIX_ROWS: usize = 50;

/// One comment within `max_bytes` (resources that do not fit are named in a closing note).
pub fn render(report: &DiffReport, max_bytes: usize) -> String {
    let header = header(report);
    let blocks = blocks(report);
    let total = header.len() + blocks.iter().map(|b| b.1.len()).sum::<usize>();
    if total <= max_bytes {
        let mut s = header;
        blocks.iter().for_each(|b| s.push_str(&b.1));
        return s;
    }
    // The most whole resources that fit together with the note about the rest.
    let mut best = 0;
    let mut used = header.len();
    for k in 0..=blocks.len() {
        if used + left_out_note(&blocks[k..], max_bytes).len() <= max_bytes {
            best = k;
        }
        if k < blocks.len() {
            used += blocks[k].1.len();
            if used > max_bytes {
                break;
            }
        }
    }
    let note = left_out_note(&blocks[best..], max_bytes);
    let mut s = header;
    if s.len() + note.len() > max_bytes {
        cut(&mut s, max_bytes.saturating_sub(note.len()));
    }
    blocks[..best].iter().for_each(|b| s.push_str(&b.1));
    s.push_str(&note);
    if s.len() > max_bytes {
        cut(&mut s, max_bytes);
    }
    s
}

/// Several comments, each within `max_bytes`, holding every resource: the first with the
/// summary, the others numbered. A resource larger than a whole comment is cut, saying so.
pub fn split(report: &DiffReport, max_bytes: usize) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = header(report);
    if cur.len() > max_bytes {
        cut(&mut cur, max_bytes);
    }
    for (_, block) in blocks(report) {
        if cur.len() + block.len() <= max_bytes {
            cur.push_str(&block);
            continue;
        }
        parts.push(std::mem::take(&mut cur));
        cur = format!("## strata diff (part {})\n\n", parts.len() + 1);
        if cur.len() + block.len() <= max_bytes {
            cur.push_str(&block);
        } else {
            let room = max_bytes.saturating_sub(cur.len());
            let mut b = block;
            let note = "\n\n*(this resource's diff was cut to fit the comment size budget)*\n";
            cut(&mut b, room.saturating_sub(note.len() + 40));
            b.push_str("\n````````\n</details>");
            b.push_str(note);
            if b.len() > room {
                cut(&mut b, room);
            }
            cur.push_str(&b);
        }
    }
    parts.push(cur);
    parts
}

/// Cuts `s` to at most `max` bytes, at a character boundary.
fn cut(s: &mut String, max: usize) {
    if s.len() <= max {
        return;
    }
    let mut i = max;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    s.truncate(i);
}

fn left_out_note(rest: &[(String, String)], max_bytes: usize) -> String {
    if rest.is_empty() {
        return String::new();
    }
    let mut names: Vec<String> = rest.iter().take(20).map(|b| b.0.clone()).collect();
    if rest.len() > 20 {
        names.push(format!("and {} more", rest.len() - 20));
    }
    format!(
        "\n> [!NOTE]\n> **{} resource diff(s) left out** to keep this comment within {} bytes: {}. \
         Run `strata diff` locally, or use `--split DIR` to post every resource.\n",
        rest.len(),
        max_bytes,
        esc(&names.join(", "))
    )
}

fn header(report: &DiffReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "## strata diff\n");
    let _ = writeln!(
        s,
        "Comparing **{}** → **{}**.\n",
        esc(&report.base),
        esc(&report.head)
    );
    let _ = writeln!(
        s,
        "| environment | added | removed | changed | unchanged | lines |\n|---|--:|--:|--:|--:|--:|"
    );
    for e in &report.envs {
        let _ = writeln!(
            s,
            "| `{}` | {} | {} | {} | {} | +{} −{} |",
            e.name.replace('|', "\\|"),
            e.added,
            e.removed,
            e.changed,
            e.unchanged,
            e.added_lines,
            e.removed_lines
        );
    }
    s.push('\n');
    if !report.has_differences() {
        s.push_str("No differences.\n\n");
    }
    if report.envs.len() > 1 && !report.matrix.is_empty() {
        s.push_str("### Environments each change touches\n\n| change |");
        for e in &report.envs {
            let _ = write!(s, " `{}` |", e.name.replace('|', "\\|"));
        }
        s.push_str("\n|---|");
        s.push_str(&":-:|".repeat(report.envs.len()));
        s.push('\n');
        for row in report.matrix.iter().take(MATRIX_ROWS) {
            let _ = write!(s, "| {} |", cell(&row.change));
            for e in &report.envs {
                s.push_str(if row.envs.contains(&e.name) {
                    " ✓ |"
                } else {
                    " |"
                });
            }
            s.push('\n');
        }
        if report.matrix.len() > MATRIX_ROWS {
            let _ = writeln!(
                s,
                "\n…and {} more changes.",
                report.matrix.len() - MATRIX_ROWS
            );
        }
        s.push('\n');
    }
    let all = |pick: fn(&EnvDiff) -> &Vec<Finding>| -> Vec<(&str, &Finding)> {
        let mut v: Vec<(&str, &Finding)> = report
            .envs
            .iter()
            .flat_map(|e| pick(e).iter().map(move |f| (e.name.as_str(), f)))
            .collect();
        // Errors first, across environments.
        v.sort_by_key(|(_, f)| f.severity != "error");
        v
    };
    let introduced = all(|e| &e.findings.introduced);
    let resolved = all(|e| &e.findings.resolved);
    if !introduced.is_empty() {
        s.push_str("### Validation findings introduced\n\n");
        for (env, f) in &introduced {
            finding(
                &mut s,
                env,
                f,
                if f.severity == "error" {
                    "❌"
                } else {
                    "⚠️"
                },
            );
        }
        s.push('\n');
    }
    if !resolved.is_empty() {
        s.push_str("### Validation findings resolved\n\n");
        for (env, f) in &resolved {
            finding(&mut s, env, f, "✅");
        }
        s.push('\n');
    }
    if report.secrets_masked {
        s.push_str(
            "Secret values are masked as `<secret sha256:…>` (a short hash: equal hashes, equal values).\n\n",
        );
    }
    s
}

fn finding(s: &mut String, env: &str, f: &Finding, icon: &str) {
    let _ = writeln!(
        s,
        "- {icon} **{}** `{}` {} `{}` in `{}`: {} ({})",
        f.severity,
        f.code,
        esc(&f.resource),
        f.path.replace('`', "'"),
        env.replace('`', "'"),
        esc(&f.message),
        esc(&f.location)
    );
}

fn cell(s: &str) -> String {
    esc(s).replace('|', "\\|")
}

/// Per resource: (a short name for the left-out note, the `<details>` block).
fn blocks(report: &DiffReport) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for e in &report.envs {
        for r in &e.resources {
            out.push((format!("{} in {}", r.title(), e.name), block(&e.name, r)));
        }
    }
    out
}

fn block(env: &str, r: &ResourceDiff) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<details>\n<summary><code>{}</code> · <b>{}</b> (+{} −{})</summary>\n",
        esc(env),
        esc(&r.title()),
        r.added_lines,
        r.removed_lines
    );
    for h in &r.highlights {
        let _ = writeln!(s, "- ⚠️ {}", esc(h));
    }
    if !r.highlights.is_empty() {
        s.push('\n');
    }
    let caused: Vec<_> = r.fields.iter().filter(|f| f.by.is_some()).collect();
    if !caused.is_empty() {
        s.push_str("| field | set by |\n|---|---|\n");
        for f in caused {
            let _ = writeln!(
                s,
                "| `{}` | {} |",
                f.path.replace(['`', '|'], "'"),
                cell(f.by.as_deref().unwrap_or_default())
            );
        }
        s.push('\n');
    }
    let longest = longest_backtick_run(&r.unified);
    let fence = "`".repeat(longest.max(2) + 1);
    let _ = writeln!(s, "{fence}diff\n{}{fence}\n\n</details>\n", r.unified);
    s
}

fn longest_backtick_run(s: &str) -> usize {
    let (mut best, mut cur) = (0, 0);
    for c in s.chars() {
        if c == '`' {
            cur += 1;
            best = best.max(cur);
        } else {
            cur = 0;
        }
    }
    best
}
