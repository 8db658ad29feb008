//! `cfsim sweep`: grids of one or two params, every point on common random numbers and equal,
//! bit for bit, to `cfsim run --set`.

use cfsim::sweep::Sweep;

use crate::common::*;

/// Runs a sweep; returns what it wrote, its CSV and the folder (kept alive with the files).
fn sweep(files: &[std::path::PathBuf], args: &[&str]) -> (Sweep, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sweep");
    let run = cfsim()
        .arg("sweep")
        .args(files)
        .args(args)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    let json = std::fs::read_to_string(out.join("sweep.json")).unwrap();
    let csv = std::fs::read_to_string(out.join("sweep.csv")).unwrap();
    (serde_json::from_str(&json).unwrap(), csv, dir)
}

fn metric(p: &cfsim::sweep::SweepPoint, name: &str) -> f64 {
    p.metrics
        .iter()
        .find(|m| m.metric == name)
        .unwrap_or_else(|| panic!("no {name}"))
        .estimate
        .mean
}

#[test]
fn a_sweep_point_is_bit_identical_to_a_run_with_the_same_set() {
    let file = scenario("baseline.toml");
    let (s, _, _dir) = sweep(
        std::slice::from_ref(&file),
        &[
            "--param",
            "amazon_contingent=0:70:3",
            "--paths",
            "6000",
            "--seed",
            "5",
            "--quiet",
        ],
    );
    let points = &s.scenarios[0].points;
    assert_eq!(points.len(), 3);
    for p in points {
        let set = format!("amazon_contingent={}", p.values[0]);
        let run = run_typed(&file, 6000, &["--seed", "5", "--set", &set]);
        assert_eq!(
            metric(p, "P(target)"),
            run.target.as_ref().unwrap().probability,
            "{set}"
        );
        assert_eq!(
            metric(p, "P(insolvency)"),
            run.insolvency.probability,
            "{set}"
        );
        let amazon = by_id(&run.investors, "amazon", |i| &i.id);
        assert_eq!(
            metric(p, "amazon net position"),
            amazon.net_position.mean,
            "{set}"
        );
        assert_eq!(
            metric(p, "circularity"),
            run.circularity.as_ref().unwrap().mean,
            "{set}"
        );
    }
    let png = std::fs::read(_dir.path().join("sweep").join("sweep.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    // Common random numbers: more contingent money never makes a default more likely here.
    let defaults: Vec<f64> = points.iter().map(|p| metric(p, "P(insolvency)")).collect();
    assert!(defaults.windows(2).all(|w| w[1] <= w[0]), "{defaults:?}");
}

#[test]
fn a_two_param_sweep_covers_the_grid_and_the_csv_is_tidy() {
    let dir = Dir::new();
    let file = dir.file("tiny.toml", BASE);
    let (s, csv, _dir) = sweep(
        &[file.clone(), file],
        &[
            "--param",
            "growth=0.1,0.3",
            "--param",
            "multiple=10:30:3",
            "--contour",
            "P(insolvency)=0.5",
            "--paths",
            "500",
            "--quiet",
        ],
    );
    // A heatmap per scenario.
    for label in ["tiny", "tiny-2"] {
        let png = std::fs::read(
            _dir.path()
                .join("sweep")
                .join(format!("heatmap-{label}.png")),
        );
        assert_eq!(&png.unwrap()[1..4], b"PNG", "{label}");
    }
    assert_eq!(s.params.len(), 2);
    assert_eq!(s.scenarios.len(), 2);
    assert_ne!(
        s.scenarios[0].label, s.scenarios[1].label,
        "labels are unique"
    );
    let points: Vec<Vec<f64>> = s.scenarios[0]
        .points
        .iter()
        .map(|p| p.values.clone())
        .collect();
    assert_eq!(
        points,
        vec![
            vec![0.1, 10.0],
            vec![0.1, 20.0],
            vec![0.1, 30.0],
            vec![0.3, 10.0],
            vec![0.3, 20.0],
            vec![0.3, 30.0]
        ]
    );
    let mut rows = csv::Reader::from_reader(csv.as_bytes());
    let header = rows.headers().unwrap().clone();
    assert_eq!(&header[1], "growth");
    assert_eq!(&header[2], "multiple");
    let metrics = s.scenarios[0].points[0].metrics.len();
    let records: Vec<csv::StringRecord> = rows.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), 2 * 6 * metrics);
    // Param values are numbers.
    assert!(
        records
            .iter()
            .all(|r| r[1].parse::<f64>().is_ok() && r[2].parse::<f64>().is_ok())
    );
    // Every metric states its unit.
    assert_eq!(&header[3], "metric");
    assert_eq!(&header[4], "unit");
    for r in &records {
        let want = match &r[3] {
            m if m.starts_with("P(") => "share of paths",
            m if m.ends_with("net position") => "$B at the horizon's end",
            _ => "ratio (received / invested)",
        };
        assert_eq!(&r[4], want, "{}", &r[3]);
    }
}

#[test]
fn sweep_mistakes_are_usage_errors_that_name_the_param() {
    let file = scenario("baseline.toml");
    for (args, says) in [
        (
            vec!["--param", "amazn=0:70:8"],
            "--param amazn:1:1: unknown param `amazn`",
        ),
        (
            vec!["--param", "agi_chance=0:3:3"],
            "expected a number between 0 and 1, got 1.5",
        ),
        (
            vec!["--param", "a=1,2", "--param", "a=3,4"],
            "is given twice",
        ),
        (
            vec![
                "--param",
                "amazon_contingent=1,2",
                "--set",
                "amazon_contingent=3",
            ],
            "both swept (--param) and set (--set)",
        ),
        (
            vec!["--param", "a=1,2", "--param", "b=1,2", "--param", "c=1,2"],
            "one or two --param",
        ),
        (
            vec!["--param", "a=0:1:1000"],
            "STEPS `1000` must be a whole number from 2 to 201",
        ),
    ] {
        let out = cfsim()
            .arg("sweep")
            .arg(&file)
            .args(&args)
            .args(["--paths", "100", "--quiet"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}
