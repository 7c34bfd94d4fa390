//! SARIF 2.1.0: one run, the rules as `tool.driver.rules`, each result with a field-level
//! region and the other party / overlay line as related locations.

use serde_json::{Value, json};

use crate::validate::{Report, Severity, registry};

pub fn render(report: &Report) -> String {
    let rules: Vec<Value> = registry()
        .iter()
        .map(|r| {
            json!({
                "id": r.doc.code,
                "name": r.doc.name,
                "shortDescription": {"text": r.doc.summary},
                "fullDescription": {"text": r.doc.why},
                "help": {"text": r.doc.fix},
                "defaultConfiguration": {"level": match r.doc.severity { Severity::Error => "error", Severity::Warning => "warning" }},
            })
        })
        .collect();
    let indexes: std::collections::HashMap<&str, usize> = registry()
        .iter()
        .enumerate()
        .map(|(i, r)| (r.doc.code, i))
        .collect();
    let index_of = |code: &str| indexes.get(code).copied().unwrap_or(0);
    let results: Vec<Value> = report
        .diagnostics
        .iter()
        .map(|d| {
            let related: Vec<Value> = d
                .related
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    json!({
                        "id": i,
                        "message": {"text": r.message},
                        "physicalLocation": {
                            "artifactLocation": {"uri": r.location.file},
                            "region": {"startLine": r.location.line, "startColumn": r.location.column},
                        },
                    })
                })
                .collect();
            json!({
                "ruleId": d.code,
                "ruleIndex": index_of(d.code),
                "level": match d.severity { Severity::Error => "error", Severity::Warning => "warning" },
                "message": {"text": if d.environments.is_empty() {
                    format!("{} Fix: {}", d.message, d.fix)
                } else {
                    format!("{} (in {}) Fix: {}", d.message, super::environments(d, report), d.fix)
                }},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": d.location.file},
                        "region": {"startLine": d.location.line, "startColumn": d.location.column},
                    },
                    "logicalLocations": [{"fullyQualifiedName": format!("{}{}", d.resource, d.path)}],
                }],
                "relatedLocations": related,
                "properties": {"jsonPointer": d.path, "environments": d.environments},
            })
        })
        .collect();
    let v = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "strata",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
        }],
    });
    serde_json::to_string_pretty(&v).expect("JSON values serialize") + "\n"
}
