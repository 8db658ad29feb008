#!/usr/bin/env bash
# Submits a cfsim run to Slurm as an array of shards and a merge that waits for all of them.
#
#   scripts/slurm/submit.sh SCENARIO PATHS SHARDS OUT [more `cfsim run` options...]
#
# Each array task runs one shard (`--shard-from-env`) and writes OUT.parts/part-I.part; the merge
# job (`--dependency=afterok`) starts only once every task succeeded and writes OUT/ exactly as
# `cfsim run SCENARIO --paths PATHS --out OUT` would. Paths are relative to the folder you submit
# from, which every node must see (a shared file system). Set CFSIM to the cfsim binary if it is
# not on the nodes' PATH, and pass sbatch options (partition, account, time) in SBATCH_* variables
# or edit the #SBATCH lines of shard.sbatch. Prints the two job ids.
set -euo pipefail
if [ $# -lt 4 ]; then
    echo "usage: $0 SCENARIO PATHS SHARDS OUT [cfsim run options...]" >&2
    exit 2
fi
scenario=$1 paths=$2 shards=$3 out=$4
shift 4
here=$(cd "$(dirname "$0")" && pwd)
parts="$out.parts"
mkdir -p "$parts"
array=$(sbatch --parsable --array="0-$((shards - 1))" --job-name=cfsim-shard \
    --output="$parts/shard-%a.log" "$here/shard.sbatch" "$scenario" "$paths" "$parts" "$@")
array=${array%%;*}
merge=$(sbatch --parsable --dependency="afterok:$array" --kill-on-invalid-dep=yes \
    --job-name=cfsim-merge --output="$parts/merge.log" "$here/merge.sbatch" "$parts" "$out")
echo "shards: job $array ($shards tasks, logs in $parts/); merge: job ${merge%%;*} (writes $out/)"
