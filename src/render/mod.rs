//! Rendering: the built resources as a YAML stream or JSON documents, produced whole in
//! memory before anything is written, so an error never leaves partial output.

use serde_json::{Number, Value};

use crate::model::Resource;
use crate::yaml;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    #[default]
    Yaml,
    Json,
}

/// The whole output text for a set of resources.
pub fn to_string(resources: &[Resource], format: Format) -> String {
    to_parts(resources, format).concat()
}

/// [`to_string`] in consecutive parts, to write one after the other (a large YAML stream
/// is written on all cores in runs).
pub fn to_parts(resources: &[Resource], format: Format) -> Vec<String> {
    match format {
        Format::Yaml => {
            // `Map` and `Value::Object` serialize the same; borrow without cloning.
            let docs: Vec<MapRef<'_>> = resources.iter().map(|r| MapRef(r.obj())).collect();
            yaml::to_yaml_parts(&docs)
        }
        Format::Json => {
            let mut out = String::new();
            for r in resources {
                let mut v = Value::Object(r.obj().clone());
                integral_floats_as_integers(&mut v);
                out.push_str(&serde_json::to_string_pretty(&v).expect("JSON values serialize"));
                out.push('\n');
            }
            vec![out]
        }
    }
}

/// Lets the YAML writer take a borrowed map where it expects a value.
#[derive(Clone, Copy)]
pub struct MapRef<'a>(&'a serde_json::Map<String, Value>);

impl serde::Serialize for MapRef<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// Kubernetes' reader turns YAML floats into JSON the way Go prints a float64, so `8.0`
/// reaches the API server as `8`. JSON output does the same, so an integer field written as
/// `08` or `!!float 1` stays acceptable to the API server's strict integer decoding.
pub fn integral_floats_as_integers(v: &mut Value) {
    match v {
        Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && f.abs() < 9_007_199_254_740_992.0
            {
                *n = Number::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_floats_as_integers),
        Value::Object(m) => m.values_mut().for_each(integral_floats_as_integers),
        _ => {}
    }
}

/// The provenance report of `--explain`: per resource, every field a transform set, and the
/// notes transforms made; then the images no ImageRegistry rule matched.
pub fn explain(resources: &[Resource], unmatched_images: &[String]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for r in resources {
        let _ = writeln!(out, "{} (from {})", r.id(), r.origin);
        if r.changes.is_empty() {
            let _ = writeln!(
                out,
                "  no traced field (namespace, labels, annotations and names are not traced yet)"
            );
        }
        let width = r.changes.iter().map(|c| c.path.len()).max().unwrap_or(0);
        for c in &r.changes {
            match &c.note {
                None => {
                    let _ = writeln!(out, "  {:width$}  set by {}", c.path, c.by);
                }
                Some(n) => {
                    let _ = writeln!(out, "  {:width$}  note from {}: {n}", c.path, c.by);
                }
            }
        }
    }
    if !unmatched_images.is_empty() {
        let _ = writeln!(out, "images no ImageRegistry rule matched:");
        for i in unmatched_images {
            let _ = writeln!(out, "  {i}");
        }
    }
    out
}
