//! The `kustomization.yaml` file: its fields, checked strictly. A field strata does not
//! support yet is an error naming the field and its line, never silently ignored.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::Value;

use super::{LoadedFile, Loader};
use crate::error::{Error, Result};
use crate::yaml;

/// The file names kustomize looks for, in its order.
pub const FILE_NAMES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KustKind {
    Kustomization,
    Component,
}

/// A kustomization, as read.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Kustomization {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub metadata: Option<Value>,
    #[serde(default)]
    pub resources: Vec<String>,
    #[serde(default)]
    pub bases: Vec<String>,
    #[serde(default)]
    pub components: Vec<String>,
    #[serde(default)]
    pub patches: Vec<PatchEntry>,
    #[serde(default)]
    pub patches_strategic_merge: Vec<String>,
    #[serde(default)]
    pub patches_json6902: Vec<PatchEntry>,
    pub namespace: Option<String>,
    #[serde(default)]
    pub common_labels: IndexMap<String, String>,
    #[serde(default)]
    pub labels: Vec<LabelEntry>,
    #[serde(default)]
    pub common_annotations: IndexMap<String, String>,
    #[serde(default)]
    pub images: Vec<ImageEntry>,
    #[serde(default)]
    pub replicas: Vec<ReplicaEntry>,
    pub sort_options: Option<SortOptions>,
    #[serde(default)]
    pub transformers: Vec<String>,

    // Known to kustomize, not supported by strata yet: each is an error when non-empty.
    pub name_prefix: Option<Value>,
    pub name_suffix: Option<Value>,
    pub config_map_generator: Option<Value>,
    pub secret_generator: Option<Value>,
    pub generator_options: Option<Value>,
    pub replacements: Option<Value>,
    pub vars: Option<Value>,
    pub configurations: Option<Value>,
    pub crds: Option<Value>,
    pub openapi: Option<Value>,
    pub helm_charts: Option<Value>,
    pub helm_globals: Option<Value>,
    pub helm_chart_inflation_generator: Option<Value>,
    pub image_tags: Option<Value>,
    pub generators: Option<Value>,
    pub validators: Option<Value>,
    pub build_metadata: Option<Value>,
}

/// An entry of `patches` or `patchesJson6902`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PatchEntry {
    pub path: Option<String>,
    pub patch: Option<String>,
    pub target: Option<Selector>,
    #[serde(default)]
    pub options: PatchOptions,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PatchOptions {
    #[serde(default)]
    pub allow_name_change: bool,
    #[serde(default)]
    pub allow_kind_change: bool,
    /// strata: a target that matches nothing is an error unless this is set (kustomize is
    /// silent). kustomize reads `options` as a map of booleans, so the tree still builds there.
    #[serde(default)]
    pub allow_no_match: bool,
}

/// kustomize's selector: group/version/kind/name/namespace are anchored regular expressions.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Selector {
    pub group: Option<String>,
    pub version: Option<String>,
    pub kind: Option<String>,
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub label_selector: Option<String>,
    pub annotation_selector: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LabelEntry {
    #[serde(default)]
    pub pairs: IndexMap<String, String>,
    #[serde(default)]
    pub include_selectors: bool,
    #[serde(default)]
    pub include_templates: bool,
    #[serde(default)]
    pub fields: Vec<FieldSpecEntry>,
}

/// A user-written field spec (`labels[].fields`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FieldSpecEntry {
    pub path: String,
    pub group: Option<String>,
    pub version: Option<String>,
    pub kind: Option<String>,
    #[serde(default)]
    pub create: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ImageEntry {
    pub name: String,
    pub new_name: Option<String>,
    pub new_tag: Option<String>,
    pub digest: Option<String>,
    pub tag_suffix: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ReplicaEntry {
    pub name: String,
    pub count: i64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SortOptions {
    pub order: Option<String>,
    pub legacy_sort_options: Option<LegacySortOptions>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LegacySortOptions {
    #[serde(default)]
    pub order_first: Vec<String>,
    #[serde(default)]
    pub order_last: Vec<String>,
}

/// A kustomization read from a directory, with what is needed to point at its lines.
pub struct KustFile {
    pub dir: PathBuf,
    pub file: Arc<LoadedFile>,
    pub kind: KustKind,
    pub spec: Kustomization,
}

impl KustFile {
    /// An error located at a field of this kustomization (`["patches", "2", "path"]`).
    pub fn error_at(&self, path: &[&str], message: impl Into<String>) -> Error {
        Error::new(message)
            .in_file(&self.file.display)
            .at_opt(yaml::locate(&self.file.src, 0, path))
    }

    pub fn display(&self) -> &Path {
        &self.file.display
    }
}

/// Finds and reads the kustomization of a directory.
pub fn read(loader: &Loader, dir: &Path) -> Result<KustFile> {
    let found: Vec<PathBuf> = FILE_NAMES
        .iter()
        .map(|n| dir.join(n))
        .filter(|p| p.is_file())
        .collect();
    let path = match found.as_slice() {
        [] => {
            return Err(Error::new(format!(
                "no kustomization file in {}",
                loader.display_path(dir).display()
            ))
            .help("a directory to render needs a kustomization.yaml (or .yml, or Kustomization)"));
        }
        [one] => one.clone(),
        [first, ..] => {
            return Err(Error::new(format!(
                "several kustomization files in {}: keep one",
                loader.display_path(dir).display()
            ))
            .in_file(&loader.display_path(first)));
        }
    };
    let file = loader.load(&path)?;
    let doc = match file.docs.as_slice() {
        [] => Value::Object(Default::default()),
        [one] => one.value.clone(),
        [_, second, ..] => {
            return Err(
                Error::new("a kustomization file must hold one YAML document")
                    .in_file(&file.display)
                    .at(second.line, 1),
            );
        }
    };
    let spec: Kustomization = match serde_path_to_error::deserialize(doc) {
        Ok(k) => k,
        Err(e) => {
            let path: Vec<String> = e
                .path()
                .iter()
                .map(|seg| match seg {
                    serde_path_to_error::Segment::Seq { index } => index.to_string(),
                    serde_path_to_error::Segment::Map { key } => key.clone(),
                    other => other.to_string(),
                })
                .collect();
            let refs: Vec<&str> = path.iter().map(String::as_str).collect();
            let inner = e.into_inner().to_string();
            let mut err = Error::new(format!("invalid kustomization: {inner}"))
                .in_file(&file.display)
                .at_opt(yaml::locate(&file.src, 0, &refs));
            if inner.contains("unknown field") {
                err = err.help("check the spelling; fields are those of kustomize v5 (kustomize.config.k8s.io/v1beta1)");
            }
            return Err(err);
        }
    };
    let declared = spec.kind.clone();
    let kind = match declared.as_deref() {
        None | Some("") | Some("Kustomization") => KustKind::Kustomization,
        Some("Component") => KustKind::Component,
        Some(other) => {
            let kf = KustFile {
                dir: dir.to_path_buf(),
                file,
                kind: KustKind::Kustomization,
                spec,
            };
            return Err(kf.error_at(
                &["kind"],
                format!(
                    "unknown kustomization kind `{other}`: expected Kustomization or Component"
                ),
            ));
        }
    };
    let kf = KustFile {
        dir: dir.to_path_buf(),
        file,
        kind,
        spec,
    };
    kf.check_unsupported()?;
    Ok(kf)
}

impl KustFile {
    fn check_unsupported(&self) -> Result<()> {
        let s = &self.spec;
        let fields: [(&str, &Option<Value>, &str); 17] = [
            ("namePrefix", &s.name_prefix, "names are not rewritten yet"),
            ("nameSuffix", &s.name_suffix, "names are not rewritten yet"),
            (
                "configMapGenerator",
                &s.config_map_generator,
                "generators are not supported yet",
            ),
            (
                "secretGenerator",
                &s.secret_generator,
                "generators are not supported yet",
            ),
            (
                "generatorOptions",
                &s.generator_options,
                "generators are not supported yet",
            ),
            (
                "replacements",
                &s.replacements,
                "replacements are not supported yet",
            ),
            (
                "vars",
                &s.vars,
                "`vars` is deprecated in kustomize and not supported",
            ),
            (
                "configurations",
                &s.configurations,
                "custom field specs are not supported yet",
            ),
            ("crds", &s.crds, "custom schemas are not supported yet"),
            (
                "openapi",
                &s.openapi,
                "custom schemas are not supported yet",
            ),
            (
                "helmCharts",
                &s.helm_charts,
                "no helm binary is assumed; render the chart first",
            ),
            (
                "helmGlobals",
                &s.helm_globals,
                "no helm binary is assumed; render the chart first",
            ),
            (
                "helmChartInflationGenerator",
                &s.helm_chart_inflation_generator,
                "no helm binary is assumed; render the chart first",
            ),
            ("imageTags", &s.image_tags, "use `images`"),
            (
                "generators",
                &s.generators,
                "generator plugins are not supported yet",
            ),
            (
                "validators",
                &s.validators,
                "validators are not supported yet",
            ),
            (
                "buildMetadata",
                &s.build_metadata,
                "build metadata is not supported yet",
            ),
        ];
        for (name, value, why) in fields {
            let empty = match value {
                None | Some(Value::Null) => true,
                Some(Value::Array(a)) => a.is_empty(),
                Some(Value::Object(o)) => o.is_empty(),
                Some(Value::String(st)) => st.is_empty(),
                _ => false,
            };
            if !empty {
                return Err(self
                    .error_at(&[name], format!("`{name}` is not supported by strata yet: {why}"))
                    .help(format!(
                        "remove `{name}` from this kustomization, or render this tree with kustomize"
                    )));
            }
        }
        if self.kind == KustKind::Component {
            if let Some(so) = &s.sort_options {
                let _ = so;
                return Err(self.error_at(
                    &["sortOptions"],
                    "`sortOptions` is not allowed in a Component",
                ));
            }
        }
        Ok(())
    }
}
