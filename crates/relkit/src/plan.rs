//! `relkit plan`: the CI build matrix. Turns the targets of relkit.toml (or
//! `--target` flags) into `{"include":[…]}` for `strategy.matrix:
//! ${{ fromJSON(…) }}`, choosing a runner and a build tool per target:
//! native cargo where the runner can build the target itself, cargo-zigbuild
//! for Linux targets a stock x86_64 Ubuntu runner cannot link (arm64, musl,
//! other arches), macOS and Windows targets on their own runners, and every
//! Go target on Ubuntu (Go cross-compiles without a C toolchain).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use clap::Args;
use relkit_core::target::Target;
use relkit_core::version::Version;
use relkit_core::{Error as CoreError, gha};
use serde::Serialize;

use crate::Error;
use crate::config::{self, BuildTool, Config};

/// Print the CI build matrix as JSON for `fromJSON`.
#[derive(Debug, Clone, Args)]
pub struct PlanArgs {
    /// Config file (its `targets`, `[build] tool` and `[plan] runners`).
    #[arg(long, default_value = config::FILE, env = "RELKIT_CONFIG")]
    pub config: PathBuf,
    /// Target to build; repeatable, or comma/space separated [default:
    /// relkit.toml's `targets`, else the usual five desktop targets].
    #[arg(
        long = "target",
        value_name = "TARGET",
        env = "RELKIT_TARGETS",
        value_delimiter = ','
    )]
    pub targets: Vec<String>,
    /// Build tool [default: relkit.toml's `[build] tool`, else cargo].
    #[arg(long, value_enum, env = "RELKIT_BUILD_TOOL")]
    pub build_tool: Option<BuildTool>,
    /// Runner label for one target, overriding the default and relkit.toml;
    /// repeatable.
    #[arg(long = "runner", value_name = "TARGET=LABEL")]
    pub runners: Vec<String>,
    /// Pretty-print the JSON (the default is one line, as `$GITHUB_OUTPUT` needs).
    #[arg(long)]
    pub pretty: bool,
    #[command(flatten)]
    pub release: PlanRelease,
}

/// What the plan job checks before any build or remote write, so a typo
/// fails in seconds and leaves nothing behind on GitHub.
#[derive(Debug, Clone, Default, Args)]
pub struct PlanRelease {
    /// Project name to check [default: relkit.toml's `name`].
    #[arg(long, env = "RELKIT_NAME")]
    pub name: Option<String>,
    /// Release version [default: relkit.toml's, else from the tag, GITHUB_REF, Cargo.toml or the git tag on HEAD].
    #[arg(long, env = "RELKIT_VERSION")]
    pub version: Option<String>,
    /// Release tag [default: GITHUB_REF's tag, else v + version].
    #[arg(long, env = "RELKIT_TAG")]
    pub tag: Option<String>,
    /// An extra file or folder every archive will include (must exist); repeatable.
    #[arg(long = "include", value_name = "PATH")]
    pub includes: Vec<PathBuf>,
    /// Also check that the token can see the repository (GITHUB_TOKEN,
    /// GITHUB_REPOSITORY, GITHUB_API_URL), with one read-only request.
    #[arg(long)]
    pub check_access: bool,
}

/// One matrix entry. Field names are kebab-case, as workflows read them:
/// `matrix.target`, `matrix.runner`, `matrix['build-tool']`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Entry {
    /// The target as written (a Rust triple or a Go `os/arch` pair).
    pub target: String,
    /// The `runs-on` label.
    pub runner: String,
    /// The build tool.
    pub build_tool: BuildTool,
    /// Operating system in Go's words (`linux`, `darwin`, `windows`).
    pub os: String,
    /// Architecture in Go's words (`amd64`, `arm64`, …).
    pub arch: String,
    /// Executable suffix: `.exe` for Windows, else empty.
    pub exe: String,
    /// Default archive format for the target.
    pub format: String,
    /// Whether the runner builds for another platform than its own.
    pub cross: bool,
    /// The workflow artifact that hands this target's build outputs to finalize.
    pub artifact: String,
    /// Whether the build runs through `cargo auditable` (relkit.toml's
    /// `[build] auditable`, Rust targets), so the build job installs it.
    pub auditable: bool,
}

/// The matrix: `{"include":[…]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Matrix {
    /// One entry per target.
    pub include: Vec<Entry>,
}

/// Targets planned when neither flags nor relkit.toml name any.
pub const DEFAULT_RUST_TARGETS: [&str; 5] = [
    "x86_64-unknown-linux-gnu",
    "aarch64-unknown-linux-gnu",
    "x86_64-apple-darwin",
    "aarch64-apple-darwin",
    "x86_64-pc-windows-msvc",
];

/// Go targets planned by default.
pub const DEFAULT_GO_TARGETS: [&str; 5] = [
    "linux/amd64",
    "linux/arm64",
    "darwin/amd64",
    "darwin/arm64",
    "windows/amd64",
];

/// Run `relkit plan`: print the matrix and set the `matrix` and `targets` outputs.
pub fn run(args: &PlanArgs) -> Result<(), Error> {
    let explicit = args.config.as_os_str() != config::FILE;
    let config = Config::load(&args.config, explicit)?;
    let matrix = plan(args, &config)?;
    let (version, tag, includes) = check_release(&args.release, &config, &matrix)?;
    let line = serde_json::to_string(&matrix).expect("the matrix serializes");
    if args.pretty {
        println!(
            "{}",
            serde_json::to_string_pretty(&matrix).expect("the matrix serializes")
        );
    } else {
        println!("{line}");
    }
    gha::set_output("matrix", &line)?;
    gha::set_output("version", &version.to_string())?;
    gha::set_output("tag", &tag)?;
    // What every archive includes (relkit.toml's and the flags'), for the
    // build jobs' `relkit package`, so CI packages what `relkit dist` does.
    let lines: Vec<String> = includes.iter().map(|p| p.display().to_string()).collect();
    gha::set_output("include", &lines.join("\n"))?;
    let targets: Vec<&str> = matrix.include.iter().map(|e| e.target.as_str()).collect();
    gha::set_output(
        "targets",
        &serde_json::to_string(&targets).expect("strings serialize"),
    )?;
    let mut summary =
        String::from("### Build matrix\n\n| target | runner | build tool |\n| --- | --- | --- |\n");
    for e in &matrix.include {
        let _ = writeln!(
            summary,
            "| `{}` | `{}` | {} |",
            e.target,
            e.runner,
            e.build_tool.as_str()
        );
    }
    summary.push('\n');
    gha::append_summary(&summary)?;
    Ok(())
}

/// Check name, version, tag, includes and (when asked) repository access;
/// returns the version and tag.
fn check_release(
    r: &PlanRelease,
    config: &Config,
    matrix: &Matrix,
) -> Result<(Version, String, Vec<PathBuf>), Error> {
    if let Some(name) = r.name.as_deref().or(config.name.as_deref()) {
        relkit_core::names::check_component("--name", name)?;
    }
    let version = match (r.version.as_deref().or(config.version.as_deref()), &r.tag) {
        (Some(v), _) => Version::parse("--version", v)?,
        (None, Some(t)) => Version::parse("--tag", t)?,
        (None, None) => crate::version::resolve(None)?,
    };
    let tag = crate::version::tag(r.tag.as_deref(), &version)?;
    let mut includes = config.include.clone();
    includes.extend(r.includes.iter().cloned());
    crate::dist::check_includes(&includes)?;
    // Every archive name packaging will write must pass packaging's own
    // checks (GitHub's renaming, build metadata, file name length) now,
    // before a build job runs.
    if let Some(name) = r.name.as_deref().or(config.name.as_deref()) {
        for e in &matrix.include {
            let target = Target::parse(&e.target)?;
            relkit_package::Options {
                name: name.to_owned(),
                version: version.clone(),
                format: config.format.unwrap_or_else(|| target.default_format()),
                target,
                binaries: Vec::new(),
                includes: Vec::new(),
                strip: false,
                output_dir: PathBuf::new(),
                compression: relkit_package::compress::Compression::default(),
                epoch: 0,
            }
            .validate()?;
        }
    }
    if r.check_access {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let remote = relkit_release_upload::Remote::from_env(None, None, None, &env)
            .map_err(|e| Error::ReleaseUpload(Box::new(e)))?;
        relkit_release_upload::check_access(&remote)
            .map_err(|e| Error::ReleaseUpload(Box::new(e)))?;
    }
    Ok((version, tag, includes))
}

/// The targets to plan: flags (`--target a,b`, `a b` or one per line, as
/// an action input gives them), else relkit.toml's, else the defaults. An
/// empty value, or another control character, is a mistake.
fn target_names(args: &PlanArgs, config: &Config, tool: BuildTool) -> Result<Vec<String>, Error> {
    for t in &args.targets {
        let stray = |c: char| c.is_control() && !matches!(c, '\n' | '\r' | '\t');
        if t.trim().is_empty() || t.chars().any(stray) {
            return Err(CoreError::invalid(
                "--target",
                format!("`{}` is not a target", relkit_core::names::shown(t)),
            )
            .into());
        }
    }
    let flag_targets: Vec<String> = args
        .targets
        .iter()
        .flat_map(|t| {
            t.split(|c: char| c == ',' || c.is_whitespace())
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    Ok(if !flag_targets.is_empty() {
        flag_targets
    } else if !config.targets.is_empty() {
        config.targets.clone()
    } else if tool == BuildTool::Go {
        DEFAULT_GO_TARGETS.iter().map(|s| (*s).to_owned()).collect()
    } else {
        DEFAULT_RUST_TARGETS
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
    })
}

/// Runner labels by target: relkit.toml's `[plan.runners]`, then `--runner`.
fn runner_overrides(
    args: &PlanArgs,
    config: &Config,
) -> Result<BTreeMap<String, (String, &'static str)>, Error> {
    let mut overrides: BTreeMap<String, (String, &'static str)> = config
        .plan
        .runners
        .iter()
        .map(|(k, v)| (k.clone(), (v.clone(), "plan.runners")))
        .collect();
    for r in &args.runners {
        let Some((t, label)) = r.split_once('=') else {
            return Err(
                CoreError::invalid("--runner", format!("`{r}` is not TARGET=LABEL")).into(),
            );
        };
        overrides.insert(t.trim().to_owned(), (label.trim().to_owned(), "--runner"));
    }
    Ok(overrides)
}

/// Compute the matrix from flags and config (flags win).
pub fn plan(args: &PlanArgs, config: &Config) -> Result<Matrix, Error> {
    let tool = args
        .build_tool
        .or(config.build.tool)
        .unwrap_or(BuildTool::Cargo);
    let recipe = crate::build::Recipe::from_config(config, Some(tool), Vec::new());
    let names = target_names(args, config, tool)?;
    let overrides = runner_overrides(args, config)?;

    let mut include: Vec<Entry> = Vec::new();
    let mut used = std::collections::BTreeSet::new();
    for raw in &names {
        let target = Target::parse(raw)?;
        if include
            .iter()
            .any(|e| Target::parse(&e.target).is_ok_and(|t| t.name() == target.name()))
        {
            return Err(CoreError::invalid("--target", format!("`{raw}` is given twice")).into());
        }
        recipe.check_target(&target)?;
        let key = [raw.as_str(), target.name()]
            .into_iter()
            .find(|k| overrides.contains_key(*k));
        let over = key.map(|k| {
            used.insert(k.to_owned());
            overrides[k].clone()
        });
        if let Some((label, field)) = &over
            && (label.is_empty() || label.chars().any(char::is_control))
        {
            return Err(CoreError::invalid(
                *field,
                format!("the runner for `{raw}` is empty or not one line"),
            )
            .into());
        }
        let (runner, build_tool, cross) = choose(&target, tool, over.map(|(l, _)| l))?;
        include.push(Entry {
            target: raw.clone(),
            runner,
            build_tool,
            os: target.os().to_owned(),
            arch: target.arch().to_owned(),
            exe: target.exe_suffix().to_owned(),
            format: target.default_format().extension().to_owned(),
            cross,
            artifact: format!("relkit-dist-{}", target.name().replace('/', "-")),
            auditable: config.build.auditable && build_tool != BuildTool::Go,
        });
    }
    if let Some((k, (_, field))) = overrides.iter().find(|(k, _)| !used.contains(*k)) {
        return Err(CoreError::invalid(
            *field,
            format!(
                "`{k}` is not one of the planned targets ({})",
                names.join(", ")
            ),
        )
        .into());
    }
    Ok(Matrix { include })
}

/// Runner, build tool and whether it is a cross build, for one target.
fn choose(
    target: &Target,
    tool: BuildTool,
    runner: Option<String>,
) -> Result<(String, BuildTool, bool), Error> {
    let name = target.name();
    let musl = name.contains("musl");
    let (default_runner, build_tool, cross) = match (tool, target.os(), target.arch()) {
        (BuildTool::Go, os, arch) => (
            "ubuntu-latest",
            BuildTool::Go,
            !(os == "linux" && arch == "amd64"),
        ),
        (_, "linux", "amd64") if !musl && tool == BuildTool::Cargo => {
            ("ubuntu-latest", BuildTool::Cargo, false)
        }
        (_, "linux", arch) => (
            "ubuntu-latest",
            BuildTool::CargoZigbuild,
            arch != "amd64" || musl,
        ),
        // GitHub's macOS runners are arm64; Xcode's toolchain links x86_64 too.
        (_, "darwin", arch) => ("macos-latest", BuildTool::Cargo, arch != "arm64"),
        // MSVC on the x64 Windows runner ships the arm64 and x86 tools.
        (_, "windows", arch) => ("windows-latest", BuildTool::Cargo, arch != "amd64"),
        (_, os, _) => match &runner {
            // A user-chosen runner for another OS builds natively with cargo.
            Some(_) => ("", BuildTool::Cargo, false),
            None => {
                return Err(CoreError::invalid(
                    "plan.runners",
                    format!("no default runner builds `{name}` ({os}): set one with `[plan.runners]` or --runner {name}=LABEL"),
                )
                .into());
            }
        },
    };
    Ok((
        runner.unwrap_or_else(|| default_runner.to_owned()),
        build_tool,
        cross,
    ))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn args(targets: &[&str]) -> PlanArgs {
        PlanArgs {
            config: PathBuf::from(config::FILE),
            targets: targets.iter().map(|s| (*s).to_owned()).collect(),
            build_tool: None,
            runners: Vec::new(),
            pretty: false,
            release: PlanRelease::default(),
        }
    }

    fn cfg(text: &str) -> Config {
        Config::parse(Path::new("relkit.toml"), text).unwrap()
    }

    fn row(m: &Matrix, target: &str) -> (String, BuildTool, bool) {
        let e = m.include.iter().find(|e| e.target == target).unwrap();
        (e.runner.clone(), e.build_tool, e.cross)
    }

    #[test]
    fn default_targets_pick_native_runners_and_zigbuild() {
        let m = plan(&args(&[]), &Config::default()).unwrap();
        let targets: Vec<_> = m.include.iter().map(|e| e.target.as_str()).collect();
        assert_eq!(targets, DEFAULT_RUST_TARGETS);
        assert_eq!(
            row(&m, "x86_64-unknown-linux-gnu"),
            ("ubuntu-latest".into(), BuildTool::Cargo, false)
        );
        assert_eq!(
            row(&m, "aarch64-unknown-linux-gnu"),
            ("ubuntu-latest".into(), BuildTool::CargoZigbuild, true)
        );
        assert_eq!(
            row(&m, "aarch64-apple-darwin"),
            ("macos-latest".into(), BuildTool::Cargo, false)
        );
        assert_eq!(
            row(&m, "x86_64-apple-darwin"),
            ("macos-latest".into(), BuildTool::Cargo, true)
        );
        assert_eq!(
            row(&m, "x86_64-pc-windows-msvc"),
            ("windows-latest".into(), BuildTool::Cargo, false)
        );
        let win = m.include.iter().find(|e| e.os == "windows").unwrap();
        assert_eq!((win.exe.as_str(), win.format.as_str()), (".exe", "zip"));
    }

    #[test]
    fn musl_goes_to_zigbuild_even_on_x86_64() {
        let m = plan(
            &args(&["x86_64-unknown-linux-musl", "armv7-unknown-linux-gnueabihf"]),
            &Config::default(),
        )
        .unwrap();
        assert_eq!(
            row(&m, "x86_64-unknown-linux-musl").1,
            BuildTool::CargoZigbuild
        );
        assert_eq!(
            row(&m, "armv7-unknown-linux-gnueabihf").1,
            BuildTool::CargoZigbuild
        );
    }

    #[test]
    fn json_shape_is_what_fromjson_reads() {
        let m = plan(&args(&["x86_64-unknown-linux-gnu"]), &Config::default()).unwrap();
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"include":[{"target":"x86_64-unknown-linux-gnu","runner":"ubuntu-latest","build-tool":"cargo","os":"linux","arch":"amd64","exe":"","format":"tar.gz","cross":false,"artifact":"relkit-dist-x86_64-unknown-linux-gnu","auditable":false}]}"#
        );
    }

    #[test]
    fn auditable_builds_are_planned_from_relkit_toml() {
        let rust = cfg("[build]\nauditable = true\n");
        let m = plan(
            &args(&["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-musl"]),
            &rust,
        )
        .unwrap();
        assert!(m.include.iter().all(|e| e.auditable), "{m:?}");
        let plain = plan(&args(&["x86_64-unknown-linux-gnu"]), &Config::default()).unwrap();
        assert!(!plain.include[0].auditable);
        // Go builds never go through cargo auditable.
        let go = cfg("[build]\ntool = \"go\"\nauditable = true\n");
        let m = plan(&args(&["linux/amd64"]), &go).unwrap();
        assert!(!m.include[0].auditable);
    }

    #[test]
    fn config_targets_tool_and_runners_apply_and_flags_win() {
        let c = cfg(
            "targets = [\"aarch64-unknown-linux-gnu\", \"x86_64-unknown-linux-gnu\"]\n[plan.runners]\n\"aarch64-unknown-linux-gnu\" = \"ubuntu-24.04-arm\"\n",
        );
        let m = plan(&args(&[]), &c).unwrap();
        assert_eq!(m.include.len(), 2);
        // A runner override keeps the tool choice for the target.
        assert_eq!(row(&m, "aarch64-unknown-linux-gnu").0, "ubuntu-24.04-arm");
        let mut a = args(&[]);
        a.runners = vec!["x86_64-unknown-linux-gnu=self-hosted".into()];
        assert_eq!(
            row(&plan(&a, &c).unwrap(), "x86_64-unknown-linux-gnu").0,
            "self-hosted"
        );
        // Flag targets replace the config's; a config override for a target not planned is an error.
        let e = plan(&args(&["x86_64-unknown-linux-gnu"]), &c)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("plan.runners") && e.contains("aarch64-unknown-linux-gnu"),
            "{e}"
        );
    }

    #[test]
    fn forced_zigbuild_applies_to_linux_x86_64() {
        let c = cfg("[build]\ntool = \"cargo-zigbuild\"\n");
        let m = plan(
            &args(&["x86_64-unknown-linux-gnu", "aarch64-apple-darwin"]),
            &c,
        )
        .unwrap();
        assert_eq!(
            row(&m, "x86_64-unknown-linux-gnu").1,
            BuildTool::CargoZigbuild
        );
        assert_eq!(row(&m, "aarch64-apple-darwin").1, BuildTool::Cargo);
    }

    #[test]
    fn go_plans_every_pair_on_ubuntu() {
        let mut a = args(&["linux/amd64,darwin/arm64", "windows/amd64"]);
        a.build_tool = Some(BuildTool::Go);
        let m = plan(&a, &Config::default()).unwrap();
        assert_eq!(m.include.len(), 3);
        assert!(
            m.include
                .iter()
                .all(|e| e.runner == "ubuntu-latest" && e.build_tool == BuildTool::Go)
        );
        let d = &m.include[1];
        assert_eq!(
            (d.os.as_str(), d.arch.as_str(), d.cross),
            ("darwin", "arm64", true)
        );
        let defaults = plan(
            &PlanArgs {
                build_tool: Some(BuildTool::Go),
                ..args(&[])
            },
            &Config::default(),
        )
        .unwrap();
        assert_eq!(defaults.include.len(), DEFAULT_GO_TARGETS.len());
    }

    #[test]
    fn whitespace_separated_targets_from_an_action_input() {
        let m = plan(
            &args(&["x86_64-unknown-linux-gnu\naarch64-apple-darwin  "]),
            &Config::default(),
        )
        .unwrap();
        assert_eq!(m.include.len(), 2);
    }

    #[test]
    fn bad_input_is_one_clear_line() {
        let cases: &[(&[&str], &str, &str)] = &[
            (&["nonsense"], "", "is not a known target"),
            (&["linux/amd64"], "", "cargo needs a Rust target triple"),
            (
                &["x86_64-unknown-linux-gnu", "x86_64-unknown-linux-gnu"],
                "",
                "is given twice",
            ),
            (
                &["x86_64-unknown-freebsd"],
                "",
                "no default runner builds `x86_64-unknown-freebsd`",
            ),
        ];
        for (targets, toml, want) in cases {
            let e = plan(&args(targets), &cfg(toml)).unwrap_err().to_string();
            assert!(e.contains(want) && !e.contains('\n'), "{targets:?}: {e}");
        }
        let mut a = args(&["x86_64-unknown-linux-gnu"]);
        a.runners = vec!["nope".into()];
        assert!(
            plan(&a, &Config::default())
                .unwrap_err()
                .to_string()
                .contains("TARGET=LABEL")
        );
        // A target with no default runner is fine once a runner is given.
        a.runners = vec!["x86_64-unknown-freebsd=freebsd-box".into()];
        a.targets = vec!["x86_64-unknown-freebsd".into()];
        assert_eq!(
            row(
                &plan(&a, &Config::default()).unwrap(),
                "x86_64-unknown-freebsd"
            )
            .0,
            "freebsd-box"
        );
    }
}
