//! The kustomize engine: kustomize v5.5's semantics, read from kustomize's own code
//! (`api/krusty`, `api/internal/target`, `api/internal/builtins`, `api/filters`).
//!
//! - `load`: files and kustomization files, read through `yaml`, with the load restrictor.
//! - `build`: a kustomization's resources, generators, components and transformers,
//!   recursively, as kustomize's accumulator runs them (`Builder`).
//! - `builtins`: the builtin transformers and generators, one file each, in kustomize's order.
//! - `listed`: the configs listed under `transformers:`/`generators:`, and the extension
//!   point (`Kinds`) through which the layer above adds its own kinds.
//! - `configurations`: kustomize's transformer config (`configurations:`), `fieldspec`
//!   its field specs, `selector` patch and replacement targets.
//! - `patch`: RFC 6902 JSON patches and strategic merge patches; `schema`: the OpenAPI
//!   schema, `crds:` and the cluster scope of kinds.
//! - `exec`: exec KRM functions; `build_metadata`: origin and transformer annotations.
//!
//! It uses only `model`, `yaml`, `error` and `parallel`; nothing here knows strata's own
//! kinds, the cluster profile or validation.

pub mod build;
pub mod build_metadata;
pub mod builtins;
pub mod configurations;
pub mod exec;
pub mod fieldspec;
pub mod listed;
pub mod load;
pub mod patch;
pub mod schema;
pub mod selector;
