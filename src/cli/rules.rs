//! `strata rules [CODE]`: the rules, or one rule's documentation.

use clap::Args;

use super::exit;
use crate::validate::{RuleDoc, registry};

#[derive(Debug, Args)]
pub struct RulesArgs {
    /// A rule code (e.g. PT001): print its documentation.
    pub code: Option<String>,
    /// Print every rule's documentation as Markdown (the source of docs/rules.md).
    #[arg(long, conflicts_with = "code")]
    pub markdown: bool,
}

/// One rule's documentation as Markdown (also the source of docs/rules.md).
pub fn doc_markdown(d: &RuleDoc) -> String {
    format!(
        "## {} {}\n\nDefault severity: {}.\n\n{}.\n\n**Why.** {}\n\n**Example.**\n\n```yaml\n{}\n```\n\n**Fix.** {}\n",
        d.code,
        d.name,
        d.severity.as_str(),
        upper_first(d.summary),
        squash(d.why),
        d.example,
        squash(d.fix)
    )
}

fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// docs/rules.md, generated from the rules' own documentation.
pub fn rules_markdown() -> String {
    let mut out = String::from(
        "# Validation rules\n\nGenerated from the rules' source by `strata rules --markdown`; a test keeps it current.\n\n| code | name | severity | summary |\n|---|---|---|---|\n",
    );
    for r in registry() {
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            r.doc.code,
            r.doc.name,
            r.doc.severity.as_str(),
            r.doc.summary
        ));
    }
    for r in registry() {
        out.push('\n');
        out.push_str(&doc_markdown(&r.doc));
    }
    out
}

pub fn run(args: &RulesArgs) -> u8 {
    let text = match &args.code {
        None if args.markdown => rules_markdown(),
        None => {
            let mut s = String::new();
            for r in registry() {
                s.push_str(&format!(
                    "{}  {:<7}  {:<34} {}\n",
                    r.doc.code,
                    r.doc.severity.as_str(),
                    r.doc.name,
                    r.doc.summary
                ));
            }
            s
        }
        Some(code) => match registry()
            .into_iter()
            .find(|r| r.doc.code.eq_ignore_ascii_case(code))
        {
            Some(r) => doc_markdown(&r.doc),
            None => {
                eprintln!("error: no rule `{code}`; `strata rules` lists them");
                return exit::ERROR;
            }
        },
    };
    match super::write_stdout(&text) {
        Ok(()) => exit::OK,
        Err(_) => exit::ERROR,
    }
}
