//! `strata argocd discover [DIR]`: the plugin's `discover.find` step without a shell (the
//! sidecar image has none). Argo CD takes any output as "this plugin renders the app", so a
//! match prints the plugin's name and anything else prints nothing; both exit 0.
//!
//! An app matches when its source path is a kustomization (`kustomization.yaml`,
//! `kustomization.yml` or `Kustomization`) and one of the YAML files directly in it has a
//! top-level `apiVersion: strata.dev/...`: a strata transformer kind or a ClusterProfile.
//! Files are read as text, line by line, so a file that does not parse still cannot make
//! discovery fail.

use std::path::Path;

use crate::kustomize::load::kustomization::FILE_NAMES;

/// The API group of strata's kinds.
pub const GROUP_PREFIX: &str = "strata.dev/";

/// Does `dir` hold a kustomization that uses strata's kinds? Unreadable files and
/// directories count as no match.
pub fn matches(dir: &Path) -> bool {
    if !FILE_NAMES.iter().any(|n| dir.join(n).is_file()) {
        return false;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    let mut files: Vec<_> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let yaml = matches!(p.extension().and_then(|x| x.to_str()), Some("yaml" | "yml"))
                || p.file_name().is_some_and(|n| n == "Kustomization");
            yaml && p.is_file()
        })
        .collect();
    files.sort();
    files.iter().any(|f| {
        std::fs::read(f).is_ok_and(|bytes| uses_strata_kinds(&String::from_utf8_lossy(&bytes)))
    })
}

/// Does a YAML text have a top-level `apiVersion: strata.dev/...` (plain or quoted)?
pub fn uses_strata_kinds(text: &str) -> bool {
    text.lines().any(|line| {
        let Some(value) = line.strip_prefix("apiVersion:") else {
            return false;
        };
        let value = value.trim_start().trim_start_matches(['"', '\'']);
        value.starts_with(GROUP_PREFIX)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_versions() {
        assert!(uses_strata_kinds(
            "---\napiVersion: strata.dev/v1alpha1\nkind: HostNetwork\n"
        ));
        assert!(uses_strata_kinds("apiVersion:   \"strata.dev/v1alpha1\"\n"));
        assert!(uses_strata_kinds("apiVersion: 'strata.dev/v1'\r\n"));
        assert!(!uses_strata_kinds(
            "apiVersion: apps/v1\nkind: Deployment\n"
        ));
        // Nested (an embedded object) or commented out: not the file's own kind.
        assert!(!uses_strata_kinds("data:\n  apiVersion: strata.dev/v1\n"));
        assert!(!uses_strata_kinds("# apiVersion: strata.dev/v1\n"));
        assert!(!uses_strata_kinds("apiVersion: strata.devx/v1\n"));
    }
}
