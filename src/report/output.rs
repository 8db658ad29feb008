//! An output folder written as one set: every file goes into a private staging folder beside
//! it, which takes the folder's place only once all of them are written. A failure (or a
//! panic) leaves the previous outputs as they were and no staging folder behind; a run never
//! leaves its summary beside another run's charts.

use std::path::{Path, PathBuf};

use super::ReportError;

/// Names of the files cfsim writes into an output folder.
fn written_by_cfsim(name: &str) -> bool {
    matches!(
        name,
        "summary.json"
            | "periods.csv"
            | "comparison.json"
            | "comparison.csv"
            | "sweep.json"
            | "sweep.csv"
            | "solve.json"
            | "sensitivity.json"
            | "report.md"
            | "report.html"
            | "samples.csv"
    ) || name.ends_with(".png")
        || name.ends_with(".svg")
}

/// Staging folders being written, removed by [`remove_unfinished`] when the process is
/// interrupted (Ctrl-C or SIGTERM), when no destructor runs.
static UNFINISHED: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

/// Removes every staging folder still being written: for a signal handler, just before the
/// process exits. The outputs they would have replaced stay as they were.
pub fn remove_unfinished() {
    let dirs = match UNFINISHED.lock() {
        Ok(dirs) => dirs.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    };
    for dir in dirs {
        let _ = std::fs::remove_dir_all(dir);
    }
}

fn forget(dir: &Path) {
    if let Ok(mut dirs) = UNFINISHED.lock() {
        dirs.retain(|d| d != dir);
    }
}

/// An output folder being written.
pub struct Staging {
    /// Where the outputs end up.
    dir: PathBuf,
    /// The private folder they are written into first (removed when dropped).
    tmp: tempfile::TempDir,
}

impl Drop for Staging {
    fn drop(&mut self) {
        forget(self.tmp.path());
    }
}

impl Staging {
    /// Starts writing the outputs of `dir`. Refuses a `dir` that is not a folder, or that holds
    /// anything cfsim did not write, since it will be replaced as a whole.
    pub fn new(dir: &Path) -> Result<Staging, ReportError> {
        let failed = |source| ReportError::Write {
            path: dir.to_path_buf(),
            source,
        };
        let refuse = |why: String| {
            failed(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!(
                    "{why}; it would be replaced by this run's outputs: choose a new or empty folder with --out"
                ),
            ))
        };
        let parent = dir
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = dir
            .file_name()
            .ok_or_else(|| refuse("the output path names no folder".to_string()))?
            .to_string_lossy()
            .into_owned();
        match std::fs::symlink_metadata(dir) {
            Ok(meta) if !meta.is_dir() => {
                return Err(refuse(format!("{} is not a folder", dir.display())));
            }
            Ok(_) => {
                for entry in std::fs::read_dir(dir).map_err(failed)? {
                    let entry = entry.map_err(failed)?;
                    let file = entry.file_name().to_string_lossy().into_owned();
                    let is_file = entry.file_type().map_err(failed)?.is_file();
                    if !is_file || !written_by_cfsim(&file) {
                        return Err(refuse(format!(
                            "the output folder {} holds `{file}`, which cfsim did not write",
                            dir.display()
                        )));
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(failed(e)),
        }
        std::fs::create_dir_all(parent).map_err(failed)?;
        // A fresh folder with a random name, created exclusively: nothing planted in advance can
        // redirect a write.
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}.staging-"))
            .tempdir_in(parent)
            .map_err(failed)?;
        if let Ok(mut dirs) = UNFINISHED.lock() {
            dirs.push(tmp.path().to_path_buf());
        }
        Ok(Staging {
            dir: dir.to_path_buf(),
            tmp,
        })
    }

    /// The error as the user should read it: about the output folder's file, not the staging
    /// folder's.
    fn relocate(&self, e: ReportError) -> ReportError {
        let moved = |path: PathBuf| match path.strip_prefix(self.tmp.path()) {
            Ok(rest) => self.dir.join(rest),
            Err(_) => path,
        };
        match e {
            ReportError::Write { path, source } => ReportError::Write {
                path: moved(path),
                source,
            },
            ReportError::Draw { path, message } => ReportError::Draw {
                path: moved(path),
                message,
            },
            other => other,
        }
    }

    /// The folder to write the outputs into.
    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// Writes the outputs with `write`, given the folder to write them into; its errors name
    /// the output folder's files, not the staging folder's.
    pub fn write<T>(
        &self,
        write: impl FnOnce(&Path) -> Result<T, ReportError>,
    ) -> Result<T, ReportError> {
        write(self.tmp.path()).map_err(|e| self.relocate(e))
    }

    /// Puts the written set in place of the output folder.
    pub fn commit(mut self) -> Result<(), ReportError> {
        let failed = |source| ReportError::Write {
            path: self.dir.clone(),
            source,
        };
        let staged = self.tmp.path().to_path_buf();
        if std::fs::symlink_metadata(&self.dir).is_err() {
            std::fs::rename(&staged, &self.dir).map_err(failed)?;
            self.tmp.disable_cleanup(true);
            return Ok(());
        }
        // Move the old set aside, put the new one in place, then remove the old one.
        let old = staged.with_extension("old");
        std::fs::rename(&self.dir, &old).map_err(failed)?;
        if let Err(e) = std::fs::rename(&staged, &self.dir) {
            let _ = std::fs::rename(&old, &self.dir);
            return Err(failed(e));
        }
        self.tmp.disable_cleanup(true);
        std::fs::remove_dir_all(&old).map_err(failed)
    }
}

#[cfg(test)]
mod tests {
    use super::super::ReportError;

    #[test]
    fn a_failed_write_names_the_output_folders_file_and_changes_nothing() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("out");
        let staging = Staging::new(&dir).unwrap();
        let full = std::io::Error::other("No space left on device");
        let err = staging
            .write(|tmp| -> Result<(), ReportError> {
                Err(ReportError::Write {
                    path: tmp.join("summary.json"),
                    source: full,
                })
            })
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("cannot write {}", dir.join("summary.json").display())
        );
        drop(staging);
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0);
    }

    use super::Staging;

    #[test]
    fn a_set_replaces_the_previous_one_whole_and_a_dropped_one_leaves_nothing() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("out");
        let first = Staging::new(&dir).unwrap();
        std::fs::write(first.path().join("summary.json"), "1").unwrap();
        std::fs::write(first.path().join("cash.png"), "1").unwrap();
        first.commit().unwrap();
        // The second run writes no chart: the first run's chart must not stay beside it.
        let second = Staging::new(&dir).unwrap();
        std::fs::write(second.path().join("summary.json"), "2").unwrap();
        second.commit().unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join("summary.json")).unwrap(),
            "2"
        );
        assert!(!dir.join("cash.png").exists());
        // A run that fails before committing changes nothing and leaves no staging folder.
        let third = Staging::new(&dir).unwrap();
        std::fs::write(third.path().join("summary.json"), "3").unwrap();
        drop(third);
        assert_eq!(
            std::fs::read_to_string(dir.join("summary.json")).unwrap(),
            "2"
        );
        let names: Vec<String> = std::fs::read_dir(root.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["out"]);
    }

    #[test]
    fn a_folder_with_other_files_is_never_replaced() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("notes.txt"), "mine").unwrap();
        let err = Staging::new(root.path()).err().expect("refused");
        let err = format!("{err}: {}", std::error::Error::source(&err).unwrap());
        assert!(
            err.contains("`notes.txt`, which cfsim did not write"),
            "{err}"
        );
        let file = root.path().join("notes.txt");
        assert!(Staging::new(&file).is_err(), "a file is not a folder");
        assert_eq!(std::fs::read_to_string(file).unwrap(), "mine");
    }
}
