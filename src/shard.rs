//! Runs split across processes or machines: shards that each simulate a contiguous range of a
//! run's blocks and write a part file, and the merge of part files into the outputs of one
//! run, byte-identical to running every block in one process.
//!
//! A block is [`CHUNK`] paths with a global index (a sensitivity analysis's block is
//! [`crate::sensitivity::BLOCK`] base paths); its draws depend only on the seed and its paths, and statistics merge exactly ([`crate::exact`]), so neither the split nor the order
//! of the merge changes a bit. A part file records what was run (the scenario files' texts and
//! the overrides, so `merge` needs neither the files nor the command line), a fingerprint of
//! the compiled models, and the statistics; its first line carries a SHA-256 of the rest.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::diagnostic::{Diagnostics, SourceMap};
use crate::engine::{Accumulator, CHUNK, Model, PairedAccumulator, PairedMetric};
use crate::report::thousands;
use crate::scenario::{self, Files, Override, Scenario};

/// What a part file's first line starts with.
pub const MAGIC: &str = "cfsim-part";

/// Version of the part file format; parts of another version are not merged.
pub const FORMAT_VERSION: u32 = 3;

/// The most shards a run may be split into.
pub const MAX_SHARDS: u64 = 1_000_000;

/// Shard `index` of `count` (from 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// Which shard, from 0.
    pub index: u64,
    /// How many shards the run is split into.
    pub count: u64,
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let form = || format!("`{s}` is not a shard I/N (such as 0/4: the first of four, from 0)");
        let (i, n) = s.split_once('/').ok_or_else(form)?;
        let index: u64 = i.trim().parse().map_err(|_| form())?;
        let count: u64 = n.trim().parse().map_err(|_| form())?;
        Shard::new(index, count)
    }
}

impl Shard {
    /// Shard `index` of `count`, checked.
    pub fn new(index: u64, count: u64) -> Result<Shard, String> {
        if count == 0 || count > MAX_SHARDS {
            return Err(format!(
                "a run is split into 1 to {MAX_SHARDS} shards, not {count}"
            ));
        }
        if index >= count {
            return Err(format!(
                "shard {index} of {count} does not exist: shards count from 0 to {}",
                count - 1
            ));
        }
        Ok(Shard { index, count })
    }

    /// The shard a batch scheduler's array task is: Slurm (`SLURM_ARRAY_TASK_ID` from
    /// `SLURM_ARRAY_TASK_MIN`, `SLURM_ARRAY_TASK_COUNT`), a Kubernetes Indexed Job
    /// (`JOB_COMPLETION_INDEX`) or AWS Batch (`AWS_BATCH_JOB_ARRAY_INDEX`); the last two do not
    /// say how many shards there are, so `count` must.
    pub fn from_env(
        count: Option<u64>,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Shard, String> {
        let number = |name: &str| -> Result<Option<u64>, String> {
            match var(name) {
                None => Ok(None),
                Some(v) => v
                    .trim()
                    .parse()
                    .map(Some)
                    .map_err(|_| format!("{name}={v} is not a whole number")),
            }
        };
        if let Some(id) = number("SLURM_ARRAY_TASK_ID")? {
            let min = number("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
            let slurm_count = number("SLURM_ARRAY_TASK_COUNT")?;
            let n = match (slurm_count, count) {
                (Some(a), Some(b)) if a != b => {
                    return Err(format!(
                        "--shard-count {b} disagrees with SLURM_ARRAY_TASK_COUNT={a}"
                    ));
                }
                (Some(a), _) | (None, Some(a)) => a,
                (None, None) => {
                    return Err("SLURM_ARRAY_TASK_COUNT is not set; give --shard-count N".into());
                }
            };
            let index = id
                .checked_sub(min)
                .ok_or("SLURM_ARRAY_TASK_ID is below SLURM_ARRAY_TASK_MIN")?;
            return Shard::new(index, n).map_err(|e| {
                format!(
                    "{e} (submit the array as --array=0-{} without a step)",
                    n.saturating_sub(1)
                )
            });
        }
        for name in ["JOB_COMPLETION_INDEX", "AWS_BATCH_JOB_ARRAY_INDEX"] {
            if let Some(index) = number(name)? {
                let n = count.ok_or_else(|| {
                    format!(
                        "{name} gives the shard but not how many there are; give --shard-count N"
                    )
                })?;
                return Shard::new(index, n);
            }
        }
        Err("--shard-from-env: none of SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX or AWS_BATCH_JOB_ARRAY_INDEX is set (is this running as an array task?)".into())
    }

    /// This shard's blocks among `blocks`: contiguous, as even as whole blocks allow, and
    /// together covering every block exactly once.
    pub fn blocks(&self, blocks: u64) -> std::ops::Range<u64> {
        let at = |i: u64| (blocks as u128 * i as u128 / self.count as u128) as u64;
        at(self.index)..at(self.index + 1)
    }
}

/// What a part file's statistics are of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// `cfsim run`: one scenario.
    Run,
    /// `cfsim compare`: several scenarios on the same paths.
    Compare,
    /// `cfsim sweep`: every point of a grid of every file.
    Sweep,
    /// `cfsim sensitivity`: one scenario's design of switched and held inputs.
    Sensitivity,
}

impl Kind {
    /// Paths per block (base paths for an analysis).
    pub fn block_size(self) -> u64 {
        match self {
            Kind::Run | Kind::Compare | Kind::Sweep => CHUNK,
            Kind::Sensitivity => crate::sensitivity::BLOCK,
        }
    }
}

/// What a sweep's part records besides its scenarios (one per file and point, file by file,
/// points in grid order).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepPlan {
    /// The swept files.
    pub files: Vec<PathBuf>,
    /// The swept params.
    pub axes: Vec<crate::sweep::Axis>,
    /// The contours asked for.
    pub contours: Vec<crate::report::charts::sweep::Contour>,
    /// The overrides applied at every point.
    pub sets: Vec<Override>,
}

/// One scenario of a run as it was loaded: enough to load it again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Planned {
    /// Label in a comparison (empty for a run).
    pub label: String,
    /// The file as it was named on the command line.
    pub file: PathBuf,
    /// The overrides applied, in order.
    pub overrides: Vec<Override>,
}

/// What was run, and the text of every file it read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Which command.
    pub kind: Kind,
    /// Its scenarios, the reference first.
    pub scenarios: Vec<Planned>,
    /// Every scenario file read (`extends` included), under the path it was read from.
    pub files: Vec<(PathBuf, String)>,
    /// A sweep's grid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<SweepPlan>,
}

impl Plan {
    /// Records the files a scenario load read into `sources`.
    pub fn record_files(&mut self, sources: &SourceMap) {
        for f in sources.files() {
            if let Some(path) = &f.path
                && !self.files.iter().any(|(p, _)| p == path)
            {
                self.files.push((path.clone(), f.text.clone()));
            }
        }
    }

    /// Loads every scenario again from the recorded texts.
    pub fn load(&self) -> Result<Vec<Scenario>, (Diagnostics, SourceMap)> {
        let mut sources = SourceMap::new();
        let mut all = Diagnostics::new();
        let mut out = Vec::new();
        for p in &self.scenarios {
            match scenario::load_from(
                Files::Recorded(&self.files),
                &p.file,
                &p.overrides,
                &mut sources,
            ) {
                Ok(s) => out.push(s),
                Err(d) => all.items.extend(d.items),
            }
        }
        if all.is_empty() {
            Ok(out)
        } else {
            Err((all, sources))
        }
    }
}

/// Everything that must agree for parts to merge, and which blocks this part holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// cfsim's version: another version may simulate differently.
    pub cfsim_version: String,
    /// What was run.
    pub plan: Plan,
    /// SHA-256 of the compiled models and the compared metrics: the scenarios as simulated.
    pub fingerprint: String,
    /// Master seed.
    pub seed: u64,
    /// Paths of the whole run.
    pub paths: u64,
    /// Paths per block.
    pub block_size: u64,
    /// Blocks of the whole run.
    pub total_blocks: u64,
    /// The blocks this part holds, `[first, end)`.
    pub blocks: [u64; 2],
    /// The shard that wrote it.
    pub shard: Shard,
}

impl Header {
    /// The fields that every part of one run shares (all but the blocks and the shard).
    fn run_fields(&self) -> Header {
        Header {
            blocks: [0, 0],
            shard: Shard { index: 0, count: 1 },
            ..self.clone()
        }
    }
}

/// A part file: the header and the statistics of its blocks.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Part {
    /// What it is a part of.
    pub header: Header,
    /// Statistics of each scenario.
    pub stats: Vec<Accumulator>,
    /// Paired metrics of a comparison (empty for a run).
    pub paired: PairedAccumulator,
    /// A sensitivity analysis's totals (its `stats` are empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensitivity: Option<crate::sensitivity::Totals>,
}

impl Part {
    /// Paths (base paths for an analysis) its statistics were folded from.
    fn paths(&self) -> impl Iterator<Item = u64> + '_ {
        let runs = self.stats.iter().map(|a| a.paths);
        runs.chain(self.sensitivity.iter().map(|t| t.paths))
    }
}

/// SHA-256 of the models as compiled (their debug form: every number to its last bit) and of
/// the compared metrics, in hexadecimal.
pub fn fingerprint(models: &[Model], metrics: &[PairedMetric]) -> String {
    struct Hasher(Sha256);
    impl std::fmt::Write for Hasher {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.0.update(s.as_bytes());
            Ok(())
        }
    }
    let mut h = Hasher(Sha256::new());
    let _ = std::fmt::Write::write_fmt(&mut h, format_args!("{models:?}\n{metrics:?}"));
    hex(&h.0.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes of a part file: `cfsim-part 1 sha256=HEX`, then the part as JSON.
pub fn to_bytes(part: &Part) -> Result<Vec<u8>, serde_json::Error> {
    let body = serde_json::to_vec(part)?;
    let mut out = format!(
        "{MAGIC} {FORMAT_VERSION} sha256={}\n",
        hex(&Sha256::digest(&body))
    )
    .into_bytes();
    out.extend_from_slice(&body);
    out.push(b'\n');
    Ok(out)
}

/// The largest part file read: the statistics of a run are a few megabytes whatever its paths.
pub const MAX_PART_BYTES: u64 = 1 << 30;

/// Reads and checks a part file: its format, version and checksum, then its JSON.
pub fn read(path: &Path) -> Result<Part, String> {
    use std::io::Read as _;
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("{shown}: cannot read: {e}"))?;
    if !meta.is_file() {
        return Err(format!(
            "{shown}: is not a regular file: expected a part file"
        ));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_PART_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| format!("{shown}: cannot read: {e}"))?;
    if bytes.len() as u64 > MAX_PART_BYTES {
        return Err(format!(
            "{shown}: larger than {MAX_PART_BYTES} bytes: not a part file"
        ));
    }
    let newline = bytes
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(bytes.len());
    let first = String::from_utf8_lossy(&bytes[..newline]).into_owned();
    let mut words = first.split(' ');
    if words.next() != Some(MAGIC) {
        return Err(format!(
            "{shown}:1:1: not a cfsim part file (expected a first line `{MAGIC} {FORMAT_VERSION} sha256=...`, written by `cfsim run --shard I/N --part {shown}`)"
        ));
    }
    let version = words.next().unwrap_or("");
    if version != FORMAT_VERSION.to_string() {
        return Err(format!(
            "{shown}:1:{}: part file format {version}; this cfsim {} reads format {FORMAT_VERSION}: merge with the cfsim that wrote it",
            MAGIC.len() + 2,
            env!("CARGO_PKG_VERSION")
        ));
    }
    let expected = words
        .next()
        .and_then(|w| w.strip_prefix("sha256="))
        .unwrap_or("");
    let body = bytes.get(newline + 1..).unwrap_or(&[]);
    let body = body.strip_suffix(b"\n").unwrap_or(body);
    if hex(&Sha256::digest(body)) != expected {
        return Err(format!(
            "{shown}: corrupt: its checksum does not match its contents (truncated or changed after it was written); run its shard again"
        ));
    }
    serde_json::from_slice::<Part>(body).map_err(|e| {
        // The body starts on line 2; the place is given once, in front.
        let what = e.to_string();
        let what = what.rsplit_once(" at line ").map_or(what.as_str(), |w| w.0);
        format!(
            "{shown}:{}:{}: not a valid part: {what}",
            e.line() + 1,
            e.column()
        )
    })
}

/// A merge that cannot be done: the parts disagree, or do not cover the run exactly once.
pub fn check_cover(parts: &[(PathBuf, Part)]) -> Result<(), String> {
    let (first_path, first) = parts.first().ok_or("no part files to merge")?;
    let reference = first.header.run_fields();
    for (path, part) in parts {
        let h = &part.header;
        let what = if h.cfsim_version != reference.cfsim_version {
            Some(format!(
                "was written by cfsim {} and {} by cfsim {}",
                h.cfsim_version,
                first_path.display(),
                reference.cfsim_version
            ))
        } else if h.plan != reference.plan || h.fingerprint != reference.fingerprint {
            Some(format!(
                "is a part of another run than {} (other scenarios, files or overrides)",
                first_path.display()
            ))
        } else if (h.seed, h.paths) != (reference.seed, reference.paths) {
            Some(format!(
                "is a part of a run of {} paths with seed {}, {} of {} paths with seed {}",
                h.paths,
                h.seed,
                first_path.display(),
                reference.paths,
                reference.seed
            ))
        } else if h.run_fields() != reference {
            Some(format!(
                "was split into blocks of {} paths, {} into blocks of {}",
                h.block_size,
                first_path.display(),
                reference.block_size
            ))
        } else {
            None
        };
        if let Some(what) = what {
            return Err(format!(
                "{}: {what}; parts of one run only merge with each other",
                path.display()
            ));
        }
        let block = h.plan.kind.block_size();
        if h.block_size != block
            || h.total_blocks != h.paths.div_ceil(block)
            || h.blocks[0] > h.blocks[1]
            || h.blocks[1] > h.total_blocks
        {
            return Err(format!(
                "{}: its block range {}..{} does not fit a run of {} blocks of {block} paths",
                path.display(),
                h.blocks[0],
                h.blocks[1],
                h.total_blocks
            ));
        }
        let paths = h.blocks[1].saturating_mul(block).min(h.paths)
            - h.blocks[0].saturating_mul(block).min(h.paths);
        let analysis = h.plan.kind == Kind::Sensitivity;
        if part.paths().any(|n| n != paths) || analysis != part.sensitivity.is_some() {
            return Err(format!(
                "{}: holds statistics of another number of paths than its blocks {}..{} have ({paths})",
                path.display(),
                h.blocks[0],
                h.blocks[1]
            ));
        }
    }
    let mut order: Vec<&(PathBuf, Part)> = parts.iter().collect();
    order.sort_by_key(|(_, p)| (p.header.blocks[0], p.header.blocks[1]));
    let block = reference.block_size;
    let range = |p: &Part| {
        let [a, b] = p.header.blocks;
        let paths = reference.paths;
        format!(
            "blocks {a}..{b}, paths {} to {}",
            thousands(a.saturating_mul(block).min(paths)),
            thousands(b.saturating_mul(block).min(paths))
        )
    };
    let mut next = 0;
    let mut holder: Option<&(PathBuf, Part)> = None;
    for item in order {
        let (path, part) = item;
        let [a, b] = part.header.blocks;
        if a == b {
            continue;
        }
        if a > next {
            return Err(format!(
                "no part holds blocks {next}..{a} (paths {} to {}): a shard is missing",
                thousands(next.saturating_mul(block)),
                thousands(a.saturating_mul(block))
            ));
        }
        if a < next {
            let (other, other_part) = holder.unwrap_or(item);
            return Err(format!(
                "{} ({}) and {} ({}) overlap: each block must be merged once (the same shard given twice?)",
                other.display(),
                range(other_part),
                path.display(),
                range(part)
            ));
        }
        next = b;
        holder = Some(item);
    }
    if next < reference.total_blocks {
        return Err(format!(
            "no part holds blocks {next}..{} (paths {} to {}): a shard is missing",
            reference.total_blocks,
            thousands(next.saturating_mul(block)),
            thousands(reference.paths)
        ));
    }
    Ok(())
}

/// Merges checked parts (given in any order: sums are exact, and an analysis's rank rows carry
/// their paths).
pub fn merge(parts: Vec<(PathBuf, Part)>) -> Part {
    let mut parts = parts.into_iter().map(|(_, p)| p);
    let mut total = parts.next().expect("check_cover refuses an empty merge");
    for p in parts {
        for (a, b) in total.stats.iter_mut().zip(&p.stats) {
            a.merge(b);
        }
        total.paired.merge(&p.paired);
        if let (Some(a), Some(b)) = (&mut total.sensitivity, &p.sensitivity) {
            a.merge(b);
        }
    }
    total.header.blocks = [0, total.header.total_blocks];
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_every_block_once_and_evenly() {
        for blocks in [0, 1, 5, 122, 1000] {
            for count in [1, 3, 4, 7, 200] {
                let mut next = 0;
                for index in 0..count {
                    let r = Shard { index, count }.blocks(blocks);
                    assert_eq!(r.start, next);
                    assert!(r.end - r.start <= blocks.div_ceil(count));
                    next = r.end;
                }
                assert_eq!(next, blocks);
            }
        }
    }

    #[test]
    fn shard_text_and_environment() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
        assert!("4/4".parse::<Shard>().unwrap_err().contains("from 0 to 3"));
        assert!("x".parse::<Shard>().is_err());
        assert!("1/0".parse::<Shard>().is_err());
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let slurm = env(&[
            ("SLURM_ARRAY_TASK_ID", "5"),
            ("SLURM_ARRAY_TASK_MIN", "3"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]);
        assert_eq!(
            Shard::from_env(None, slurm),
            Ok(Shard { index: 2, count: 4 })
        );
        let k8s = env(&[("JOB_COMPLETION_INDEX", "1")]);
        assert_eq!(
            Shard::from_env(Some(3), k8s),
            Ok(Shard { index: 1, count: 3 })
        );
        assert!(
            Shard::from_env(None, k8s)
                .unwrap_err()
                .contains("--shard-count")
        );
        let aws = env(&[("AWS_BATCH_JOB_ARRAY_INDEX", "7")]);
        assert!(
            Shard::from_env(Some(7), aws)
                .unwrap_err()
                .contains("from 0 to 6")
        );
        assert!(
            Shard::from_env(Some(2), env(&[]))
                .unwrap_err()
                .contains("array task")
        );
    }
}
