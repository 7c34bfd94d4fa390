//! The command line's own conventions: completions and the man page come from the same
//! definitions the commands parse with.

mod common;

#[test]
fn bash_completions_are_valid_bash_and_know_the_commands() {
    let out = common::strata()
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let script = String::from_utf8(out.stdout).unwrap();
    for word in [
        "render",
        "validate",
        "diff",
        "argocd",
        "--out-dir",
        "--enable-exec",
    ] {
        assert!(script.contains(word), "no {word} in the completions");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("strata.bash");
    std::fs::write(&path, &script).unwrap();
    match std::process::Command::new("bash")
        .arg("-n")
        .arg(&path)
        .output()
    {
        Ok(check) => assert!(
            check.status.success(),
            "{}",
            String::from_utf8_lossy(&check.stderr)
        ),
        Err(_) => common::skip(format_args!("bash -n: bash is not installed")),
    }
    for shell in ["zsh", "fish", "powershell", "elvish"] {
        let out = common::strata()
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success() && !out.stdout.is_empty(), "{shell}");
    }
}

#[test]
fn the_man_page_covers_every_command() {
    let out = common::strata().arg("man").output().unwrap();
    assert!(out.status.success());
    let page = String::from_utf8(out.stdout).unwrap();
    for title in [
        ".TH strata 1",
        ".TH strata-render 1",
        ".TH strata-validate 1",
        ".TH strata-diff 1",
        ".TH strata-argocd-generate 1",
    ] {
        assert!(page.contains(title), "no `{title}` in the man page");
    }
    assert!(!page.contains("strata-debug"), "hidden commands stay out");
}

#[test]
fn color_is_one_global_flag() {
    let root = env!("CARGO_MANIFEST_DIR");
    let run = |args: &[&str]| {
        let out = common::strata()
            .args(args)
            .current_dir(root)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    };
    // Findings of `validate` (stdout) and of a failed `render` (stderr), in colour only when
    // asked: the output here is not a terminal.
    for cmd in [&["validate", "examples"][..], &["render", "examples"][..]] {
        let always: Vec<&str> = [&["--color", "always"][..], cmd].concat();
        let never: Vec<&str> = [cmd, &["--color", "never"][..]].concat();
        assert!(
            run(&always).contains("\u{1b}["),
            "{cmd:?}: no colour with --color always"
        );
        assert!(
            !run(&never).contains("\u{1b}["),
            "{cmd:?}: colour with --color never"
        );
        assert!(!run(cmd).contains("\u{1b}["), "{cmd:?}: colour on a pipe");
    }
}
