//! `--format markdown`: a pull-request comment. A summary table (environments with the same
//! changes on one row), the environments that failed to render, the matrix of which
//! environments each change touches, the validation findings the change introduces (errors
//! first) and resolves, then one collapsible `<details>` per distinct change (a change made
//! the same way in many environments once) with a ```` ```diff ```` block. A comment has a size budget (`--max-bytes`): whole resources are
//! included until it runs out, then a note names what was left out; `split` packs every
//! resource into numbered comments instead.

use std::fmt::Write;

use super::escape_html as esc;
use super::group::ChangeGroup;
use super::model::{DiffReport, EnvDiff, Finding, ResourceDiff};

/// Rows of the environment matrix shown before it is cut short.
const MATRIX_ROWS: usize = 50;

/// Columns (groups of environments) of the matrix before it becomes a list.
const MATRIX_COLUMNS: usize = 8;

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
    for (name, block) in blocks(report) {
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
            cur.push_str(&cut_block(&name, block, room));
        }
    }
    parts.push(cur);
    parts
}

/// A resource's block cut to `room` bytes and still well-formed: the diff cut inside its code
/// fence, which is then closed with `</details>`; when not even the summary and the fence's
/// first line fit (a summary of many long names), a note naming the resource instead, since a
/// cut before the fence opened would leave the closing fence opening a code block that
/// swallows `</details>` and the rest of the comment.
fn cut_block(name: &str, mut b: String, room: usize) -> String {
    // Closed by a fence as long as the block's own (longer than any run of backticks in the
    // diff), or the rest of the comment would be read as code.
    let fence = "`".repeat(longest_backtick_run(&b).max(8));
    let suffix = format!(
        "\n{fence}\n</details>\n\n*(this resource's diff was cut to fit the comment size budget)*\n"
    );
    let diff_opens = b
        .match_indices('\n')
        .map(|(i, _)| i + 1)
        .find(|&i| b[i..].starts_with("```"))
        .and_then(|i| b[i..].find('\n').map(|j| i + j + 1));
    if let Some(opened) = diff_opens
        && room >= opened + suffix.len()
    {
        cut(&mut b, room - suffix.len());
        b.push_str(&suffix);
        return b;
    }
    let mut shown = name.to_string();
    cut(&mut shown, 200);
    let mut note = format!(
        "\n> [!NOTE]\n> The diff of **{}** is larger than a comment: run `strata diff` locally.\n",
        esc(&shown)
    );
    cut(&mut note, room);
    note
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
    summary(&mut s, report);
    applications(&mut s, report);
    failures(&mut s, report);
    if !report.has_differences() && !report.has_failures() {
        s.push_str("No differences.\n\n");
    }
    matrix(&mut s, report);
    let findings = |s: &mut String, introduced: bool, title: &str| {
        let list: Vec<_> = report
            .findings
            .iter()
            .filter(|g| g.introduced == introduced)
            .collect();
        if list.is_empty() {
            return;
        }
        let _ = writeln!(s, "### {title}\n");
        for g in list {
            let icon = match (introduced, g.finding.severity.as_str()) {
                (false, _) => "✅",
                (true, "error") => "❌",
                (true, _) => "⚠️",
            };
            finding(s, &g.folded, &g.finding, icon);
        }
        s.push('\n');
    };
    findings(&mut s, true, "Validation findings introduced");
    findings(&mut s, false, "Validation findings resolved");
    if report.secrets_masked {
        s.push_str(
            "Secret values are masked as `<secret sha256:…>` (a short hash: equal hashes, equal values).\n\n",
        );
    }
    s
}

/// One row per group of environments with the same changes.
fn summary(s: &mut String, report: &DiffReport) {
    let many = report.columns.iter().any(|c| c.envs.len() > 1);
    let _ = writeln!(
        s,
        "| {} | added | removed | changed | unchanged | lines |\n|---|--:|--:|--:|--:|--:|",
        if many { "environments" } else { "environment" }
    );
    for c in &report.columns {
        let members: Vec<&EnvDiff> = c.members.iter().map(|&i| &report.envs[i]).collect();
        let e = members[0];
        if !e.failures.is_empty() {
            let sides: Vec<&str> = e.failures.iter().map(|f| f.side.as_str()).collect();
            let _ = writeln!(
                s,
                "| {} | ❌ the {} does not render | | | | |",
                names(&c.folded),
                sides.join(" and the ")
            );
            continue;
        }
        let lo = members.iter().map(|m| m.unchanged).min().unwrap_or(0);
        let hi = members.iter().map(|m| m.unchanged).max().unwrap_or(0);
        let unchanged = if lo == hi {
            lo.to_string()
        } else {
            format!("{lo}–{hi}")
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {unchanged} | +{} −{} |",
            names(&c.folded),
            e.added,
            e.removed,
            e.changed,
            e.added_lines,
            e.removed_lines
        );
    }
    s.push('\n');
}

/// With `--argocd`: which Applications the change affects, where each goes and from what;
/// the untouched ones on one line.
fn applications(s: &mut String, report: &DiffReport) {
    if report.apps.is_empty() {
        return;
    }
    let (same, rest): (Vec<_>, Vec<_>) = report.apps.iter().partition(|a| a.status == "unchanged");
    s.push_str("### Applications\n\n");
    if !rest.is_empty() {
        s.push_str("| application | destination | source | this change |\n|---|---|---|---|\n");
        for a in &rest {
            let _ = writeln!(
                s,
                "| `{}` | {} | {} | {} |",
                a.name.replace(['`', '|'], "'"),
                cell(&a.destination),
                cell(&a.source),
                cell(&a.status)
            );
        }
        s.push('\n');
    }
    if !same.is_empty() {
        let names: Vec<String> = same.iter().map(|a| a.name.clone()).collect();
        let _ = writeln!(
            s,
            "Not touched by this change ({}): {}.\n",
            same.len(),
            esc(&super::group::fold(
                &names,
                &names
                    .iter()
                    .chain(rest.iter().map(|a| &a.name))
                    .cloned()
                    .collect::<Vec<_>>()
            ))
        );
    }
}

/// A folded list of environment names as a table cell.
fn names(folded: &str) -> String {
    format!("`{}`", folded.replace(['`', '|'], "'"))
}

fn failures(s: &mut String, report: &DiffReport) {
    let failed: Vec<&EnvDiff> = report
        .envs
        .iter()
        .filter(|e| !e.failures.is_empty())
        .collect();
    if failed.is_empty() {
        return;
    }
    s.push_str("### Render failures\n\nThese environments are not compared; the others are.\n\n");
    for e in failed {
        for f in &e.failures {
            let _ = writeln!(
                s,
                "- ❌ `{}`: the **{}** ({}) does not render:\n",
                e.name.replace('`', "'"),
                f.side,
                esc(&f.label)
            );
            let fence = "`".repeat(longest_backtick_run(&f.message).max(2) + 1);
            let _ = writeln!(s, "  {fence}text");
            for line in f.message.trim_end().lines() {
                let _ = writeln!(s, "  {line}");
            }
            let _ = writeln!(s, "  {fence}\n");
        }
    }
}

/// Which environments each change touches, environments with the same changes folded into
/// one column; with many columns, a list.
fn matrix(s: &mut String, report: &DiffReport) {
    let columns: Vec<_> = report
        .columns
        .iter()
        .filter(|c| !c.changes.is_empty())
        .collect();
    if report.envs.len() < 2 || report.matrix.is_empty() || report.columns.len() < 2 {
        return;
    }
    s.push_str("### Environments each change touches\n\n");
    if columns.len() > MATRIX_COLUMNS {
        s.push_str("| change | environments |\n|---|---|\n");
        for row in report.matrix.iter().take(MATRIX_ROWS) {
            let all: Vec<String> = report.envs.iter().map(|e| e.name.clone()).collect();
            let _ = writeln!(
                s,
                "| {} | {} |",
                cell(&row.change),
                names(&super::group::fold(&row.envs, &all))
            );
        }
    } else {
        s.push_str("| change |");
        for c in &columns {
            let _ = write!(s, " {} |", names(&c.folded));
        }
        s.push_str("\n|---|");
        s.push_str(&":-:|".repeat(columns.len()));
        s.push('\n');
        for row in report.matrix.iter().take(MATRIX_ROWS) {
            let _ = write!(s, "| {} |", cell(&row.change));
            for c in &columns {
                s.push_str(if c.envs.iter().any(|e| row.envs.contains(e)) {
                    " ✓ |"
                } else {
                    " |"
                });
            }
            s.push('\n');
        }
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

fn finding(s: &mut String, envs: &str, f: &Finding, icon: &str) {
    let _ = writeln!(
        s,
        "- {icon} **{}** `{}` {} `{}` in `{}`: {} ({})",
        f.severity,
        f.code,
        esc(&f.resource),
        f.path.replace('`', "'"),
        envs.replace('`', "'"),
        esc(&f.message),
        esc(&f.location)
    );
}

fn cell(s: &str) -> String {
    esc(s).replace('|', "\\|")
}

/// Per distinct change: (a short name for the left-out note, the `<details>` block).
fn blocks(report: &DiffReport) -> Vec<(String, String)> {
    report
        .groups
        .iter()
        .map(|g| {
            let r = &report.envs[g.at.0].resources[g.at.1];
            (format!("{} in {}", r.title(), g.folded), block(g, r))
        })
        .collect()
}

fn block(g: &ChangeGroup, r: &ResourceDiff) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<details>\n<summary><code>{}</code> · <b>{}</b> (+{} −{})</summary>\n",
        esc(&g.folded),
        esc(&r.title()),
        r.added_lines,
        r.removed_lines
    );
    if g.envs.len() > 1 {
        let which = if g.folded.contains(" environments") {
            esc(&g.folded)
        } else {
            format!("{} environments: {}", g.envs.len(), esc(&g.folded))
        };
        let _ = writeln!(
            s,
            "The same change in {which}{}.\n",
            if g.exact {
                String::new()
            } else {
                format!(
                    " (shown for `{}`; the others differ only in values their base renders already differ in, such as the region)",
                    g.envs[0].replace('`', "'")
                )
            }
        );
    }
    for h in &r.highlights {
        let icon = if h.is_breaking() { "⚠️" } else { "ℹ️" };
        let _ = writeln!(s, "- {icon} {}", esc(&h.message));
    }
    if !r.highlights.is_empty() {
        s.push('\n');
    }
    if !g.set_by.is_empty() {
        s.push_str("| field | set by |\n|---|---|\n");
        for (path, by) in &g.set_by {
            let shown = match by.as_slice() {
                [one] => one.clone(),
                many => format!(
                    "each environment's own entry: {}{}",
                    many.iter().take(3).cloned().collect::<Vec<_>>().join("; "),
                    if many.len() > 3 {
                        format!("; and {} more", many.len() - 3)
                    } else {
                        String::new()
                    }
                ),
            };
            let _ = writeln!(
                s,
                "| `{}` | {} |",
                path.replace(['`', '|'], "'"),
                cell(&shown)
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
