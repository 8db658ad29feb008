//! Hostile input and faults: dense graphs, signals, output folders, spreadsheet formulas, and a
//! fuzzing harness that mutates the shipped scenarios and asserts that nothing panics, hangs,
//! writes NaN or leaves a stray file.

use std::path::Path;
use std::time::{Duration, Instant};

use proptest::prelude::*;

use crate::common::*;

/// A scenario where every pair of `n` inside entities trades both ways: more simple cycles
/// than can ever be listed (about n! of them).
fn dense(n: usize) -> String {
    let mut text = String::from(
        "name = \"dense\"\n[horizon]\nstart = \"2024-Q1\"\nend = \"2025-Q4\"\n\n[[entity]]\nid = \"lab\"\nroles = [\"lab\"]\ncash = 100\n",
    );
    let ids: Vec<String> = std::iter::once("lab".to_string())
        .chain((1..n).map(|i| format!("e{i}")))
        .collect();
    for id in &ids[1..] {
        text += &format!("\n[[entity]]\nid = \"{id}\"\nroles = [\"investor\"]\n");
    }
    for a in &ids {
        for b in &ids {
            if a != b {
                text += &format!(
                    "\n[[flow]]\nid = \"{a}_{b}\"\nkind = \"contract\"\nfrom = \"{a}\"\nto = \"{b}\"\nvalue = 10\nstart = \"2024-Q1\"\nduration_years = 1\nmargin = 0.3\n"
                );
            }
        }
    }
    text + "\n[valuation]\nmultiple = 10\n"
}

#[test]
fn cycles_of_a_dense_graph_are_enumerated_within_a_budget() {
    let dir = Dir::new();
    let p = dir.file("dense.toml", &dense(20));
    let started = Instant::now();
    let out = cfsim()
        .arg("graph")
        .arg(&p)
        .args(["--format", "text"])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Cycles (at least 100000"), "{text}");
    // Shortest first: every two-entity loop is among those kept, largest volume first.
    let listed: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("Cycles"))
        .skip(1)
        .collect();
    assert_eq!(listed.len(), cfsim::graph::MAX_CYCLES);
    assert!(
        listed.iter().all(|l| l.matches(" -> ").count() == 2),
        "{text}"
    );

    // A run follows the kept cycles only and says how many there are.
    let s = run_typed(&p, 500, &[]);
    assert_eq!(s.cycles.len(), cfsim::graph::MAX_CYCLES);
    let count = s
        .cycle_count
        .as_ref()
        .expect("the count is given when cycles are left out");
    assert!(!count.complete && count.found == cfsim::graph::CYCLE_BUDGET);
    // The flows chart says its marked cycles are only the largest ones.
    assert!(cfsim::report::charts::data::flows(&s).cycles_truncated);
}

#[test]
fn a_small_graph_lists_every_cycle_and_no_count() {
    let dir = Dir::new();
    let p = dir.file("dense.toml", &dense(3));
    let s = run_typed(&p, 200, &[]);
    // Three entities trading both ways: three two-entity loops and two three-entity ones.
    assert_eq!(s.cycles.len(), 5);
    assert!(s.cycle_count.is_none());
    assert!(!cfsim::report::charts::data::flows(&s).cycles_truncated);
}

#[cfg(unix)]
#[test]
fn an_interrupted_run_leaves_the_previous_outputs_and_nothing_else() {
    let dir = Dir::new();
    let p = dir.file("s.toml", BASE);
    let out = dir.path().join("out");
    cfsim()
        .arg("run")
        .arg(&p)
        .args(["--paths", "500", "--quiet", "--no-charts", "--out"])
        .arg(&out)
        .assert()
        .success();
    let before = std::fs::read(out.join("summary.json")).unwrap();
    for signal in ["-INT", "-TERM"] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cfsim"))
            .arg("run")
            .arg(&p)
            .args(["--paths", "1000000000", "--quiet", "--out"])
            .arg(&out)
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(500));
        // The shell's own `kill`: no procps needed on a bare machine.
        let killed = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("kill {signal} {}", child.id()))
            .status()
            .unwrap();
        assert!(killed.success());
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(130), "{signal}");
        assert_eq!(std::fs::read(out.join("summary.json")).unwrap(), before);
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names.len(),
            2,
            "only the scenario and its outputs: {names:?}"
        );
    }
}

#[test]
fn names_that_a_folder_cannot_hold_get_folders_of_their_own() {
    let dir = Dir::new();
    let a = dir.file(
        "a.toml",
        &base_with("name = \"tiny\"", "name = \"deal a/b\""),
    );
    let b = dir.file(
        "b.toml",
        &base_with("name = \"tiny\"", "name = \"deal a-b\""),
    );
    let c = dir.file(
        "c.toml",
        &base_with("name = \"tiny\"", "name = \"deal a b\""),
    );
    for f in [&a, &b, &c] {
        cfsim()
            .current_dir(dir.path())
            .arg("run")
            .arg(f)
            .args(["--paths", "100", "--quiet", "--no-charts"])
            .assert()
            .success();
    }
    let mut folders: Vec<String> = std::fs::read_dir(dir.path().join("output"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    folders.sort();
    assert_eq!(folders.len(), 3, "{folders:?}");
    assert!(
        folders.iter().all(|f| f.starts_with("deal-a-b")),
        "{folders:?}"
    );
    // An empty name is refused, so it never maps to `output/` itself.
    let e = dir.file("e.toml", &base_with("name = \"tiny\"", "name = \" \""));
    rejects(
        &std::fs::read_to_string(&e).unwrap(),
        "name = \" \"",
        "\" \"",
        &["expected a name, found an empty one"],
    );
}

#[test]
fn csv_cells_never_run_as_spreadsheet_formulas() {
    let dir = Dir::new();
    let p = dir.file("s.toml", BASE);
    let out = dir.path().join("cmp");
    cfsim()
        .arg("compare")
        .arg(&p)
        .args([
            "--variant",
            "=SUM(1+1) @x:growth=0.3",
            "--paths",
            "200",
            "--quiet",
            "--no-charts",
            "--out",
        ])
        .arg(&out)
        .assert()
        .success();
    let csv = std::fs::read_to_string(out.join("comparison.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let mut labels = Vec::new();
    for row in reader.records() {
        let row = row.unwrap();
        labels.push(row[3].to_string());
        for cell in row.iter() {
            assert!(!cell.starts_with('='), "{cell}");
        }
    }
    assert!(labels.contains(&"'=SUM(1+1) @x".to_string()), "{labels:?}");
}

// --- The fuzzing harness ---------------------------------------------------------------------

/// The shipped scenarios, as the seeds of every mutation.
fn seeds() -> Vec<(String, String)> {
    shipped()
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            // Files that extend another are inlined by path: keep them beside their parent.
            let text = text.replace(
                "extends = \"",
                &format!("extends = \"{}/", scenario("").display()),
            );
            (p.file_name().unwrap().to_string_lossy().into_owned(), text)
        })
        .collect()
}

/// One structural mutation of a TOML document.
#[derive(Clone, Debug)]
enum Mutation {
    /// A value becomes an extreme or non-finite number.
    Extreme(usize, usize),
    /// A value changes type.
    Retype(usize, usize),
    /// A key is deleted.
    Delete(usize),
    /// A key is renamed.
    Rename(usize),
    /// A string (an id or a reference) points elsewhere.
    Repoint(usize, usize),
    /// An entry of an array (a flow, an entity, a tranche) is duplicated.
    Duplicate(usize),
    /// Every pair of entities trades.
    Densify,
    /// Random bytes land somewhere in the text.
    Bytes(usize, Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Extreme(a, b)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Retype(a, b)),
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::Rename),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Repoint(a, b)),
        any::<usize>().prop_map(Mutation::Duplicate),
        Just(Mutation::Densify),
        (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(a, b)| Mutation::Bytes(a, b)),
    ]
}

const EXTREMES: [f64; 12] = [
    0.0,
    -0.0,
    -1.0,
    1e308,
    -1e308,
    f64::MIN_POSITIVE,
    1e-300,
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    4_294_967_296.0,
    1e15,
];

/// Where a value sits in the document.
type Place = Vec<Step>;
#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Index(usize),
}

fn places(v: &toml::Value, at: &mut Place, out: &mut Vec<Place>) {
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t {
                at.push(Step::Key(k.clone()));
                out.push(at.clone());
                places(v, at, out);
                at.pop();
            }
        }
        toml::Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                at.push(Step::Index(i));
                out.push(at.clone());
                places(v, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

/// The value at a place, and its parent.
fn parent_of<'a>(root: &'a mut toml::Value, place: &[Step]) -> Option<&'a mut toml::Value> {
    let mut v = root;
    for step in &place[..place.len().saturating_sub(1)] {
        v = match step {
            Step::Key(k) => v.as_table_mut()?.get_mut(k)?,
            Step::Index(i) => v.as_array_mut()?.get_mut(*i)?,
        };
    }
    Some(v)
}

fn value_at<'a>(root: &'a mut toml::Value, place: &[Step]) -> Option<&'a mut toml::Value> {
    let parent = parent_of(root, place)?;
    match place.last()? {
        Step::Key(k) => parent.as_table_mut()?.get_mut(k),
        Step::Index(i) => parent.as_array_mut()?.get_mut(*i),
    }
}

fn strings(v: &toml::Value, out: &mut Vec<String>) {
    match v {
        toml::Value::String(s) => out.push(s.clone()),
        toml::Value::Table(t) => t.values().for_each(|v| strings(v, out)),
        toml::Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
        _ => {}
    }
}

/// Applies mutations; the text is the document's, unless bytes were spliced in.
fn mutate(text: &str, mutations: &[Mutation]) -> String {
    let Ok(table) = text.parse::<toml::Table>() else {
        return text.to_string();
    };
    let mut doc = toml::Value::Table(table);
    let mut bytes: Vec<(usize, Vec<u8>)> = Vec::new();
    for m in mutations {
        let mut all = Vec::new();
        places(&doc, &mut Vec::new(), &mut all);
        if all.is_empty() {
            break;
        }
        let pick = |i: usize| all[i % all.len()].clone();
        match m {
            Mutation::Extreme(at, which) => {
                if let Some(v) = value_at(&mut doc, &pick(*at)) {
                    *v = toml::Value::Float(EXTREMES[which % EXTREMES.len()]);
                }
            }
            Mutation::Retype(at, which) => {
                if let Some(v) = value_at(&mut doc, &pick(*at)) {
                    *v = match which % 5 {
                        0 => toml::Value::String("x".into()),
                        1 => toml::Value::Boolean(true),
                        2 => toml::Value::Array(Vec::new()),
                        3 => toml::Value::Table(toml::Table::new()),
                        _ => toml::Value::Integer(i64::MAX),
                    };
                }
            }
            Mutation::Delete(at) | Mutation::Rename(at) => {
                let place = pick(*at);
                if let (Some(Step::Key(k)), Some(parent)) =
                    (place.last(), parent_of(&mut doc, &place))
                    && let Some(t) = parent.as_table_mut()
                    && let Some(v) = t.remove(k)
                    && matches!(m, Mutation::Rename(_))
                {
                    t.insert(format!("{k}x"), v);
                }
            }
            Mutation::Repoint(at, to) => {
                let mut names = Vec::new();
                strings(&doc, &mut names);
                names.push("nowhere".into());
                let name = names[to % names.len()].clone();
                if let Some(v) = value_at(&mut doc, &pick(*at))
                    && v.is_str()
                {
                    *v = toml::Value::String(name);
                }
            }
            Mutation::Duplicate(at) => {
                let place = pick(*at);
                if let (Some(Step::Index(i)), Some(parent)) =
                    (place.last(), parent_of(&mut doc, &place))
                    && let Some(items) = parent.as_array_mut()
                {
                    let copy = items[*i].clone();
                    items.push(copy);
                }
            }
            Mutation::Densify => densify(&mut doc),
            Mutation::Bytes(at, b) => bytes.push((*at, b.clone())),
        }
    }
    let mut text = toml::to_string(&doc).unwrap_or_default().into_bytes();
    for (at, b) in bytes {
        let at = at % (text.len() + 1);
        text.splice(at..at, b);
    }
    String::from_utf8_lossy(&text).into_owned()
}

/// Adds a contract between every ordered pair of the document's entities.
fn densify(doc: &mut toml::Value) {
    let Some(t) = doc.as_table_mut() else { return };
    let ids: Vec<String> = t
        .get("entity")
        .and_then(|e| e.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|e| e.get("id")?.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let Some(flows) = t.get_mut("flow").and_then(|f| f.as_array_mut()) else {
        return;
    };
    for a in &ids {
        for b in &ids {
            if a != b {
                let mut f = toml::Table::new();
                f.insert("id".into(), format!("dense_{a}_{b}").into());
                f.insert("kind".into(), "contract".into());
                f.insert("from".into(), a.clone().into());
                f.insert("to".into(), b.clone().into());
                f.insert("value".into(), 1.0.into());
                f.insert("duration_years".into(), 1.0.into());
                f.insert("margin".into(), 0.2.into());
                flows.push(toml::Value::Table(f));
            }
        }
    }
}

/// Every file under `dir`, relative to it.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p.clone());
            }
            out.push(p.strip_prefix(dir).unwrap().display().to_string());
        }
    }
    out.sort();
    out
}

/// How many mutated scenarios a test run tries: CI's bounded number unless
/// `CFSIM_FUZZ_CASES` asks for a longer campaign.
fn fuzz_cases() -> u32 {
    std::env::var("CFSIM_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

/// CI tries the same cases on every run, so a red build always points at a change; a longer
/// campaign (`CFSIM_FUZZ_CASES`) draws new ones unless `CFSIM_FUZZ_SEED` fixes them.
fn fuzz_seed() -> proptest::test_runner::RngSeed {
    use proptest::test_runner::RngSeed;
    match std::env::var("CFSIM_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        Some(seed) => RngSeed::Fixed(seed),
        None if std::env::var("CFSIM_FUZZ_CASES").is_ok() => RngSeed::Random,
        None => RngSeed::Fixed(20261123),
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: fuzz_cases(),
        rng_seed: fuzz_seed(),
        .. ProptestConfig::default()
    })]

    #[test]
    fn mutated_scenarios_exit_0_or_2_in_time_with_finite_outputs_and_no_stray_file(
        seed in any::<usize>(),
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let seeds = seeds();
        let (name, text) = &seeds[seed % seeds.len()];
        let text = mutate(text, &mutations);

        // The library: reading never panics.
        let read = cfsim::scenario::Scenario::from_toml(&text, name);

        // The binary: exit 0 or 2, in time, no panic, finite outputs or none at all.
        let dir = Dir::new();
        let file = dir.file(name, &text);
        let out_dir = dir.path().join("out");
        let started = Instant::now();
        let out = cfsim()
            .arg("run")
            .arg(&file)
            .args(["--paths", "300", "--quiet", "--out"])
            .arg(&out_dir)
            .timeout(Duration::from_secs(60))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        prop_assert!(started.elapsed() < Duration::from_secs(60), "hung:\n{text}");
        prop_assert!(
            matches!(out.status.code(), Some(0) | Some(2)),
            "exit {:?}:\n{stderr}\n--- scenario ---\n{text}",
            out.status.code()
        );
        prop_assert!(!stderr.contains("internal error") && !stderr.contains("panicked"), "{stderr}");
        prop_assert_eq!(out.status.code() == Some(0), read.is_ok(), "library and binary agree: {}", stderr);
        if std::env::var("CFSIM_FUZZ_SHOW").is_ok() {
            eprintln!("fuzz: exit {:?} {}", out.status.code(), stderr.lines().next().unwrap_or(""));
        }
        if out.status.code() == Some(0) {
            let json = std::fs::read_to_string(out_dir.join("summary.json")).unwrap();
            // A NaN or an infinity would be written as null where a number is required, and
            // reading the summary back would fail.
            let typed: Result<cfsim::report::Summary, _> = serde_json::from_str(&json);
            prop_assert!(typed.is_ok(), "{:?}\n--- scenario ---\n{}", typed.err(), text);
            let csv = std::fs::read_to_string(out_dir.join("periods.csv")).unwrap().to_lowercase();
            prop_assert!(!csv.contains("nan") && !csv.contains("inf"));
        } else {
            prop_assert!(stderr.contains(name.as_str()) || stderr.starts_with("error"), "{stderr}");
        }
        // Nothing but the scenario and, after a run, its outputs.
        let files = files_under(dir.path());
        let stray: Vec<&String> = files
            .iter()
            .filter(|f| *f != name && *f != "out" && !f.starts_with("out/"))
            .collect();
        prop_assert!(stray.is_empty(), "stray files: {:?}", stray);
        if out.status.code() != Some(0) {
            prop_assert!(!out_dir.exists());
        }
    }
}

#[test]
fn a_long_pass_through_chain_and_a_huge_reference_are_handled_in_linear_time() {
    let mut text = BASE.to_string();
    // Each pass-through passes on what the previous one paid: a chain 3,000 long.
    let n = 3000;
    let mut of = "cloud".to_string();
    let mut from = "inv".to_string();
    for i in 0..n {
        let to = if i % 2 == 0 { "lab" } else { "inv" };
        text += &format!(
            "\n[[flow]]\nid = \"p{i}\"\nkind = \"pass_through\"\nfrom = \"{from}\"\nto = \"{to}\"\nof = \"{of}\"\nshare = 0.5\nmargin = 0.1\n"
        );
        of = format!("p{i}");
        from = to.to_string();
    }
    let dir = Dir::new();
    let p = dir.file("chain.toml", &text);
    let started = Instant::now();
    let out = cfsim()
        .arg("explain")
        .arg(&p)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );

    // A reference half a megabyte long is refused at once, with no suggestion computed.
    let huge = base_with(
        "from = \"inv\"",
        &format!("from = \"{}\"", "i".repeat(500_000)),
    );
    let p = dir.file("huge.toml", &huge);
    let started = Instant::now();
    let out = cfsim()
        .arg("validate")
        .arg(&p)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at most 100 characters"));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[cfg(unix)]
#[test]
fn a_planted_link_as_the_output_folder_is_refused_and_its_target_untouched() {
    let dir = Dir::new();
    let p = dir.file("s.toml", BASE);
    let target = dir.path().join("elsewhere");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("summary.json"), "precious").unwrap();
    let link = dir.path().join("out");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let out = cfsim()
        .arg("run")
        .arg(&p)
        .args(["--paths", "100", "--quiet", "--no-charts", "--out"])
        .arg(&link)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a folder"));
    assert_eq!(
        std::fs::read_to_string(target.join("summary.json")).unwrap(),
        "precious"
    );
    // Nothing new: no staging folder left, nothing written through the link.
    assert_eq!(
        files_under(dir.path()),
        [
            "elsewhere",
            "elsewhere/summary.json",
            "out",
            "out/summary.json",
            "s.toml"
        ]
    );
}
