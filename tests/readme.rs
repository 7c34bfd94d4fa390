//! README's claims, checked where a test can check them: every `strata` command in its `sh`
//! blocks whose paths all exist in the repository runs (in a copy of it) and does not fail
//! to run (exit 2); the two commands at the top are the ones a fresh clone is told to run.

mod common;

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// The `strata ...` lines of README's `sh` blocks, comments removed, split into words
/// (single quotes kept together).
fn commands(readme: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut in_sh = false;
    for line in readme.lines() {
        if let Some(lang) = line.strip_prefix("```") {
            in_sh = !in_sh && lang == "sh";
            continue;
        }
        let code = line.split(" #").next().unwrap_or("").trim();
        if !in_sh || !code.starts_with("strata ") {
            continue;
        }
        let mut words = Vec::new();
        let mut rest = code;
        while let Some(start) = rest.find(|c: char| !c.is_whitespace()) {
            rest = &rest[start..];
            let (word, next) = match rest.strip_prefix('\'') {
                Some(q) => {
                    let end = q.find('\'').unwrap_or(q.len());
                    (&q[..end], &q[(end + 1).min(q.len())..])
                }
                None => {
                    let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
                    (&rest[..end], &rest[end..])
                }
            };
            words.push(word.to_string());
            rest = next;
        }
        out.push(words);
    }
    out
}

#[test]
fn readme_starts_with_the_two_commands() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let block: Vec<&str> = readme
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .unwrap()
        .lines()
        .map(|l| l.split(" #").next().unwrap().trim())
        .collect();
    assert_eq!(
        block,
        ["cargo run -- render overlays/cn-hangzhou", "cargo test"]
    );
}

#[test]
fn readme_commands_on_shipped_paths_run() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let repo = tempfile::tempdir().unwrap();
    for dir in ["overlays", "examples", "deploy", "tests/fixtures/profiles"] {
        copy_tree(&root().join(dir), &repo.path().join(dir));
    }
    let mut ran = 0;
    for words in commands(&readme) {
        // Only commands whose path arguments are all shipped (no `manifests/`, `../old`, git
        // refs or globs a reader fills in).
        let paths: Vec<&String> = words[1..]
            .iter()
            .filter(|w| !w.starts_with('-') && w.contains('/'))
            .collect();
        let runnable = words[1..].iter().all(|w| !w.contains('*') && w != "-")
            && !words.iter().any(|w| w.starts_with("--base"))
            && paths.iter().all(|p| repo.path().join(p).exists());
        if !runnable {
            continue;
        }
        let out = common::strata()
            .args(&words[1..])
            .current_dir(repo.path())
            .output()
            .unwrap();
        assert_ne!(
            out.status.code(),
            Some(2),
            "README's `{}` fails:\n{}",
            words.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        ran += 1;
    }
    assert!(ran >= 8, "only {ran} of README's commands ran");
}

/// Every relative link of README.md, ARCHITECTURE.md and docs/ names a file that exists.
#[test]
fn relative_links_in_the_docs_resolve() {
    let mut files = vec![root().join("README.md"), root().join("ARCHITECTURE.md")];
    let mut stack = vec![root().join("docs")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "md") {
                files.push(p);
            }
        }
    }
    let mut broken = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for (i, _) in text.match_indices("](") {
            let rest = &text[i + 2..];
            let Some(end) = rest.find(')') else { continue };
            let target = &rest[..end];
            if target.contains("://") || target.starts_with('#') || target.contains(' ') {
                continue;
            }
            let path = target.split('#').next().unwrap();
            if !f.parent().unwrap().join(path).exists() {
                broken.push(format!(
                    "{}: {target}",
                    f.strip_prefix(root()).unwrap().display()
                ));
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

/// docs/profile.md's complete example is a profile strata reads.
#[test]
fn the_profile_reference_example_loads() {
    let doc = std::fs::read_to_string(root().join("docs/profile.md")).unwrap();
    let example = doc
        .split("```yaml\n")
        .filter_map(|b| b.split("```").next())
        .find(|b| b.contains("kind: ClusterProfile"))
        .expect("an example ClusterProfile");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cluster.yaml");
    std::fs::write(&path, example).unwrap();
    let out = common::strata()
        .args(["validate", "examples", "--cluster"])
        .arg(&path)
        .current_dir(root())
        .output()
        .unwrap();
    assert_ne!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
