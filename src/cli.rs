//! The command line: argument parsing, dispatch, and the mapping of errors to exit codes
//! (0 success, 2 bad input or usage, 1 any other failure).

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::diagnostic::{Diagnostics, SourceMap};
use crate::engine::{self, Model, RunOptions, RunResult};
use crate::graph::MoneyGraph;
use crate::report::{self, Summary};
use crate::scenario::{self, Override, Scenario};

/// cfsim: simulate circular financing deals (investors who are also suppliers) under
/// uncertainty.
#[derive(Parser, Debug)]
#[command(name = "cfsim", version, about, long_about = None, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Examples shown at the end of `cfsim --help`.
const EXAMPLES: &str = "Examples:
  cfsim init deal.toml && cfsim run deal.toml      # a starter scenario and its run
  cfsim run scenarios/baseline.toml                # 100,000 paths into output/baseline/
  cfsim run scenarios/baseline.toml -n 1e6 --set amazon_contingent=0
  cfsim compare scenarios/baseline.toml scenarios/no-round.toml
  cfsim sensitivity scenarios/baseline.toml        # which inputs drive each answer
  cfsim run scenarios/baseline.toml --json | jq .insolvency
  cfsim completions bash > ~/.local/share/bash-completion/completions/cfsim";

#[derive(Subcommand, Debug)]
enum Command {
    /// Write a commented starter scenario to FILE (default scenario.toml), to edit and run.
    Init {
        /// Where to write it; an existing file is left alone unless --force.
        #[arg(default_value = "scenario.toml")]
        file: PathBuf,
        /// Replace the file if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Print a shell completion script: `cfsim completions bash`, zsh, fish, elvish or
    /// powershell.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print cfsim's manual page (roff): `cfsim man > cfsim.1; man ./cfsim.1`.
    Man,
    /// The ledger of one path: its draws, the company's accounts and every payment by period,
    /// each milestone, tranche, rescue and the default with its reason.
    ///
    /// `--path N` traces path N (the same path as in `cfsim run` with the same seed); `--find`
    /// traces the first path whose outcome matches, such as 'default and released(amazon_b)',
    /// and lists the next matches.
    Trace {
        /// Scenario file (TOML).
        file: PathBuf,
        /// The path to trace, from 0.
        #[arg(long, value_parser = whole, conflicts_with = "find", required_unless_present = "find")]
        path: Option<u64>,
        /// Trace the first path that matches: default, rescued, target, released(ID),
        /// lapsed(ID), joined by and, or, not and parentheses.
        #[arg(long, value_name = "EXPR")]
        find: Option<crate::trace::Filter>,
        /// With --find: how many paths to search [default: 100000].
        #[arg(short = 'n', long, value_parser = count)]
        paths: Option<u64>,
        /// Master seed (the run's).
        #[arg(short, long, default_value_t = 42)]
        seed: u64,
        /// Override a param: name=value (repeatable).
        #[arg(long = "set", value_name = "NAME=VALUE")]
        sets: Vec<Override>,
        /// Print the ledger as JSON, with every payment.
        #[arg(long)]
        json: bool,
        /// Treat warnings as errors (exit code 2).
        #[arg(long)]
        deny_warnings: bool,
    },
    /// Check scenario files and print a one-line summary of each.
    Validate {
        /// Scenario files (TOML).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Override a param: name=value (repeatable).
        #[arg(long = "set", value_name = "NAME=VALUE")]
        sets: Vec<Override>,
        /// Treat warnings as errors (exit code 2).
        #[arg(long)]
        deny_warnings: bool,
    },
    /// Print the money-flow graph as Graphviz DOT, or as text with its cycles.
    Graph {
        /// Scenario file (TOML).
        file: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = GraphFormat::Text)]
        format: GraphFormat,
        /// Override a param: name=value (repeatable).
        #[arg(long = "set", value_name = "NAME=VALUE")]
        sets: Vec<Override>,
        /// Treat warnings as errors (exit code 2).
        #[arg(long)]
        deny_warnings: bool,
    },
    /// Print the compiled model: the period order, the random quantities and their keys, the
    /// schedules and the conditions, as the engine will simulate them.
    Explain {
        /// Scenario file (TOML).
        file: PathBuf,
        /// Override a param: name=value (repeatable).
        #[arg(long = "set", value_name = "NAME=VALUE")]
        sets: Vec<Override>,
        /// Treat warnings as errors (exit code 2).
        #[arg(long)]
        deny_warnings: bool,
    },
    /// Compare funding structures side by side on the same random draws.
    ///
    /// The first scenario is the reference. `--variant LABEL:NAME=VALUE` adds the reference with
    /// a param overridden, under a label (repeat the same label to override several params).
    Compare {
        /// Scenario files (TOML); the first is the reference.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// A variant of the reference: LABEL:NAME=VALUE (repeatable).
        #[arg(long = "variant", value_name = "LABEL:NAME=VALUE")]
        variants: Vec<Variant>,
        #[command(flatten)]
        opts: SimOptions,
        #[command(flatten)]
        shard: ShardOptions,
    },
    /// Sweep one or two params over a grid: the key metrics at every point, on the same draws.
    ///
    /// Every point is the scenario with `--set NAME=value` (the same as `cfsim run --set`), run
    /// with the same seed and paths, so curves are smooth and points differ only by the param.
    /// Several files give a curve per funding structure.
    Sweep {
        /// Scenario files (TOML).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// A swept param: NAME=FROM:TO:STEPS (STEPS values, both ends included) or
        /// NAME=V1,V2,... (once or twice).
        #[arg(long = "param", value_name = "NAME=FROM:TO:STEPS", required = true)]
        params: Vec<crate::sweep::Axis>,
        /// For two params: draw a contour on METRIC's heatmap where it crosses VALUE, such as
        /// 'P(insolvency)=0.3' (repeatable).
        #[arg(long = "contour", value_name = "METRIC=VALUE")]
        contours: Vec<report::charts::sweep::Contour>,
        #[command(flatten)]
        opts: SimOptions,
        #[command(flatten)]
        shard: ShardOptions,
    },
    /// Goal seek: the value of a param at which a key metric meets a target.
    ///
    /// Every evaluation is `cfsim run --set NAME=value` on the same seed and paths (common
    /// random numbers). The range is scanned, then the crossing is narrowed by bisection.
    Solve {
        /// Scenario file (TOML).
        file: PathBuf,
        /// The param and the range to search: NAME=LO:HI.
        #[arg(long = "param", value_name = "NAME=LO:HI")]
        param: crate::solve::Bracket,
        /// What to reach: 'METRIC <= VALUE' or 'METRIC >= VALUE', such as 'P(default) <= 0.30'.
        #[arg(long, value_name = "TARGET")]
        target: crate::solve::Target,
        #[command(flatten)]
        opts: SimOptions,
    },
    /// Which uncertain inputs drive the key outputs: a tornado, rank correlations and Sobol
    /// indices with bootstrap intervals.
    ///
    /// `--paths` is the number of base paths (default 10000); the analysis simulates
    /// `paths x (3 x inputs + 2)` paths in all. Every input is switched or held through its own
    /// stream of draws, the others keep theirs.
    Sensitivity {
        /// Scenario file (TOML).
        file: PathBuf,
        #[command(flatten)]
        opts: SimOptions,
        #[command(flatten)]
        shard: ShardOptions,
    },
    /// Simulate a scenario: print a summary table, write summary.json and periods.csv.
    Run {
        /// Scenario file (TOML).
        file: PathBuf,
        #[command(flatten)]
        opts: SimOptions,
        #[command(flatten)]
        shard: ShardOptions,
        #[command(flatten)]
        precision: PrecisionOptions,
        /// Also write per-path values as CSV: the draws and the key outputs of the run's first
        /// paths (see --samples-limit), to PATH, or without PATH to samples.csv among the
        /// outputs.
        #[arg(long, value_name = "PATH", num_args = 0..=1)]
        samples: Option<Option<PathBuf>>,
        /// With --samples: the most rows (paths) to write [default: 100000; at most 5000000].
        #[arg(long, value_name = "N", requires = "samples", value_parser = count)]
        samples_limit: Option<u64>,
        /// Also write report.html: report.md as one HTML file with the charts inside.
        #[arg(long)]
        html: bool,
    },
    /// Merge the part files of a sharded run, comparison, sweep or sensitivity analysis into
    /// its outputs, the same to the byte as running it in one process.
    ///
    /// The parts may be given in any order; every block of the run must be in exactly one of
    /// them. The part files hold the scenario files' texts, so the merge needs only them.
    Merge {
        /// Part files written by `run`, `compare`, `sweep` or `sensitivity` with `--part`.
        #[arg(required = true)]
        parts: Vec<PathBuf>,
        /// Output folder [default: the run's: output/<scenario-name>/ or
        /// output/compare-<name>/].
        #[arg(short, long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Print nothing on stdout.
        #[arg(short, long)]
        quiet: bool,
        /// Print the JSON file written on stdout instead of the table.
        #[arg(long, conflicts_with = "quiet")]
        json: bool,
        /// For a run: also write report.html, report.md with the charts inside.
        #[arg(long)]
        html: bool,
        /// Do not draw the PNG charts.
        #[arg(long)]
        no_charts: bool,
        /// Also write the charts as SVG.
        #[arg(long, conflicts_with = "no_charts")]
        svg: bool,
        /// Chart size and text: web (screen), report (text at least 7 pt printed 3.25 in
        /// wide) or slide (16:9).
        #[arg(long, value_enum, default_value_t, conflicts_with = "no_charts")]
        style: report::charts::Style,
    },
}

/// Running one shard of a run on a cluster (see `cfsim merge`).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ShardOptions {
    /// Simulate only shard I of N (from 0) of the run's blocks (4096 paths; 256 base paths
    /// for `sensitivity`) and write its statistics to --part, for `cfsim merge`.
    #[arg(
        long,
        value_name = "I/N",
        requires = "part",
        conflicts_with = "shard_from_env"
    )]
    pub shard: Option<crate::shard::Shard>,
    /// Take the shard from a batch scheduler's array task: SLURM_ARRAY_TASK_ID and
    /// SLURM_ARRAY_TASK_COUNT, or JOB_COMPLETION_INDEX (Kubernetes) or
    /// AWS_BATCH_JOB_ARRAY_INDEX with --shard-count.
    #[arg(long, requires = "part")]
    pub shard_from_env: bool,
    /// How many shards, where the scheduler does not say (Kubernetes, AWS Batch).
    #[arg(long, value_name = "N", requires = "shard_from_env")]
    pub shard_count: Option<u64>,
    /// The part file to write instead of the outputs (alone: the whole run as one part).
    #[arg(long, value_name = "PATH")]
    pub part: Option<PathBuf>,
}

impl ShardOptions {
    /// The shard to run and its part file, or `None` for a whole run with its outputs.
    fn resolve(&self) -> Result<Option<(crate::shard::Shard, PathBuf)>, Failure> {
        let Some(part) = &self.part else {
            return Ok(None);
        };
        let shard = if self.shard_from_env {
            crate::shard::Shard::from_env(self.shard_count, |k| std::env::var(k).ok())
                .map_err(usage)?
        } else {
            self.shard
                .unwrap_or(crate::shard::Shard { index: 0, count: 1 })
        };
        Ok(Some((shard, part.clone())))
    }
}

/// Stopping a run once its key figures are precise enough.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct PrecisionOptions {
    /// Run until the 95% interval half-width of P(target), P(default) and every conditional
    /// tranche's release is at most EPS (such as 0.005, half a point). Checked after 1, 2, 4,
    /// 8, ... blocks of 4096 paths, so where a run stops does not depend on the threads.
    #[arg(long, value_name = "EPS", conflicts_with = "paths", value_parser = positive_fraction)]
    pub precision: Option<f64>,
    /// With --precision: also run until each key mean's half-width is at most R times its
    /// size (net positions, round trips, circularity; such as 0.01 for 1%).
    #[arg(long, value_name = "R", requires = "precision", value_parser = positive_fraction)]
    pub precision_rel: Option<f64>,
    /// With --precision: the most paths to run [default: 10000000].
    #[arg(long, value_name = "N", requires = "precision", value_parser = count)]
    pub max_paths: Option<u64>,
}

/// A count of paths, at least 1 (see [`whole`]).
fn count(s: &str) -> Result<u64, String> {
    match whole(s)? {
        0 => Err("at least 1 path is needed".to_string()),
        n => Ok(n),
    }
}

/// A whole number: digits with optional `_` or `,` between groups (`1_000_000`), or a number
/// in scientific notation that is a whole number (`1e6`, `2.5e5`).
fn whole(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let plain: String = t.chars().filter(|c| !matches!(c, '_' | ',')).collect();
    // `_` may group digits anyhow (as in Rust); `,` only in thousands (`1,000,000`).
    let groups: Vec<&str> = t.split(',').collect();
    let commas_ok =
        groups.len() == 1 || (groups[0].len() <= 3 && groups[1..].iter().all(|g| g.len() == 3));
    let grouped_ok = commas_ok && !t.starts_with(['_', ',']) && !t.ends_with(['_', ',']);
    let n = if !plain.is_empty() && plain.bytes().all(|b| b.is_ascii_digit()) && grouped_ok {
        plain.parse::<u64>().ok()
    } else {
        match t.parse::<f64>() {
            // Below 2^53 every whole double is exact; above, the count would be rounded.
            Ok(x)
                if x.is_finite()
                    && x.fract() == 0.0
                    && (0.0..=9.007_199_254_740_992e15).contains(&x) =>
            {
                Some(x as u64)
            }
            _ => None,
        }
    };
    n.ok_or_else(|| format!("`{s}` is not a whole number (such as 100000, 1e6 or 1_000_000)"))
}

/// A number in (0, 1).
fn positive_fraction(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if x > 0.0 && x < 1.0 => Ok(x),
        _ => Err(format!(
            "`{s}` is not a number between 0 and 1 (such as 0.005)"
        )),
    }
}

/// The most worker threads `--threads` accepts: each has a stack and statistics of its own.
pub const MAX_THREADS: u16 = 1024;

/// Options shared by the commands that simulate.
#[derive(clap::Args, Debug, Clone)]
pub struct SimOptions {
    /// Number of Monte Carlo paths, such as 100000, 1e6 or 1_000_000 [default: 100000; for
    /// `sensitivity`, base paths: 10000].
    #[arg(short = 'n', long, value_parser = count)]
    pub paths: Option<u64>,
    /// Master seed: the same seed, scenario and paths give bit-identical results.
    #[arg(short, long, default_value_t = 42)]
    pub seed: u64,
    /// Worker threads (0: one per core; at most 1024). Results do not depend on it.
    #[arg(short = 'j', long, default_value_t = 0, value_parser = clap::value_parser!(u16).range(0..=MAX_THREADS as i64))]
    pub threads: u16,
    /// Override a param: name=value (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub sets: Vec<Override>,
    /// Output folder [default: output/<scenario-name>/, with `+NAME=VALUE` for each --set].
    #[arg(short, long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print nothing on stdout and no progress bar.
    #[arg(short, long)]
    pub quiet: bool,
    /// Print the JSON file the command writes (summary.json, comparison.json, sweep.json,
    /// sensitivity.json, solve.json) on stdout instead of the table.
    #[arg(long, conflicts_with = "quiet")]
    pub json: bool,
    /// Do not draw the PNG charts.
    #[arg(long)]
    pub no_charts: bool,
    /// Also write the charts as SVG.
    #[arg(long, conflicts_with = "no_charts")]
    pub svg: bool,
    /// Chart size and text: web (screen), report (text at least 7 pt printed 3.25 in wide)
    /// or slide (16:9).
    #[arg(long, value_enum, default_value_t, conflicts_with = "no_charts")]
    pub style: report::charts::Style,
    /// Treat warnings about the scenario as errors (exit code 2).
    #[arg(long)]
    pub deny_warnings: bool,
}

/// Paths of a run when `--paths` is not given.
pub const DEFAULT_PATHS: u64 = 100_000;

impl SimOptions {
    /// `--paths`, or the default of a run.
    pub fn paths(&self) -> u64 {
        self.paths.unwrap_or(DEFAULT_PATHS)
    }
}

/// `LABEL:NAME=VALUE`: the reference scenario with a param overridden, under a label.
#[derive(Clone, Debug, PartialEq)]
pub struct Variant {
    /// Label shown in the comparison.
    pub label: String,
    /// The override.
    pub set: Override,
}

impl std::str::FromStr for Variant {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (label, set) = s.split_once(':').ok_or_else(|| {
            format!("`{s}` is not of the form LABEL:NAME=VALUE (for example no-contingent:amazon_contingent=0)")
        })?;
        if label.trim().is_empty() {
            return Err(format!("`{s}`: the label before `:` is empty"));
        }
        let label = label.trim().to_string();
        let max = crate::scenario::reader::MAX_NAME;
        if label.chars().count() > max {
            return Err(format!(
                "the label is {} characters long; a label may have at most {max}",
                label.chars().count()
            ));
        }
        if label.chars().any(char::is_control) {
            return Err("the label holds a control character; it must be printable".into());
        }
        let set = Override {
            origin: format!("--variant {label}"),
            ..set.parse()?
        };
        Ok(Variant { label, set })
    }
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum GraphFormat {
    /// Graphviz DOT.
    Dot,
    /// Flows and cycles as text.
    Text,
}

/// Why a command failed.
pub enum Failure {
    /// Bad input: the diagnostics, rendered against their sources (exit 2).
    Input(Diagnostics, SourceMap),
    /// Anything else (exit 1).
    Other(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Other(e)
    }
}

impl From<engine::SimulateError> for Failure {
    fn from(e: engine::SimulateError) -> Self {
        Failure::Other(e.into())
    }
}

impl From<report::ReportError> for Failure {
    fn from(e: report::ReportError) -> Self {
        Failure::Other(e.into())
    }
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    // Interrupted (Ctrl-C, SIGTERM, SIGHUP): remove the unfinished outputs, leave the previous
    // ones, and exit as a shell expects of a process stopped by SIGINT.
    let _ = ctrlc::set_handler(|| {
        report::output::remove_unfinished();
        std::process::exit(130);
    });
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let Some(result) = guarded(|| run(cli)) else {
        return ExitCode::from(1);
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Input(diags, sources)) => {
            eprint!("{}", crate::text::printable(&diags.render(&sources)));
            ExitCode::from(2)
        }
        Err(Failure::Other(e)) => {
            // A closed pipe (`cfsim graph x | head`) is not a failure.
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {}", crate::text::printable(&format!("{e:#}")));
            ExitCode::from(1)
        }
    }
}

/// Runs `f`; a panic (a bug in cfsim, never the input's fault) is reported in one line as an
/// internal error and gives `None`. Unwinding drops the output's staging folder, so a panic
/// leaves no files.
fn guarded<T>(f: impl FnOnce() -> T) -> Option<T> {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|info| {
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "error: internal error in cfsim{place}: {what}\nThis is a bug, not a problem with your input; please report it with the scenario and the command."
        );
    }));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).ok();
    std::panic::set_hook(previous);
    result
}

/// Loads one scenario, or returns its diagnostics as an input failure. Its warnings go to
/// stderr, or fail the load when they are denied.
pub fn load(file: &std::path::Path, sets: &[Override], deny: bool) -> Result<Scenario, Failure> {
    let mut sources = SourceMap::new();
    let mut denied = Diagnostics::new();
    match scenario::load(file, sets, &mut sources) {
        Ok(s) => match warned(s, &sources, deny, &mut denied) {
            Some(s) => Ok(s),
            None => Err(Failure::Input(denied, sources)),
        },
        Err(d) => Err(Failure::Input(d, sources)),
    }
}

/// Loads one scenario without showing its warnings (already shown for another point of the
/// same file).
fn load_quietly(file: &std::path::Path, sets: &[Override]) -> Result<Scenario, Failure> {
    let mut sources = SourceMap::new();
    scenario::load(file, sets, &mut sources).map_err(|d| Failure::Input(d, sources))
}

/// Prints a scenario's warnings to stderr; when they are denied, moves them to `denied` (with
/// a closing error) and returns `None`.
fn warned(
    s: Scenario,
    sources: &SourceMap,
    deny: bool,
    denied: &mut Diagnostics,
) -> Option<Scenario> {
    if s.warnings.is_empty() {
        return Some(s);
    }
    let warnings = Diagnostics {
        items: s.warnings.clone(),
    };
    if deny {
        denied.items.extend(warnings.items);
        denied.push(crate::diagnostic::Diagnostic::plain(format!(
            "{}: warnings are denied (--deny-warnings)",
            s.file
        )));
        return None;
    }
    eprint!("{}", crate::text::printable(&warnings.render(sources)));
    Some(s)
}

fn run(cli: Cli) -> Result<(), Failure> {
    // Names, labels and sources come from the file: never raw to the terminal.
    let mut out = crate::text::Printable(std::io::stdout().lock());
    match cli.command {
        Command::Init { file, force } => init(&file, force, &mut out),
        Command::Trace {
            file,
            path,
            find,
            paths,
            seed,
            sets,
            json,
            deny_warnings,
        } => {
            let s = load(&file, &sets, deny_warnings)?;
            let m = Model::compile(&s);
            trace(&s, &m, path, find.as_ref(), paths, seed, json, &mut out)
        }
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command, "cfsim", &mut script);
            out.write_all(&script).map_err(anyhow::Error::from)?;
            Ok(())
        }
        Command::Man => {
            let command = <Cli as clap::CommandFactory>::command();
            let mut page = Vec::new();
            clap_mangen::Man::new(command)
                .render(&mut page)
                .map_err(anyhow::Error::from)?;
            out.write_all(&page).map_err(anyhow::Error::from)?;
            Ok(())
        }
        Command::Validate {
            files,
            sets,
            deny_warnings,
        } => {
            let mut sources = SourceMap::new();
            let mut all = Diagnostics::new();
            for file in &files {
                match scenario::load(file, &sets, &mut sources) {
                    Ok(s) => {
                        if let Some(s) = warned(s, &sources, deny_warnings, &mut all) {
                            writeln!(out, "{}", summary_line(&s)).map_err(anyhow::Error::from)?;
                        }
                    }
                    Err(d) => all.items.extend(d.items),
                }
            }
            if all.is_empty() {
                Ok(())
            } else {
                Err(Failure::Input(all, sources))
            }
        }
        Command::Graph {
            file,
            format,
            sets,
            deny_warnings,
        } => {
            let s = load(&file, &sets, deny_warnings)?;
            let g = MoneyGraph::new(&s);
            let text = match format {
                GraphFormat::Dot => g.to_dot(&s),
                GraphFormat::Text => g.to_text(&s),
            };
            out.write_all(text.as_bytes())
                .map_err(anyhow::Error::from)?;
            Ok(())
        }
        Command::Explain {
            file,
            sets,
            deny_warnings,
        } => {
            let s = load(&file, &sets, deny_warnings)?;
            let text = engine::explain::explain(&Model::compile(&s));
            out.write_all(text.as_bytes())
                .map_err(anyhow::Error::from)?;
            Ok(())
        }
        Command::Compare {
            files,
            variants,
            opts,
            shard,
        } => compare(&files, &variants, &opts, &shard, &mut out),
        Command::Solve {
            file,
            param,
            target,
            opts,
        } => solve(&file, &param, &target, &opts, &mut out),
        Command::Sweep {
            files,
            params,
            contours,
            opts,
            shard,
        } => sweep(&files, &params, &contours, &opts, &shard, &mut out),
        Command::Sensitivity { file, opts, shard } => sensitivity(&file, &opts, &shard, &mut out),
        Command::Run {
            file,
            opts,
            shard,
            precision,
            samples,
            samples_limit,
            html,
        } => {
            let samples = samples.map(|p| (p, samples_limit));
            run_one(&file, &opts, &shard, &precision, samples, html, &mut out)
        }
        Command::Merge {
            parts,
            out: dir,
            quiet,
            json,
            html,
            no_charts,
            svg,
            style,
        } => merge(
            &parts,
            &Outputs {
                dir,
                quiet,
                json,
                html,
                no_charts,
                charts: report::charts::Options { style, svg },
            },
            &mut out,
        ),
    }
}

/// Where and how a command writes its outputs.
struct Outputs {
    /// `--out`.
    dir: Option<PathBuf>,
    quiet: bool,
    /// Print the JSON written instead of the table.
    json: bool,
    /// Also write report.html (a run).
    html: bool,
    no_charts: bool,
    charts: report::charts::Options,
}

impl From<&SimOptions> for Outputs {
    fn from(o: &SimOptions) -> Self {
        Outputs {
            dir: o.out.clone(),
            quiet: o.quiet,
            json: o.json,
            html: false,
            no_charts: o.no_charts,
            charts: report::charts::Options {
                style: o.style,
                svg: o.svg,
            },
        }
    }
}

/// `cfsim run`: the whole run with its outputs, or one shard's part file.
fn run_one(
    file: &std::path::Path,
    opts: &SimOptions,
    shard: &ShardOptions,
    precision: &PrecisionOptions,
    samples: Option<(Option<PathBuf>, Option<u64>)>,
    html: bool,
    out: &mut impl std::io::Write,
) -> Result<(), Failure> {
    if let Some((_, Some(limit))) = &samples
        && *limit > crate::samples::MAX_LIMIT
    {
        return Err(usage(format!(
            "--samples-limit {limit}: at most {} rows",
            report::thousands(crate::samples::MAX_LIMIT)
        )));
    }
    if let Some((shard, part)) = shard.resolve()? {
        if samples.is_some() {
            return Err(usage(
                "--samples writes the run's first paths from one process: run it without --part"
                    .into(),
            ));
        }
        if precision.precision.is_some() {
            return Err(usage(
                "--precision decides the paths while it runs, and shards need them fixed: run a pilot with --precision, then the shards with the --paths it used".into(),
            ));
        }
        let planned = vec![crate::shard::Planned {
            label: String::new(),
            file: file.to_path_buf(),
            overrides: opts.sets.clone(),
        }];
        let (scenarios, plan) = load_plan(crate::shard::Kind::Run, planned, opts.deny_warnings)?;
        let models = vec![Model::compile(&scenarios[0])];
        return write_part(&plan, &models, &[], opts, shard, &part, out);
    }
    let s = load(file, &opts.sets, opts.deny_warnings)?;
    let (summary, result) = match precision.precision {
        Some(eps) => simulate_precisely(&s, opts, eps, precision)?,
        None => simulate(&s, opts)?,
    };
    let throughput = Some((
        result.throughput(),
        result.threads,
        result.elapsed.as_secs_f64(),
    ));
    let outputs = Outputs {
        html,
        ..opts.into()
    };
    let dir = output_dir(opts, &s);
    let Some((file, limit)) = samples else {
        return write_run(&summary, &dir, &outputs, throughput, None, out);
    };
    let rows = summary
        .paths
        .min(limit.unwrap_or(crate::samples::DEFAULT_LIMIT));
    let model = Model::compile(&s);
    let write_samples = |path: &std::path::Path| {
        crate::samples::write(&s, &model, opts.seed, rows, path).map_err(|e| {
            report::ReportError::Write {
                path: path.to_path_buf(),
                source: std::io::Error::other(format!("{e:#}")),
            }
        })
    };
    // Into the output folder, the samples are one of its set of files: a file of another
    // name there would be refused by the next run, which replaces the folder as a whole.
    let inside = |f: &std::path::Path| {
        let parent = f.parent().filter(|p| !p.as_os_str().is_empty());
        let absolute = |p: &std::path::Path| std::path::absolute(p).ok();
        absolute(parent.unwrap_or(std::path::Path::new("."))) == absolute(&dir)
    };
    let shown = match file {
        Some(f) if !inside(&f) => {
            write_run(&summary, &dir, &outputs, throughput, None, out)?;
            write_samples(&f)?;
            f
        }
        Some(f) if f.file_name().is_some_and(|n| n != "samples.csv") => {
            return Err(usage(format!(
                "--samples {}: in the output folder the samples are samples.csv (the folder is replaced as one set of files); name it so, or write it elsewhere",
                f.display()
            )));
        }
        _ => {
            let staged = |tmp: &std::path::Path| write_samples(&tmp.join("samples.csv"));
            write_run(&summary, &dir, &outputs, throughput, Some(&staged), out)?;
            dir.join("samples.csv")
        }
    };
    if !opts.quiet && !opts.json {
        writeln!(
            out,
            "Wrote {} (the draws and key outputs of paths 0 to {})",
            shown.display(),
            report::thousands(rows - 1)
        )
        .map_err(anyhow::Error::from)?;
    }
    Ok(())
}

/// Writes a run's summary.json, periods.csv and charts as one set, and prints its table.
/// Writes more files into an output set (a run's `samples.csv`).
type ExtraFiles<'a> = &'a dyn Fn(&std::path::Path) -> Result<u64, report::ReportError>;

/// `extra` writes more files into the set.
fn write_run(
    summary: &Summary,
    dir: &std::path::Path,
    o: &Outputs,
    throughput: Option<(f64, usize, f64)>,
    extra: Option<ExtraFiles<'_>>,
    out: &mut impl std::io::Write,
) -> Result<(), Failure> {
    let staging = report::output::Staging::new(dir)?;
    let charts = staging.write(|tmp| {
        if let Some(write) = extra {
            write(tmp)?;
        }
        report::write_atomic(&tmp.join("summary.json"), &report::summary_json(summary)?)?;
        report::write_atomic(
            &tmp.join("periods.csv"),
            report::periods_csv(summary).as_bytes(),
        )?;
        let charts = if o.no_charts {
            Vec::new()
        } else {
            report::charts::write_all(summary, tmp, o.charts)?
        };
        let pngs: Vec<String> = charts
            .iter()
            .filter(|c| c.extension().is_some_and(|e| e == "png"))
            .filter_map(|c| c.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect();
        let doc = report::document::Document::of_run(summary, &pngs);
        report::write_atomic(&tmp.join("report.md"), doc.markdown().as_bytes())?;
        if o.html {
            let html = doc.html(|file| std::fs::read(tmp.join(file)).ok());
            report::write_atomic(&tmp.join("report.html"), html.as_bytes())?;
        }
        Ok(charts)
    })?;
    staging.commit()?;
    if o.json {
        return print_json(out, &report::summary_json(summary)?);
    }
    if !o.quiet {
        let text = report::table(summary, throughput);
        out.write_all(text.as_bytes())
            .map_err(anyhow::Error::from)?;
        let charts = if charts.is_empty() {
            String::new()
        } else {
            format!(" and {} charts", charts.len())
        };
        writeln!(
            out,
            "Wrote {}/summary.json, periods.csv, report.md{}{charts}",
            dir.display(),
            if o.html { ", report.html" } else { "" }
        )
        .map_err(anyhow::Error::from)?;
    }
    Ok(())
}

/// Loads the scenarios of a plan, showing their warnings (or failing when they are denied),
/// and records the texts of the files read.
fn load_plan(
    kind: crate::shard::Kind,
    planned: Vec<crate::shard::Planned>,
    deny: bool,
) -> Result<(Vec<Scenario>, crate::shard::Plan), Failure> {
    let mut sources = SourceMap::new();
    let mut all = Diagnostics::new();
    let mut scenarios = Vec::new();
    for (k, p) in planned.iter().enumerate() {
        match scenario::load(&p.file, &p.overrides, &mut sources) {
            // A file's warnings are the same with every override: shown (or denied) once.
            Ok(s) if planned[..k].iter().any(|q| q.file == p.file) => scenarios.push(s),
            Ok(s) => {
                if let Some(s) = warned(s, &sources, deny, &mut all) {
                    scenarios.push(s);
                }
            }
            Err(d) => all.items.extend(d.items),
        }
    }
    if !all.is_empty() {
        return Err(Failure::Input(all, sources));
    }
    let mut plan = crate::shard::Plan {
        kind,
        scenarios: planned,
        files: Vec::new(),
        sweep: None,
    };
    plan.record_files(&sources);
    Ok((scenarios, plan))
}

/// Simulates one shard's blocks and writes its part file.
fn write_part(
    plan: &crate::shard::Plan,
    models: &[Model],
    metrics: &[engine::PairedMetric],
    opts: &SimOptions,
    shard: crate::shard::Shard,
    part: &std::path::Path,
    out: &mut impl std::io::Write,
) -> Result<(), Failure> {
    use crate::shard;
    let analysis = plan.kind == shard::Kind::Sensitivity;
    let paths = if analysis {
        opts.paths.unwrap_or(crate::sensitivity::DEFAULT_PATHS)
    } else {
        opts.paths()
    };
    let block = plan.kind.block_size();
    let total = paths.div_ceil(block);
    let range = shard.blocks(total);
    let (first, end) = (
        (range.start * block).min(paths),
        (range.end * block).min(paths),
    );
    let threads = opts.threads.into();
    let started = std::time::Instant::now();
    let mut stats: Vec<engine::Accumulator> = Vec::new();
    let mut paired = engine::PairedAccumulator::new(metrics, models.len());
    let mut sensitivity = None;
    let unit = if analysis { "base paths" } else { "paths" };
    let bar = Progress::new(end - first, unit, opts.quiet || range.is_empty());
    if analysis {
        let sa_opts = crate::sensitivity::Options {
            paths,
            seed: opts.seed,
            threads,
        };
        let totals =
            crate::sensitivity::simulate_blocks(&models[0], &sa_opts, range.clone(), &|d| {
                bar.update(d)
            })?;
        sensitivity = Some(totals);
    } else if range.is_empty() {
        // More shards than blocks: this one has nothing to run, and says so in its part.
        stats = models.iter().map(engine::Accumulator::new).collect();
    } else {
        let run = RunOptions {
            paths,
            seed: opts.seed,
            threads,
        };
        let r = engine::simulate_blocks(models, metrics, &run, range.clone(), &|d| bar.update(d))?;
        (stats, paired) = (r.stats, r.paired);
    }
    bar.finish();
    let secs = started.elapsed().as_secs_f64();
    let part_file = shard::Part {
        header: shard::Header {
            format_version: shard::FORMAT_VERSION,
            cfsim_version: env!("CARGO_PKG_VERSION").to_string(),
            plan: plan.clone(),
            fingerprint: shard::fingerprint(models, metrics),
            seed: opts.seed,
            paths,
            block_size: block,
            total_blocks: total,
            blocks: [range.start, range.end],
            shard,
        },
        stats,
        paired,
        sensitivity,
    };
    let bytes = shard::to_bytes(&part_file).map_err(anyhow::Error::from)?;
    // Every shard of an array names its part in one folder; the first one makes it.
    if let Some(folder) = part.parent().filter(|f| !f.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder)
            .map_err(|e| anyhow::anyhow!("cannot create the folder {}: {e}", folder.display()))?;
    }
    report::write_atomic(part, &bytes)?;
    if !opts.quiet {
        writeln!(
            out,
            "shard {shard}: blocks {}..{} of {total} ({unit} {} to {}) in {secs:.1} s, {} {unit}/s; wrote {}",
            range.start,
            range.end,
            report::thousands(first),
            report::thousands(end),
            report::thousands(((end - first) as f64 / secs.max(1e-9)).round() as u64),
            part.display()
        )
        .map_err(anyhow::Error::from)?;
    }
    Ok(())
}

/// `cfsim merge`: checks the parts, merges them and writes the run's or the comparison's
/// outputs.
fn merge(parts: &[PathBuf], o: &Outputs, out: &mut impl std::io::Write) -> Result<(), Failure> {
    use crate::shard;
    let mut read = Vec::with_capacity(parts.len());
    for p in parts {
        read.push((p.clone(), shard::read(p).map_err(usage)?));
    }
    shard::check_cover(&read).map_err(usage)?;
    let header = read[0].1.header.clone();
    let scenarios = header
        .plan
        .load()
        .map_err(|(d, sources)| Failure::Input(d, sources))?;
    // A part's plan is checked like any input before it is indexed: a run has one scenario,
    // a comparison two or more, a sweep one per file and point.
    let expected = match (&header.plan.kind, &header.plan.sweep) {
        (shard::Kind::Run, _) => Some(1),
        (shard::Kind::Compare, _) => (scenarios.len() >= 2).then_some(scenarios.len()),
        (shard::Kind::Sweep, Some(grid)) => grid
            .axes
            .iter()
            .try_fold(grid.files.len(), |n, a| n.checked_mul(a.values.len())),
        (shard::Kind::Sweep, None) => None,
        (shard::Kind::Sensitivity, _) => Some(1),
    };
    if expected != Some(scenarios.len()) || scenarios.is_empty() {
        return Err(usage(format!(
            "{}: its plan does not match its scenarios (a damaged or hand-edited part)",
            read[0].0.display()
        )));
    }
    let models: Vec<Model> = scenarios.iter().map(Model::compile).collect();
    let metrics = match header.plan.kind {
        shard::Kind::Run | shard::Kind::Sweep | shard::Kind::Sensitivity => Vec::new(),
        shard::Kind::Compare => engine::comparison_metrics(&models),
    };
    if shard::fingerprint(&models, &metrics) != header.fingerprint {
        return Err(usage(format!(
            "{}: its scenarios compile differently in this cfsim than in the one that ran them: merge with the same build",
            read[0].0.display()
        )));
    }
    let shapes: Vec<Vec<usize>> = models
        .iter()
        .map(|m| engine::Accumulator::new(m).shape())
        .collect();
    let block = header.plan.kind.block_size();
    for (path, part) in &read {
        let [a, b] = part
            .header
            .blocks
            .map(|x| x.saturating_mul(block).min(header.paths));
        let fits = match &part.sensitivity {
            Some(totals) => part.stats.is_empty() && totals.fits(&models[0], a, b),
            None => header.plan.kind != shard::Kind::Sensitivity,
        } && (part.stats.len() == models.len() || part.sensitivity.is_some())
            && part.stats.iter().zip(&shapes).all(|(a, s)| a.shape() == *s)
            && part.paired.values.len() == metrics.len()
            && part.paired.diffs.len() == metrics.len()
            && part
                .paired
                .values
                .iter()
                .chain(&part.paired.diffs)
                .all(|v| v.len() == models.len());
        if !fits {
            return Err(usage(format!(
                "{}: its statistics are not shaped for its own scenarios (a damaged or hand-edited part)",
                path.display()
            )));
        }
    }
    let total = shard::merge(read);
    match header.plan.kind {
        shard::Kind::Run => {
            let s = &scenarios[0];
            let summary = Summary::new(s, &models[0], &total.stats[0], header.seed);
            let dir = o
                .dir
                .clone()
                .unwrap_or_else(|| default_dir("", &s.name, &s.overrides));
            write_run(&summary, &dir, o, None, None, out)
        }
        shard::Kind::Compare => {
            let result = engine::ManyResult {
                stats: total.stats,
                paired: total.paired,
                elapsed: std::time::Duration::ZERO,
                threads: 0,
                peak_chunks_alive: 0,
            };
            let labels = compare_labels(&header.plan);
            write_comparison(
                &scenarios,
                &models,
                &labels,
                &metrics,
                &result,
                header.seed,
                o,
                None,
                out,
            )
        }
        shard::Kind::Sweep => {
            let metrics = scenarios
                .iter()
                .zip(&models)
                .zip(&total.stats)
                .map(|((s, m), a)| crate::sweep::key_metrics(&Summary::new(s, m, a, header.seed)))
                .collect();
            write_sweep(
                &header.plan,
                &scenarios,
                metrics,
                header.paths,
                header.seed,
                o,
                out,
            )
        }
        shard::Kind::Sensitivity => {
            let totals = total
                .sensitivity
                .unwrap_or_else(|| crate::sensitivity::Totals::new(&models[0]));
            let run = (header.paths, header.seed);
            write_sensitivity(
                &header.plan,
                &scenarios[0],
                &models[0],
                &totals,
                run,
                o,
                None,
                out,
            )
        }
    }
}

/// Loads every compared scenario, runs them on the same paths and writes the comparison (or
/// one shard's part of it).
fn compare(
    files: &[PathBuf],
    variants: &[Variant],
    opts: &SimOptions,
    shard: &ShardOptions,
    out: &mut impl std::io::Write,
) -> Result<(), Failure> {
    use crate::shard::Planned;
    // Each scenario, the reference first; a variant's label is given, a file's is its name.
    let mut planned: Vec<Planned> = files
        .iter()
        .map(|f| Planned {
            label: String::new(),
            file: f.clone(),
            overrides: opts.sets.clone(),
        })
        .collect();
    for v in variants {
        match planned
            .iter_mut()
            .skip(files.len())
            .find(|p| p.label == v.label)
        {
            Some(p) => p.overrides.push(v.set.clone()),
            None => {
                let mut sets = opts.sets.clone();
                sets.push(v.set.clone());
                planned.push(Planned {
                    label: v.label.clone(),
                    file: files[0].clone(),
                    overrides: sets,
                });
            }
        }
    }
    if planned.len() < 2 {
        return Err(usage(
            "compare needs at least two scenarios: give two files, or a file and a --variant LABEL:NAME=VALUE".into(),
        ));
    }
    let (scenarios, mut plan) =
        load_plan(crate::shard::Kind::Compare, planned, opts.deny_warnings)?;
    // Labels: the scenario's name for files, made unique.
    for (k, s) in scenarios.iter().enumerate() {
        let own = &plan.scenarios[k].label;
        let label = unique_label(
            if own.is_empty() { &s.name } else { own },
            plan.scenarios[..k].iter().map(|p| p.label.as_str()),
        );
        plan.scenarios[k].label = label;
    }
    let models: Vec<Model> = scenarios.iter().map(Model::compile).collect();
    let metrics = engine::comparison_metrics(&models);
    if let Some((shard, part)) = shard.resolve()? {
        return write_part(&plan, &models, &metrics, opts, shard, &part, out);
    }
    let run = RunOptions {
        paths: opts.paths(),
        seed: opts.seed,
        threads: opts.threads.into(),
    };
    let bar = Progress::new(opts.paths(), "paths", opts.quiet);
    let result = engine::simulate_many(&models, &metrics, &run, &|d| bar.update(d))?;
    bar.finish();
    let rate = result.stats[0].paths as f64 / result.elapsed.as_secs_f64().max(1e-9);
    let throughput = Some((rate, result.threads, result.elapsed.as_secs_f64()));
    write_comparison(
        &scenarios,
        &models,
        &compare_labels(&plan),
        &metrics,
        &result,
        opts.seed,
        &opts.into(),
        throughput,
        out,
    )
}

/// (label, file, overrides) of each compared scenario, as the comparison shows them.
fn compare_labels(plan: &crate::shard::Plan) -> Vec<(String, String, Vec<String>)> {
    plan.scenarios
        .iter()
        .map(|p| {
            (
                p.label.clone(),
                p.file.display().to_string(),
                overrides_of(&p.overrides),
            )
        })
        .collect()
}

/// Writes a comparison's JSON, CSV and charts as one set, and prints its table.
#[allow(clippy::too_many_arguments)]
fn write_comparison(
    scenarios: &[Scenario],
    models: &[Model],
    labels: &[(String, String, Vec<String>)],
    metrics: &[engine::PairedMetric],
    result: &engine::ManyResult,
    seed: u64,
    o: &Outputs,
    throughput: Option<(f64, usize, f64)>,
    out: &mut impl std::io::Write,
) -> Result<(), Failure> {
    let comparison =
        report::compare::Comparison::new(scenarios, models, labels, metrics, result, seed);
    let dir = o
        .dir
        .clone()
        .unwrap_or_else(|| default_dir("compare-", &labels[0].0, &scenarios[0].overrides));
    let staging = report::output::Staging::new(&dir)?;
    let charts = staging.write(|tmp| {
        let json = report::pretty_json(&comparison)?;
        report::write_atomic(&tmp.join("comparison.json"), &json)?;
        report::write_atomic(&tmp.join("comparison.csv"), comparison.csv().as_bytes())?;
        if o.no_charts {
            Ok(Vec::new())
        } else {
            report::charts::write_comparison(&comparison, tmp, o.charts)
        }
    })?;
    staging.commit()?;
    if o.json {
        return print_json(out, &report::pretty_json(&comparison)?);
    }
    if !o.quiet {
        let text = comparison.table(throughput);
        out.write_all(text.as_bytes())
            .map_err(anyhow::Error::from)?;
        writeln!(
            out,
            "Wrote {}/comparison.json, comparison.csv{}",
            dir.display(),
            if charts.is_empty() {
                String::new()
            } else {
                format!(" and {} charts", charts.len())
            }
        )
        .map_err(anyhow::Error::from)?;
    }
    Ok(())
}

/// Runs every point of a sweep of every file and writes `sweep.json` and `sweep.csv`.
fn sweep(
    files: &[PathBuf],
    axes: &[crate::sweep::Axis],
    contours: &[report::charts::sweep::Contour],
    opts: &SimOptions,
    shard: &ShardOptions,
    out: &mut impl std::io::Write,
) -> Result<(), Failure> {
    if axes.len() > 2 {
        return Err(usage(format!(
            "sweep takes one or two --param, got {}",
            axes.len()
        )));
    }
    if axes.len() == 2 && axes[0].name == axes[1].name {
        return Err(usage(format!(
            "--param {} is given twice; a two-dimensional sweep needs two params",
            axes[0].name
        )));
    }
    if let Some(a) = axes
        .iter()
        .find(|a| opts.sets.iter().any(|o| o.name == a.name))
    {
        return Err(usage(format!(
            "`{}` is both swept (--param) and set (--set); drop one",
            a.name
        )));
    }
    if !contours.is_empty() && axes.len() != 2 {
        return Err(usage(
            "--contour draws on the heatmaps of a two-param sweep; give a second --param".into(),
        ));
    }
    let points = crate::sweep::grid(axes);
    if points.len() > crate::sweep::MAX_POINTS {
        return Err(usage(format!(
            "the grid has {} points; a sweep may have at most {}",
            points.len(),
            crate::sweep::MAX_POINTS
        )));
    }
    // One scenario per file and point: the file with every --set and the point's values.
    let mut planned = Vec::with_capacity(files.len() * points.len());
    for file in files {
        for values in &points {
            let mut sets = opts.sets.clone();
            for (axis, &v) in axes.iter().zip(values) {
                sets.push(Override {
                    name: axis.name.clone(),
                    value: crate::sweep::set_value(v),
                    origin: format!("--param {}", axis.name),
                });
            }
            planned.push(crate::shard::Planned {
                label: String::new(),
                file: file.clone(),
                overrides: sets,
            });
        }
    }
    let (scenarios, mut plan) = load_plan(crate::shard::Kind::Sweep, planned, opts.deny_warnings)?;
    plan.sweep = Some(crate::shard::SweepPlan {
        files: files.to_vec(),
        axes: axes.to_vec(),
        contours: contours.to_vec(),
        sets: opts.sets.clone(),
    });
    let models: Vec<Model> = scenarios.iter().map(Model::compile).collect();
    if let Some((shard, part)) = shard.resolve()? {
        return write_part(&plan, &models, &[], opts, shard, &part, out);
    }
    let run = RunOptions {
        paths: opts.paths(),
        seed: opts.seed,
        threads: opts.threads.into(),
    };
    let bar = Progress::new(opts.paths() * models.len() as u64, "paths", opts.quiet);
    // Each point's statistics are summarised and dropped at once: memory stays that of one run.
    let mut metrics = Vec::with_capacity(models.len());
    for (k, (model, s)) in models.iter().zip(&scenarios).enumerate() {
        let before = k as u64 * opts.paths();
        let r = engine::simulate(model, &run, &|d| bar.update(before + d))?;
        let summary = Summary::new(s, model, &r.stats, opts.seed);
        metrics.push(crate::sweep::key_metrics(&summary));
    }
    bar.finish();
    write_sweep(
        &plan,
        &scenarios,
        metrics,
        opts.paths(),
        opts.seed,
        &opts.into(),
        out,
    )
}

/// Assembles a sweep from the key metrics of every point (file by file, points in grid order),
/// checks the contours, and writes `sweep.json`, `sweep.csv` and the charts.
fn write_sweep(
    plan: &crate::shard::Plan,
    scenarios: &[Scenario],
    metrics: Vec<Vec<crate::sweep::PointMetric>>,
    paths: u64,
    seed: u64,
    o: &Outputs,
    out: &mut impl std::io::Write,
) -> Result<(), Failure> {
    let Some(grid) = &plan.sweep else {
        return Err(Failure::Other(anyhow::anyhow!("a sweep without its grid")));
    };
    let points = crate::sweep::grid(&grid.axes).len();
    let mut swept: Vec<crate::sweep::SweptScenario> = Vec::new();
    let mut metrics = metrics.into_iter();
    for (k, file) in grid.files.iter().enumerate() {
        let results = crate::sweep::grid(&grid.axes)
            .into_iter()
            .zip(metrics.by_ref())
            .map(|(values, metrics)| crate::sweep::SweepPoint { values, metrics })
            .collect();
        let label = unique_label(
            &scenarios[k * points].name,
            swept
                .iter()
                .map(|s: &crate::sweep::SweptScenario| s.label.as_str()),
        );
        swept.push(crate::sweep::SweptScenario {
            label,
            file: file.display().to_string(),
            points: results,
        });
    }
    let unit = (scenarios[0].currency.clone(), scenarios[0].scale.clone());
    let contours = &grid.contours;
    let known = swept
        .first()
        .and_then(|s| s.points.first())
        .map(|p| {
            p.metrics
                .iter()
                .map(|m| m.metric.clone())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    if let Some(c) = contours.iter().find(|c| !known.contains(&c.metric)) {
        return Err(usage(format!(
            "--contour: no metric `{}`; the sweep has {}",
            c.metric,
            known.join(", ")
        )));
    }
    let result = crate::sweep::Sweep {
        schema_version: crate::sweep::SCHEMA_VERSION,
        cfsim_version: env!("CARGO_PKG_VERSION").to_string(),
        paths,
        seed,
        overrides: overrides_of(&grid.sets),
        params: grid.axes.clone(),
        scenarios: swept,
    };
    let dir = o
        .dir
        .clone()
        .unwrap_or_else(|| default_dir("sweep-", &result.scenarios[0].label, &result.overrides));
    let staging = report::output::Staging::new(&dir)?;
    let charts = staging.write(|tmp| {
        let json = report::pretty_json(&result)?;
        report::write_atomic(&tmp.join("sweep.json"), &json)?;
        report::write_atomic(&tmp.join("sweep.csv"), result.csv().as_bytes())?;
        if o.no_charts {
            Ok(Vec::new())
        } else {
            report::charts::write_sweep(&result, contours, (&unit.0, &unit.1), tmp, o.charts)
        }
    })?;
    staging.commit()?;
    if o.json {
        return print_json(out, &report::pretty_json(&result)?);
    }
    if !o.quiet {
        out.write_all(result.table((&unit.0, &unit.1)).as_bytes())
            .map_err(anyhow::Error::from)?;
        writeln!(
            out,
            "Wrote {}/sweep.json, sweep.csv{}",
            dir.display(),
            and_charts(&charts)
        )
        .map_err(anyhow::Error::from)?;
    }
    Ok(())
}

/// Goal seek on one param; prints the value found, its interval and the scan.
fn solve(
    file: &std::path::Path,
    bracket: &crate::solve::Bracket,
    target: &crate::solve::Target,
    opts: &SimOptions,
    out: &mut impl std::io::Write,
) -> Result<(), Failure> {
    if opts.sets.iter().any(|o| o.name == bracket.name) {
        return Err(usage(format!(
            "`{}` is both solved for (--param) and set (--set); drop one",
            bracket.name
        )));
    }
    let mut first = true;
    let mut unit = ("$".to_string(), "B".to_string());
    let eval = |x: f64| -> Result<crate::report::compare::Estimate, Failure> {
        let mut sets = opts.sets.clone();
        sets.push(Override {
            name: bracket.name.clone(),
            value: crate::sweep::set_value(x),
            origin: format!("--param {}", bracket.name),
        });
        let s = if first {
            first = false;
            load(file, &sets, opts.deny_warnings)?
        } else {
            load_quietly(file, &sets)?
        };
        unit = (s.currency.clone(), s.scale.clone());
        let (summary, _) = simulate(
            &s,
            &SimOptions {
                quiet: true,
                ..opts.clone()
            },
        )?;
        let metrics = crate::sweep::key_metrics(&summary);
        match metrics.iter().find(|m| m.metric == target.metric) {
            Some(m) if m.estimate.count > 0 => Ok(m.estimate),
            Some(_) => Err(usage(format!(
                "{} is defined on no path at {}={x}",
                target.metric, bracket.name
            ))),
            None => Err(usage(format!(
                "--target: no metric `{}`; the scenario has {}",
                target.metric,
                metrics
                    .iter()
                    .map(|m| m.metric.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    };
    let solution =
        crate::solve::solve(target, bracket.lo, bracket.hi, eval).map_err(|e| match e {
            crate::solve::SolveError::Evaluation(f) => f,
            crate::solve::SolveError::Unreachable(why) => {
                usage(format!("{}: {why}", crate::text::printable(&target.metric)))
            }
        })?;
    let record = crate::solve::SolveReport {
        schema_version: crate::solve::SCHEMA_VERSION,
        cfsim_version: env!("CARGO_PKG_VERSION").to_string(),
        file: file.display().to_string(),
        paths: opts.paths(),
        seed: opts.seed,
        overrides: overrides_of(&opts.sets),
        param: bracket.clone(),
        target: target.clone(),
        solution: solution.clone(),
    };
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = opts.out.clone().unwrap_or_else(|| {
        default_dir(
            "solve-",
            &format!("{stem}-{}", bracket.name),
            &overrides_of(&opts.sets),
        )
    });
    let staging = report::output::Staging::new(&dir)?;
    staging.write(|tmp| {
        let json = report::pretty_json(&record)?;
        report::write_atomic(&tmp.join("solve.json"), &json)
    })?;
    staging.commit()?;
    if opts.json {
        return print_json(out, &report::pretty_json(&record)?);
    }
    if !opts.quiet {
        let show = |v: f64| {
            if target.metric.starts_with("P(") {
                format!("{:.1}%", 100.0 * v)
            } else if target.metric.ends_with("net position") {
                crate::format::money(v, &unit.0, &unit.1)
            } else {
                format!("{v:.3}")
            }
        };
        let op = match target.op {
            crate::solve::Op::AtMost => "<=",
            crate::solve::Op::AtLeast => ">=",
        };
        let m = solution.metric;
        let side = if solution.met_above { ">=" } else { "<=" };
        writeln!(
            out,
            "cfsim {}: solve {} {op} {} over {} from {} to {}, {} paths per run, seed {} (common random numbers)\n",
            env!("CARGO_PKG_VERSION"),
            target.metric,
            show(target.value),
            bracket.name,
            bracket.lo,
            bracket.hi,
            opts.paths(),
            opts.seed
        )
        .map_err(anyhow::Error::from)?;
        let interval = match solution.ci95 {
            Some([a, b]) => format!("95% interval {a:.4} to {b:.4}"),
            None => "the metric steps there: exact to the search's tolerance".to_string(),
        };
        writeln!(
            out,
            "  {} = {:.4}  ({interval})\n  {} there: {} [{}, {}] over {} paths\n  the target holds for {} {side} {:.4} near the boundary; the metric is {} over the range",
            bracket.name,
            solution.value,
            target.metric,
            show(m.mean),
            show(m.ci95[0]),
            show(m.ci95[1]),
            m.count,
            bracket.name,
            solution.value,
            if solution.monotone { "monotone" } else { "NOT monotone (the first crossing from the range's start is given)" }
        )
        .map_err(anyhow::Error::from)?;
        let scan: Vec<String> = solution
            .scan
            .iter()
            .map(|e| format!("{}: {}", e.at, show(e.metric.mean)))
            .collect();
        writeln!(
            out,
            "  scan: {}\n  {} runs\nWrote {}/solve.json",
            scan.join(", "),
            solution.evaluations,
            dir.display()
        )
        .map_err(anyhow::Error::from)?;
    }
    Ok(())
}

/// The sensitivity analysis of one scenario: prints the table, writes `sensitivity.json` and
/// the charts.
fn sensitivity(
    file: &std::path::Path,
    opts: &SimOptions,
    shard: &ShardOptions,
    out: &mut impl std::io::Write,
) -> Result<(), Failure> {
    use crate::sensitivity as sa;
    let planned = vec![crate::shard::Planned {
        label: String::new(),
        file: file.to_path_buf(),
        overrides: opts.sets.clone(),
    }];
    let (scenarios, plan) =
        load_plan(crate::shard::Kind::Sensitivity, planned, opts.deny_warnings)?;
    let model = Model::compile(&scenarios[0]);
    let paths = opts.paths.unwrap_or(sa::DEFAULT_PATHS);
    let inputs = model.random_inputs();
    if inputs.is_empty() {
        return Err(usage(format!(
            "{}: nothing is uncertain in this scenario, so no input drives its outputs",
            file.display()
        )));
    }
    let total = (3 * inputs.len() as u64 + 2).checked_mul(paths);
    if total.is_none_or(|t| t > sa::MAX_TOTAL_PATHS) {
        return Err(usage(format!(
            "--paths {paths} with {} inputs would simulate more than {} paths; give fewer --paths",
            inputs.len(),
            crate::report::thousands(sa::MAX_TOTAL_PATHS)
        )));
    }
    let models = [model];
    if let Some((shard, part)) = shard.resolve()? {
        return write_part(&plan, &models, &[], opts, shard, &part, out);
    }
    let bar = Progress::new(paths, "base paths", opts.quiet);
    let started = std::time::Instant::now();
    let sa_opts = sa::Options {
        paths,
        seed: opts.seed,
        threads: opts.threads.into(),
    };
    let totals = sa::simulate_blocks(&models[0], &sa_opts, 0..sa::blocks(paths), &|done| {
        bar.update(done)
    })?;
    bar.finish();
    let elapsed = Some(started.elapsed().as_secs_f64());
    let run = (paths, opts.seed);
    write_sensitivity(
        &plan,
        &scenarios[0],
        &models[0],
        &totals,
        run,
        &opts.into(),
        elapsed,
        out,
    )
}

/// Summarises an analysis's totals and writes `sensitivity.json` and its charts, and prints
/// its table (`run` is its base paths and seed; `elapsed` the simulation's time, when it ran
/// in this process).
#[allow(clippy::too_many_arguments)]
fn write_sensitivity(
    plan: &crate::shard::Plan,
    s: &Scenario,
    model: &Model,
    totals: &crate::sensitivity::Totals,
    (paths, seed): (u64, u64),
    o: &Outputs,
    elapsed: Option<f64>,
    out: &mut impl std::io::Write,
) -> Result<(), Failure> {
    use crate::sensitivity as sa;
    let (inputs, outputs) = sa::summarise(model, totals);
    let total = (3 * inputs.len() as u64 + 2).saturating_mul(paths);
    let planned = &plan.scenarios[0];
    let result = sa::Sensitivity {
        schema_version: sa::SCHEMA_VERSION,
        cfsim_version: env!("CARGO_PKG_VERSION").to_string(),
        file: planned.file.display().to_string(),
        seed,
        paths,
        total_paths: total,
        bootstrap: sa::BOOTSTRAP,
        rank_paths: paths.min(sa::RANK_PATHS),
        tornado_percentiles: [sa::LOW, sa::HIGH],
        overrides: overrides_of(&planned.overrides),
        inputs: inputs
            .iter()
            .map(|i| sa::InputInfo {
                name: i.name.clone(),
                kind: i.kind.label().to_string(),
            })
            .collect(),
        outputs,
    };
    let unit = (s.currency.clone(), s.scale.clone());
    let dir = o
        .dir
        .clone()
        .unwrap_or_else(|| default_dir("sensitivity-", &s.name, &s.overrides));
    let staging = report::output::Staging::new(&dir)?;
    let charts = staging.write(|tmp| {
        let json = report::pretty_json(&result)?;
        report::write_atomic(&tmp.join("sensitivity.json"), &json)?;
        if o.no_charts {
            Ok(Vec::new())
        } else {
            report::charts::write_sensitivity(&result, (&unit.0, &unit.1), tmp, o.charts)
        }
    })?;
    staging.commit()?;
    if o.json {
        return print_json(out, &report::pretty_json(&result)?);
    }
    if !o.quiet {
        write!(out, "{}", result.table((&unit.0, &unit.1))).map_err(anyhow::Error::from)?;
        let time = elapsed.map_or(String::new(), |t| format!(" in {t:.1} s"));
        writeln!(
            out,
            "\n{} paths{time}. Wrote {}/sensitivity.json{}",
            crate::report::thousands(total),
            dir.display(),
            and_charts(&charts)
        )
        .map_err(anyhow::Error::from)?;
    }
    Ok(())
}

/// `cfsim trace`: one path's ledger, given or found.
#[allow(clippy::too_many_arguments)]
fn trace(
    s: &Scenario,
    m: &Model,
    path: Option<u64>,
    find: Option<&crate::trace::Filter>,
    paths: Option<u64>,
    seed: u64,
    json: bool,
    out: &mut impl std::io::Write,
) -> Result<(), Failure> {
    let mut note = String::new();
    let path = match (path, find) {
        (Some(p), _) => p,
        (None, Some(filter)) => {
            let unknown = filter.unknown_tranches(m);
            if !unknown.is_empty() {
                return Err(usage(format!(
                    "--find: no tranche {} in {}; its tranches are {}",
                    unknown.join(", "),
                    s.file,
                    m.names.tranches.join(", ")
                )));
            }
            let searched = paths.unwrap_or(DEFAULT_PATHS).min(crate::trace::MAX_SEARCH);
            let found = crate::trace::find(m, seed, searched, filter, 11);
            let Some(&first) = found.first() else {
                return Err(usage(format!(
                    "--find: none of the first {} paths of seed {seed} matches; search more with --paths",
                    report::thousands(searched)
                )));
            };
            if found.len() > 1 {
                let more: Vec<String> = found[1..].iter().map(u64::to_string).collect();
                note = format!(
                    "Other matching paths: {}{} (trace one with --path N)\n",
                    more.join(", "),
                    if found.len() > 10 { ", ..." } else { "" }
                );
            }
            first
        }
        (None, None) => return Err(usage("give --path N or --find EXPR".into())),
    };
    let ledger = crate::trace::trace(s, m, seed, path);
    if json {
        return print_json(out, &report::pretty_json(&ledger)?);
    }
    let text = ledger.table(&s.currency, &s.scale);
    out.write_all(text.as_bytes())
        .map_err(anyhow::Error::from)?;
    out.write_all(note.as_bytes())
        .map_err(anyhow::Error::from)?;
    Ok(())
}

/// `cfsim init`: writes the starter scenario, never over a file unless asked.
fn init(file: &std::path::Path, force: bool, out: &mut impl std::io::Write) -> Result<(), Failure> {
    if !force && std::fs::symlink_metadata(file).is_ok() {
        return Err(usage(format!(
            "{}: already exists; give another name, or --force to replace it",
            file.display()
        )));
    }
    if let Some(folder) = file.parent().filter(|f| !f.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder)
            .map_err(|e| anyhow::anyhow!("cannot create the folder {}: {e}", folder.display()))?;
    }
    report::write_atomic(file, crate::starter::SCENARIO.as_bytes())?;
    writeln!(
        out,
        "Wrote {0}, a commented starter scenario. Next: cfsim run {0}",
        file.display()
    )
    .map_err(anyhow::Error::from)?;
    Ok(())
}

/// `--json`: the file just written, on stdout.
fn print_json(out: &mut impl std::io::Write, json: &[u8]) -> Result<(), Failure> {
    out.write_all(json).map_err(anyhow::Error::from)?;
    if !json.ends_with(b"\n") {
        out.write_all(b"\n").map_err(anyhow::Error::from)?;
    }
    Ok(())
}

/// ` and a.png, b.png`: the charts written, for a closing line (empty without charts).
fn and_charts(charts: &[PathBuf]) -> String {
    let names: Vec<String> = charts
        .iter()
        .filter_map(|c| c.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    if names.is_empty() {
        String::new()
    } else {
        format!(" and {}", names.join(", "))
    }
}

/// `label`, or `label-2`, `label-3`, ... when it is taken.
fn unique_label<'a>(label: &str, taken: impl Iterator<Item = &'a str> + Clone) -> String {
    let mut unique = label.to_string();
    let mut k = 2;
    while taken.clone().any(|t| t == unique) {
        unique = format!("{label}-{k}");
        k += 1;
    }
    unique
}

/// A usage mistake that has no place in a file (exit code 2).
fn usage(message: String) -> Failure {
    Failure::Input(
        Diagnostics::from(crate::diagnostic::Diagnostic::plain(message)),
        SourceMap::new(),
    )
}

/// The `--set` overrides as `name=value`, for the records of what was run.
fn overrides_of(sets: &[Override]) -> Vec<String> {
    sets.iter()
        .map(|o| format!("{}={}", o.name, o.value))
        .collect()
}

fn sanitize(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if safe == name {
        safe
    } else {
        // Names that differ only in characters a folder name cannot hold ("a b", "a/b") must
        // not share a folder: the original name's key tells them apart.
        format!("{safe}-{:08x}", crate::engine::rng::name_key(name) as u32)
    }
}

/// The output folder: `--out`, else `output/<scenario name>[+<override>...]/`.
fn output_dir(opts: &SimOptions, s: &Scenario) -> PathBuf {
    opts.out
        .clone()
        .unwrap_or_else(|| default_dir("", &s.name, &s.overrides))
}

/// `output/<prefix><name>+<override>+.../`: a run with overrides never writes over the plain
/// run's folder, and its folder says what was overridden (`output/baseline+amazon_contingent=0/`).
fn default_dir(prefix: &str, name: &str, overrides: &[String]) -> PathBuf {
    let mut folder = format!("{prefix}{}", sanitize(name));
    for o in overrides {
        let safe: String = o
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '=' | '.') {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        folder.push('+');
        folder.push_str(&safe);
        if safe != *o {
            folder.push_str(&format!("-{:08x}", crate::engine::rng::name_key(o) as u32));
        }
    }
    // A folder name has at most 255 bytes: a long list is cut and keyed by all of it.
    if folder.len() > 200 {
        let key = crate::engine::rng::name_key(&folder);
        folder.truncate(180);
        folder.push_str(&format!("-{key:016x}"));
    }
    PathBuf::from("output").join(folder)
}

/// Progress of a long run on stderr: a bar with the rate and the time left on a terminal
/// (once a run has taken a second), or, in a log file (a batch scheduler's), a line every
/// [`LOG_EVERY`] seconds.
struct Progress {
    total: u64,
    unit: &'static str,
    terminal: bool,
    log: bool,
    started: std::time::Instant,
    bar: std::sync::Mutex<Option<indicatif::ProgressBar>>,
    /// Seconds into the run of the last log line.
    logged: std::sync::Mutex<f64>,
}

/// Seconds between progress lines in a log file.
const LOG_EVERY: f64 = 30.0;

impl Progress {
    fn new(total: u64, unit: &'static str, quiet: bool) -> Progress {
        let terminal = std::io::stderr().is_terminal();
        Progress {
            total,
            unit,
            terminal: !quiet && terminal,
            log: !quiet && !terminal,
            started: std::time::Instant::now(),
            bar: std::sync::Mutex::new(None),
            logged: std::sync::Mutex::new(0.0),
        }
    }

    /// `done` of the total are finished (called from any worker).
    fn update(&self, done: u64) {
        let secs = self.started.elapsed().as_secs_f64();
        let rate = done as f64 / secs.max(1e-9);
        // From the average rate: chunks finish in bursts, a recent rate jumps about.
        let left = self.total.saturating_sub(done) as f64 / rate.max(1e-9);
        if self.terminal && secs >= 1.0 {
            let mut bar = self.bar.lock().unwrap_or_else(|e| e.into_inner());
            let b = bar.get_or_insert_with(|| {
                let b = indicatif::ProgressBar::new(self.total);
                let template = format!(
                    "{{bar:40}} {{human_pos}}/{{human_len}} {}, {{msg}} left",
                    self.unit
                );
                b.set_style(
                    indicatif::ProgressStyle::with_template(&template)
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                );
                b
            });
            b.set_position(done);
            b.set_message(format!(
                "{}/s, about {:.0} s",
                report::thousands(rate.round() as u64),
                left
            ));
        }
        if self.log && secs >= LOG_EVERY {
            let mut logged = self.logged.lock().unwrap_or_else(|e| e.into_inner());
            if secs - *logged >= LOG_EVERY {
                *logged = secs;
                eprintln!(
                    "cfsim: {} of {} {} ({:.0}%) in {secs:.0} s, {}/s, about {left:.0} s left",
                    report::thousands(done),
                    report::thousands(self.total),
                    self.unit,
                    100.0 * done as f64 / self.total.max(1) as f64,
                    report::thousands(rate.round() as u64),
                );
            }
        }
    }

    fn finish(self) {
        if let Some(b) = self.bar.into_inner().unwrap_or_else(|e| e.into_inner()) {
            b.finish_and_clear();
        }
    }
}

/// Compiles and simulates a scenario with a progress bar on a terminal for long runs.
pub fn simulate(s: &Scenario, opts: &SimOptions) -> Result<(Summary, RunResult), Failure> {
    let model = Model::compile(s);
    let run = RunOptions {
        paths: opts.paths(),
        seed: opts.seed,
        threads: opts.threads.into(),
    };
    let bar = Progress::new(opts.paths(), "paths", opts.quiet);
    let result = engine::simulate(&model, &run, &|done| bar.update(done))?;
    bar.finish();
    Ok((Summary::new(s, &model, &result.stats, opts.seed), result))
}

/// Runs blocks until the key figures are as precise as asked (or `--max-paths` are run), and
/// says where it stopped and why on stderr.
fn simulate_precisely(
    s: &Scenario,
    opts: &SimOptions,
    eps: f64,
    p: &PrecisionOptions,
) -> Result<(Summary, RunResult), Failure> {
    use crate::precision;
    let goal = precision::Goal {
        absolute: eps,
        relative: p.precision_rel,
        max_paths: p.max_paths.unwrap_or(precision::DEFAULT_MAX_PATHS),
    };
    let model = Model::compile(s);
    let bar = Progress::new(goal.max_paths, "paths (at most)", opts.quiet);
    let (mut summary, result, reached) =
        precision::simulate(s, &model, opts.seed, opts.threads.into(), &goal, &|d| {
            bar.update(d)
        })?;
    bar.finish();
    if !opts.quiet {
        let widest = reached
            .reached
            .iter()
            .max_by(|a, b| (a.half_width / a.bound).total_cmp(&(b.half_width / b.bound)));
        let detail = widest
            .map(|w| {
                format!(
                    "; the least precise figure is {} at ±{:.4} (allowed ±{:.4})",
                    w.metric, w.half_width, w.bound
                )
            })
            .unwrap_or_default();
        if reached.met {
            eprintln!(
                "cfsim: precise enough after {} paths{detail}",
                report::thousands(reached.paths)
            );
        } else {
            eprintln!(
                "cfsim: warning: not precise enough after --max-paths {}{detail}; the figures below are less precise than asked",
                report::thousands(goal.max_paths)
            );
        }
    }
    summary.precision = Some(reached);
    Ok((summary, result))
}

/// `FILE: ok: NAME: N entities, N flows, START to END by STEP, N uncertain quantities`.
pub fn summary_line(s: &Scenario) -> String {
    let entities = s
        .entities
        .iter()
        .filter(|e| e.id != scenario::WORLD_ID)
        .count();
    format!(
        "{}: ok: {}: {} entities, {} flows, {} milestones, horizon {} to {} by {} ({} periods), {} uncertain quantities",
        s.file,
        s.name,
        entities,
        s.flows.len(),
        s.milestones.len(),
        s.horizon.label(0),
        s.horizon.label(s.horizon.periods - 1),
        s.horizon.step.name(),
        s.horizon.periods,
        s.uncertain_count()
    )
}

#[cfg(test)]
mod tests {
    use super::{count, guarded};

    #[test]
    fn path_counts_read_in_every_usual_notation_and_only_whole() {
        for (text, n) in [
            ("100000", 100_000),
            ("1e6", 1_000_000),
            ("2.5e5", 250_000),
            ("1_000_000", 1_000_000),
            ("1,000,000", 1_000_000),
            (" 42 ", 42),
        ] {
            assert_eq!(count(text), Ok(n), "{text}");
        }
        for bad in [
            "0", "1.5", "1e30", "-1", "1,00", "1000,", "_1", "", "1e-3", "NaN", "inf",
        ] {
            assert!(count(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_panic_becomes_an_error_instead_of_an_abort() {
        assert_eq!(guarded(|| 2 + 2), Some(4));
        let caught: Option<()> = guarded(|| panic!("boom"));
        assert_eq!(caught, None);
    }
}
