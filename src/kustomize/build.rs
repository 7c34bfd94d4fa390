//! Building a kustomization: accumulate its resources (files, and directories built
//! recursively), then its components (which add resources and transform everything
//! accumulated so far), then run its transformers; at the top, sort. Bases shared by several
//! overlays are built once per process.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::kustomize::build_metadata::{self as origin_record, Tracking};
use crate::kustomize::listed::{Configured, Kinds, Listed, Runners};
use crate::kustomize::load::kustomization::{self, KustFile, KustKind};
use crate::kustomize::load::{self, Loader};
use crate::kustomize::schema::openapi::{self, Tracker};
use crate::model::{self, ResourceSet};

/// A directory built once, kept for other renders: its output, and what it did to
/// kustomize's schema state (`openapi`), so that it is reused only where its patches would
/// see the same schemas.
struct Built {
    set: ResourceSet,
    config: crate::kustomize::configurations::Config,
    /// Its own `openapi` field.
    spec: openapi::Spec,
    /// The schema events of its build, after entering it.
    events: Vec<openapi::Event>,
}

/// The annotation that marks an object as local configuration, left out of the output.
pub const LOCAL_CONFIG: &str = "config.kubernetes.io/local-config";

/// The label `--enable-managedby-label` and `buildMetadata: [managedByLabel]` add.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";

/// The kustomize release whose semantics strata renders (the one in kubectl 1.32); the
/// managed-by label names it, as kubectl's kustomize does.
pub const KUSTOMIZE_VERSION: &str = "v5.5.0";

/// How kustomize reorders the output when the kustomization has no `sortOptions`
/// (kustomize's `--reorder`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Reorder {
    /// kustomize's legacy order (its default): by kind, then identity.
    #[default]
    Legacy,
    /// The order resources were read and generated in.
    None,
}

/// Options of a build that come from outside the tree, each as kustomize spells it.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--reorder`.
    pub reorder: Reorder,
    /// `--load-restrictor LoadRestrictionsNone`: files may be read from outside a
    /// kustomization's directory (root-only by default).
    pub load_restrictions_none: bool,
    /// `--enable-alpha-plugins --enable-exec`: exec KRM functions listed under
    /// `transformers:`/`generators:` may run.
    pub enable_exec: bool,
    /// `--enable-managedby-label`: `app.kubernetes.io/managed-by: kustomize-v5.5.0` on every
    /// object (as `buildMetadata: [managedByLabel]` does).
    pub managed_by_label: bool,
    /// Nothing outside this directory (canonical) is read or run, whatever the load
    /// restriction: the repository of the Argo CD plugin.
    pub repository_root: Option<PathBuf>,
}

/// Builds kustomizations. With sharing on, each built directory is kept so that overlays
/// sharing a base parse and transform it once; a single render keeps nothing and copies
/// nothing.
pub struct Builder {
    pub loader: Loader,
    built: Mutex<HashMap<PathBuf, Arc<Built>>>,
    /// Custom OpenAPI schemas read so far.
    schemas: openapi::SchemaCache,
    share: bool,
    options: Options,
    /// The transformer kinds of the layer above the engine (strata's own), if any.
    kinds: Option<Arc<dyn Kinds>>,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    pub fn new() -> Self {
        Self::with_sharing(false)
    }

    /// A builder for several renders in one process (e.g. every overlay of a repository).
    pub fn with_sharing(share: bool) -> Self {
        Builder {
            loader: Loader::with_sharing(share),
            built: Mutex::new(HashMap::new()),
            schemas: openapi::SchemaCache::default(),
            share,
            options: Options::default(),
            kinds: None,
        }
    }

    /// Sets the build options given outside the tree.
    pub fn with_options(mut self, options: Options) -> Self {
        self.loader.set_root_only(!options.load_restrictions_none);
        self.loader.set_boundary(options.repository_root.clone());
        self.options = options;
        self
    }

    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Runs `kinds` for the `transformers:` entries that are not kustomize's.
    pub fn with_kinds(mut self, kinds: Arc<dyn Kinds>) -> Self {
        self.kinds = Some(kinds);
        self
    }

    /// Renders the kustomization in `dir`: the resources in output order.
    pub fn render(&self, dir: &Path) -> Result<ResourceSet> {
        let dir = dir.canonicalize().map_err(|e| {
            Error::new(format!("cannot open {}: {e}", dir.display()))
                .help("pass a directory that holds a kustomization.yaml")
        })?;
        if !dir.is_dir() {
            return Err(Error::new(format!("{} is not a directory", dir.display()))
                .help("pass the directory that holds the kustomization.yaml, not the file"));
        }
        // A Component renders on its own as a kustomization would (kustomize builds it so).
        let kf = kustomization::read(&self.loader, &dir)?;
        // kustomize's schema state lives for one build: the top kustomization's `openapi`
        // resets it.
        let oa = Tracker::new();
        oa.enter_top(&openapi::spec_of(&kf, &self.loader, &self.schemas)?);
        // `buildMetadata` of the top kustomization: the origin record for the whole tree.
        let tracking = (kf.spec.build_metadata_has("originAnnotations")
            || kf.spec.build_metadata_has("transformerAnnotations"))
        .then(|| Tracking::new(&dir));
        let (mut set, config) =
            self.build_dir_with_config(&dir, &mut Vec::new(), &oa, tracking.as_ref(), true)?;
        crate::kustomize::builtins::generators::add_hashes(&mut set);
        crate::kustomize::builtins::name_references::fix_back_references(
            &mut set,
            &config.effective()?.name_reference,
        )?;
        crate::kustomize::builtins::vars::resolve(&mut set, &config)
            .map_err(|e| e.in_file(kf.display()))?;
        // kustomize drops objects marked `config.kubernetes.io/local-config` (not "false")
        // from the output of the top build: configs that are input, not objects to apply.
        set.retain(|r| {
            r.annotations()
                .iter()
                .find(|(k, _)| *k == LOCAL_CONFIG)
                .is_none_or(|(_, v)| *v == "false")
        });
        if kf.spec.sort_options.is_some() || self.options.reorder == Reorder::Legacy {
            crate::kustomize::builtins::sort::apply(kf.spec.sort_options.as_ref(), &mut set)
                .map_err(|e| e.in_file(kf.display()))?;
        }
        if tracking.is_some() {
            origin_record::finish(
                &mut set,
                kf.spec.build_metadata_has("originAnnotations"),
                kf.spec.build_metadata_has("transformerAnnotations"),
            );
        }
        if self.options.managed_by_label || kf.spec.build_metadata_has("managedByLabel") {
            let label = [(
                MANAGED_BY.to_string(),
                format!("kustomize-{KUSTOMIZE_VERSION}"),
            )];
            let labels = crate::kustomize::fieldspec::OwnedFieldSpec {
                group: String::new(),
                version: String::new(),
                kind: String::new(),
                path: "metadata/labels".into(),
                create: true,
            };
            crate::kustomize::builtins::metadata::add_pairs(
                &label.into_iter().collect(),
                &[labels],
                &mut set,
            )?;
        }
        Ok(set)
    }

    /// Builds a directory holding a kustomization (not a component), cached.
    fn build_dir(
        &self,
        dir: &Path,
        stack: &mut Vec<PathBuf>,
        oa: &Tracker,
        meta: Option<&Tracking>,
    ) -> Result<ResourceSet> {
        self.build_dir_with_config(dir, stack, oa, meta, false)
            .map(|(set, _)| set)
    }

    /// Builds a directory, with the custom field specs (`configurations:`) it accumulated.
    /// `top`: the directory being rendered, whose `openapi` field `render` has applied.
    fn build_dir_with_config(
        &self,
        dir: &Path,
        stack: &mut Vec<PathBuf>,
        oa: &Tracker,
        meta: Option<&Tracking>,
        top: bool,
    ) -> Result<(ResourceSet, crate::kustomize::configurations::Config)> {
        // A build recording origins writes paths relative to its top: not shared.
        let cached = meta
            .is_none()
            .then(|| {
                self.built
                    .lock()
                    .expect("build cache lock")
                    .get(dir)
                    .cloned()
            })
            .flatten();
        let mut entered = false;
        if let Some(built) = cached {
            if !top {
                oa.enter(&built.spec);
                entered = true;
            }
            if oa.replay(&built.events) {
                return Ok((built.set.clone(), built.config.clone()));
            }
        }
        let kf = kustomization::read(&self.loader, dir)?;
        // kustomize reads the schema file of every kustomization it enters, even when an
        // earlier one already decided the schema.
        let spec = openapi::spec_of(&kf, &self.loader, &self.schemas)?;
        if !top && !entered {
            oa.enter(&spec);
        }
        if kf.kind == KustKind::Component && !top {
            return Err(Error::new(format!(
                "{} is a Component, listed under `resources`",
                self.loader.display_path(dir).display()
            ))
            .help("list components under `components`"));
        }
        let mark = oa.mark();
        let mut set = ResourceSet::new();
        let mut config = crate::kustomize::configurations::Config::default();
        self.accumulate(&kf, &mut set, &mut config, stack, oa, meta)?;
        if self.share && meta.is_none() {
            self.built.lock().expect("build cache lock").insert(
                dir.to_path_buf(),
                Arc::new(Built {
                    set: set.clone(),
                    config: config.clone(),
                    spec,
                    events: oa.events_since(mark),
                }),
            );
        }
        Ok((set, config))
    }

    /// Adds a kustomization's (or component's) resources and components to `set`, then runs
    /// its transformers over all of `set`.
    fn accumulate(
        &self,
        kf: &KustFile,
        set: &mut ResourceSet,
        config: &mut crate::kustomize::configurations::Config,
        stack: &mut Vec<PathBuf>,
        oa: &Tracker,
        meta: Option<&Tracking>,
    ) -> Result<()> {
        if let Some(e) = self.cycle(stack, &kf.dir) {
            return Err(e.in_file(kf.display()));
        }
        stack.push(kf.dir.clone());
        let result = self.accumulate_inner(kf, set, config, stack, oa, meta);
        stack.pop();
        result
    }

    /// The error for entering `dir` again while building it: the cycle, without a location
    /// (the caller points at the entry that closes it).
    fn cycle(&self, stack: &[PathBuf], dir: &Path) -> Option<Error> {
        let pos = stack.iter().position(|d| d == dir)?;
        let cycle: Vec<String> = stack[pos..]
            .iter()
            .map(PathBuf::as_path)
            .chain(std::iter::once(dir))
            .map(|d| self.loader.display_path(d).display().to_string())
            .collect();
        Some(
            Error::new(format!("kustomization cycle: {}", cycle.join(" -> ")))
                .help("a kustomization cannot include itself, directly or through others"),
        )
    }

    /// The configs a kustomization lists under `transformers:` or `generators:`; the
    /// directories among them are built as kustomizations whose resources are the configs.
    fn load_listed(
        &self,
        kf: &KustFile,
        listed: Listed,
        stack: &[PathBuf],
        oa: &Tracker,
        meta: Option<&Tracking>,
    ) -> Result<Vec<Configured>> {
        let entries = match listed {
            Listed::Generators => &kf.spec.generators,
            Listed::Transformers => &kf.spec.transformers,
        };
        let build = |dir: &Path| self.build_dir(dir, &mut stack.to_vec(), oa, meta);
        let runners = Runners {
            enable_exec: self.options.enable_exec,
            kinds: self.kinds.as_deref(),
        };
        crate::kustomize::listed::load(kf, &self.loader, listed, entries, &build, runners)
    }

    fn accumulate_inner(
        &self,
        kf: &KustFile,
        set: &mut ResourceSet,
        config: &mut crate::kustomize::configurations::Config,
        stack: &mut Vec<PathBuf>,
        oa: &Tracker,
        meta: Option<&Tracking>,
    ) -> Result<()> {
        let mut ids = model::IdIndex::default();
        ids.add_from(set, 0)?;
        let entries = kf
            .spec
            .resources
            .iter()
            .map(|r| ("resources", r))
            .chain(kf.spec.bases.iter().map(|r| ("bases", r)));
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for (field, rel) in entries {
            let i = *counts.entry(field).and_modify(|c| *c += 1).or_insert(0);
            let idx = i.to_string();
            let at = |e: Error| {
                if e.file.is_some() {
                    e.context(format!("in {field}[{i}] of {}", kf.display().display()))
                } else {
                    e.in_file(kf.display()).at_opt(crate::yaml::locate(
                        &kf.file.src,
                        0,
                        &[field, &idx],
                    ))
                }
            };
            if load::is_remote(rel) {
                return Err(at(Error::new(format!(
                    "{field}[{i}]: remote resource `{rel}` is not supported: strata renders only what is in the repository"
                ))
                .help("vendor the remote base into the repository and refer to it by a relative path")));
            }
            let path = load::resolve_dir(&self.loader, &kf.dir, rel, &format!("{field}[{i}]"))
                .map_err(at)?;
            let added: ResourceSet = if path.is_dir() {
                if let Some(e) = self.cycle(stack, &path) {
                    return Err(at(e));
                }
                let (added, added_config) = self
                    .build_dir_with_config(&path, stack, oa, meta, false)
                    .map_err(at)?;
                config.absorb(&added_config).map_err(at)?;
                added
            } else {
                let path =
                    load::check_within(&self.loader, &kf.dir, path, rel, &format!("{field}[{i}]"))
                        .map_err(at)?;
                let mut added = self.loader.resources(&path).map_err(at)?;
                if let Some(t) = meta {
                    let origin = t.file(&path);
                    for r in &mut added {
                        origin_record::set(r, &origin);
                    }
                }
                added
            };
            let start = set.len();
            set.extend(added);
            // kustomize computes the scope of every resource it accumulates.
            oa.saw_all(&set[start..]);
            ids.add_from(set, start).map_err(|e| {
                e.context(format!(
                    "while adding {field}[{i}] of {}",
                    kf.display().display()
                ))
            })?;
        }
        let declared = |e: Error| e.in_file(kf.display());
        config
            .merge_declared(crate::kustomize::configurations::load(kf, &self.loader)?)
            .map_err(declared)?;
        config
            .merge(&crate::kustomize::schema::crds::load(kf, &self.loader)?)
            .map_err(declared)?;
        crate::kustomize::builtins::generators::run(kf, &self.loader, set, meta)?;
        // Then the generators it lists: kustomize's builtin configs and exec functions.
        if !kf.spec.generators.is_empty() {
            let generators = self.load_listed(kf, Listed::Generators, stack, oa, meta)?;
            for g in &generators {
                crate::kustomize::builtins::run_generator(g, &self.loader, set, meta)?;
            }
        }
        for (i, rel) in kf.spec.components.iter().enumerate() {
            let idx = i.to_string();
            let at = |e: Error| {
                if e.file.is_some() {
                    e.context(format!("in components[{i}] of {}", kf.display().display()))
                } else {
                    e.in_file(kf.display()).at_opt(crate::yaml::locate(
                        &kf.file.src,
                        0,
                        &["components", &idx],
                    ))
                }
            };
            if load::is_remote(rel) {
                return Err(at(Error::new(format!(
                    "components[{i}]: remote component `{rel}` is not supported"
                ))));
            }
            let dir = load::resolve_dir(&self.loader, &kf.dir, rel, &format!("components[{i}]"))
                .map_err(at)?;
            if let Some(e) = self.cycle(stack, &dir) {
                return Err(at(e));
            }
            let ckf = kustomization::read(&self.loader, &dir).map_err(at)?;
            if ckf.kind != KustKind::Component {
                return Err(at(Error::new(format!(
                    "components[{i}]: `{rel}` is a Kustomization, not a Component"
                ))
                .help("list it under `resources`, or give it `kind: Component`")));
            }
            oa.enter(&openapi::spec_of(&ckf, &self.loader, &self.schemas).map_err(at)?);
            self.accumulate(&ckf, set, config, stack, oa, meta)
                .map_err(at)?;
            config.remerge().map_err(at)?;
        }
        // kustomize loads the `transformers` (entering their directories, reading their
        // configs) before it runs the built-in transformers.
        let configured = if kf.spec.transformers.is_empty() {
            Vec::new()
        } else {
            let configured = self.load_listed(kf, Listed::Transformers, stack, oa, meta)?;
            // Transformer configs are resources of kinds outside kustomize's scope table.
            oa.other_kind();
            configured
        };
        let tc = config.effective().map_err(|e| e.in_file(kf.display()))?;
        crate::kustomize::builtins::run_builtins(kf, &self.loader, set, &tc, oa, meta)?;
        if !configured.is_empty() {
            crate::kustomize::builtins::run_listed(&configured, &self.loader, &tc, set, oa, meta)?;
        }
        crate::kustomize::builtins::vars::declare(kf, set, config)?;
        model::check_unique(set)
    }
}
