//! `relkit.toml`: what `relkit dist` builds, packages and signs, and what
//! `relkit plan` turns into a CI matrix. Every field is optional except
//! `name` and `binaries`; flags override the file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::Error;

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
    pub format: Option<String>,
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
}

/// `[build]`: the command that builds one target and where its binaries land.
/// Both may use `{target}`, `{os}`, `{arch}`, `{exe}` and `{version}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Build {
    /// Shell command run once per target before packaging (skip with
    /// `--no-build`). None: the binaries must already exist.
    pub command: Option<String>,
    /// Folder holding the built binaries; default `target/{target}/release`.
    pub binary_dir: Option<String>,
    /// Build tool for `relkit plan`: `cargo` (default), `cargo-zigbuild` or `go`.
    pub tool: Option<String>,
}

/// `[sign]`: minisign signing of SHA256SUMS (and optionally each archive).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Sign {
    /// Env var holding the minisign secret key; signing happens when it is set.
    pub minisign_key_env: Option<String>,
    /// Env var holding the key's password.
    pub minisign_password_env: Option<String>,
    /// Also sign every archive, not only SHA256SUMS.
    #[serde(default)]
    pub archives: bool,
}

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
    /// Read `path`. A missing file is an error only when `required`.
    pub fn load(path: &Path, required: bool) -> Result<Config, Error> {
        let text = match fs_err::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
                return Ok(Config::default());
            }
            Err(e) => return Err(relkit_core::Error::Io(e).into()),
        };
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
            let before = &text[..span.start.min(text.len())];
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
    fn expands_templates() {
        let t = relkit_core::target::Target::parse("x86_64-pc-windows-msvc").unwrap();
        assert_eq!(
            expand("out/{os}_{arch}/tool{exe}-{version}-{target}", &t, "1.0.0"),
            "out/windows_amd64/tool.exe-1.0.0-x86_64-pc-windows-msvc"
        );
    }
}
