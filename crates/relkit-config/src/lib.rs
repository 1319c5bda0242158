//! `relkit.toml`: what `relkit dist` builds, packages and signs, and what
//! `relkit plan` turns into a CI matrix. Every field is optional except
//! `name` and `binaries`; flags override the file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use relkit_core::target::ArchiveFormat;
use serde::{Deserialize, Serialize};

pub mod changelog;

/// Why relkit.toml (or a changelog) could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An unreadable or oversized file, or an invalid value found after parsing.
    #[error(transparent)]
    Core(#[from] relkit_core::Error),
    /// relkit.toml is not valid TOML or does not match the schema.
    #[error("`{}`: {message}", path.display())]
    Config {
        /// The config file.
        path: PathBuf,
        /// What is wrong (with the field, line and column).
        message: String,
    },
}

mod package;
pub use package::{Completions, Deb, LinuxPackage, PackageFormat, Repository};

mod recipes;
pub use recipes::Recipe;

mod image;
pub use image::{Image as ImageConfig, ImageCompression};

mod sbom;
pub use sbom::{Sbom as SbomConfig, SbomFormat, SbomSource};

/// The default config file name.
pub const FILE: &str = "relkit.toml";

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Project name: the first part of every archive name.
    pub name: Option<String>,
    /// Release version; default: `--version`, a tag in `GITHUB_REF`, then
    /// the version in `Cargo.toml`.
    pub version: Option<String>,
    /// Binary names to package (`.exe` is added for windows targets).
    #[serde(default)]
    pub binaries: Vec<String>,
    /// Extra files or folders in every archive.
    #[serde(default)]
    pub include: Vec<PathBuf>,
    /// Targets to release; default: the machine relkit runs on.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Archive format for every target (default: zip on windows, else tar.gz).
    #[serde(default, deserialize_with = "parse_format")]
    pub format: Option<ArchiveFormat>,
    /// Strip debug symbols before packaging.
    #[serde(default)]
    pub strip: bool,
    /// Output folder; default `dist`.
    pub output_dir: Option<PathBuf>,
    /// How to build.
    #[serde(default)]
    pub build: Build,
    /// Signing.
    #[serde(default)]
    pub sign: Sign,
    /// A Terraform provider bundle.
    pub provider: Option<Provider>,
    /// CI matrix settings for `relkit plan`.
    #[serde(default)]
    pub plan: Plan,
    /// The generated installer, `NAME-installer.sh`.
    #[serde(default)]
    pub installer: Installer,
    /// Linux packages (`.deb`) built from the release's binaries.
    pub package: Option<LinuxPackage>,
    /// SBOMs of the binaries, and the license and advisory gates.
    pub sbom: Option<SbomConfig>,
    /// A multi-platform container image of the Linux binaries.
    pub image: Option<ImageConfig>,
    /// A Homebrew formula, `NAME.rb`, from the macOS and Linux archives.
    pub homebrew: Option<Recipe>,
    /// A Scoop manifest, `NAME.json`, from the Windows archives.
    pub scoop: Option<Recipe>,
}

/// `[installer]`: the POSIX sh installer finalize writes for every release.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Installer {
    /// Write it (default: true).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Where it downloads the release files from; `{tag}` and `{version}`
    /// are replaced [default: the GitHub release of $GITHUB_REPOSITORY, or
    /// of the `origin` remote when it is on github.com].
    pub base_url: Option<String>,
}

impl Default for Installer {
    fn default() -> Self {
        Installer {
            enabled: true,
            base_url: None,
        }
    }
}

fn yes() -> bool {
    true
}

/// `[build]`: how one target is built, the same way by `relkit build` in CI
/// and by `relkit dist` on a laptop (see `relkit::build`). `command` and
/// `binary-dir` may use `{target}`, `{os}`, `{arch}`, `{exe}` and `{version}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Build {
    /// A shell command run once per target instead of the build tool's own.
    pub command: Option<String>,
    /// Folder holding the built binaries; default: where the build tool
    /// puts them (cargo's target dir, as cargo finds it; `build/OS-ARCH` for go).
    pub binary_dir: Option<String>,
    /// Build tool: `cargo` (default), `cargo-zigbuild` or `go`.
    pub tool: Option<BuildTool>,
    /// Extra arguments for `cargo build` / `cargo zigbuild`; default `["--locked"]`.
    pub cargo_args: Option<Vec<String>>,
    /// The Go package to build; default `.`.
    pub go_package: Option<String>,
    /// The variable `-ldflags -X` sets to the version; default `main.version`.
    pub go_version_variable: Option<String>,
    /// Build with `cargo auditable` (tool `cargo`), so the dependency list
    /// travels inside each binary.
    #[serde(default)]
    pub auditable: bool,
}

/// How a target is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum BuildTool {
    /// `cargo build`: native, or cross to targets the runner's own
    /// toolchain links (macOS both ways, Windows arm64 from x64).
    Cargo,
    /// `cargo zigbuild`: Linux cross targets and musl, linked by zig.
    CargoZigbuild,
    /// `go build` with GOOS/GOARCH, `CGO_ENABLED=0` and `-trimpath`.
    Go,
}

impl BuildTool {
    /// The name as written in relkit.toml and the matrix.
    pub fn as_str(self) -> &'static str {
        match self {
            BuildTool::Cargo => "cargo",
            BuildTool::CargoZigbuild => "cargo-zigbuild",
            BuildTool::Go => "go",
        }
    }
}

fn parse_format<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<ArchiveFormat>, D::Error> {
    let s = String::deserialize(d)?;
    s.parse::<ArchiveFormat>().map(Some).map_err(|_| {
        serde::de::Error::custom(format!(
            "`{s}` is not an archive format (expected tar.gz, tar.xz, tar.zst or zip)"
        ))
    })
}

/// `[sign]`: signing of SHA256SUMS and manifest.json (and optionally each
/// archive) with minisign, and optionally OpenPGP.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Sign {
    /// Env var holding the minisign secret key; signing happens when it is
    /// set [default `RELKIT_MINISIGN_KEY`, which the action sets].
    pub minisign_key_env: Option<String>,
    /// Env var holding the key's password [default `RELKIT_MINISIGN_PASSWORD`].
    pub minisign_password_env: Option<String>,
    /// Also sign every archive, not only SHA256SUMS and manifest.json.
    #[serde(default)]
    pub archives: bool,
    /// Also sign with gpg (binary `.sig` files): this key id or fingerprint.
    pub gpg_key_id: Option<String>,
    /// Also sign with gpg, importing the armored secret key in this env var.
    pub gpg_import_key_env: Option<String>,
    /// Env var holding the gpg key's passphrase.
    pub gpg_passphrase_env: Option<String>,
}

/// Default env var of the minisign secret key.
pub const MINISIGN_KEY_ENV: &str = "RELKIT_MINISIGN_KEY";
/// Default env var of the minisign key's password.
pub const MINISIGN_PASSWORD_ENV: &str = "RELKIT_MINISIGN_PASSWORD";
/// Default env var of the provider's armored gpg secret key.
pub const GPG_KEY_ENV: &str = "RELKIT_GPG_PRIVATE_KEY";
/// Default env var of the provider's gpg passphrase.
pub const GPG_PASSPHRASE_ENV: &str = "RELKIT_GPG_PASSPHRASE";

/// `[provider]`: build a Terraform provider bundle from one of the binaries.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Provider {
    /// Provider type name (the part after `terraform-provider-`).
    pub name: String,
    /// Which of `binaries` is the provider; default `terraform-provider-NAME`.
    pub binary: Option<String>,
    /// Registry namespace (for the mirrors); default `name`'s owner, required.
    pub namespace: Option<String>,
    /// Registry host; default `registry.terraform.io`.
    pub hostname: Option<String>,
    /// Plugin protocol version; default `6.0`.
    pub protocol: Option<String>,
    /// gpg key to sign the SHA256SUMS with.
    pub gpg_key_id: Option<String>,
    /// Env var holding the gpg key's passphrase.
    pub gpg_passphrase_env: Option<String>,
    /// Env var holding an armored secret key to import first.
    pub gpg_import_key_env: Option<String>,
}

/// `[plan]`: overrides for the CI matrix.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Plan {
    /// Runner label per target, overriding the default choice.
    #[serde(default)]
    pub runners: BTreeMap<String, String>,
}

impl Config {
    /// Read `path` (a regular file of at most 1 MiB). A missing file is an
    /// error only when `required`.
    pub fn load(path: &Path, required: bool) -> Result<Config, Error> {
        if !required && fs_err::symlink_metadata(path).is_err() {
            return Ok(Config::default());
        }
        let text = relkit_core::input::read_text(path, relkit_core::input::Limit::CONFIG)?;
        Self::parse(path, &text)
    }

    /// Parse config text; errors name the file, field, line and column.
    pub fn parse(path: &Path, text: &str) -> Result<Config, Error> {
        toml::from_str(text).map_err(|e| Error::Config {
            path: path.to_path_buf(),
            message: one_line_toml(&e, text),
        })
    }
}

/// toml's errors are multi-line snippets; keep the line, column and message.
fn one_line_toml(e: &toml::de::Error, text: &str) -> String {
    let msg = e.message().trim().replace('\n', " ");
    match e.span() {
        Some(span) => {
            let before = text.get(..span.start.min(text.len())).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("line {line}, column {col}: {msg}")
        }
        None => msg,
    }
}

/// Fill `{target}`, `{os}`, `{arch}`, `{exe}` and `{version}` in a template.
pub fn expand(template: &str, target: &relkit_core::target::Target, version: &str) -> String {
    template
        .replace("{target}", target.name())
        .replace("{os}", target.os())
        .replace("{arch}", target.arch())
        .replace("{exe}", target.exe_suffix())
        .replace("{version}", version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_file() {
        let c = Config::parse(
            Path::new("relkit.toml"),
            r#"
name = "tool"
binaries = ["tool"]
include = ["README.md"]
targets = ["x86_64-unknown-linux-gnu", "linux/arm64"]
[build]
command = "cargo build --release --target {target}"
binary-dir = "target/{target}/release"
[sign]
minisign-key-env = "KEY"
[provider]
name = "example"
namespace = "acme"
[plan.runners]
"linux/arm64" = "ubuntu-24.04-arm"
"#,
        )
        .unwrap();
        assert_eq!(c.binaries, ["tool"]);
        assert_eq!(c.provider.unwrap().namespace.as_deref(), Some("acme"));
        assert_eq!(c.plan.runners["linux/arm64"], "ubuntu-24.04-arm");
    }

    #[test]
    fn errors_name_line_and_field() {
        let e = Config::parse(
            Path::new("relkit.toml"),
            "name = \"t\"\nbinarys = [\"t\"]\n",
        )
        .unwrap_err();
        let s = e.to_string();
        assert!(
            s.starts_with("`relkit.toml`: line 2, column 1: unknown field `binarys`"),
            "{s}"
        );
        let e = Config::parse(Path::new("r.toml"), "strip = \"yes\"\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "`r.toml`: line 1, column 9: invalid type: string \"yes\", expected a boolean"
        );
    }

    #[test]
    fn closed_sets_are_checked_when_the_file_is_read() {
        let e = Config::parse(Path::new("relkit.toml"), "[build]\ntool = \"make\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("`relkit.toml`: line 2, column 8: unknown variant `make`, expected one of `cargo`, `cargo-zigbuild`, `go`"),
            "{e}"
        );
        let e = Config::parse(Path::new("relkit.toml"), "format = \"tar.bz2\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 1, column 10: `tar.bz2` is not an archive format"),
            "{e}"
        );
        let c = Config::parse(
            Path::new("relkit.toml"),
            "format = \"tar.zst\"\n[build]\ntool = \"go\"\n",
        )
        .unwrap();
        assert_eq!(c.format, Some(ArchiveFormat::TarZst));
        assert_eq!(c.build.tool, Some(BuildTool::Go));
    }

    #[test]
    fn expands_templates() {
        let t = relkit_core::target::Target::parse("x86_64-pc-windows-msvc").unwrap();
        assert_eq!(
            expand("out/{os}_{arch}/tool{exe}-{version}-{target}", &t, "1.0.0"),
            "out/windows_amd64/tool.exe-1.0.0-x86_64-pc-windows-msvc"
        );
    }
}
