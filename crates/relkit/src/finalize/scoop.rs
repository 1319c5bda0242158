//! The Scoop stage: `NAME.json`, a Scoop app manifest installing the
//! release's binaries from its Windows archives (64bit, arm64, 32bit), each
//! by URL and sha256 as the manifest records them, with `checkver` watching
//! the GitHub repository's releases and `autoupdate` URL templates (hashes
//! from the release's `SHA256SUMS`). `scoop install URL` takes it as is; a
//! bucket holds it as `bucket/NAME.json`. Runs before `SHA256SUMS`.

use relkit_core::Error as CoreError;
use relkit_core::atomic;
use relkit_core::manifest::ArtifactKind;
use serde_json::{Map, Value, json};

use super::Context;
use super::recipes::{self, Resolved};
use super::stages::Stage;
use crate::Error;

const TABLE: &str = "scoop";

/// Writes `NAME.json`.
pub(super) struct Scoop;

impl Stage for Scoop {
    fn name(&self) -> &'static str {
        "scoop manifest"
    }

    fn enabled(&self, cx: &Context<'_>) -> bool {
        cx.config.scoop.is_some()
    }

    fn run(&self, cx: &mut Context<'_>) -> Result<(), Error> {
        let recipe = cx.config.scoop.clone().expect("enabled only with [scoop]");
        let r = recipes::resolve(cx, TABLE, &recipe)?;
        let text = manifest(cx, &r)?;
        let file = recipes::file_name(TABLE, &r.name, ".json", ArtifactKind::ScoopManifest)?;
        let path = cx.dir.join(file);
        atomic::write_file(&path, text.as_bytes())?;
        cx.add_files(&[path])?;
        Ok(())
    }
}

/// The manifest's text (4-space indented JSON, as Scoop's buckets keep it).
fn manifest(cx: &Context<'_>, r: &Resolved) -> Result<String, Error> {
    check_name(&r.name)?;
    recipes::one_line(TABLE, "description", &r.description)?;
    let repository = r.repository.as_ref().ok_or_else(|| {
        CoreError::invalid(
            format!("{TABLE}.repository"),
            "is required outside GitHub Actions (checkver watches its releases)",
        )
    })?;
    let version = cx.release.version.to_string();
    let mut arch = Map::new();
    let mut auto = Map::new();
    for (key, go_arch) in [("64bit", "amd64"), ("arm64", "arm64"), ("32bit", "386")] {
        let Some(d) = recipes::download(cx, r, TABLE, "windows", go_arch)? else {
            continue;
        };
        arch.insert(
            key.to_owned(),
            json!({"url": d.url, "hash": d.archive.sha256, "extract_dir": d.folder}),
        );
        auto.insert(
            key.to_owned(),
            json!({
                "url": d.url.replace(&version, "$version"),
                "extract_dir": d.folder.replace(&version, "$version"),
            }),
        );
    }
    if arch.is_empty() {
        return Err(CoreError::invalid(
            TABLE,
            "the release has no Windows archive (x86_64, aarch64 or i686 windows) for the manifest",
        )
        .into());
    }
    let mut m = Map::new();
    m.insert("version".into(), json!(version));
    m.insert("description".into(), json!(r.description));
    m.insert("homepage".into(), json!(r.homepage));
    if let Some(l) = &r.license {
        let (op, ids) = recipes::license_terms(TABLE, l)?;
        // Scoop joins alternatives with `|` and combinations with `,`.
        let joined = ids.join(if op == Some("AND") { "," } else { "|" });
        m.insert("license".into(), json!(joined));
    }
    m.insert("architecture".into(), Value::Object(arch));
    let bins: Vec<String> = r.binaries.iter().map(|b| format!("{b}.exe")).collect();
    m.insert("bin".into(), json!(bins));
    m.insert(
        "checkver".into(),
        json!({"github": format!("https://github.com/{repository}")}),
    );
    m.insert(
        "autoupdate".into(),
        json!({"architecture": auto, "hash": {"url": "$baseurl/SHA256SUMS"}}),
    );
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    serde::Serialize::serialize(&Value::Object(m), &mut ser)
        .map_err(|e| Error::Internal(format!("scoop manifest: {e}")))?;
    out.push(b'\n');
    String::from_utf8(out).map_err(|e| Error::Internal(format!("scoop manifest: {e}")))
}

/// Scoop app names (the manifest's file name): letters, digits, `-`, `_`,
/// `.`, starting with a letter or digit.
fn check_name(name: &str) -> Result<(), Error> {
    let ok = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(CoreError::invalid(
            format!("{TABLE}.name"),
            format!("`{name}` is not a Scoop app name (letters, digits, `-_.`)"),
        )
        .into())
    }
}
