//! Diagnostics renderers: human (rustc-like, with the source line), JSON, SARIF 2.1.0 (for
//! GitHub code scanning) and GitHub workflow annotations. All read the same `Report`.

mod github;
mod human;
mod json;
mod sarif;

use crate::kustomize::load::Loader;
use crate::validate::{Diagnostic, Report};

/// The kustomizations a finding was found in, folded (`overlays/cn-* (20)`, `all 3
/// environments`), when several were validated together.
fn environments(d: &Diagnostic, report: &Report) -> String {
    crate::diff::group::fold(&d.environments, &report.environments)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    #[default]
    Human,
    Json,
    Sarif,
    Github,
}

/// The whole report text in `format`.
pub fn render(report: &Report, format: Format, loader: &Loader, color: bool) -> String {
    match format {
        Format::Human => human::render(report, loader, color),
        Format::Json => json::render(report),
        Format::Sarif => sarif::render(report),
        Format::Github => github::render(report),
    }
}
