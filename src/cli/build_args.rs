//! The build options shared by every subcommand that renders a kustomization, spelled as
//! kustomize spells them (`kustomize build`, `kubectl kustomize`), so that Argo CD's
//! `kustomize.buildOptions` and CI scripts carry over unchanged.

use clap::{Args, ValueEnum};

use crate::kustomize::build::{Options, Reorder};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum LoadRestrictor {
    /// A kustomization reads files only below its own directory.
    #[default]
    #[value(name = "LoadRestrictionsRootOnly")]
    RootOnly,
    /// A kustomization may read files anywhere (`../shared/patch.yaml`).
    #[value(name = "LoadRestrictionsNone")]
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReorderArg {
    /// kustomize's legacy order: by kind, then identity (the default).
    Legacy,
    /// The order resources were read and generated in.
    None,
}

#[derive(Debug, Clone, Default, Args)]
pub struct BuildArgs {
    /// kustomize's load restriction.
    #[arg(long, value_enum, value_name = "RESTRICTOR", default_value_t = LoadRestrictor::RootOnly)]
    pub load_restrictor: LoadRestrictor,
    /// Output order when the kustomization sets no `sortOptions` (kustomize's `--reorder`).
    #[arg(long, value_enum, value_name = "ORDER")]
    pub reorder: Option<ReorderArg>,
    /// Allow plugins other than kustomize's builtins (with --enable-exec: exec KRM functions).
    #[arg(long)]
    pub enable_alpha_plugins: bool,
    /// Run exec KRM functions (`config.kubernetes.io/function: {exec: {path: ...}}`) listed
    /// under `transformers:` or `generators:`; they run programs from the repository.
    #[arg(long, requires = "enable_alpha_plugins")]
    pub enable_exec: bool,
    /// Label every object `app.kubernetes.io/managed-by: kustomize-v5.5.0`.
    #[arg(long)]
    pub enable_managedby_label: bool,
}

impl BuildArgs {
    pub fn options(&self) -> Options {
        Options {
            reorder: match self.reorder {
                Some(ReorderArg::None) => Reorder::None,
                _ => Reorder::Legacy,
            },
            load_restrictions_none: self.load_restrictor == LoadRestrictor::None,
            enable_exec: self.enable_alpha_plugins && self.enable_exec,
            managed_by_label: self.enable_managedby_label,
            repository_root: None,
        }
    }
}
