//! A real single-node Slurm cluster runs `scripts/slurm/submit.sh`: an array of shards and a
//! merge job that waits for them; the merged outputs equal a one-process run byte for byte.
//!
//! Needs Debian's `slurmctld`, `slurmd` and `slurm-client` and root (the daemons run jobs as
//! their submitter). `.ci/run` installs them and sets `CFSIM_SLURM=require`, which turns a
//! missing Slurm into a failure; elsewhere the test says it is skipped and passes.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

/// Where a program is on PATH (or in /usr/sbin, where Debian puts the daemons).
fn find(program: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([Path::new("/usr/sbin").to_path_buf()])
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// A free TCP port on this machine (bound and released, so the daemon can take it).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The daemons, stopped by their process ids when the test ends, whatever happens.
struct Daemons(Vec<Child>);

impl Drop for Daemons {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        for child in &mut self.0 {
            while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn slurm_conf(dir: &Path, ctld_port: u16, d_port: u16) -> String {
    let d = dir.display();
    format!(
        "ClusterName=cfsim-test
SlurmctldHost=localhost
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
AuthType=auth/none
CredType=cred/none
SlurmUser=root
SlurmdUser=root
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/slurmctld.log
SlurmdLogFile={d}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName=localhost CPUs=2 RealMemory=4000 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
"
    )
}

/// Polls `check` every half second until it is true or `secs` have passed.
fn wait_for(secs: u64, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    false
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| format!("({}: {e})", p.display()))
}

#[test]
fn a_slurm_array_and_its_merge_job_equal_one_process() {
    let required = std::env::var("CFSIM_SLURM").is_ok_and(|v| v == "require");
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let tools: Vec<_> = ["slurmctld", "slurmd", "sbatch", "squeue", "sinfo"]
        .iter()
        .map(|t| (t, find(t)))
        .collect();
    if let Some((missing, _)) = tools.iter().find(|(_, p)| p.is_none()) {
        assert!(
            !required,
            "CFSIM_SLURM=require but `{missing}` is not installed"
        );
        eprintln!("skipped: no Slurm here (`{missing}` missing); .ci/run installs it");
        return;
    }
    if !root {
        assert!(!required, "CFSIM_SLURM=require but this is not root");
        eprintln!("skipped: a single-node Slurm needs root");
        return;
    }
    let tool = |name: &str| {
        tools
            .iter()
            .find(|(t, _)| **t == name)
            .and_then(|(_, p)| p.clone())
            .unwrap()
    };
    let cluster = Dir::new();
    let c = cluster.path();
    std::fs::create_dir(c.join("state")).unwrap();
    std::fs::create_dir(c.join("spool")).unwrap();
    let conf = cluster.file("slurm.conf", &slurm_conf(c, free_port(), free_port()));
    let start = |program: &str, args: &[&str], log: &str| {
        Command::new(tool(program))
            .args(args)
            .arg("-f")
            .arg(&conf)
            .env("SLURM_CONF", &conf)
            .stdout(Stdio::from(std::fs::File::create(c.join(log)).unwrap()))
            .stderr(Stdio::from(std::fs::File::create(c.join(log)).unwrap()))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}"))
    };
    let daemons = Daemons(vec![
        start("slurmctld", &["-D"], "slurmctld.out"),
        start("slurmd", &["-D", "-N", "localhost"], "slurmd.out"),
    ]);
    let logs = || {
        format!(
            "slurmctld:\n{}\nslurmd:\n{}",
            read(&c.join("slurmctld.log")),
            read(&c.join("slurmd.log"))
        )
    };
    let client = |program: &str| {
        let mut cmd = Command::new(tool(program));
        cmd.env("SLURM_CONF", &conf);
        cmd
    };
    let idle = wait_for(60, || {
        client("sinfo")
            .args(["-h", "-o", "%t"])
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "idle")
    });
    assert!(idle, "the node did not come up\n{}", logs());

    // A user's folder on the shared file system: a scenario that extends another.
    let work = Dir::new();
    let w = work.path();
    for name in ["baseline.toml", "no-round.toml"] {
        std::fs::copy(scenario(name), w.join(name)).unwrap();
    }
    let submit = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/slurm/submit.sh");
    let submitted = Command::new(&submit)
        .args([
            "no-round.toml",
            "60000",
            "4",
            "out",
            "--set",
            "amazon_contingent=20",
        ])
        .current_dir(w)
        .env("SLURM_CONF", &conf)
        .env("CFSIM", env!("CARGO_BIN_EXE_cfsim"))
        .output()
        .unwrap();
    assert!(
        submitted.status.success(),
        "submit.sh: {}\n{}",
        String::from_utf8_lossy(&submitted.stderr),
        logs()
    );
    let finished = wait_for(240, || {
        client("squeue")
            .arg("-h")
            .output()
            .is_ok_and(|o| o.status.success() && o.stdout.is_empty())
    });
    let job_logs = || {
        let mut text = String::new();
        for i in 0..4 {
            text += &format!(
                "shard {i}:\n{}\n",
                read(&w.join(format!("out.parts/shard-{i}.log")))
            );
        }
        text + &format!(
            "merge:\n{}\n{}",
            read(&w.join("out.parts/merge.log")),
            logs()
        )
    };
    assert!(
        finished,
        "the jobs did not finish in 4 minutes\n{}",
        job_logs()
    );
    assert!(
        w.join("out/summary.json").is_file(),
        "the merge job wrote nothing\n{}",
        job_logs()
    );
    // Every shard ran as its own array task and logged its block range.
    for i in 0..4 {
        let log = read(&w.join(format!("out.parts/shard-{i}.log")));
        assert!(log.contains(&format!("shard {i}/4: blocks")), "{log}");
    }
    drop(daemons);

    let one = cfsim()
        .current_dir(w)
        .args([
            "run",
            "no-round.toml",
            "--paths",
            "60000",
            "--set",
            "amazon_contingent=20",
        ])
        .args(["--threads", "2", "--out", "one", "--quiet"])
        .output()
        .unwrap();
    assert!(one.status.success());
    for file in ["summary.json", "periods.csv", "cash.png"] {
        assert!(
            std::fs::read(w.join("one").join(file)).unwrap()
                == std::fs::read(w.join("out").join(file)).unwrap(),
            "{file}: the Slurm run differs from one process"
        );
    }
}
