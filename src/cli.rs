//! The command line: argument parsing, dispatch, and the mapping of errors to exit codes
//! (0 success, 2 bad input or usage, 1 any other failure).

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::diagnostic::{Diagnostics, SourceMap};
use crate::graph::MoneyGraph;
use crate::scenario::{self, Override, Scenario};

/// cfsim: simulate circular financing deals (investors who are also suppliers) under
/// uncertainty.
#[derive(Parser, Debug)]
#[command(name = "cfsim", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check scenario files and print a one-line summary of each.
    Validate {
        /// Scenario files (TOML).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Override a param: name=value (repeatable).
        #[arg(long = "set", value_name = "NAME=VALUE")]
        sets: Vec<Override>,
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
    },
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

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
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
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Input(diags, sources)) => {
            eprint!("{}", diags.render(&sources));
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
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Loads one scenario, or returns its diagnostics as an input failure.
pub fn load(file: &std::path::Path, sets: &[Override]) -> Result<Scenario, Failure> {
    let mut sources = SourceMap::new();
    scenario::load(file, sets, &mut sources).map_err(|d| Failure::Input(d, sources))
}

fn run(cli: Cli) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    match cli.command {
        Command::Validate { files, sets } => {
            let mut sources = SourceMap::new();
            let mut all = Diagnostics::new();
            for file in &files {
                match scenario::load(file, &sets, &mut sources) {
                    Ok(s) => {
                        writeln!(out, "{}", summary_line(&s)).map_err(anyhow::Error::from)?;
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
        Command::Graph { file, format, sets } => {
            let s = load(&file, &sets)?;
            let g = MoneyGraph::new(&s);
            let text = match format {
                GraphFormat::Dot => g.to_dot(&s),
                GraphFormat::Text => g.to_text(&s),
            };
            out.write_all(text.as_bytes())
                .map_err(anyhow::Error::from)?;
            Ok(())
        }
    }
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
