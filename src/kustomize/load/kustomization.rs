//! The `kustomization.yaml` file: its fields, checked strictly. A field strata does not
//! support yet is an error naming the field and its line, never silently ignored.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::kustomize::load::{LoadedFile, Loader};
use crate::yaml;

/// The file names kustomize looks for, in its order.
pub const FILE_NAMES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// The apiVersion of each kind, as kustomize requires it.
pub const KUSTOMIZATION_API_VERSION: &str = "kustomize.config.k8s.io/v1beta1";
pub const COMPONENT_API_VERSION: &str = "kustomize.config.k8s.io/v1alpha1";

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

    /// Read by `builtins::names`.
    pub name_prefix: Option<Value>,
    pub name_suffix: Option<Value>,
    /// Read by `builtins::generators`.
    pub config_map_generator: Option<Value>,
    pub secret_generator: Option<Value>,
    pub generator_options: Option<Value>,

    /// Read by `builtins::replacements`.
    pub replacements: Option<Value>,
    /// Read by `configurations`.
    pub configurations: Option<Value>,
    /// The schema strategic merge patches take merge keys from (`schema::openapi`).
    pub openapi: Option<OpenApiField>,
    /// Files of legacy OpenAPI definitions whose `x-kubernetes-*` annotations add field
    /// specs (`schema::crds`).
    #[serde(default)]
    pub crds: Vec<String>,
    // Known to kustomize, not supported by strata yet: each is an error when non-empty.
    pub vars: Option<Value>,
    pub helm_charts: Option<Value>,
    pub helm_globals: Option<Value>,
    pub helm_chart_inflation_generator: Option<Value>,
    pub image_tags: Option<Value>,
    /// Generator configs: kustomize builtins and exec KRM functions (`listed`).
    #[serde(default)]
    pub generators: Vec<String>,
    /// Files holding a strata `ClusterProfile` (the cluster this overlay targets).
    #[serde(default)]
    pub validators: Vec<String>,
    /// `originAnnotations`, `transformerAnnotations`, `managedByLabel`.
    #[serde(default)]
    pub build_metadata: Vec<String>,
}

impl Kustomization {
    /// Does `buildMetadata` list `option`?
    pub fn build_metadata_has(&self, option: &str) -> bool {
        self.build_metadata.iter().any(|o| o == option)
    }
}

/// `openapi:`: a custom schema file, or the built-in schema's version.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenApiField {
    pub path: Option<String>,
    pub version: Option<String>,
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
            .at_opt(self.file.locate(0, path))
    }

    /// An error located at the key of a field (`namePrefix:`), not at its value, which may
    /// start on a later line.
    pub fn error_at_key(&self, path: &[&str], message: impl Into<String>) -> Error {
        Error::new(message)
            .in_file(&self.file.display)
            .at_opt(locate_key(&self.file.src, path))
    }

    pub fn display(&self) -> &Path {
        &self.file.display
    }
}

/// Where the key of the field at `path` (in the first document) is written: `(line, column)`,
/// 1-based. Falls back to the value's position (see `yaml::locate`).
pub fn locate_key(src: &str, path: &[&str]) -> Option<(usize, usize)> {
    let value_at = yaml::locate(src, 0, path);
    let Some(key) = path
        .last()
        .filter(|k| !k.is_empty() && k.parse::<usize>().is_err())
    else {
        return value_at;
    };
    if let Some(at) = value_at.and_then(|v| key_before(src, key, v)) {
        return Some(at);
    }
    // A top-level field spelled in another case (`nameprefix:`), which kustomize accepts and
    // `normalize_fields` renamed: its unindented line.
    if path.len() == 1 {
        let line = src.lines().position(|l| {
            l.split_once(':').is_some_and(|(k, _)| {
                !k.starts_with([' ', '\t']) && k.trim_matches(['"', '\'']).eq_ignore_ascii_case(key)
            })
        });
        if let Some(i) = line {
            return Some((i + 1, 1));
        }
    }
    value_at
}

/// The last occurrence of `key` at or before the position `value_at` (where `yaml::locate`
/// found its value): the key itself.
fn key_before(src: &str, key: &str, value_at: (usize, usize)) -> Option<(usize, usize)> {
    let (line, col) = value_at;
    let line_start: usize = src
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    let offset = src[line_start..]
        .char_indices()
        .nth(col.saturating_sub(1))
        .map_or(src.len(), |(i, _)| line_start + i);
    let end = (offset + key.len()).min(src.len());
    let end = (end..=src.len())
        .find(|&i| src.is_char_boundary(i))
        .unwrap_or(src.len());
    let found = src[..end].rfind(key)?;
    let key_line = src[..found].matches('\n').count() + 1;
    let key_col = src[..found]
        .rsplit('\n')
        .next()
        .map_or(0, |l| l.chars().count())
        + 1;
    Some((key_line, key_col))
}

/// serde's "unknown field `x`, expected one of `a`, `b`" (or "expected `a`"): the field and the
/// expected names.
fn unknown_field(message: &str) -> Option<(&str, Vec<&str>)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (field, rest) = rest.split_once('`')?;
    let expected = rest.split('`').skip(1).step_by(2).collect();
    Some((field, expected))
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
    let empty = || {
        Error::new("the kustomization file is empty")
            .in_file(&file.display)
            .help("list what to render (`resources:`, `components:`, generators), as kustomize requires")
    };
    let doc = match file.docs.as_slice() {
        [] => return Err(empty()),
        // kustomize: a kustomization that sets nothing but its apiVersion and kind.
        [one]
            if one
                .value
                .as_object()
                .is_some_and(|m| m.keys().all(|k| k == "apiVersion" || k == "kind")) =>
        {
            return Err(empty());
        }
        [one] => one.value.clone(),
        [_, second, ..] => {
            return Err(
                Error::new("a kustomization file must hold one YAML document")
                    .in_file(&file.display)
                    .at(second.line, 1),
            );
        }
    };
    let doc = normalize_fields(doc);
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
            return Err(match unknown_field(&inner) {
                Some((field, expected)) => {
                    let help = match crate::error::closest(field, &expected) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => format!(
                            "check the spelling; fields here are those of kustomize v5 \
                             (kustomize.config.k8s.io/v1beta1): {}",
                            expected.join(", ")
                        ),
                    };
                    let mut at = String::new();
                    for seg in &refs[..refs.len().saturating_sub(1)] {
                        if seg.parse::<usize>().is_ok() {
                            at.push_str(&format!("[{seg}]"));
                        } else {
                            if !at.is_empty() {
                                at.push('.');
                            }
                            at.push_str(seg);
                        }
                    }
                    let place = if at.is_empty() {
                        String::new()
                    } else {
                        format!(" in `{at}`")
                    };
                    Error::new(format!(
                        "invalid kustomization: unknown field `{field}`{place}"
                    ))
                    .in_file(&file.display)
                    .at_opt(locate_key(&file.src, &refs))
                    .help(help)
                }
                None => Error::new(format!("invalid kustomization: {inner}"))
                    .in_file(&file.display)
                    .at_opt(file.locate(0, &refs)),
            });
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
            return Err(kf.error_at_key(
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
    // kustomize: each kind has its apiVersion (when one is given).
    let required = match kind {
        KustKind::Kustomization => KUSTOMIZATION_API_VERSION,
        KustKind::Component => COMPONENT_API_VERSION,
    };
    if let Some(v) = kf
        .spec
        .api_version
        .as_deref()
        .filter(|v| !v.is_empty() && *v != required)
    {
        let kind_name = match kind {
            KustKind::Kustomization => "Kustomization",
            KustKind::Component => "Component",
        };
        return Err(kf
            .error_at(
                &["apiVersion"],
                format!("the apiVersion of a {kind_name} is {required}, not `{v}`"),
            )
            .help(format!("write `apiVersion: {required}` (or leave it out)")));
    }
    kf.check_unsupported()?;
    Ok(kf)
}

/// Every top-level field of a kustomization, as kustomize spells it.
const FIELDS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "resources",
    "bases",
    "components",
    "patches",
    "patchesStrategicMerge",
    "patchesJson6902",
    "namespace",
    "commonLabels",
    "labels",
    "commonAnnotations",
    "images",
    "replicas",
    "sortOptions",
    "transformers",
    "namePrefix",
    "nameSuffix",
    "configMapGenerator",
    "secretGenerator",
    "generatorOptions",
    "replacements",
    "vars",
    "configurations",
    "crds",
    "openapi",
    "helmCharts",
    "helmGlobals",
    "helmChartInflationGenerator",
    "imageTags",
    "generators",
    "validators",
    "buildMetadata",
];

/// kustomize reads its file through Go's `encoding/json`, which matches field names without
/// regard to case (`patchesJSON6902` is `patchesJson6902`) and reads an empty field
/// (`components:` followed by nothing) as absent. Do the same before the strict read.
fn normalize_fields(doc: Value) -> Value {
    let Value::Object(map) = doc else { return doc };
    let mut out = serde_json::Map::new();
    for (k, v) in map {
        if v.is_null() {
            continue;
        }
        let key = FIELDS
            .iter()
            .find(|f| f.eq_ignore_ascii_case(&k))
            .map(|f| f.to_string())
            .unwrap_or(k);
        out.insert(key, v);
    }
    Value::Object(out)
}

impl KustFile {
    fn check_unsupported(&self) -> Result<()> {
        let s = &self.spec;
        for (i, option) in s.build_metadata.iter().enumerate() {
            match option.as_str() {
                "managedByLabel" | "originAnnotations" | "transformerAnnotations" => {}
                other => {
                    return Err(self
                        .error_at(
                            &["buildMetadata", &i.to_string()],
                            format!("unknown buildMetadata option `{other}`"),
                        )
                        .help("the options are originAnnotations, transformerAnnotations and managedByLabel"));
                }
            }
        }
        let fields: [(&str, &Option<Value>, &str); 4] = [
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
                    .error_at_key(&[name], format!("`{name}` is not supported by strata yet: {why}"))
                    .help(format!(
                        "remove `{name}` from this kustomization, or render this tree with kustomize"
                    )));
            }
        }
        if let Some(oa) = &s.openapi {
            match (&oa.path, &oa.version) {
                (Some(_), Some(_)) => {
                    return Err(self
                        .error_at_key(
                            &["openapi"],
                            "`openapi` has both `path` and `version`: kustomize cannot use both",
                        )
                        .help(
                            "keep `path` for a custom schema, or `version` for the built-in one",
                        ));
                }
                (Some(p), None) if p.is_empty() => {
                    return Err(self.error_at(&["openapi", "path"], "`openapi.path` is empty"));
                }
                (None, Some(v))
                    if !v.is_empty() && v != crate::kustomize::schema::openapi::BUILTIN_VERSION =>
                {
                    return Err(self
                        .error_at(
                            &["openapi", "version"],
                            format!("the OpenAPI version `{v}` is not built into kustomize v5.5"),
                        )
                        .help(format!(
                            "the only built-in version is {}; for other types give a schema file \
                             with `openapi.path`",
                            crate::kustomize::schema::openapi::BUILTIN_VERSION
                        )));
                }
                _ => {}
            }
        }
        if self.kind == KustKind::Component && s.sort_options.is_some() {
            return Err(self.error_at_key(
                &["sortOptions"],
                "`sortOptions` is not allowed in a Component",
            ));
        }
        Ok(())
    }
}
