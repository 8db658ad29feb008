//! `cfsim run --samples PATH`: per-path values for data people, one row per path: the draws of
//! the quantities drawn once per path, then the key outputs. The rows are the run's first paths
//! (path `i` is the same path in every run with the seed), written through the `csv` crate to a
//! temporary file that is renamed into place, so a reader never sees half a file.

use std::io::Write as _;
use std::path::Path;

use crate::engine::{Model, NoTrace, PathState, TrancheState};
use crate::scenario::Scenario;

/// Rows written when `--samples-limit` is not given.
pub const DEFAULT_LIMIT: u64 = 100_000;

/// The most rows `--samples-limit` allows (about 1 GB of CSV for the baseline).
pub const MAX_LIMIT: u64 = 5_000_000;

/// The column names: `path`, each draw, then the outputs; amounts say their unit.
pub fn header(s: &Scenario, m: &Model) -> Vec<String> {
    let unit = format!(" ({}{})", s.currency, s.scale);
    let mut h = vec!["path".to_string()];
    h.extend(m.per_path.iter().map(|&q| m.names.quantities[q].clone()));
    h.push("default_period".into());
    h.push("rescues".into());
    if m.target.is_some() {
        h.push(format!("target_year_revenue{unit}"));
        h.push("target_hit".into());
    }
    h.push(format!("company_value{unit}"));
    h.push("circularity".into());
    for &e in &m.investors {
        let id = &m.names.entities[e];
        h.push(format!("{id}.invested{unit}"));
        h.push(format!("{id}.received{unit}"));
        h.push(format!("{id}.round_trip"));
        h.push(format!("{id}.stake"));
        h.push(format!("{id}.net_position{unit}"));
    }
    for id in &m.names.tranches {
        h.push(format!("{id}.released_in"));
    }
    h
}

/// Simulates paths `0..rows` of `seed` and writes their values to `path`; returns the rows.
pub fn write(s: &Scenario, m: &Model, seed: u64, rows: u64, path: &Path) -> anyhow::Result<u64> {
    let shown = path.display();
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("cannot create the folder {}: {e}", dir.display()))?;
    let tmp = tempfile::Builder::new()
        .prefix(".samples-")
        .tempfile_in(dir)
        .map_err(|e| anyhow::anyhow!("{shown}: cannot write: {e}"))?;
    let mut w = csv::Writer::from_writer(std::io::BufWriter::new(tmp));
    let header: Vec<String> = header(s, m)
        .iter()
        .map(|c| crate::text::spreadsheet_cell(c).into_owned())
        .collect();
    w.write_record(&header)?;
    let h = &m.horizon;
    let number = |x: f64| {
        if x.is_finite() {
            x.to_string()
        } else {
            String::new()
        }
    };
    let mut state = PathState::new(m);
    let mut row = Vec::with_capacity(header.len());
    for p in 0..rows {
        state.run(m, seed, p, &mut NoTrace);
        let o = state.out();
        row.clear();
        row.push(p.to_string());
        row.extend(m.per_path.iter().map(|&q| number(state.quantity(q))));
        row.push(o.default_period.map_or(String::new(), |d| h.label(d)));
        row.push(o.rescues.to_string());
        if let Some((_, target)) = &m.target {
            row.push(number(o.target_revenue));
            row.push(u8::from(o.target_revenue >= *target).to_string());
        }
        row.push(number(o.company_value));
        row.push(o.circularity(m).map_or(String::new(), number));
        for &e in &m.investors {
            row.push(number(o.invested[e]));
            row.push(number(o.received[e]));
            row.push(o.round_trip(e).map_or(String::new(), number));
            row.push(number(o.stake[e]));
            row.push(number(o.net_position(e)));
        }
        for (st, _) in &o.tranches {
            row.push(match st {
                TrancheState::Released(at) => h.label(*at),
                _ => String::new(),
            });
        }
        w.write_record(&row)?;
    }
    let tmp = w
        .into_inner()
        .map_err(|e| anyhow::anyhow!("{shown}: cannot write: {e}"))?
        .into_inner()
        .map_err(|e| anyhow::anyhow!("{shown}: cannot write: {}", e.error()))?;
    tmp.as_file().sync_all().ok();
    // A temporary file is private to its owner; the samples are as readable as any output.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let _ = std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644));
    }
    let mut file = tmp
        .persist(path)
        .map_err(|e| anyhow::anyhow!("{shown}: cannot write: {}", e.error))?;
    file.flush()?;
    Ok(rows)
}
