//! The host-network layer: strata's own transformer kinds (`apiVersion:
//! strata.dev/v1alpha1`), which are why strata exists next to kustomize.
//!
//! - `kinds`: reading their configs (HostNetwork, Substitution, ImageRegistry,
//!   SecurityContext) and their target lists;
//! - one file per kind: `host_network`, `substitution`, `image_registry`,
//!   `security_context`;
//! - `workloads`: where each workload kind keeps its pod spec and containers (also read by
//!   the validation rules).
//!
//! It sits on the kustomize engine and plugs into it through `kustomize::listed::Kinds`
//! ([`StrataKinds`]); it uses `kustomize`, `model`, `yaml` and `error`, never validation,
//! diff or the commands.

pub mod host_network;
pub mod image_registry;
pub mod kinds;
pub mod security_context;
pub mod substitution;
pub mod workloads;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::error::Result;
use crate::kustomize::build::Builder;
use crate::kustomize::listed::{Configured, Kinds};

pub use kinds::API_VERSION;

/// What a render gives strata's kinds from outside the tree, and what they report back.
#[derive(Debug, Default)]
pub struct Context {
    pub overrides: substitution::Overrides,
    pub images: image_registry::Report,
    /// The variable names the Substitutions know (declared or met as placeholders).
    pub used: std::collections::BTreeSet<String>,
    /// Overrides that replaced a value the tree gives, for the user to see.
    pub notes: Vec<String>,
}

/// strata's kinds as the engine's extension: one per render, holding its [`Context`].
#[derive(Debug, Default)]
pub struct StrataKinds {
    ctx: Arc<Mutex<Context>>,
}

impl StrataKinds {
    /// The kinds, with the substitution values given outside the tree (`--set`, the
    /// environment).
    pub fn new(overrides: substitution::Overrides) -> Arc<Self> {
        Arc::new(StrataKinds {
            ctx: Arc::new(Mutex::new(Context {
                overrides,
                ..Default::default()
            })),
        })
    }

    /// A builder of the kustomize engine that runs these kinds.
    pub fn builder(self: &Arc<Self>, share: bool) -> Builder {
        Builder::with_sharing(share).with_kinds(self.clone())
    }

    /// The values given outside the tree that no Substitution of the renders so far used,
    /// each with its source and the closest name a Substitution did use or declare.
    pub fn unused_overrides(&self) -> Vec<String> {
        let ctx = self.context();
        let used: Vec<&str> = ctx.used.iter().map(String::as_str).collect();
        ctx.overrides
            .names()
            .filter(|(n, _)| !ctx.used.contains(*n))
            .map(|(n, source)| {
                let hint = match crate::error::closest(n, &used) {
                    Some(c) => format!("; did you mean {c}?"),
                    None if used.is_empty() => "; the tree has no Substitution that uses it".into(),
                    None => format!("; the variables used are {}", used.join(", ")),
                };
                format!(
                    "{n} (from {source}) is not a variable of any Substitution of the render{hint}"
                )
            })
            .collect()
    }

    /// The render's context: what ImageRegistry reported.
    pub fn context(&self) -> std::sync::MutexGuard<'_, Context> {
        self.ctx.lock().expect("strata context lock")
    }
}

impl Kinds for StrataKinds {
    fn parse(
        &self,
        display: &Arc<PathBuf>,
        src: &Arc<str>,
        doc_index: usize,
        value: &Value,
    ) -> Result<Configured> {
        kinds::parse_doc(display, src, doc_index, value, &self.ctx)
    }
}

/// A builder for one render of a tree that may use strata's kinds, without values from
/// outside the tree.
pub fn builder() -> Builder {
    StrataKinds::new(Default::default()).builder(false)
}
