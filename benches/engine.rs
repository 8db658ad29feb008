//! Throughput of the baseline: paths per second on one thread and on every core.
//!
//! `cargo bench` reports the time for a batch of 200,000 paths; divide to get paths per second.

use std::path::Path;

use cfsim::diagnostic::SourceMap;
use cfsim::engine::{Model, RunOptions, simulate};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const PATHS: u64 = 200_000;

fn baseline() -> Model {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/baseline.toml");
    let mut sources = SourceMap::new();
    let scenario = cfsim::scenario::load(&path, &[], &mut sources).expect("baseline is valid");
    Model::compile(&scenario)
}

fn bench(c: &mut Criterion) {
    let model = baseline();
    let mut group = c.benchmark_group("baseline");
    group.throughput(Throughput::Elements(PATHS));
    group.sample_size(10);
    for threads in [1, 2] {
        group.bench_function(format!("{PATHS} paths, {threads} thread(s)"), |b| {
            let opts = RunOptions {
                paths: PATHS,
                seed: 42,
                threads,
            };
            b.iter(|| simulate(&model, &opts, &|_| {}).expect("runs"));
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
