//! The relocatable bundle of scripts/package.sh, run as on a GPU node that has no
//! Open MPI and no hwloc: in a mount namespace where their libraries cannot be loaded.
//! scripts/test.sh builds the bundle and names it in CLUSTERBENCH_BUNDLE; without it
//! these tests say so and skip.

use crate::common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The bundle directory, when scripts/test.sh built one.
pub(crate) fn bundle() -> Option<PathBuf> {
    match std::env::var_os("CLUSTERBENCH_BUNDLE") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            assert!(
                dir.join("bin/clusterbench").is_file(),
                "CLUSTERBENCH_BUNDLE={} holds no bin/clusterbench",
                dir.display()
            );
            Some(dir)
        }
        None => {
            eprintln!("skipped: no bundle (scripts/test.sh builds one with scripts/package.sh and sets CLUSTERBENCH_BUNDLE)");
            None
        }
    }
}

/// Run as a prefix (`sh -c HIDE sh CMD...`), this makes Open MPI, hwloc and libudev
/// unloadable for CMD: every file of theirs that the loader's cache names becomes
/// an empty file, and their plug-in and configuration directories become empty.
const HIDE: &str = r#"set -e
for lib in libmpi.so.40 libopen-pal.so.40 libopen-rte.so.40 libhwloc.so.15 libudev.so.1; do
  for f in $(ldconfig -p | awk -v l="$lib" '$1 == l {print $NF}'); do
    mount --bind /dev/null "$(readlink -f "$f")"
  done
done
for d in /usr/lib/x86_64-linux-gnu/openmpi /usr/lib/x86_64-linux-gnu/hwloc /etc/openmpi; do
  if [ -d "$d" ]; then mount -t tmpfs none "$d"; fi
done
if command -v orterun > /dev/null; then mount --bind /dev/null "$(readlink -f "$(command -v orterun)")"; fi
exec "$@""#;

/// Whether this process may make mount namespaces; says why not when it may not.
/// scripts/test.sh sets CLUSTERBENCH_REQUIRE_UNSHARE where it runs as root: there a
/// failure to make one fails the test instead of skipping it.
fn can_unshare() -> bool {
    let probe = Command::new("unshare")
        .args(["-m", "--propagation", "private", "true"])
        .output();
    let why = match probe {
        Ok(o) if o.status.success() => return true,
        Ok(o) => format!(
            "unshare -m failed ({}): {}",
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => format!("unshare cannot be run: {e}"),
    };
    assert!(
        std::env::var_os("CLUSTERBENCH_REQUIRE_UNSHARE").is_none(),
        "CLUSTERBENCH_REQUIRE_UNSHARE is set but {why}"
    );
    eprintln!("skipped: the bundle is not tested with MPI and hwloc hidden: {why} (needs root)");
    false
}

/// `args` run in a mount namespace where Open MPI, hwloc and libudev cannot be loaded.
fn hidden(args: &[&str], dir: &Path, env: &[(&str, &str)]) -> Output {
    let mut c = Command::new("unshare");
    c.args(["-m", "--propagation", "private", "sh", "-c", HIDE, "sh"])
        .args(args)
        .current_dir(dir);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("unshare runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_bundle_runs_the_quick_suite_with_mpi_and_hwloc_unloadable() {
    let Some(bundle) = bundle() else { return };
    if !can_unshare() {
        return;
    }
    let dir = tempdir();
    let path = |p: &str| bundle.join(p).display().to_string();
    let loader = "/lib64/ld-linux-x86-64.so.2";

    // The hiding works: the build that links Open MPI no longer loads.
    let mpi = hidden(
        &[loader, "--list", &path("libexec/clusterbench-mpi")],
        dir.path(),
        &[],
    );
    assert!(
        !mpi.status.success() && text(&mpi.stderr).contains("libmpi.so.40"),
        "Open MPI is still loadable in the namespace: {mpi:?}"
    );

    // The single-process build needs neither: hwloc and libudev come from the bundle.
    let local = hidden(
        &[loader, "--list", &path("libexec/clusterbench-local")],
        dir.path(),
        &[],
    );
    let listing = text(&local.stdout);
    assert!(local.status.success(), "{local:?}");
    assert!(
        !listing.contains("libmpi") && !listing.contains("libopen-"),
        "{listing}"
    );
    for lib in ["libhwloc.so.15", "libudev.so.1"] {
        let line = listing
            .lines()
            .find(|l| l.trim_start().starts_with(lib))
            .unwrap_or_else(|| panic!("{lib} not loaded:\n{listing}"));
        assert!(
            line.contains(&format!("{}/libexec/../lib/{lib}", bundle.display())),
            "{lib} is not the bundle's: {line}"
        );
    }

    // The launcher picks the single-process build, which runs and passes its checks.
    let out = hidden(
        &[
            &path("bin/clusterbench"),
            "run",
            "--suite",
            "quick",
            "-q",
            "--output",
            "results",
        ],
        dir.path(),
        &[],
    );
    assert!(
        out.status.success(),
        "quick suite failed in the bundle:\n{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let (_, doc) = only_document(&dir.path().join("results"));
    assert_all_checked_and_passed(&doc);
    assert_eq!(
        doc.run.suite.as_deref(),
        Some("quick"),
        "the whole quick suite ran"
    );
    assert!(doc.environment.mpi.is_none(), "no MPI in the local build");
    let topology = &doc.environment.hosts[0].topology_source;
    assert!(topology.starts_with("hwloc"), "{topology}");

    // Started by a launcher with several ranks and no loadable MPI: one clear line, exit 2.
    let several = hidden(
        &[&path("bin/clusterbench"), "env"],
        dir.path(),
        &[("OMPI_COMM_WORLD_SIZE", "2"), ("OMPI_COMM_WORLD_RANK", "0")],
    );
    let stderr = text(&several.stderr);
    assert_eq!(several.status.code(), Some(2), "{several:?}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("clusterbench: started by an MPI launcher with 2 ranks")
            && stderr.contains("libmpi.so.40"),
        "{stderr}"
    );
    // With one rank the single-process build serves.
    let one = hidden(
        &[&path("bin/clusterbench"), "env"],
        dir.path(),
        &[("OMPI_COMM_WORLD_SIZE", "1"), ("OMPI_COMM_WORLD_RANK", "0")],
    );
    assert!(one.status.success(), "{one:?}");
    let env: serde_json::Value = serde_json::from_slice(&one.stdout).expect("env prints JSON");
    assert!(env["mpi"].is_null(), "{env}");
}

#[cfg(feature = "mpi")]
#[test]
fn under_mpirun_the_bundle_runs_its_mpi_build() {
    let Some(bundle) = bundle() else { return };
    let dir = tempdir();
    let launcher = bundle.join("bin/clusterbench");
    let mpirun = |args: &[&str]| {
        Command::new("mpirun")
            .current_dir(dir.path())
            .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
            .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
            .args(["-np", "2", "--oversubscribe", "--bind-to", "none"])
            .args(["--mca", "mpi_yield_when_idle", "1"])
            .arg(&launcher)
            .args(args)
            .output()
            .expect("mpirun runs")
    };
    let out = mpirun(&["env"]);
    assert!(out.status.success(), "{out:?}");
    let env: serde_json::Value = serde_json::from_slice(&out.stdout).expect("env prints JSON");
    assert_eq!(env["ranks"].as_array().map(Vec::len), Some(2), "{env}");
    let mpi = env["mpi"]["library_version"].as_str().unwrap_or_default();
    assert!(mpi.contains("Open MPI"), "{env}");

    let out = mpirun(&[
        "run",
        "--backend",
        "cpu",
        "--bench",
        "allreduce",
        "-b",
        "8",
        "-e",
        "64K",
        "-q",
        "--output",
        "results",
    ]);
    assert!(out.status.success(), "{out:?}");
    let (_, doc) = only_document(&dir.path().join("results"));
    assert_all_checked_and_passed(&doc);
    assert!(doc.records.iter().all(|r| r.ranks == 2));
}

/// The newest `GLIBC_x.y` symbol version `file` references.
fn newest_glibc(file: &Path) -> (u32, u32) {
    let out = Command::new("objdump")
        .arg("-T")
        .arg(file)
        .output()
        .expect("objdump runs");
    assert!(out.status.success(), "{out:?}");
    text(&out.stdout)
        .split("GLIBC_")
        .skip(1)
        .filter_map(|rest| {
            let v: String = rest
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            let mut parts = v.split('.').map(|p| p.parse::<u32>().ok());
            Some((parts.next()??, parts.next().flatten().unwrap_or(0)))
        })
        .max()
        .expect("links glibc")
}

#[test]
fn the_bundle_is_small_stripped_and_names_the_glibc_it_needs() {
    let Some(bundle) = bundle() else { return };
    let tarball = PathBuf::from(format!("{}.tar.gz", bundle.display()));
    let size = std::fs::metadata(&tarball)
        .unwrap_or_else(|e| panic!("{}: {e}", tarball.display()))
        .len();
    assert!(size < 40 << 20, "the tarball has {size} bytes");

    let mut newest = (0, 0);
    for dir in ["libexec", "lib"] {
        for entry in std::fs::read_dir(bundle.join(dir)).unwrap() {
            let file = entry.unwrap().path();
            newest = newest.max(newest_glibc(&file));
            if dir == "libexec" {
                let sections = Command::new("readelf")
                    .args(["-S", "-d", "-W"])
                    .arg(&file)
                    .output()
                    .unwrap();
                let sections = text(&sections.stdout);
                assert!(
                    !sections.contains(".debug_info") && !sections.contains(".debug_line"),
                    "{} is not stripped",
                    file.display()
                );
                assert!(
                    sections.contains("Library rpath: [$ORIGIN/../lib]"),
                    "{}",
                    file.display()
                );
            }
        }
    }
    let version = std::fs::read_to_string(bundle.join("VERSION")).unwrap();
    let needed = format!("glibc {}.{} or newer", newest.0, newest.1);
    assert!(
        version.contains(&needed),
        "VERSION says:\n{version}\nwanted {needed}"
    );
    assert!(
        std::fs::read_to_string(bundle.join("README"))
            .unwrap()
            .contains(&format!("glibc {}.{}", newest.0, newest.1)),
        "README names the glibc"
    );
}
