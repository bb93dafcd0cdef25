//! What surrounds the tables of an OSU micro-benchmarks log as people post it:
//! launcher prefixes on every line (`mpirun --tag-output`'s `[1,0]<stdout>:`, Slurm
//! `srun -l`'s `0: `, pdsh's `host: `), the command that started the test, library
//! chatter, and several tests one after another in one file; and the header lines
//! every test has: its title and, for GPU builds, where its buffers were.

/// One line without the prefix a launcher put in front of it.
pub(super) fn strip_launcher_prefix(line: &str) -> &str {
    for tag in ["]<stdout>:", "]<stderr>:"] {
        if let Some(at) = line.find(tag) {
            return &line[at + tag.len()..];
        }
    }
    let t = line.trim_start();
    if t.starts_with('#') {
        return line;
    }
    // `0: # OSU ...` (srun -l) or `node1: 4   3.90` (pdsh): a first word ending in ':'.
    match t.split_once(' ') {
        Some((first, rest))
            if first.len() > 1
                && first.ends_with(':')
                && !first[..first.len() - 1].contains(':') =>
        {
            rest
        }
        _ => line,
    }
}

/// What the command that started a test says, when the log shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Launch {
    /// `-n`/`-np`/`--np`/`--ntasks` of the launcher.
    pub ranks: Option<u32>,
    /// OSU's `-i` (timed iterations) and `-x` (warm-up iterations).
    pub iterations: Option<u64>,
    pub warmup: Option<u64>,
}

const LAUNCHERS: [&str; 6] = [
    "mpirun",
    "mpiexec",
    "mpiexec.hydra",
    "srun",
    "orterun",
    "aprun",
];

/// Reads a launcher command line (`mpirun -np 64 ... osu_alltoall -i 1000 -x 100`).
pub(super) fn launch(line: &str) -> Option<Launch> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let base = |w: &str| w.rsplit('/').next().unwrap_or(w).to_string();
    let launcher_at = words
        .iter()
        .position(|w| LAUNCHERS.contains(&base(w).as_str()))?;
    let program_at = words
        .iter()
        .position(|w| base(w).starts_with("osu_"))
        .filter(|p| *p > launcher_at)?;
    let value_of = |args: &[&str], names: &[&str]| -> Option<u64> {
        args.iter().enumerate().find_map(|(i, w)| {
            if let Some((name, v)) = w.split_once('=') {
                if names.contains(&name) {
                    return v.parse().ok();
                }
            }
            if names.contains(w) {
                return args.get(i + 1).and_then(|v| v.parse().ok());
            }
            None
        })
    };
    let launcher_args = &words[launcher_at + 1..program_at];
    let program_args = &words[program_at + 1..];
    Some(Launch {
        ranks: value_of(launcher_args, &["-n", "-np", "--np", "--ntasks"])
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n > 0),
        iterations: value_of(program_args, &["-i", "--iterations"]),
        warmup: value_of(program_args, &["-x", "--warmup"]),
    })
}

/// One test of a log: its own lines (the others blanked, so line numbers stay those
/// of the file) and the command that started it, when shown before its title.
#[derive(Debug, Clone)]
pub(super) struct Section {
    /// 1-based line of the `# OSU ... Test` title.
    pub title_line: usize,
    pub text: String,
    pub launch: Option<Launch>,
}

fn is_title(line: &str) -> bool {
    let t = line.trim();
    t.starts_with("# OSU ") && t.split_whitespace().any(|w| w == "Test")
}

/// Splits a log at its `# OSU ... Test` titles, launcher prefixes removed.
pub(super) fn sections(text: &str) -> Vec<Section> {
    let lines: Vec<&str> = text.lines().map(strip_launcher_prefix).collect();
    let titles: Vec<usize> = (0..lines.len()).filter(|i| is_title(lines[*i])).collect();
    let mut out = Vec::new();
    for (k, &start) in titles.iter().enumerate() {
        let end = titles.get(k + 1).copied().unwrap_or(lines.len());
        let previous_end = if k == 0 { 0 } else { titles[k - 1] };
        let launch = lines[previous_end..start]
            .iter()
            .rev()
            .find_map(|l| launch(l));
        let text = lines
            .iter()
            .enumerate()
            .map(|(i, l)| if (start..end).contains(&i) { *l } else { "" })
            .collect::<Vec<_>>()
            .join("\n");
        out.push(Section {
            title_line: start + 1,
            text,
            launch,
        });
    }
    out
}

/// A parsed `# OSU ... Test vX` title.
pub(super) struct Title {
    /// `MPI`, or something this import does not read (`NCCL`, `OpenSHMEM`, ...).
    pub family: String,
    /// `CUDA`, `ROCM`, ... for builds with a GPU runtime.
    pub accel: Option<String>,
    /// The words between the family and `Test`, e.g. `Bi-Directional Bandwidth`.
    pub name: String,
    pub version: Option<String>,
}

pub(super) fn title(line: &str) -> Option<Title> {
    let rest = line.trim().strip_prefix("# OSU ")?;
    let words: Vec<&str> = rest.split_whitespace().collect();
    let test_at = words.iter().position(|w| *w == "Test")?;
    let first = words.first()?;
    let (family, accel) = match first.split_once('-') {
        Some((f, a)) => (f.to_string(), Some(a.to_string())),
        None => (first.to_string(), None),
    };
    let version = words
        .last()
        .and_then(|w| w.strip_prefix('v'))
        .filter(|v| v.starts_with(|c: char| c.is_ascii_digit()))
        .map(str::to_string);
    Some(Title {
        family,
        accel,
        name: words.get(1..test_at)?.join(" "),
        version,
    })
}

/// Whether the import reads tests of this family: MPI, and the NCCL tests of
/// `osu_xccl_*` (titled `NCCL-CUDA`, `RCCL-ROCM` or `XCCL` by build).
pub(super) fn is_family_read(family: &str) -> bool {
    matches!(family, "MPI" | "NCCL" | "RCCL" | "XCCL")
}

/// One end's buffer, as the log says it (`DEVICE (D)`), and its code (`D`; `H`, `M`,
/// `MD`, `MH` for the others).
#[derive(Debug, Clone)]
pub(super) struct Buffer {
    pub words: String,
    pub code: String,
}

pub(super) fn buffer(words: &str) -> Option<Buffer> {
    let words = words.trim();
    let code = words.split_once('(')?.1.strip_suffix(')')?;
    (!code.is_empty() && code.chars().all(|c| c.is_ascii_uppercase())).then(|| Buffer {
        words: words.to_string(),
        code: code.to_string(),
    })
}

/// The backend the records name: `cpu` for host buffers, the GPU runtime (`cuda`) for
/// device buffers at both ends, and `cuda:H-D` and the like for mixed or managed
/// buffers, which no clusterbench backend measures (so they never match one).
///
/// NCCL tests run on the GPU whatever the log says. An MPI-CUDA log without the
/// `# Send Buffer on ...` line (7.x collectives, some point-to-point runs) names
/// `cuda:unknown`: the buffers may be on either side, so it matches no backend.
pub(super) fn backend(t: &Title, placement: Option<&(Buffer, Buffer)>) -> String {
    let accel = t.accel.as_deref().map(str::to_ascii_lowercase);
    if t.family != "MPI" {
        return accel.unwrap_or_else(|| "cuda".into());
    }
    let Some(accel) = accel else {
        return "cpu".into();
    };
    match placement.map(|(s, r)| (s.code.as_str(), r.code.as_str())) {
        None => format!("{accel}:unknown"),
        Some(("H", "H")) => "cpu".into(),
        Some(("D", "D")) => accel,
        Some((s, r)) => format!("{accel}:{s}-{r}"),
    }
}

/// What the run note says of the buffers: where they were, or that the log does not say.
pub(super) fn buffer_note(t: &Title, placement: Option<&(Buffer, Buffer)>) -> Option<String> {
    match (placement, &t.accel) {
        (Some((s, r)), _) => Some(format!(
            "send buffer on {}, receive buffer on {}",
            s.words, r.words
        )),
        (None, Some(accel)) if t.family == "MPI" => Some(format!(
            "buffers unknown: this MPI-{accel} log has no '# Send Buffer on ...' line (recorded as backend {})",
            backend(t, None)
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn launcher_prefixes_come_off() {
        assert_eq!(
            strip_launcher_prefix("[1,0]<stdout>:# OSU MPI Allreduce Latency Test v7.3"),
            "# OSU MPI Allreduce Latency Test v7.3"
        );
        assert_eq!(
            strip_launcher_prefix("Mon Jan  1 [1,0]<stdout>:4   3.90"),
            "4   3.90"
        );
        assert_eq!(strip_launcher_prefix("0: 4        3.90"), "4        3.90");
        assert_eq!(strip_launcher_prefix("node-7: # Size"), "# Size");
        assert_eq!(
            strip_launcher_prefix("# Datatype: MPI_CHAR."),
            "# Datatype: MPI_CHAR."
        );
        assert_eq!(strip_launcher_prefix("4   3.90"), "4   3.90");
        assert_eq!(
            strip_launcher_prefix("[seren-01:13454] pml_ucx.c:182 Got proc 1"),
            "[seren-01:13454] pml_ucx.c:182 Got proc 1"
        );
    }

    #[test]
    fn launch_commands_give_ranks_and_iterations() {
        let l = launch(
            "mpiexec  --np 384 --ppn 12 --cpu-bind verbose /x/osu_alltoallv -m 4096:4096 -i 1000 -x 100 -f -z",
        )
        .expect("a launch");
        assert_eq!(
            l,
            Launch {
                ranks: Some(384),
                iterations: Some(1000),
                warmup: Some(100)
            }
        );
        // mpirun's own -x exports a variable: not OSU's warm-up.
        let l =
            launch("$ mpirun -np 192 -x PATH=/bin /usr/osu_reduce -d cuda -f").expect("a launch");
        assert_eq!(l.ranks, Some(192));
        assert_eq!(l.warmup, None);
        assert_eq!(
            launch("srun --ntasks=8 ./osu_bcast").and_then(|l| l.ranks),
            Some(8)
        );
        assert!(launch("osu_bw -d cuda D D").is_none());
        assert!(launch("# OSU MPI Latency Test").is_none());
    }

    #[test]
    fn a_log_splits_at_its_titles() {
        let text = "mpirun -n 4 ./osu_allreduce\n# OSU MPI Allreduce Latency Test v7.3\n# Size  Avg Latency(us)\n4   1.00\nmpirun -n 8 ./osu_bcast\n# OSU MPI Broadcast Latency Test v7.3\n4   2.00\n";
        let s = sections(text);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].title_line, 2);
        assert_eq!(s[1].title_line, 6);
        assert_eq!(s[0].launch.as_ref().and_then(|l| l.ranks), Some(4));
        assert_eq!(s[1].launch.as_ref().and_then(|l| l.ranks), Some(8));
        assert!(s[0].text.contains("1.00") && !s[0].text.contains("2.00"));
        assert!(s[1].text.contains("2.00") && !s[1].text.contains("1.00"));
        assert_eq!(
            s[1].text.lines().nth(5),
            Some("# OSU MPI Broadcast Latency Test v7.3")
        );
    }
}
