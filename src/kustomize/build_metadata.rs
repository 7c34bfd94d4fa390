//! `buildMetadata: [originAnnotations, transformerAnnotations]`: kustomize's record, in
//! annotations, of where each object came from (`config.kubernetes.io/origin`: the file it
//! was read from, or the generator that made it) and of every transformer that ran over it
//! (`alpha.config.kubernetes.io/transformations`), as kustomize writes them
//! (`api/resource/origin.go`, `resWrangler.AddOriginAnnotation` and
//! `AddTransformerAnnotation`):
//!
//! - the top kustomization's `buildMetadata` turns the record on for the whole tree;
//! - paths are relative to the top kustomization's directory (`../base/deployment.yaml`);
//! - an object read from a file gets its path; an object a generator makes gets the
//!   generator's kustomization file (or config file) and kind (`configuredIn`,
//!   `configuredBy`), unless it has an origin already;
//! - after each transformer runs (each builtin a kustomization's fields configure, each
//!   listed config), every object gets one more entry in its transformations, or, without
//!   an origin, the transformer as its origin;
//! - at the end, whichever of the two annotations `buildMetadata` does not list is removed.

use std::path::{Component, Path, PathBuf};

use serde_json::{Map, Value};

use crate::model::Resource;

pub const ORIGIN: &str = "config.kubernetes.io/origin";
pub const TRANSFORMATIONS: &str = "alpha.config.kubernetes.io/transformations";

/// The record for one render: on when the top kustomization asks for it.
#[derive(Debug, Clone)]
pub struct Tracking {
    /// The top kustomization's directory (canonical); paths are written relative to it.
    top: PathBuf,
    /// Where shown paths are relative to (the working directory).
    cwd: Option<PathBuf>,
}

/// One origin: a file, or the config that made or changed an object.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub path: String,
    pub configured_in: String,
    /// `apiVersion`, `kind`, `name`, `namespace` of the config.
    pub configured_by: [String; 4],
}

impl Tracking {
    pub fn new(top: &Path) -> Tracking {
        Tracking {
            top: top.to_path_buf(),
            cwd: std::env::current_dir()
                .ok()
                .and_then(|d| d.canonicalize().ok()),
        }
    }

    /// A path as the record writes it: relative to the top kustomization's directory.
    /// `path` is canonical, or shown (relative to the working directory).
    pub fn rel(&self, path: &Path) -> String {
        let abs = match (&self.cwd, path.is_absolute()) {
            (_, true) | (None, _) => path.to_path_buf(),
            (Some(cwd), false) => cwd.join(path),
        };
        relative(&abs, &self.top)
    }

    /// The origin of an object read from the file at `path`.
    pub fn file(&self, path: &Path) -> Origin {
        Origin {
            path: self.rel(path),
            ..Origin::default()
        }
    }

    /// The origin of what a builtin of the kustomization in `kustomization` (its file) does.
    pub fn builtin(&self, kustomization: &Path, kind: &str) -> Origin {
        Origin {
            configured_in: self.rel(kustomization),
            configured_by: ["builtin".into(), kind.into(), String::new(), String::new()],
            ..Origin::default()
        }
    }

    /// The origin of what a listed config (read from `file`; its apiVersion, kind, name and
    /// namespace) does.
    pub fn config_identity(&self, file: &Path, identity: &[String; 4]) -> Origin {
        Origin {
            configured_in: self.rel(file),
            configured_by: identity.clone(),
            ..Origin::default()
        }
    }
}

/// `path` relative to `base` (both absolute), with `..` where it leaves it.
fn relative(path: &Path, base: &Path) -> String {
    let p: Vec<Component<'_>> = path.components().collect();
    let b: Vec<Component<'_>> = base.components().collect();
    let common = p.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for c in &p[common..] {
        out.push(c.as_os_str());
    }
    out.display().to_string()
}

impl Origin {
    /// kustomize's YAML of an origin (fields in its order, empty ones left out), each line
    /// indented by `indent` after the first.
    fn yaml(&self, first: &str, indent: &str) -> String {
        let scalar = |s: &str| {
            crate::yaml::to_yaml(&Value::String(s.to_string()))
                .trim_end()
                .to_string()
        };
        let mut lines: Vec<String> = Vec::new();
        for (k, v) in [("path", &self.path), ("configuredIn", &self.configured_in)] {
            if !v.is_empty() {
                lines.push(format!("{k}: {}", scalar(v)));
            }
        }
        let by: Vec<String> = ["apiVersion", "kind", "name", "namespace"]
            .iter()
            .zip(&self.configured_by)
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("  {k}: {}", scalar(v)))
            .collect();
        if !by.is_empty() {
            lines.push("configuredBy:".into());
            lines.extend(by);
        }
        let mut out = String::new();
        for (i, l) in lines.iter().enumerate() {
            out.push_str(if i == 0 { first } else { indent });
            out.push_str(l);
            out.push('\n');
        }
        out
    }
}

fn annotations(r: &mut Resource) -> crate::model::MetadataMut<'_> {
    r.metadata_mut()
}

fn annotation(r: &Resource, key: &str) -> Option<String> {
    r.metadata()?
        .get("annotations")?
        .get(key)?
        .as_str()
        .map(str::to_string)
}

fn set_annotation(r: &mut Resource, key: &str, value: String) {
    let mut md = annotations(r);
    let a = md
        .entry("annotations")
        .or_insert_with(|| Value::Object(Map::new()));
    if !a.is_object() {
        *a = Value::Object(Map::new());
    }
    a.as_object_mut()
        .expect("a mapping")
        .insert(key.into(), Value::String(value));
}

/// An object read from a file: its origin, whatever it had.
pub fn set(r: &mut Resource, origin: &Origin) {
    set_annotation(r, ORIGIN, origin.yaml("", ""));
}

/// kustomize's `AddOriginAnnotation`: the origin, where an object has none.
pub fn add(r: &mut Resource, origin: &Origin) {
    if annotation(r, ORIGIN).is_none() {
        set(r, origin);
    }
}

/// kustomize's `AddTransformerAnnotation`, for every object of `set`, `times` times.
pub fn transformed(set: &mut [Resource], origin: &Origin, times: usize) {
    for _ in 0..times {
        let item = origin.yaml("- ", "  ");
        for r in set.iter_mut() {
            if annotation(r, ORIGIN).is_none() {
                self::set(r, origin);
                continue;
            }
            let mut text = annotation(r, TRANSFORMATIONS).unwrap_or_default();
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&item);
            set_annotation(r, TRANSFORMATIONS, text);
        }
    }
}

/// The end of a render: the annotations `buildMetadata` did not ask for are removed.
pub fn finish(set: &mut [Resource], keep_origin: bool, keep_transformations: bool) {
    for r in set.iter_mut() {
        let has = |k: &str| annotation(r, k).is_some();
        let drop_origin = !keep_origin && has(ORIGIN);
        let drop_transformations = !keep_transformations && has(TRANSFORMATIONS);
        if !(drop_origin || drop_transformations) {
            continue;
        }
        let mut md = r.metadata_mut();
        if let Some(Value::Object(a)) = md.get_mut("annotations") {
            if drop_origin {
                a.shift_remove(ORIGIN);
            }
            if drop_transformations {
                a.shift_remove(TRANSFORMATIONS);
            }
            if a.is_empty() {
                md.shift_remove("annotations");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_written_as_kustomize_writes_them() {
        let o = Origin {
            configured_in: "../base/kustomization.yaml".into(),
            configured_by: [
                "builtin".into(),
                "PrefixTransformer".into(),
                String::new(),
                String::new(),
            ],
            ..Origin::default()
        };
        assert_eq!(
            o.yaml("- ", "  "),
            "- configuredIn: ../base/kustomization.yaml\n  configuredBy:\n    apiVersion: builtin\n    kind: PrefixTransformer\n"
        );
        let f = Origin {
            path: "deployment.yaml".into(),
            ..Origin::default()
        };
        assert_eq!(f.yaml("", ""), "path: deployment.yaml\n");
        assert_eq!(
            relative(Path::new("/a/base/d.yaml"), Path::new("/a/prod")),
            "../base/d.yaml"
        );
        assert_eq!(
            relative(Path::new("/a/prod/d.yaml"), Path::new("/a/prod")),
            "d.yaml"
        );
    }
}
