//! `strata diff DIR...`: two renders of each overlay compared by resource identity, as a
//! terminal diff, a PR comment (Markdown), an HTML page or JSON. Documentation: docs/diff.md.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use super::exit;
use crate::diff::{self, git::Snapshot, model};
use crate::error::{Error, Result};
use crate::hostnet::substitution::Overrides;
use crate::kustomize::build::Builder;
use crate::model::ResourceSet;
use crate::validate::{self, ClusterProfile, Diagnostic};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    Terminal,
    Markdown,
    Html,
    Json,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// Overlay directories (globs such as `overlays/*` are expanded); default `.`.
    #[arg(value_name = "DIR")]
    pub dirs: Vec<String>,
    /// Compare a git revision (e.g. origin/main) against the working tree (or --head).
    #[arg(long, value_name = "REF")]
    pub base: Option<String>,
    /// Render this git revision as the head instead of the working tree (base: --base, or
    /// HEAD).
    #[arg(long, value_name = "REF")]
    pub head: Option<String>,
    /// The base tree: DIR is taken relative to it (with --head-dir).
    #[arg(long, value_name = "A", requires = "head_dir", conflicts_with_all = ["base", "head"])]
    pub base_dir: Option<PathBuf>,
    /// The head tree: DIR is taken relative to it (with --base-dir).
    #[arg(long, value_name = "B", requires = "base_dir")]
    pub head_dir: Option<PathBuf>,
    /// Output format: terminal on a TTY, markdown otherwise.
    #[arg(long, value_enum)]
    pub format: Option<DiffFormat>,
    /// Markdown: the most bytes one comment may have.
    #[arg(long, value_name = "N", default_value_t = 65536)]
    pub max_bytes: usize,
    /// Markdown: write numbered comment files (each within --max-bytes) into this directory.
    #[arg(long, value_name = "DIR")]
    pub split: Option<PathBuf>,
    /// Write the output to this file (atomically) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Show Secret values (masked as `<secret sha256:…>` by default).
    #[arg(long)]
    pub show_secrets: bool,
    /// Leave out resources matching `group:kind:namespace:name` (globs; repeatable).
    #[arg(long, value_name = "GLOB")]
    pub ignore: Vec<String>,
    /// Leave out fields matching a JSON-pointer glob, e.g. `/metadata/annotations/checksum*`.
    #[arg(long, value_name = "GLOB")]
    pub ignore_path: Vec<String>,
    /// Ignore rules from a file (`ignore:` and `ignorePaths:` lists), added to the flags'.
    /// Default: `.strata/diff.yaml` in the working directory, when it exists.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Do not validate the two renders (no findings section).
    #[arg(long)]
    pub no_validate: bool,
    /// The cluster both renders target, for validation.
    #[arg(long, value_name = "FILE")]
    pub cluster: Option<PathBuf>,
    /// A substitution variable, NAME=VALUE (repeatable), for both renders.
    #[arg(long = "set", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub set: Vec<(String, String)>,
    /// Take substitution variable NAME from the environment (repeatable), for both renders.
    #[arg(long = "env", value_name = "NAME")]
    pub env: Vec<String>,
    /// Compare Argo CD Applications instead of overlays: the Applications and
    /// ApplicationSets of the repository (run from its root), each rendered as Argo CD would.
    #[arg(long)]
    pub argocd: bool,
    /// With --argocd: this repository's URL as Applications name it (default: git's `origin`).
    #[arg(long, value_name = "URL", requires = "argocd")]
    pub repo_url: Option<String>,
    /// With --argocd: the clusters an ApplicationSet `clusters` generator sees (a YAML list
    /// of `{name, server, metadata: {labels}}`).
    #[arg(long, value_name = "FILE", requires = "argocd")]
    pub clusters: Option<PathBuf>,
}

fn parse_var(s: &str) -> std::result::Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected NAME=VALUE, got `{s}`")),
    }
}

pub fn run(args: &DiffArgs) -> u8 {
    match compute(args) {
        Err(e) => {
            eprint!("{e}");
            exit::ERROR
        }
        Ok(report) => match emit(args, &report) {
            Err(e) => {
                eprint!("{e}");
                exit::ERROR
            }
            Ok(()) if report.has_failures() => {
                // A head that does not render fails the check; a base that did not render is
                // a difference (the change makes it render).
                let failed = |side: &str| -> Vec<&str> {
                    report
                        .envs
                        .iter()
                        .filter(|e| e.failures.iter().any(|f| f.side == side))
                        .map(|e| e.name.as_str())
                        .collect()
                };
                let (head, base) = (failed("head"), failed("base"));
                if !base.is_empty() {
                    eprintln!(
                        "warning: the base of {} does not render; the report says why",
                        base.join(", ")
                    );
                }
                if head.is_empty() {
                    return exit::FINDINGS;
                }
                eprintln!(
                    "error: {} of {} environments do not render with this change ({}); the report says why and compares the others",
                    head.len(),
                    report.envs.len(),
                    head.join(", ")
                );
                exit::ERROR
            }
            Ok(()) if report.has_differences() => exit::FINDINGS,
            Ok(()) => exit::OK,
        },
    }
}

/// Where the two renders come from.
enum Mode {
    /// Each overlay's inputs against its output.
    Inputs,
    /// Two trees (directories or extracted revisions).
    Trees {
        base: PathBuf,
        head: PathBuf,
        /// Extracted revisions, kept until the end, with the label their paths get.
        snapshots: Vec<(Snapshot, PathBuf, String)>,
    },
}

fn canonical(p: &Path) -> Result<PathBuf> {
    p.canonicalize()
        .map_err(|e| Error::new(format!("cannot open {}: {e}", p.display())))
}

/// The diff config file: ignore rules shared by a team, so every reviewer sees the same diff.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct DiffConfig {
    #[serde(default)]
    ignore: Vec<String>,
    #[serde(default)]
    ignore_paths: Vec<String>,
}

fn read_config(args: &DiffArgs) -> Result<DiffConfig> {
    let default = PathBuf::from(".strata/diff.yaml");
    let path = match &args.config {
        Some(p) => p.clone(),
        None if default.is_file() => default,
        None => return Ok(DiffConfig::default()),
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Error::new(format!("cannot read the diff config: {e}")).in_file(&path))?;
    let Some(doc) = crate::yaml::parse_single(&text).map_err(|e| Error::from_yaml(e, &path))?
    else {
        return Ok(DiffConfig::default());
    };
    serde_json::from_value(doc.value).map_err(|e| {
        Error::new(format!("invalid diff config: {e}"))
            .in_file(&path)
            .help("the file holds `ignore:` (group:kind:namespace:name globs) and `ignorePaths:` (JSON-pointer globs)")
    })
}

fn compute(args: &DiffArgs) -> Result<model::DiffReport> {
    let config = read_config(args)?;
    let resources: Vec<String> = args.ignore.iter().chain(&config.ignore).cloned().collect();
    let paths: Vec<String> = args
        .ignore_path
        .iter()
        .chain(&config.ignore_paths)
        .cloned()
        .collect();
    let ignore = model::Ignore::new(&resources, &paths).map_err(Error::new)?;
    let cwd = std::env::current_dir()
        .map_err(|e| Error::new(format!("cannot read the working directory: {e}")))?;
    let cwd = canonical(&cwd)?;
    let (mode, base_label, head_label) =
        if let (Some(a), Some(b)) = (&args.base_dir, &args.head_dir) {
            let mode = Mode::Trees {
                base: canonical(a)?,
                head: canonical(b)?,
                snapshots: Vec::new(),
            };
            (mode, a.display().to_string(), b.display().to_string())
        } else if args.base.is_some() || args.head.is_some() {
            let (top, prefix) = diff::git::repo_of(&cwd)?;
            let base_ref = args.base.clone().unwrap_or_else(|| "HEAD".into());
            let mut snapshots = Vec::new();
            let snap = Snapshot::extract(&top, &base_ref)?;
            let base = snap.root().join(&prefix);
            snapshots.push((snap, top.clone(), base_ref.clone()));
            let (head, head_label) = match &args.head {
                Some(r) => {
                    let snap = Snapshot::extract(&top, r)?;
                    let head = snap.root().join(&prefix);
                    snapshots.push((snap, top.clone(), r.clone()));
                    (head, r.clone())
                }
                None => (cwd.clone(), "working tree".to_string()),
            };
            (
                Mode::Trees {
                    base,
                    head,
                    snapshots,
                },
                base_ref,
                head_label,
            )
        } else {
            (
                Mode::Inputs,
                "overlay inputs".to_string(),
                "rendered overlay".to_string(),
            )
        };

    let patterns = if args.dirs.is_empty() {
        vec![".".to_string()]
    } else {
        args.dirs
            .iter()
            .map(|d| relative_to(d, &cwd, &mode))
            .collect()
    };
    let (base_root, head_root) = match &mode {
        Mode::Inputs => (cwd.clone(), cwd.clone()),
        Mode::Trees { base, head, .. } => (base.clone(), head.clone()),
    };
    let envs = diff::expand(&patterns, &[&head_root, &base_root])?;
    let relabel = |s: &str| -> String {
        if let Mode::Trees { snapshots, .. } = &mode {
            for (snap, _, label) in snapshots {
                let root = snap.root();
                if let Ok(rest) = Path::new(s).strip_prefix(&root) {
                    return format!("{label}:{}", rest.display());
                }
            }
        }
        match Path::new(s).strip_prefix(&cwd) {
            Ok(rest) => rest.display().to_string(),
            Err(_) => s.to_string(),
        }
    };

    let overrides = Overrides::from_args(&args.set, &args.env).map_err(|e| {
        crate::error::Error::new(e).help("give each variable as --set NAME=VALUE or --env NAME")
    })?;
    let base_kinds = crate::hostnet::StrataKinds::new(overrides.clone());
    let head_kinds = crate::hostnet::StrataKinds::new(overrides);
    let base_builder = base_kinds.builder(true);
    let head_builder = head_kinds.builder(true);
    // Error texts name files in the temporary checkouts: show them as `REF:path`, and paths
    // under the working directory relative to it.
    let relabel_text = |text: &str| -> String {
        let mut t = text.to_string();
        if let Mode::Trees { snapshots, .. } = &mode {
            for (snap, _, label) in snapshots {
                t = t.replace(&format!("{}/", snap.root().display()), &format!("{label}:"));
            }
        }
        t.replace(&format!("{}/", cwd.display()), "")
    };
    let (base_tree, head_tree) = match &mode {
        Mode::Inputs => (None, None),
        Mode::Trees { base, head, .. } => (Some(base.as_path()), Some(head.as_path())),
    };
    if args.argocd {
        if matches!(mode, Mode::Inputs) {
            return Err(Error::new(
                "--argocd compares two revisions or trees: give --base REF (or --base-dir/--head-dir)",
            ));
        }
        let (out, apps) = apps_side_by_side(
            args,
            (&base_root, &head_root),
            &cwd,
            &ignore,
            &relabel,
            &relabel_text,
            (&base_label, &head_label),
        )?;
        let mut report = model::DiffReport::new(base_label, head_label, out, !args.show_secrets);
        report.apps = apps;
        return Ok(report);
    }
    let mut out = Vec::new();
    let mut first_error = None;
    for env in &envs {
        let head_dir = head_root.join(env);
        let base_dir = base_root.join(env);
        if !head_dir.exists() && !base_dir.exists() {
            return Err(Error::new(format!("{env} exists in neither render")));
        }
        let head = render_side(&head_builder, &head_dir, args);
        let base = match mode {
            Mode::Inputs => diff::inputs(&base_builder, &head_dir).and_then(|mut set| {
                if !args.show_secrets {
                    diff::secrets::mask(&mut set);
                }
                let diags = validate_side(&base_builder, &head_dir, &set, args)?;
                Ok((set, diags))
            }),
            Mode::Trees { .. } => render_side(&base_builder, &base_dir, args),
        };
        let (base, head) = match (base, head) {
            (Ok(b), Ok(h)) => (b, h),
            (b, h) => {
                let mut failures = Vec::new();
                for (side, label, result) in [
                    ("base", &base_label, b.err()),
                    ("head", &head_label, h.err()),
                ] {
                    if let Some(e) = result {
                        failures.push(model::RenderFailure {
                            side: side.to_string(),
                            label: label.clone(),
                            message: relabel_text(&e.to_string()),
                        });
                        first_error.get_or_insert(e);
                    }
                }
                out.push(model::failed_env(env, failures));
                continue;
            }
        };
        out.push(model::diff_env(
            env,
            model::Side {
                resources: &base.0,
                diagnostics: &base.1,
                root: base_tree,
            },
            model::Side {
                resources: &head.0,
                diagnostics: &head.1,
                root: head_tree,
            },
            &ignore,
            &relabel,
        ));
    }
    // Nothing compared at all: the error itself, as for any other command.
    if let Some(e) = first_error
        && out.iter().all(|e| !e.failures.is_empty())
    {
        return Err(e);
    }
    if super::render::report_overrides(&[&base_kinds, &head_kinds]).is_err() {
        return Err(crate::error::Error::new(
            "a value given with --set or --env is not a variable of any Substitution rendered",
        )
        .help("check the names above"));
    }
    Ok(model::DiffReport::new(
        base_label,
        head_label,
        out,
        !args.show_secrets,
    ))
}

/// Both sides' Applications, rendered and compared: one environment per app (by name), and
/// the table of apps (destination, source, what this change does to it).
#[allow(clippy::too_many_arguments)]
fn apps_side_by_side(
    args: &DiffArgs,
    (base_root, head_root): (&Path, &Path),
    cwd: &Path,
    ignore: &model::Ignore,
    relabel: model::Relabel<'_>,
    relabel_text: &dyn Fn(&str) -> String,
    (base_label, head_label): (&str, &str),
) -> Result<(Vec<model::EnvDiff>, Vec<model::AppRow>)> {
    use crate::argocd::apps;
    let url = match &args.repo_url {
        Some(u) => u.clone(),
        None => std::process::Command::new("git")
            .arg("-C")
            .arg(cwd)
            .args(["remote", "get-url", "origin"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .ok_or_else(|| {
                Error::new("--argocd: the repository has no `origin` remote to compare Applications' repoURL with")
                    .help("give the repository's URL as Applications name it: --repo-url https://...")
            })?,
    };
    let repo = apps::normalize_url(&url);
    let clusters: Vec<serde_json::Value> = match &args.clusters {
        None => Vec::new(),
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| {
                Error::new(format!("cannot read the clusters file: {e}")).in_file(p)
            })?;
            match crate::yaml::parse_single(&text).map_err(|e| Error::from_yaml(e, p))? {
                Some(d) => d.value.as_array().cloned().ok_or_else(|| {
                    Error::new("the clusters file holds a list of clusters").in_file(p)
                })?,
                None => Vec::new(),
            }
        }
    };
    let options = crate::kustomize::build::Options::default();
    type Rendered = (apps::App, Result<(ResourceSet, Vec<Diagnostic>)>);
    // An app's render and findings, and the Applications it renders.
    type Outcome = (Result<(ResourceSet, Vec<Diagnostic>)>, Vec<apps::App>);
    // One app: its objects (masked) and findings, and the Applications it renders (an app
    // of apps).
    let one =
        |app: &apps::App, root: &Path, shared: &crate::kustomize::build::Builder| -> Outcome {
            let mut children = Vec::new();
            let rendered = apps::render(app, root, &options, shared).and_then(|mut set| {
                for r in &set {
                    let v = serde_json::Value::Object(r.obj().clone());
                    children.extend(apps::apps_in(
                        &v,
                        &repo,
                        &format!("rendered by {}", app.name),
                        root,
                        &clusters,
                    )?);
                }
                if !args.show_secrets {
                    diff::secrets::mask(&mut set);
                }
                let diags = if args.no_validate {
                    Vec::new()
                } else {
                    let loader = crate::kustomize::load::Loader::new();
                    let profile = match &args.cluster {
                        Some(p) => ClusterProfile::read(p)?,
                        None => ClusterProfile::assumed(),
                    };
                    validate::validate(&set, &profile, &loader).diagnostics
                };
                Ok((set, diags))
            });
            (rendered, children)
        };
    // Apps render independently: in waves on every core, each wave the apps the previous
    // one's apps of apps rendered.
    let side = |root: &Path| -> Result<std::collections::BTreeMap<String, Rendered>> {
        use rayon::prelude::*;
        let mut wave = apps::discover(root, &repo, &clusters)?;
        let shared = crate::hostnet::StrataKinds::new(Default::default())
            .builder(true)
            .with_options(crate::kustomize::build::Options {
                repository_root: Some(root.to_path_buf()),
                ..options.clone()
            });
        let mut out = std::collections::BTreeMap::new();
        while !wave.is_empty() {
            let mut seen = std::collections::HashSet::new();
            wave.retain(|a| !out.contains_key(&a.name) && seen.insert(a.name.clone()));
            let done: Vec<(apps::App, Outcome)> = wave
                .into_par_iter()
                .map(|a| {
                    let r = one(&a, root, &shared);
                    (a, r)
                })
                .collect();
            wave = Vec::new();
            for (app, (rendered, children)) in done {
                wave.extend(children);
                out.insert(app.name.clone(), (app, rendered));
            }
        }
        Ok(out)
    };
    let (mut base, mut head) = (side(base_root)?, side(head_root)?);
    let mut names: Vec<String> = base.keys().chain(head.keys()).cloned().collect();
    names.sort();
    names.dedup();
    let mut envs = Vec::new();
    let mut rows = Vec::new();
    for name in names {
        let (b, h) = (base.remove(&name), head.remove(&name));
        let about = h
            .as_ref()
            .or(b.as_ref())
            .map(|(a, _)| a.clone())
            .expect("one side");
        let source = match &about.source {
            apps::Source::Kustomize { path, .. } => format!("kustomize {path}"),
            apps::Source::Directory { path, .. } => format!("directory {path}"),
            apps::Source::Strata { path, .. } => format!("strata plugin {path}"),
            apps::Source::Offline(_) => "-".into(),
        };
        let mut row = model::AppRow {
            name: name.clone(),
            destination: about.destination.clone(),
            source,
            defined_in: about.defined_in.clone(),
            status: String::new(),
        };
        if let apps::Source::Offline(why) = &about.source {
            row.status = format!("not rendered offline: {why}");
            rows.push(row);
            continue;
        }
        let empty = || Ok((Vec::new(), Vec::new()));
        let (b, h) = (b.map_or_else(empty, |x| x.1), h.map_or_else(empty, |x| x.1));
        let env = match (b, h) {
            (Ok(b), Ok(h)) => model::diff_env(
                &name,
                model::Side {
                    resources: &b.0,
                    diagnostics: &b.1,
                    root: Some(base_root),
                },
                model::Side {
                    resources: &h.0,
                    diagnostics: &h.1,
                    root: Some(head_root),
                },
                ignore,
                relabel,
            ),
            (b, h) => {
                let mut failures = Vec::new();
                for (side, label, r) in
                    [("base", base_label, b.err()), ("head", head_label, h.err())]
                {
                    if let Some(e) = r {
                        failures.push(model::RenderFailure {
                            side: side.into(),
                            label: label.into(),
                            message: relabel_text(&e.to_string()),
                        });
                    }
                }
                model::failed_env(&name, failures)
            }
        };
        row.status = if !env.failures.is_empty() {
            let sides: Vec<&str> = env.failures.iter().map(|f| f.side.as_str()).collect();
            format!("the {} does not render", sides.join(" and the "))
        } else if env.has_differences() {
            format!(
                "{} added, {} removed, {} changed",
                env.added, env.removed, env.changed
            )
        } else {
            "unchanged".into()
        };
        rows.push(row);
        envs.push(env);
    }
    Ok((envs, rows))
}

/// A DIR argument as a path relative to the trees compared.
fn relative_to(d: &str, cwd: &Path, mode: &Mode) -> String {
    let p = Path::new(d);
    if p.is_absolute() {
        let roots: Vec<&Path> = match mode {
            Mode::Inputs => vec![cwd],
            Mode::Trees {
                base,
                head,
                snapshots,
            } if snapshots.is_empty() => vec![head.as_path(), base.as_path()],
            Mode::Trees { .. } => vec![cwd],
        };
        for root in roots {
            if let Ok(rest) = p
                .canonicalize()
                .unwrap_or(p.to_path_buf())
                .strip_prefix(root)
            {
                return rest.display().to_string();
            }
        }
    }
    d.to_string()
}

/// One side's render (empty when the overlay does not exist there), masked, and its findings.
fn render_side(
    builder: &Builder,
    dir: &Path,
    args: &DiffArgs,
) -> Result<(ResourceSet, Vec<Diagnostic>)> {
    if !dir.exists() {
        return Ok((Vec::new(), Vec::new()));
    }
    if !diff::is_kustomization_dir(dir) {
        return Err(
            Error::new(format!("{} holds no kustomization.yaml", dir.display()))
                .help("pass overlay directories (globs such as `overlays/*` are expanded)"),
        );
    }
    let mut set = builder.render(dir)?;
    if !args.show_secrets {
        diff::secrets::mask(&mut set);
    }
    let diags = validate_side(builder, dir, &set, args)?;
    Ok((set, diags))
}

fn validate_side(
    builder: &Builder,
    dir: &Path,
    set: &ResourceSet,
    args: &DiffArgs,
) -> Result<Vec<Diagnostic>> {
    if args.no_validate {
        return Ok(Vec::new());
    }
    let profile = match &args.cluster {
        Some(p) => ClusterProfile::read(p)?,
        None => crate::validate::profile::profile_of(&builder.loader, dir)?
            .unwrap_or_else(ClusterProfile::assumed),
    };
    Ok(validate::validate(set, &profile, &builder.loader).diagnostics)
}

fn emit(args: &DiffArgs, report: &model::DiffReport) -> Result<()> {
    let tty = std::io::stdout().is_terminal();
    let format = args.format.unwrap_or(if tty {
        DiffFormat::Terminal
    } else {
        DiffFormat::Markdown
    });
    if let Some(dir) = &args.split {
        if format != DiffFormat::Markdown {
            return Err(Error::new("--split applies to --format markdown only"));
        }
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::new(format!("cannot create {}: {e}", dir.display())))?;
        let parts = diff::markdown::split(report, args.max_bytes);
        for (i, part) in parts.iter().enumerate() {
            let path = dir.join(format!("comment-{:03}.md", i + 1));
            super::write_file_atomic(&path, part)
                .map_err(|e| Error::new(format!("cannot write {}: {e}", path.display())))?;
        }
        eprintln!("wrote {} comment file(s) to {}", parts.len(), dir.display());
        return Ok(());
    }
    let text = match format {
        DiffFormat::Terminal => {
            let color = super::color(tty && args.output.is_none());
            diff::terminal::render(report, color)
        }
        DiffFormat::Markdown => diff::markdown::render(report, args.max_bytes),
        DiffFormat::Html => diff::html::render(report),
        DiffFormat::Json => diff::json::render(report),
    };
    match &args.output {
        Some(path) => super::write_file_atomic(path, &text),
        None => super::write_stdout(&text),
    }
    .map_err(|e| Error::new(format!("cannot write the output: {e}")))
}
