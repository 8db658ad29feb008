//! Command-line conventions: `init`, short flags, `--paths 1e6`, `--json`, shell completions
//! and the manual page.

use crate::common::*;

fn ok_in(dir: &std::path::Path, args: &[&str]) -> String {
    let out = cfsim().current_dir(dir).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "cfsim {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn init_writes_a_starter_that_runs_and_never_overwrites_unasked() {
    let dir = Dir::new();
    let said = ok_in(dir.path(), &["init", "deals/first.toml"]);
    assert!(said.contains("cfsim run deals/first.toml"), "{said}");
    let file = dir.path().join("deals/first.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with('#') && text.contains("source ="));
    // Valid with no warning, even when warnings are denied.
    ok_in(
        dir.path(),
        &["validate", "--deny-warnings", "deals/first.toml"],
    );
    std::fs::write(&file, "# mine\n").unwrap();
    let out = cfsim()
        .current_dir(dir.path())
        .args(["init", "deals/first.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "# mine\n");
    ok_in(dir.path(), &["init", "--force", "deals/first.toml"]);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
}

#[test]
fn short_flags_paths_in_any_notation_and_json_on_stdout() {
    let dir = Dir::new();
    ok_in(dir.path(), &["init"]);
    for paths in ["3000", "3e3", "3_000", "3,000"] {
        let json = ok_in(
            dir.path(),
            &[
                "run",
                "scenario.toml",
                "-n",
                paths,
                "-s",
                "9",
                "-j",
                "1",
                "-o",
                "out",
                "--json",
                "--no-charts",
            ],
        );
        let printed: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(printed["paths"], 3000, "{paths}");
        assert_eq!(printed["seed"], 9);
        let written = std::fs::read_to_string(dir.path().join("out/summary.json")).unwrap();
        assert_eq!(
            json.trim_end(),
            written.trim_end(),
            "--json prints the file written"
        );
    }
    assert!(
        ok_in(
            dir.path(),
            &["run", "scenario.toml", "-n", "1000", "-q", "--no-charts"]
        )
        .is_empty()
    );
    for bad in ["1.5", "0", "-3", "1e30", "3_", "x"] {
        let out = cfsim()
            .current_dir(dir.path())
            .args([
                "run",
                "scenario.toml",
                "--no-charts",
                &format!("--paths={bad}"),
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--paths"), "{bad}: {err}");
    }
}

#[test]
fn completions_for_every_shell_and_a_manual_page() {
    let dir = Dir::new();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = ok_in(dir.path(), &["completions", shell]);
        for command in ["run", "compare", "sensitivity", "merge", "init"] {
            assert!(script.contains(command), "{shell}: no `{command}`");
        }
    }
    let page = ok_in(dir.path(), &["man"]);
    assert!(
        page.contains(".TH cfsim 1") && page.contains("sensitivity"),
        "{page}"
    );
}
