//! strata: renders Kubernetes kustomize trees for GitOps, with host-network transforms and
//! validation on top. The parts, lowest first (ARCHITECTURE.md draws them); a module uses
//! only those below it (`tests/layers.rs` checks it):
//!
//! 1. foundation: `error`, `yaml` (the only module that touches the YAML crate), `model`
//!    (resources and their identities), `parallel`;
//! 2. `kustomize`: the kustomize v5.5 engine (load, build, builtins, patches, schemas);
//! 3. `hostnet`: strata's own transformer kinds, plugged into the engine;
//! 4. `validate` (rules and the cluster profile), `report` (findings as text, JSON, SARIF),
//!    `render` (the output stream), `diff` (review diffs);
//! 5. the ways in: `argocd` (the config management plugin), `krm` (the KRM function), and
//!    `cli`, the commands.

pub mod argocd;
pub mod cli;
pub mod diff;
pub mod error;
pub mod hostnet;
pub mod krm;
pub mod kustomize;
pub mod model;
pub mod parallel;
pub mod render;
pub mod report;
pub mod validate;
pub mod yaml;
