//! `{"diagnostics": [...], "summary": {...}}`.

use serde_json::json;

use crate::validate::Report;

pub fn render(report: &Report) -> String {
    let diagnostics: Vec<serde_json::Value> = report
        .diagnostics
        .iter()
        .map(|d| {
            json!({
                "code": d.code,
                "severity": d.severity.as_str(),
                "message": d.message,
                "file": d.location.file,
                "line": d.location.line,
                "column": d.location.column,
                "resource": {
                    "apiVersion": d.resource.api_version(),
                    "kind": d.resource.kind,
                    "namespace": d.resource.namespace,
                    "name": d.resource.name,
                },
                "path": d.path,
                "related": d.related,
                "fix": d.fix,
                "environments": d.environments,
            })
        })
        .collect();
    let v = json!({
        "diagnostics": diagnostics,
        "summary": {
            "errors": report.errors(),
            "warnings": report.warnings(),
            "suppressed": report.suppressed,
            "assumptions": report.assumptions,
        },
    });
    serde_json::to_string_pretty(&v).expect("JSON values serialize") + "\n"
}
