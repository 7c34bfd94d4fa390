//! strata: renders Kubernetes kustomize trees for GitOps.
//!
//! The pipeline, one module each: `load` (files and kustomizations into resources), `build`
//! (a kustomization's resources, components and transformers, recursively), `transform` (the
//! built-in transformers, in kustomize's order), `render` (the output). `yaml` is the only
//! module that touches the YAML crate; `model` holds the resource types; `cli` the commands.

pub mod argocd;
pub mod build;
pub mod cli;
pub mod diff;
pub mod error;
pub mod krm;
pub mod load;
pub mod model;
pub mod render;
pub mod report;
pub mod transform;
pub mod validate;
pub mod yaml;
