//! `--format json`: the diff model as one JSON document.

use super::model::DiffReport;

pub fn render(report: &DiffReport) -> String {
    let mut s = serde_json::to_string_pretty(report).expect("the diff model serializes");
    s.push('\n');
    s
}
