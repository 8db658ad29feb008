//! Shards and `cfsim merge`: any split of a run into shards, merged in any order, writes the
//! same bytes as one process; merges that cannot be right are refused with exit code 2; and
//! `--precision` stops reproducibly at the precision asked.

use std::path::{Path, PathBuf};

use crate::common::*;

/// Runs cfsim in `dir` (relative paths as a user in that folder types them) and asserts
/// success; returns stdout and stderr.
fn ok_in(dir: &Path, args: &[&str]) -> (String, String) {
    let out = cfsim().current_dir(dir).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "cfsim {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs cfsim in `dir`, expecting exit code 2; returns stderr.
fn refused_in(dir: &Path, args: &[&str]) -> String {
    let out = cfsim().current_dir(dir).args(args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "cfsim {args:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

fn bytes(p: PathBuf) -> Vec<u8> {
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A work folder with the baseline scenario and the scenario it is extended by, copied in
/// (so the files named in parts are relative, as on a cluster's shared folder).
fn workdir() -> Dir {
    let dir = Dir::new();
    for name in ["baseline.toml", "no-round.toml"] {
        std::fs::copy(scenario(name), dir.path().join(name)).unwrap();
    }
    dir
}

/// Shards of a run of `paths` paths, written as `part-I.part`; returns their names.
fn shards(dir: &Path, command: &[&str], paths: &str, count: u64, threads: &str) -> Vec<String> {
    (0..count)
        .map(|i| {
            let part = format!("part-{i}.part");
            let shard = format!("{i}/{count}");
            let mut args = command.to_vec();
            args.extend([
                "--paths",
                paths,
                "--threads",
                threads,
                "--shard",
                &shard,
                "--part",
                &part,
            ]);
            ok_in(dir, &args);
            part
        })
        .collect()
}

/// The whole command run in one process into `one/`, then its shards; returns the parts.
fn whole_and_shards(dir: &Path, command: &[&str], paths: &str, count: u64) -> Vec<String> {
    let mut one = command.to_vec();
    one.extend(["--paths", paths, "--out", "one", "--quiet"]);
    ok_in(dir, &one);
    shards(dir, command, paths, count, "2")
}

#[test]
fn one_three_four_and_seven_shards_merged_in_any_order_equal_one_process() {
    let dir = workdir();
    let paths = "30000"; // 8 blocks: the last one short, and 7 shards of one or two blocks
    ok_in(
        dir.path(),
        &[
            "run",
            "baseline.toml",
            "--paths",
            paths,
            "--out",
            "one",
            "--quiet",
        ],
    );
    for count in [1u64, 3, 4, 7] {
        let mut parts = shards(dir.path(), &["run", "baseline.toml"], paths, count, "1");
        // Merged last-first, and for four shards in a shuffled order too.
        parts.reverse();
        if count == 4 {
            parts.swap(0, 2);
        }
        let out = format!("merged-{count}");
        let mut args = vec!["merge", "--out", &out, "--quiet"];
        args.extend(parts.iter().map(String::as_str));
        ok_in(dir.path(), &args);
        for file in ["summary.json", "periods.csv"] {
            assert!(
                bytes(dir.path().join("one").join(file)) == bytes(dir.path().join(&out).join(file)),
                "{count} shards: {file} differs from one process"
            );
        }
        if count == 4 {
            for chart in ["cash.png", "investors.png", "target.png"] {
                assert!(
                    bytes(dir.path().join("one").join(chart))
                        == bytes(dir.path().join(&out).join(chart)),
                    "{chart} differs"
                );
            }
        }
    }
}

#[test]
fn a_part_does_not_depend_on_threads_and_the_environment_names_the_same_shard() {
    let dir = workdir();
    // Enough blocks per shard (17) that workers reuse the statistics of folded chunks.
    let run = |extra: &[&str], part: &str, env: &[(&str, &str)]| {
        let mut cmd = cfsim();
        cmd.current_dir(dir.path())
            .args(["run", "baseline.toml", "--paths", "200000", "--part", part])
            .args(extra);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        bytes(dir.path().join(part))
    };
    let one = run(&["--shard", "1/3", "--threads", "1"], "a.part", &[]);
    let two = run(&["--shard", "1/3", "--threads", "2"], "b.part", &[]);
    assert!(one == two, "a part depends on the thread count");
    let slurm = run(
        &["--shard-from-env"],
        "c.part",
        &[
            ("SLURM_ARRAY_TASK_ID", "2"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
        ],
    );
    assert!(
        slurm == one,
        "SLURM_ARRAY_TASK_ID 2 from 1 is not shard 1/3"
    );
    let k8s = run(
        &["--shard-from-env", "--shard-count", "3"],
        "d.part",
        &[("JOB_COMPLETION_INDEX", "1")],
    );
    assert!(k8s == one, "JOB_COMPLETION_INDEX 1 of 3 is not shard 1/3");
}

#[test]
fn more_shards_than_blocks_leave_empty_parts_that_still_merge() {
    let dir = workdir();
    ok_in(
        dir.path(),
        &[
            "run",
            "baseline.toml",
            "--paths",
            "5000",
            "--out",
            "one",
            "--quiet",
            "--no-charts",
        ],
    );
    let parts = shards(dir.path(), &["run", "baseline.toml"], "5000", 5, "2");
    let mut args = vec!["merge", "--out", "merged", "--quiet", "--no-charts"];
    args.extend(parts.iter().map(String::as_str));
    ok_in(dir.path(), &args);
    assert!(
        bytes(dir.path().join("one/summary.json")) == bytes(dir.path().join("merged/summary.json"))
    );
}

#[test]
fn a_sharded_comparison_merges_to_the_same_comparison_without_the_scenario_files() {
    let dir = workdir();
    let compare = [
        "compare",
        "baseline.toml",
        "no-round.toml",
        "--variant",
        "no-contingent:amazon_contingent=0",
    ];
    let parts = whole_and_shards(dir.path(), &compare, "12000", 3);
    // The merge runs elsewhere: the scenario files are gone, the parts hold their texts.
    let elsewhere = Dir::new();
    for p in &parts {
        std::fs::rename(dir.path().join(p), elsewhere.path().join(p)).unwrap();
    }
    std::fs::remove_file(dir.path().join("baseline.toml")).unwrap();
    std::fs::remove_file(dir.path().join("no-round.toml")).unwrap();
    let mut args = vec!["merge", "--out", "merged"];
    args.extend(parts.iter().map(String::as_str));
    let (stdout, _) = ok_in(elsewhere.path(), &args);
    assert!(stdout.contains("no-contingent"), "{stdout}");
    for file in ["comparison.json", "comparison.csv", "compare_metrics.png"] {
        assert!(
            bytes(dir.path().join("one").join(file))
                == bytes(elsewhere.path().join("merged").join(file)),
            "{file} differs"
        );
    }
}

/// Rewrites a part's header field and its checksum, as a part of another cfsim would be.
fn forge(path: &Path, from: &str, to: &str) {
    use sha2::Digest as _;
    let text = std::fs::read_to_string(path).unwrap();
    let (first, body) = text.split_once('\n').unwrap();
    let body = body.trim_end_matches('\n').replacen(from, to, 1);
    assert!(body.contains(to));
    let sum: String = sha2::Sha256::digest(body.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let first = first.split(" sha256=").next().unwrap();
    std::fs::write(path, format!("{first} sha256={sum}\n{body}\n")).unwrap();
}

#[test]
fn merges_that_cannot_be_right_are_refused_with_the_reason() {
    let dir = workdir();
    let parts = shards(dir.path(), &["run", "baseline.toml"], "20000", 4, "2");
    let merge = |parts: &[&str]| {
        let mut args = vec!["merge", "--out", "m"];
        args.extend(parts);
        refused_in(dir.path(), &args)
    };
    let p: Vec<&str> = parts.iter().map(String::as_str).collect();
    let err = merge(&[p[0], p[1], p[3]]);
    assert!(
        err.contains("no part holds blocks 2..3") && err.contains("missing"),
        "{err}"
    );
    let err = merge(&[p[0], p[1], p[2]]);
    assert!(err.contains("no part holds blocks 3..5"), "{err}");
    let err = merge(&[p[0], p[1], p[1], p[2], p[3]]);
    assert!(err.contains("overlap"), "{err}");
    // Another seed, and another scenario (an override), of the same shard.
    ok_in(
        dir.path(),
        &[
            "run",
            "baseline.toml",
            "--paths",
            "20000",
            "--seed",
            "7",
            "--shard",
            "2/4",
            "--part",
            "seed.part",
        ],
    );
    let err = merge(&[p[0], p[1], "seed.part", p[3]]);
    assert!(err.contains("seed 7") && err.contains("seed 42"), "{err}");
    ok_in(
        dir.path(),
        &[
            "run",
            "baseline.toml",
            "--paths",
            "20000",
            "--set",
            "amazon_contingent=0",
            "--shard",
            "2/4",
            "--part",
            "set.part",
        ],
    );
    let err = merge(&[p[0], p[1], "set.part", p[3]]);
    assert!(err.contains("set.part: is a part of another run"), "{err}");
    // A flipped byte, a truncated file, another version, and not a part at all.
    let mut corrupt = bytes(dir.path().join(p[2]));
    let at = corrupt.len() / 2;
    corrupt[at] ^= 1;
    std::fs::write(dir.path().join("flip.part"), &corrupt).unwrap();
    let err = merge(&[p[0], p[1], "flip.part", p[3]]);
    assert!(err.contains("flip.part: corrupt"), "{err}");
    std::fs::write(dir.path().join("cut.part"), &corrupt[..at]).unwrap();
    assert!(merge(&["cut.part"]).contains("corrupt"));
    std::fs::copy(dir.path().join(p[2]), dir.path().join("old.part")).unwrap();
    forge(
        &dir.path().join("old.part"),
        "\"cfsim_version\":\"",
        "\"cfsim_version\":\"0.0.9-",
    );
    let err = merge(&[p[0], p[1], "old.part", p[3]]);
    assert!(err.contains("written by cfsim 0.0.9-"), "{err}");
    std::fs::write(dir.path().join("notes.part"), "hello\n").unwrap();
    let err = merge(&["notes.part"]);
    assert!(
        err.contains("notes.part:1:1: not a cfsim part file"),
        "{err}"
    );
    std::fs::copy(dir.path().join(p[0]), dir.path().join("edit.part")).unwrap();
    forge(
        &dir.path().join("edit.part"),
        "\"blocks\":[0,",
        "\"blocks\":[0,9",
    );
    let err = merge(&["edit.part"]);
    assert!(err.contains("does not fit a run of 5 blocks"), "{err}");
    // A whole run as one part, whose plan claims a sweep.
    ok_in(
        dir.path(),
        &[
            "run",
            "baseline.toml",
            "--paths",
            "5000",
            "--part",
            "kind.part",
        ],
    );
    forge(
        &dir.path().join("kind.part"),
        "\"kind\":\"run\"",
        "\"kind\":\"sweep\"",
    );
    let err = merge(&["kind.part"]);
    assert!(
        err.contains("its plan does not match its scenarios"),
        "{err}"
    );
    // Nothing was written by any refused merge.
    assert!(!dir.path().join("m").exists());
}

#[test]
fn shard_options_are_checked() {
    let dir = workdir();
    let err = refused_in(
        dir.path(),
        &["run", "baseline.toml", "--shard", "4/4", "--part", "x"],
    );
    assert!(err.contains("from 0 to 3"), "{err}");
    let err = refused_in(dir.path(), &["run", "baseline.toml", "--shard", "1/4"]);
    assert!(err.contains("--part"), "{err}");
    let err = refused_in(
        dir.path(),
        &["run", "baseline.toml", "--shard-from-env", "--part", "x"],
    );
    assert!(err.contains("SLURM_ARRAY_TASK_ID"), "{err}");
    let err = refused_in(
        dir.path(),
        &["run", "baseline.toml", "--precision", "0.01", "--part", "x"],
    );
    assert!(err.contains("pilot"), "{err}");
    let err = refused_in(dir.path(), &["run", "baseline.toml", "--precision", "2"]);
    assert!(err.contains("between 0 and 1"), "{err}");
    assert!(!dir.path().join("x").exists());
}

fn summary_of(dir: &Path, out: &str) -> serde_json::Value {
    serde_json::from_slice(&bytes(dir.join(out).join("summary.json"))).unwrap()
}

#[test]
fn precision_stops_at_a_power_of_two_of_blocks_whatever_the_threads() {
    let dir = workdir();
    let eps = 0.01;
    let precise = |threads: &str, out: &str| {
        let (_, err) = ok_in(
            dir.path(),
            &[
                "run",
                "baseline.toml",
                "--precision",
                "0.01",
                "--threads",
                threads,
                "--out",
                out,
                "--quiet",
                "--no-charts",
            ],
        );
        assert!(err.is_empty(), "quiet: {err}");
        summary_of(dir.path(), out)
    };
    let one = precise("1", "p1");
    let two = precise("2", "p2");
    assert_eq!(one, two);
    let paths = one["paths"].as_u64().unwrap();
    let blocks = paths / 4096;
    assert_eq!(paths % 4096, 0);
    assert!(blocks.is_power_of_two(), "{paths} paths");
    let p = &one["precision"];
    assert_eq!(p["met"], true);
    assert_eq!(p["paths"].as_u64(), Some(paths));
    let widest = |s: &serde_json::Value| {
        s["precision"]["reached"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| num(&r["half_width"]))
            .fold(0.0, f64::max)
    };
    assert!(widest(&one) <= eps);
    // Every probability is checked: the target, default and the conditional tranche.
    let names: Vec<&str> = p["reached"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["metric"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["P(target)", "P(insolvency)", "P(released amazon_b)"]
    );
    // It is the plain run of that many paths, and half as many would not have been enough.
    ok_in(
        dir.path(),
        &[
            "run",
            "baseline.toml",
            "--paths",
            &paths.to_string(),
            "--out",
            "plain",
            "--quiet",
            "--no-charts",
        ],
    );
    let mut plain = summary_of(dir.path(), "plain");
    plain["precision"] = one["precision"].clone();
    assert_eq!(plain, one);
    let half = (paths / 2).to_string();
    ok_in(
        dir.path(),
        &[
            "run",
            "baseline.toml",
            "--precision",
            "0.01",
            "--max-paths",
            &half,
            "--out",
            "half",
            "--quiet",
            "--no-charts",
        ],
    );
    let half = summary_of(dir.path(), "half");
    assert_eq!(half["precision"]["met"], false);
    assert!(widest(&half) > eps);
    // With a relative goal on the means, it runs at least as long.
    ok_in(
        dir.path(),
        &[
            "run",
            "baseline.toml",
            "--precision",
            "0.01",
            "--precision-rel",
            "0.02",
            "--out",
            "rel",
            "--quiet",
            "--no-charts",
        ],
    );
    let rel = summary_of(dir.path(), "rel");
    assert!(rel["paths"].as_u64().unwrap() >= paths);
    assert!(
        rel["precision"]["reached"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["metric"] == "microsoft net position")
    );
}

#[test]
fn a_run_that_is_not_precise_enough_says_so() {
    let dir = workdir();
    let (_, err) = ok_in(
        dir.path(),
        &[
            "run",
            "baseline.toml",
            "--precision",
            "0.001",
            "--max-paths",
            "5000",
            "--out",
            "o",
            "--no-charts",
        ],
    );
    assert!(
        err.contains("not precise enough after --max-paths 5,000"),
        "{err}"
    );
    assert_eq!(summary_of(dir.path(), "o")["paths"], 5000);
}

#[test]
fn a_sharded_sweep_merges_to_the_same_sweep() {
    let dir = workdir();
    let sweep = [
        "sweep",
        "baseline.toml",
        "no-round.toml",
        "--param",
        "amazon_contingent=0:35:3",
        "--param",
        "growth_decay=0.1,0.3",
        "--contour",
        "P(insolvency)=0.4",
    ];
    let parts = whole_and_shards(dir.path(), &sweep, "9000", 3);
    let mut args = vec!["merge", "--out", "merged", "--quiet"];
    args.extend(parts.iter().rev().map(String::as_str));
    ok_in(dir.path(), &args);
    for file in [
        "sweep.json",
        "sweep.csv",
        "heatmap-baseline.png",
        "heatmap-no-round.png",
    ] {
        let (a, b) = (
            dir.path().join("one").join(file),
            dir.path().join("merged").join(file),
        );
        assert!(bytes(a) == bytes(b), "{file} differs");
    }
}

#[test]
fn a_sharded_sensitivity_analysis_merges_to_the_same_analysis() {
    let dir = workdir();
    let sensitivity = [
        "sensitivity",
        "baseline.toml",
        "--set",
        "amazon_contingent=20",
    ];
    // 1,000 base paths are 4 blocks of 256: 7 shards leave three empty.
    for count in [3, 7] {
        let parts = whole_and_shards(dir.path(), &sensitivity, "1000", count);
        let out = format!("merged-{count}");
        let mut args = vec!["merge", "--out", &out, "--quiet"];
        // Any order: the rank statistics' rows are joined in block order.
        args.extend(parts.iter().rev().map(String::as_str));
        ok_in(dir.path(), &args);
        for file in ["sensitivity.json", "tornado.png", "sobol.png"] {
            let (a, b) = (
                dir.path().join("one").join(file),
                dir.path().join(&out).join(file),
            );
            assert!(bytes(a) == bytes(b), "{count} shards: {file} differs");
        }
    }
    let json: serde_json::Value =
        serde_json::from_slice(&bytes(dir.path().join("merged-3/sensitivity.json"))).unwrap();
    assert_eq!(json["overrides"][0], "amazon_contingent=20");
    assert_eq!(json["paths"], 1000);

    // A part of an analysis does not merge with a run's, nor with statistics of another shape.
    let run = [
        "run",
        "baseline.toml",
        "--paths",
        "5000",
        "--part",
        "run.part",
    ];
    ok_in(dir.path(), &run);
    let parts = shards(dir.path(), &sensitivity, "1000", 2, "1");
    let err = refused_in(dir.path(), &["merge", &parts[0], "run.part"]);
    assert!(err.contains("another run"), "{err}");
    forge(&dir.path().join(&parts[1]), "\"shape\":[", "\"shape\":[1");
    let err = refused_in(dir.path(), &["merge", &parts[0], &parts[1]]);
    assert!(err.contains("not shaped"), "{err}");
}
