//! relkit-checksum: writes GNU coreutils checksum files (`SHA256SUMS`,
//! per-file `.sha256` sidecars) that `sha256sum -c` and Terraform accept, and
//! checks them back, hashing files in parallel across cores.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::{Parser, ValueEnum};
use rayon::prelude::*;
use relkit_core::atomic::Staging;
use relkit_core::hash::{self, Algo, Digest};
use relkit_core::{Failure, HasFailure};

/// Write or check checksum files.
///
/// Writes one combined file (sorted by name, `<hex>  <name>` lines that
/// `sha256sum -c` accepts) and, with --sidecar, a `<file>.<algo>` next to
/// each input. With --check, verifies a checksum file instead.
#[derive(Debug, Parser)]
#[command(name = "relkit-checksum", version, max_term_width = 100)]
pub struct Cli {
    /// Hash algorithm.
    #[arg(long, value_enum, default_value_t = AlgoArg::Sha256, env = "RELKIT_CHECKSUM_ALGO")]
    pub algo: AlgoArg,

    /// The combined checksum file to write [default: SHA256SUMS, SHA512SUMS
    /// or B3SUMS in the folder of the first file].
    #[arg(long, short, value_name = "FILE", conflicts_with = "check")]
    pub output: Option<PathBuf>,

    /// Also write `<file>.sha256` (or .sha512, .b3) next to each file.
    #[arg(long, conflicts_with = "check")]
    pub sidecar: bool,

    /// Verify the checksum file SUMSFILE (GNU `  `/` *` or BSD
    /// `SHA256 (f) = h` lines); files are found relative to its folder.
    #[arg(long, value_name = "SUMSFILE")]
    pub check: Option<PathBuf>,

    /// With --check: skip listed files that are not there (a release's
    /// SHA256SUMS lists every platform's archive; you downloaded one). At
    /// least one file must be checked.
    #[arg(long, requires = "check")]
    pub ignore_missing: bool,

    /// Files to hash. Each is listed under its file name.
    #[arg(
        value_name = "FILE",
        required_unless_present = "check",
        conflicts_with = "check"
    )]
    pub files: Vec<PathBuf>,
}

/// Hash algorithms on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AlgoArg {
    /// SHA-256 (SHA256SUMS).
    Sha256,
    /// SHA-512 (SHA512SUMS).
    Sha512,
    /// BLAKE3 (B3SUMS).
    Blake3,
}

impl From<AlgoArg> for Algo {
    fn from(a: AlgoArg) -> Self {
        match a {
            AlgoArg::Sha256 => Algo::Sha256,
            AlgoArg::Sha512 => Algo::Sha512,
            AlgoArg::Blake3 => Algo::Blake3,
        }
    }
}

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A problem with an input or output, from relkit-core.
    #[error(transparent)]
    Core(#[from] relkit_core::Error),
    /// Two inputs share a file name, so one checksum line would hide the other.
    #[error("`{}` and `{}` have the same file name; a checksum file lists names, so they would clash", .0.display(), .1.display())]
    DuplicateName(PathBuf, PathBuf),
    /// A checksum file did not verify.
    #[error("`{}`: {failed} of {total} entries failed", path.display())]
    CheckFailed {
        /// The checksum file.
        path: PathBuf,
        /// How many entries failed.
        failed: usize,
        /// How many entries there were.
        total: usize,
    },
}

impl HasFailure for Error {
    fn failure(&self) -> Failure {
        match self {
            Error::Core(e) => e.failure(),
            _ => Failure::Input,
        }
    }
}

/// One hashed file.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The name listed in the checksum file.
    pub name: String,
    /// The file on disk.
    pub path: PathBuf,
    /// Its digest.
    pub digest: Digest,
}

/// Hash `files` in parallel (across all cores) and return them sorted by name.
/// Fails on the first unreadable file and on two inputs with one file name.
pub fn hash_files(files: &[PathBuf], algo: Algo) -> Result<Vec<Entry>, Error> {
    let mut named: Vec<(String, &PathBuf)> = Vec::with_capacity(files.len());
    for path in files {
        let name = file_name(path)?;
        named.push((name, path));
    }
    named.sort_by(|a, b| a.0.cmp(&b.0));
    for pair in named.windows(2) {
        if pair[0].0 == pair[1].0 {
            return Err(Error::DuplicateName(pair[0].1.clone(), pair[1].1.clone()));
        }
    }
    let bar = relkit_core::progress::bytes(0, "hashing");
    if !bar.is_hidden() {
        // Only a bar someone sees needs the total: one stat per file, in
        // sequence, was a fifth of the time for 5000 small files (issue 15).
        let total: u64 = files
            .iter()
            .filter_map(|p| fs_err::metadata(p).ok().map(|m| m.len()))
            .sum();
        bar.set_length(total);
    }
    let entries = named
        .into_par_iter()
        .map(|(name, path)| {
            let digest = hash::hash_file(path, algo, |n| bar.inc(n))?;
            Ok(Entry {
                name,
                path: path.clone(),
                digest,
            })
        })
        .collect::<Result<Vec<_>, relkit_core::Error>>()?;
    bar.finish_and_clear();
    Ok(entries)
}

/// The name a file is listed under: its final path component, which must be
/// valid UTF-8 without newlines (a checksum line cannot carry one).
pub fn file_name(path: &Path) -> Result<String, relkit_core::Error> {
    let name = path.file_name().and_then(|n| n.to_str()).ok_or_else(|| {
        relkit_core::Error::invalid(
            format!("`{}`", path.display()),
            "has no usable UTF-8 file name",
        )
    })?;
    if name.contains(['\n', '\r', '\\']) {
        return Err(relkit_core::Error::invalid(
            format!("`{}`", path.display()),
            "file name contains a newline or backslash, which checksum lines cannot carry",
        ));
    }
    Ok(name.to_owned())
}

/// Format GNU coreutils lines: `<hex><two spaces><name>\n`. Never the
/// `*name` binary marker: Terraform compares the name field exactly.
pub fn format_line(hex: &str, name: &str) -> String {
    format!("{hex}  {name}\n")
}

/// The combined file's text for sorted entries.
pub fn format_sums(entries: &[Entry]) -> String {
    let mut s = String::new();
    for e in entries {
        s.push_str(&format_line(&e.digest.hex, &e.name));
    }
    s
}

/// Sidecar extension for an algorithm (`sha256`, `sha512`, `b3`).
pub fn sidecar_extension(algo: Algo) -> &'static str {
    match algo {
        Algo::Sha256 => "sha256",
        Algo::Sha512 => "sha512",
        Algo::Blake3 => "b3",
    }
}

/// Run the CLI.
pub fn run(cli: Cli) -> Result<(), Error> {
    let algo = Algo::from(cli.algo);
    if let Some(sums) = &cli.check {
        return check_cli(sums, algo, cli.ignore_missing);
    }
    let entries = hash_files(&cli.files, algo)?;
    let output = cli.output.clone().unwrap_or_else(|| {
        let dir = cli.files[0].parent().unwrap_or(Path::new(""));
        dir.join(algo.sums_file())
    });
    let text = format_sums(&entries);
    let mut staging = Staging::new();
    staging.write(&output, text.as_bytes())?;
    if cli.sidecar {
        for e in &entries {
            let mut side = e.path.clone().into_os_string();
            side.push(".");
            side.push(sidecar_extension(algo));
            staging.write(
                Path::new(&side),
                format_line(&e.digest.hex, &e.name).as_bytes(),
            )?;
        }
    }
    let written = staging.commit()?;
    // One buffered write for all lines, not one write(2) per line.
    {
        use std::io::Write as _;
        let mut stdout = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
        stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush())
            .map_err(relkit_core::Error::Io)?;
    }
    tracing::info!("wrote {} ({} files)", output.display(), entries.len());
    relkit_core::gha::set_output("checksums-file", &output.to_string_lossy())?;
    let rows: Vec<_> = entries
        .iter()
        .map(|e| relkit_core::gha::ArtifactRow {
            name: &e.name,
            target: None,
            size: e.digest.size,
            sha256: &e.digest.hex,
        })
        .collect();
    if algo == Algo::Sha256 {
        relkit_core::gha::append_summary(&relkit_core::gha::artifact_table("Checksums", &rows))?;
    }
    tracing::debug!("committed {} files", written.len());
    Ok(())
}

/// The outcome of checking one line of a checksum file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The file matches.
    Ok(String),
    /// The file's digest differs.
    Mismatch(String),
    /// The listed file does not exist.
    Missing(String),
    /// The file could not be read.
    Unreadable(String, String),
    /// The line is not a checksum line (1-based line number, reason).
    Malformed(usize, String),
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verdict::Ok(n) => write!(f, "{n}: OK"),
            Verdict::Mismatch(n) => write!(f, "{n}: FAILED (checksum does not match)"),
            Verdict::Missing(n) => write!(f, "{n}: FAILED (no such file)"),
            Verdict::Unreadable(n, why) => write!(f, "{n}: FAILED ({why})"),
            Verdict::Malformed(line, why) => write!(f, "line {line}: FAILED (malformed: {why})"),
        }
    }
}

/// A parsed checksum line.
#[derive(Debug, PartialEq, Eq)]
pub struct Line {
    /// The digest, lower-case hex of the algorithm's length.
    pub hex: String,
    /// The listed file name, not yet checked to be a plain relative name.
    pub name: String,
    /// The algorithm a BSD line names; `None` for GNU lines.
    pub algo: Option<Algo>,
}

/// Parse one line of a checksum file (no line ending): GNU `hex  name` or
/// `hex *name` with `algo`'s digest length, or BSD `ALGO (name) = hex`.
/// Public for the fuzz target `checksum_line` (issue 10).
pub fn parse_line(line: &str, algo: Algo) -> Result<Line, String> {
    // BSD: `SHA256 (name) = hex`
    if let Some((tag, rest)) = line.split_once(" (") {
        if let Some((name, hex)) = rest.rsplit_once(") = ") {
            let algo = tag
                .parse::<Algo>()
                .map_err(|_| format!("unknown algorithm `{tag}`"))?;
            let hex = hex.to_ascii_lowercase();
            if !relkit_core::manifest::is_hex(&hex, algo.hex_len()) {
                return Err(format!("`{hex}` is not a {} digest", algo.name()));
            }
            return Ok(Line {
                hex,
                name: name.to_owned(),
                algo: Some(algo),
            });
        }
    }
    // GNU: `hex  name` (text) or `hex *name` (binary).
    let (hex, rest) = line
        .split_once(' ')
        .ok_or_else(|| "expected `<digest>  <name>`".to_owned())?;
    let name = rest
        .strip_prefix(' ')
        .or_else(|| rest.strip_prefix('*'))
        .ok_or_else(|| "expected two spaces or ` *` between digest and name".to_owned())?;
    let hex = hex.to_ascii_lowercase();
    if !relkit_core::manifest::is_hex(&hex, algo.hex_len()) {
        return Err(format!("`{hex}` is not a {} digest", algo.name()));
    }
    if name.is_empty() {
        return Err("no file name".to_owned());
    }
    Ok(Line {
        hex,
        name: name.to_owned(),
        algo: None,
    })
}

/// Check every line of `sums` (files relative to its folder), in parallel.
/// Returns one verdict per non-empty line, in file order.
pub fn check_file(sums: &Path, algo: Algo) -> Result<Vec<Verdict>, Error> {
    // issue 10.2: a bounded read of a regular file (never /dev/zero or a fifo).
    let text = relkit_core::input::read_text(sums, relkit_core::input::Limit::SUMS)?;
    let base = sums.parent().unwrap_or(Path::new(""));
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty())
        .collect();
    let verdicts = lines
        .into_par_iter()
        .map(|(no, raw)| {
            let line = match parse_line(raw, algo) {
                Ok(l) => l,
                Err(why) => return Verdict::Malformed(no, why),
            };
            if relkit_core::manifest::check_relative(&line.name).is_err() {
                return Verdict::Malformed(
                    no,
                    format!("`{}` is not a plain relative name", line.name),
                );
            }
            let path = base.join(&line.name);
            match hash::hash_file(&path, line.algo.unwrap_or(algo), |_| {}) {
                Ok(d) if d.hex == line.hex => Verdict::Ok(line.name),
                Ok(_) => Verdict::Mismatch(line.name),
                Err(relkit_core::Error::Missing(_)) => Verdict::Missing(line.name),
                Err(e) => Verdict::Unreadable(line.name, relkit_core::error::one_line(&e)),
            }
        })
        .collect();
    Ok(verdicts)
}

fn check_cli(sums: &Path, algo: Algo, ignore_missing: bool) -> Result<(), Error> {
    let mut verdicts = check_file(sums, algo)?;
    if ignore_missing {
        let listed = verdicts.len();
        verdicts.retain(|v| !matches!(v, Verdict::Missing(_)));
        if listed > 0 && verdicts.is_empty() {
            return Err(relkit_core::Error::invalid(
                format!("`{}`", sums.display()),
                "none of the files it lists is here (--ignore-missing): nothing was checked",
            )
            .into());
        }
    }
    let mut report = String::new();
    let mut failed = 0;
    for v in &verdicts {
        if !matches!(v, Verdict::Ok(_)) {
            failed += 1;
        }
        let _ = writeln!(report, "{v}");
    }
    print!("{report}");
    if verdicts.is_empty() {
        return Err(relkit_core::Error::invalid(
            format!("`{}`", sums.display()),
            "has no checksum lines",
        )
        .into());
    }
    if failed > 0 {
        return Err(Error::CheckFailed {
            path: sums.to_path_buf(),
            failed,
            total: verdicts.len(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_gnu_and_bsd_lines() {
        let h = "a".repeat(64);
        assert_eq!(
            parse_line(&format!("{h}  f.tar.gz"), Algo::Sha256)
                .unwrap()
                .name,
            "f.tar.gz"
        );
        assert_eq!(
            parse_line(&format!("{h} *f.zip"), Algo::Sha256)
                .unwrap()
                .name,
            "f.zip"
        );
        assert_eq!(
            parse_line(&format!("{h}  with space"), Algo::Sha256)
                .unwrap()
                .name,
            "with space"
        );
        let bsd = parse_line(
            &format!("SHA256 (x (1).bin) = {}", h.to_uppercase()),
            Algo::Sha512,
        )
        .unwrap();
        assert_eq!(
            (bsd.name.as_str(), bsd.algo, bsd.hex.as_str()),
            ("x (1).bin", Some(Algo::Sha256), h.as_str())
        );
        assert!(parse_line(&format!("{h} f"), Algo::Sha256).is_err());
        assert!(parse_line("abc  f", Algo::Sha256).is_err());
        assert!(parse_line(&format!("{h}  "), Algo::Sha256).is_err());
        assert!(parse_line("garbage", Algo::Sha256).is_err());
        assert!(parse_line(&format!("MD5 (f) = {h}"), Algo::Sha256).is_err());
    }

    #[test]
    fn lines_have_no_binary_marker() {
        assert_eq!(format_line("ab", "f"), "ab  f\n");
    }
}
