//! How one target is built: the one description used by `relkit build` (the
//! build job of release.yml), `relkit dist` (a laptop) and `relkit plan`
//! (which tool each matrix entry uses). cargo and cargo-zigbuild build with
//! `--release` into cargo's own target dir, found the way cargo finds it;
//! go builds with `CGO_ENABLED=0 -trimpath -ldflags "-s -w -X VAR=VERSION"`
//! into `build/OS-ARCH`; a `[build] command` replaces either.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use clap::Args;
use relkit_core::target::{Spelling, Target};
use relkit_core::version::Version;
use relkit_core::{Error as CoreError, gha};

use crate::Error;
use crate::config::{self, BuildTool, Config};

/// Build one target as release.yml's build job does, and print the paths of
/// its binaries (one per line; the `files` output in Actions).
#[derive(Debug, Clone, Args)]
pub struct BuildArgs {
    /// Config file (`binaries` and `[build]`).
    #[arg(long, default_value = config::FILE, env = "RELKIT_CONFIG")]
    pub config: PathBuf,
    /// The target to build.
    #[arg(long, env = "RELKIT_TARGET")]
    pub target: String,
    /// Release version, for go's `-X` and `{version}` [default: as `relkit dist` finds it].
    #[arg(long, env = "RELKIT_VERSION")]
    pub version: Option<String>,
    /// Build tool [default: relkit.toml's `[build] tool`, else cargo].
    #[arg(long, value_enum, env = "RELKIT_BUILD_TOOL")]
    pub build_tool: Option<BuildTool>,
    /// Binary names [default: relkit.toml's `binaries`, else the project name].
    #[arg(
        long = "binary",
        value_name = "NAME",
        env = "RELKIT_BINARIES",
        value_delimiter = ' '
    )]
    pub binaries: Vec<String>,
    /// Project name, the default binary name [default: relkit.toml's `name`].
    #[arg(long, env = "RELKIT_NAME")]
    pub name: Option<String>,
    /// Extra cargo arguments, separated by spaces [default: relkit.toml's, else --locked].
    #[arg(long, value_name = "ARGS", allow_hyphen_values = true)]
    pub cargo_args: Option<String>,
    /// The Go package to build [default: relkit.toml's, else `.`].
    #[arg(long, value_name = "PKG")]
    pub go_package: Option<String>,
    /// The variable `-ldflags -X` sets to the version [default: relkit.toml's, else main.version].
    #[arg(long, value_name = "VAR")]
    pub go_version_variable: Option<String>,
}

/// Everything needed to build one target.
#[derive(Debug, Clone)]
pub struct Recipe {
    /// The tool.
    pub tool: BuildTool,
    /// `[build] command`, replacing the tool's own command.
    pub command: Option<String>,
    /// `[build] binary-dir` template.
    pub binary_dir: Option<String>,
    /// Extra cargo arguments.
    pub cargo_args: Vec<String>,
    /// Go package.
    pub go_package: String,
    /// Go `-X` variable.
    pub go_version_variable: String,
    /// Binary names, without `.exe`.
    pub binaries: Vec<String>,
    /// Build through `cargo auditable` (cargo and cargo-zigbuild).
    pub auditable: bool,
}

impl Recipe {
    /// The recipe relkit.toml describes, with a tool override.
    pub fn from_config(config: &Config, tool: Option<BuildTool>, binaries: Vec<String>) -> Recipe {
        let b = &config.build;
        Recipe {
            tool: tool.or(b.tool).unwrap_or(BuildTool::Cargo),
            command: b.command.clone(),
            binary_dir: b.binary_dir.clone(),
            cargo_args: b
                .cargo_args
                .clone()
                .unwrap_or_else(|| vec!["--locked".to_owned()]),
            go_package: b.go_package.clone().unwrap_or_else(|| ".".to_owned()),
            go_version_variable: b
                .go_version_variable
                .clone()
                .unwrap_or_else(|| "main.version".to_owned()),
            binaries,
            auditable: b.auditable,
        }
    }

    /// The commands that build `target`, in order.
    pub fn commands(&self, target: &Target, version: &Version) -> Result<Vec<Command>, Error> {
        let v = version.to_string();
        if let Some(template) = &self.command {
            let mut c = Command::new("sh");
            c.arg("-c").arg(config::expand(template, target, &v));
            return Ok(vec![c]);
        }
        match self.tool {
            BuildTool::Cargo | BuildTool::CargoZigbuild => {
                let mut c = Command::new("cargo");
                without_cargo_run_env(&mut c);
                // cargo-auditable wraps rustc and embeds the dependency
                // list; it forwards any cargo subcommand, zigbuild too.
                if self.auditable {
                    c.arg("auditable");
                }
                c.arg(if self.tool == BuildTool::Cargo {
                    "build"
                } else {
                    "zigbuild"
                });
                c.arg("--release");
                if !self.is_host_cargo(target) {
                    c.args(["--target", target.name()]);
                }
                c.args(&self.cargo_args);
                Ok(vec![c])
            }
            BuildTool::Go => {
                let dir = self.binary_folder(target, version)?;
                Ok(self
                    .binaries
                    .iter()
                    .map(|b| {
                        let mut c = Command::new("go");
                        c.env("GOOS", target.os())
                            .env("GOARCH", target.arch())
                            .env("CGO_ENABLED", "0")
                            .args(["build", "-trimpath", "-ldflags"])
                            .arg(format!("-s -w -X {}={v}", self.go_version_variable))
                            .arg("-o")
                            .arg(dir.join(format!("{b}{}", target.exe_suffix())))
                            .arg(&self.go_package);
                        c
                    })
                    .collect())
            }
        }
    }

    /// A cargo build for the machine's own target runs without `--target`,
    /// so `cargo run --release` and `relkit dist` share one build.
    fn is_host_cargo(&self, target: &Target) -> bool {
        self.tool == BuildTool::Cargo && target.name() == Target::host().name()
    }

    /// Where the binaries of `target` land.
    pub fn binary_folder(&self, target: &Target, version: &Version) -> Result<PathBuf, Error> {
        if let Some(t) = &self.binary_dir {
            return Ok(PathBuf::from(config::expand(
                t,
                target,
                &version.to_string(),
            )));
        }
        Ok(match self.tool {
            BuildTool::Go => PathBuf::from(format!("build/{}-{}", target.os(), target.arch())),
            BuildTool::Cargo | BuildTool::CargoZigbuild => {
                let dir = cargo_target_dir()?;
                if self.is_host_cargo(target) {
                    dir.join("release")
                } else {
                    dir.join(target.name()).join("release")
                }
            }
        })
    }

    /// The binaries `target` produces.
    pub fn binary_paths(&self, target: &Target, version: &Version) -> Result<Vec<PathBuf>, Error> {
        let dir = self.binary_folder(target, version)?;
        Ok(self
            .binaries
            .iter()
            .map(|b| dir.join(format!("{b}{}", target.exe_suffix())))
            .collect())
    }

    /// Check that the tool can build `target` at all.
    pub fn check_target(&self, target: &Target) -> Result<(), Error> {
        if self.command.is_none()
            && self.tool != BuildTool::Go
            && target.spelling() == Spelling::Pair
        {
            return Err(CoreError::invalid(
                "--target",
                format!(
                    "`{}` is an os/arch pair; cargo needs a Rust target triple such as x86_64-unknown-linux-gnu",
                    target.name()
                ),
            )
            .into());
        }
        Ok(())
    }

    /// Run the build of `target`; its output goes to stderr.
    pub fn run(&self, target: &Target, version: &Version) -> Result<Vec<PathBuf>, Error> {
        self.check_target(target)?;
        if self.tool == BuildTool::Go && self.command.is_none() {
            fs_err::create_dir_all(self.binary_folder(target, version)?)
                .map_err(CoreError::from)?;
        }
        for mut cmd in self.commands(target, version)? {
            let shown = show(&cmd);
            tracing::info!("building {target}: {shown}");
            let status = cmd
                .env("RELKIT_TARGET", target.name())
                .env("RELKIT_VERSION", version.to_string())
                .stdin(Stdio::null())
                .stdout(std::io::stderr())
                .status()
                .map_err(|e| Error::Build {
                    target: target.name().to_owned(),
                    command: shown.clone(),
                    status: format!("could not start: {e}"),
                })?;
            if !status.success() {
                return Err(Error::Build {
                    target: target.name().to_owned(),
                    command: shown,
                    status: status.to_string(),
                });
            }
        }
        let paths = self.binary_paths(target, version)?;
        for p in &paths {
            if !p.is_file() {
                return Err(CoreError::invalid(
                    "binaries",
                    format!(
                        "the build of `{target}` succeeded but wrote no `{}`",
                        p.display()
                    ),
                )
                .into());
            }
        }
        Ok(paths)
    }
}

/// `cargo run` gives the program it runs variables describing the package
/// (`CARGO_PKG_NAME`, `CARGO_MANIFEST_DIR`, …). Build scripts such as ring's
/// declare those very names with `rerun-if-env-changed`, so a nested `cargo
/// build` that inherits them sees a changed environment and rebuilds them
/// and everything above: `cargo run --release -p relkit -- dist` would build
/// relkit twice. The nested build gets the environment of the shell.
fn without_cargo_run_env(c: &mut Command) {
    for (key, _) in std::env::vars_os() {
        let Some(k) = key.to_str() else { continue };
        if k.starts_with("CARGO_PKG_")
            || k.starts_with("CARGO_MANIFEST_")
            || matches!(
                k,
                "CARGO_CRATE_NAME" | "CARGO_BIN_NAME" | "CARGO_PRIMARY_PACKAGE"
            )
        {
            c.env_remove(k);
        }
    }
}

/// The command as a user would type it (environment first, for go; a
/// `[build] command` as written).
fn show(cmd: &Command) -> String {
    let args: Vec<_> = cmd.get_args().collect();
    if cmd.get_program() == "sh" && args.len() == 2 && args[0] == "-c" {
        return args[1].to_string_lossy().into_owned();
    }
    let mut parts: Vec<String> = cmd
        .get_envs()
        .filter_map(|(k, v)| Some(format!("{}={}", k.to_str()?, v?.to_str()?)))
        .collect();
    parts.push(cmd.get_program().to_string_lossy().into_owned());
    parts.extend(cmd.get_args().map(|a| {
        let a = a.to_string_lossy();
        if a.contains(' ') {
            format!("'{a}'")
        } else {
            a.into_owned()
        }
    }));
    parts.join(" ")
}

/// cargo's target dir as cargo finds it: `CARGO_TARGET_DIR`, then
/// `build.target-dir` in cargo's config and the workspace root, all of
/// which `cargo metadata` resolves.
pub fn cargo_target_dir() -> Result<PathBuf, Error> {
    if let Some(d) = std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d));
    }
    let out = Command::new("cargo")
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .output();
    let from_metadata = out.ok().filter(|o| o.status.success()).and_then(|o| {
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).ok()?;
        v.get("target_directory")?.as_str().map(PathBuf::from)
    });
    Ok(from_metadata.unwrap_or_else(|| PathBuf::from("target")))
}

/// Run `relkit build`.
pub fn run(args: &BuildArgs) -> Result<(), Error> {
    let explicit = args.config.as_os_str() != config::FILE;
    let config = Config::load(&args.config, explicit)?;
    let target = Target::parse(&args.target)?;
    let binaries = if !args.binaries.is_empty() {
        args.binaries
            .iter()
            .filter(|b| !b.is_empty())
            .cloned()
            .collect()
    } else if !config.binaries.is_empty() {
        config.binaries.clone()
    } else {
        let name = args.name.clone().or(config.name.clone()).ok_or_else(|| {
            CoreError::invalid(
                "--binary",
                "no binaries: pass --binary NAME or list `binaries` in relkit.toml",
            )
        })?;
        vec![name]
    };
    for b in &binaries {
        relkit_core::names::check_component("--binary", b)?;
    }
    let version = crate::version::resolve(args.version.as_deref().or(config.version.as_deref()))?;
    let mut recipe = Recipe::from_config(&config, args.build_tool, binaries);
    if let Some(a) = &args.cargo_args {
        recipe.cargo_args = a.split_whitespace().map(str::to_owned).collect();
    }
    if let Some(p) = args.go_package.clone().filter(|p| !p.is_empty()) {
        recipe.go_package = p;
    }
    if let Some(v) = args.go_version_variable.clone().filter(|v| !v.is_empty()) {
        recipe.go_version_variable = v;
    }
    let _g = gha::group(&format!("build {target}"));
    let paths = recipe.run(&target, &version)?;
    let lines: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    for l in &lines {
        println!("{l}");
    }
    gha::set_output("files", &lines.join("\n"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(config: &str, target: &str) -> Vec<String> {
        let c = Config::parse(std::path::Path::new("relkit.toml"), config).unwrap();
        let r = Recipe::from_config(&c, None, vec!["tool".into()]);
        let t = Target::parse(target).unwrap();
        let v = Version::parse("version", "1.0.0").unwrap();
        let cmds = r.commands(&t, &v).unwrap();
        cmds[0]
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn auditable_builds_go_through_cargo_auditable() {
        let other = "aarch64-apple-darwin";
        assert_eq!(
            args("[build]\nauditable = true\n", other),
            [
                "auditable",
                "build",
                "--release",
                "--target",
                other,
                "--locked"
            ]
        );
        assert_eq!(
            args(
                "[build]\nauditable = true\ntool = \"cargo-zigbuild\"\n",
                other
            ),
            [
                "auditable",
                "zigbuild",
                "--release",
                "--target",
                other,
                "--locked"
            ]
        );
        assert_eq!(
            args("", other),
            ["build", "--release", "--target", other, "--locked"]
        );
    }
}
