//! `[homebrew]` and `[scoop]`: `relkit dist` writes `NAME.rb` and
//! `NAME.json` from the release's archives. Ruby parses the formula (and a
//! stand-in for Homebrew's DSL reads every url and sha256 back), Scoop's own
//! schema validates the manifest, both match the release manifest, and bad
//! settings fail in one line writing nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use relkit_testkit as kit;
use serde_json::Value;

use super::{project, relkit};

const TARGETS: &str = r#"targets = ["x86_64-unknown-linux-gnu", "x86_64-unknown-linux-musl", "aarch64-unknown-linux-musl", "aarch64-apple-darwin", "x86_64-apple-darwin", "x86_64-pc-windows-msvc", "aarch64-pc-windows-msvc"]"#;

const RECIPES: &str = "[installer]\n\
base-url = \"https://github.com/o/tool/releases/download/{tag}\"\n\
[homebrew]\n\
description = \"Greets whoever runs it, \\\"#{quoted}\\\"\"\n\
homepage = \"https://tool.example\"\n\
license = \"MIT OR Apache-2.0\"\n\
[scoop]\n\
description = \"Greets whoever runs it\"\n\
homepage = \"https://tool.example\"\n\
license = \"MIT OR Apache-2.0\"\n\
repository = \"o/tool\"\n";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A project releasing for Linux, macOS and Windows, with `extra` appended
/// to its relkit.toml.
fn everywhere(extra: &str) -> tempfile::TempDir {
    let dir = project("");
    let toml = dir.path().join("relkit.toml");
    let text = fs_err::read_to_string(&toml).unwrap().replace(
        r#"targets = ["x86_64-unknown-linux-gnu", "x86_64-pc-windows-msvc"]"#,
        TARGETS,
    );
    assert!(text.contains("apple-darwin"));
    fs_err::write(&toml, text + extra).unwrap();
    dir
}

/// The release manifest's archives: file name → (target, sha256).
fn archives(d: &Path) -> BTreeMap<String, (String, String)> {
    let m: Value =
        serde_json::from_str(&fs_err::read_to_string(d.join("dist/manifest.json")).unwrap())
            .unwrap();
    m["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "archive")
        .map(|a| {
            (
                a["file"].as_str().unwrap().to_owned(),
                (
                    a["target"].as_str().unwrap().to_owned(),
                    a["sha256"].as_str().unwrap().to_owned(),
                ),
            )
        })
        .collect()
}

fn kind_of(d: &Path, file: &str) -> Value {
    let m: Value =
        serde_json::from_str(&fs_err::read_to_string(d.join("dist/manifest.json")).unwrap())
            .unwrap();
    m["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["file"] == file)
        .unwrap_or_else(|| panic!("{file} is not in the manifest"))["kind"]
        .clone()
}

#[test]
fn dist_writes_a_formula_and_a_scoop_manifest() {
    kit::require("ruby");
    kit::require("check-jsonschema");
    let dir = everywhere(RECIPES);
    let d = dir.path();
    let out = relkit(d, &["dist"], &[]);
    assert!(out.status.success(), "{}", kit::render(&out, d));
    let archives = archives(d);
    let url = |file: &str| format!("https://github.com/o/tool/releases/download/v1.4.0/{file}");
    let sums = fs_err::read_to_string(d.join("dist/SHA256SUMS")).unwrap();
    assert!(
        sums.contains("  tool.rb\n") && sums.contains("  tool.json\n"),
        "{sums}"
    );
    assert_eq!(kind_of(d, "tool.rb"), "homebrew-formula");
    assert_eq!(kind_of(d, "tool.json"), "scoop-manifest");

    // Homebrew: Ruby accepts it, and what it declares is the release.
    let formula = d.join("dist/tool.rb");
    kit::run_ok(Command::new("ruby").arg("-c").arg(&formula));
    let read = kit::run_ok(
        Command::new("ruby")
            .arg(fixtures().join("homebrew/read_formula.rb"))
            .arg(&formula),
    );
    let facts: Value = serde_json::from_slice(&read.stdout).unwrap();
    assert_eq!(facts["class"], "Tool");
    assert_eq!(facts["desc"], "Greets whoever runs it, \"#{quoted}\"");
    assert_eq!(facts["homepage"], "https://tool.example");
    assert_eq!(facts["version"], "1.4.0");
    assert_eq!(facts["license"]["any_of"][1], "Apache-2.0");
    assert_eq!(facts["bin"], serde_json::json!(["tool"]));
    assert_eq!(
        facts["test"],
        serde_json::json!([["/BIN/tool", "--version"]])
    );
    let want = [
        ("macos", "arm", "aarch64-apple-darwin"),
        ("macos", "intel", "x86_64-apple-darwin"),
        ("linux", "arm", "aarch64-unknown-linux-musl"),
        // musl (static) is preferred over gnu.
        ("linux", "intel", "x86_64-unknown-linux-musl"),
    ];
    let downloads = facts["downloads"].as_array().unwrap();
    assert_eq!(downloads.len(), want.len(), "{facts}");
    for (os, arch, target) in want {
        let dl = downloads
            .iter()
            .find(|x| x["os"] == os && x["arch"] == arch)
            .unwrap_or_else(|| panic!("no {os} {arch} in {facts}"));
        let file = format!("tool-1.4.0-{target}.tar.gz");
        let (t, sha) = &archives[&file];
        assert_eq!(t, target);
        assert_eq!(dl["url"], url(&file), "{os} {arch}");
        assert_eq!(dl["sha256"], sha.as_str(), "{os} {arch}");
    }

    // Scoop: its own schema accepts it, and it names the Windows archives.
    let manifest = d.join("dist/tool.json");
    kit::run_ok(
        Command::new("check-jsonschema")
            .arg("--schemafile")
            .arg(fixtures().join("scoop/schema.json"))
            .arg(&manifest),
    );
    let scoop: Value = serde_json::from_str(&fs_err::read_to_string(&manifest).unwrap()).unwrap();
    assert_eq!(scoop["version"], "1.4.0");
    assert_eq!(scoop["license"], "MIT|Apache-2.0");
    assert_eq!(scoop["bin"], serde_json::json!(["tool.exe"]));
    assert_eq!(scoop["checkver"]["github"], "https://github.com/o/tool");
    let arch = scoop["architecture"].as_object().unwrap();
    assert_eq!(arch.len(), 2, "{scoop}");
    for (key, target) in [
        ("64bit", "x86_64-pc-windows-msvc"),
        ("arm64", "aarch64-pc-windows-msvc"),
    ] {
        let file = format!("tool-1.4.0-{target}.zip");
        assert_eq!(arch[key]["url"], url(&file));
        assert_eq!(arch[key]["hash"], archives[&file].1.as_str());
        assert_eq!(arch[key]["extract_dir"], format!("tool-1.4.0-{target}"));
        let auto = &scoop["autoupdate"]["architecture"][key];
        assert_eq!(
            auto["url"],
            format!(
                "https://github.com/o/tool/releases/download/v$version/tool-$version-{target}.zip"
            )
        );
    }
    assert_eq!(scoop["autoupdate"]["hash"]["url"], "$baseurl/SHA256SUMS");

    // The manifest and the release verify; the recipes are reproducible.
    let verify = relkit(d, &["manifest", "verify", "dist/manifest.json"], &[]);
    assert!(verify.status.success(), "{}", kit::render(&verify, d));
    let (rb, json) = (
        fs_err::read(&formula).unwrap(),
        fs_err::read(&manifest).unwrap(),
    );
    fs_err::remove_dir_all(d.join("dist")).unwrap();
    let again = relkit(d, &["dist"], &[]);
    assert!(again.status.success(), "{}", kit::render(&again, d));
    assert!(fs_err::read(&formula).unwrap() == rb);
    assert!(fs_err::read(&manifest).unwrap() == json);

    // The checks can fail: a broken formula or a bad hash is refused.
    let text = fs_err::read_to_string(&formula).unwrap();
    fs_err::write(&formula, text.replacen("  end\n", "", 1)).unwrap();
    let syntax = kit::run(Command::new("ruby").arg("-c").arg(&formula));
    assert!(
        !syntax.status.success(),
        "ruby -c accepted a broken formula"
    );
    let text = fs_err::read_to_string(&manifest).unwrap();
    fs_err::write(&manifest, text.replacen("\"hash\": \"", "\"hash\": \"x", 1)).unwrap();
    let schema = kit::run(
        Command::new("check-jsonschema")
            .arg("--schemafile")
            .arg(fixtures().join("scoop/schema.json"))
            .arg(&manifest),
    );
    assert!(!schema.status.success(), "the schema accepted a bad hash");
}

#[test]
fn bad_recipe_settings_fail_in_one_line_and_write_nothing() {
    let linux_and_windows_only = "";
    let cases: [(&str, &str, &str, &str); 7] = [
        (
            "formula without a macOS archive",
            linux_and_windows_only,
            "[installer]\nbase-url = \"https://x.example/{tag}\"\n[homebrew]\ndescription = \"x\"\nhomepage = \"https://x.example\"\n",
            "error: homebrew: the release has no macOS archive",
        ),
        (
            "manifest without a Windows archive",
            r#"targets = ["aarch64-apple-darwin"]"#,
            "[installer]\nbase-url = \"https://x.example/{tag}\"\n[scoop]\ndescription = \"x\"\nhomepage = \"https://x.example\"\nrepository = \"o/t\"\n",
            "error: scoop: the release has no Windows archive",
        ),
        (
            "invalid formula name",
            TARGETS,
            "[installer]\nbase-url = \"https://x.example/{tag}\"\n[homebrew]\nname = \"My Tool\"\ndescription = \"x\"\nhomepage = \"https://x.example\"\n",
            "homebrew.name: `My Tool` is not a Homebrew formula name",
        ),
        (
            "scoop app named manifest",
            TARGETS,
            "[installer]\nbase-url = \"https://x.example/{tag}\"\n[scoop]\nname = \"manifest\"\ndescription = \"x\"\nhomepage = \"https://x.example\"\nrepository = \"o/t\"\n",
            "scoop.name: `manifest` would make `manifest.json`",
        ),
        (
            "no description",
            TARGETS,
            "[installer]\nbase-url = \"https://x.example/{tag}\"\n[homebrew]\nhomepage = \"https://x.example\"\n",
            "homebrew.description: is required",
        ),
        (
            "no download URL",
            TARGETS,
            "[homebrew]\ndescription = \"x\"\nhomepage = \"https://x.example\"\n",
            "no download URL",
        ),
        (
            "binary missing from the archives",
            TARGETS,
            "[installer]\nbase-url = \"https://x.example/{tag}\"\n[scoop]\nbinaries = [\"other\"]\ndescription = \"x\"\nhomepage = \"https://x.example\"\nrepository = \"o/t\"\n",
            "scoop.binaries: `tool-1.4.0-x86_64-pc-windows-msvc.zip` holds no executable `other.exe`",
        ),
    ];
    for (name, targets, toml, want) in cases {
        let dir = project("");
        let d = dir.path();
        let mut text = fs_err::read_to_string(d.join("relkit.toml")).unwrap();
        if !targets.is_empty() {
            text = text.replace(
                r#"targets = ["x86_64-unknown-linux-gnu", "x86_64-pc-windows-msvc"]"#,
                targets,
            );
        }
        fs_err::write(d.join("relkit.toml"), text + toml).unwrap();
        kit::write(&d.join("dist/keep.txt"), b"mine", 0o644);
        let out = relkit(d, &["dist"], &[("GITHUB_REPOSITORY", "")]);
        super::fails_in_one_line(&out, d, name, want);
        assert_eq!(
            kit::files_in(&d.join("dist")),
            ["keep.txt"],
            "{name} touched dist/"
        );
    }
}

/// `relkit verify` knows the package kinds: a release with a `.deb`, a
/// formula and a Scoop manifest verifies, and each one tampered fails.
#[test]
fn verify_checks_packages_and_recipes() {
    let package = "[package]\nmaintainer = \"Jane Doe <jane@example.org>\"\ndescription = \"greets whoever runs it\"\n";
    let dir = everywhere(&format!("{RECIPES}{package}"));
    let d = dir.path();
    let out = relkit(d, &["dist"], &[]);
    assert!(out.status.success(), "{}", kit::render(&out, d));
    let verify = |folder: &str| relkit(d, &["verify", "--dir", folder, "--allow-unsigned"], &[]);
    let ok = verify("dist");
    assert!(ok.status.success(), "{}", kit::render(&ok, d));
    let report = String::from_utf8_lossy(&ok.stdout);
    for f in [
        "tool.rb",
        "tool.json",
        "tool_1.4.0_amd64.deb",
        "tool_1.4.0_arm64.deb",
    ] {
        assert!(report.contains(f), "{f} not checked:\n{report}");
    }
    for f in ["tool.rb", "tool.json", "tool_1.4.0_amd64.deb"] {
        let copy = d.join(format!("tampered-{f}"));
        kit::run_ok(Command::new("cp").arg("-a").arg(d.join("dist")).arg(&copy));
        let path = copy.join(f);
        let mut bytes = fs_err::read(&path).unwrap();
        let n = bytes.len() / 2;
        bytes[n] ^= 1;
        fs_err::write(&path, bytes).unwrap();
        let bad = verify(copy.file_name().unwrap().to_str().unwrap());
        assert_eq!(bad.status.code(), Some(1), "{f}: {}", kit::render(&bad, d));
        let text = String::from_utf8_lossy(&bad.stdout);
        assert!(
            text.lines().any(|l| l.contains(f) && l.contains("FAIL")),
            "{f}:\n{text}"
        );
    }
}

pub(super) fn git(dir: &Path, args: &[&str]) -> String {
    let out = kit::run_ok(
        Command::new("git")
            .current_dir(dir)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@e.org")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@e.org")
            .args(args),
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A bare repository with one commit, and a clone of it to work in.
pub(super) fn remote_and_clone(d: &Path, name: &str) -> (PathBuf, PathBuf) {
    let bare = d.join(format!("{name}.git"));
    let work = d.join(name);
    git(
        d,
        &[
            "init",
            "--quiet",
            "--bare",
            "-b",
            "main",
            bare.to_str().unwrap(),
        ],
    );
    git(
        d,
        &[
            "clone",
            "--quiet",
            bare.to_str().unwrap(),
            work.to_str().unwrap(),
        ],
    );
    fs_err::write(work.join("README.md"), "tap\n").unwrap();
    git(&work, &["add", "README.md"]);
    git(&work, &["commit", "--quiet", "-m", "init"]);
    git(&work, &["push", "--quiet", "origin", "HEAD:main"]);
    git(
        &work,
        &["branch", "--quiet", "--set-upstream-to=origin/main"],
    );
    (bare, work)
}

/// release.yml's tap/bucket option: `relkit publish-recipes` commits the
/// formula and the manifest into checkouts and pushes them; a second run
/// changes nothing; a file that no longer matches the manifest is refused.
#[test]
fn publish_recipes_commits_to_a_tap_and_a_bucket() {
    kit::require("git");
    let dir = everywhere(RECIPES);
    let d = dir.path();
    let out = relkit(d, &["dist"], &[]);
    assert!(out.status.success(), "{}", kit::render(&out, d));
    let (tap_git, tap) = remote_and_clone(d, "tap");
    let (bucket_git, bucket) = remote_and_clone(d, "bucket");
    let args = [
        "publish-recipes",
        "--dist",
        "dist",
        "--tap",
        "tap",
        "--bucket",
        "bucket",
        "--push",
    ];
    let env = [("RELKIT_RECIPES_TOKEN", "s3cret-token")];
    let out = relkit(d, &args, &env);
    assert!(out.status.success(), "{}", kit::render(&out, d));
    assert!(
        !kit::render(&out, d).contains("s3cret"),
        "the token was printed"
    );
    let shown = |bare: &Path, path: &str| git(bare, &["show", &format!("main:{path}")]);
    assert_eq!(
        shown(&tap_git, "Formula/tool.rb"),
        fs_err::read_to_string(d.join("dist/tool.rb")).unwrap()
    );
    assert_eq!(
        shown(&bucket_git, "bucket/tool.json"),
        fs_err::read_to_string(d.join("dist/tool.json")).unwrap()
    );
    assert_eq!(
        git(&tap_git, &["log", "-1", "--format=%s", "main"]),
        "tool 1.4.0\n"
    );
    // Again: nothing to commit.
    let out = relkit(d, &args, &env);
    assert!(out.status.success(), "{}", kit::render(&out, d));
    assert_eq!(git(&tap_git, &["rev-list", "--count", "main"]), "2\n");
    assert_eq!(git(&bucket_git, &["rev-list", "--count", "main"]), "2\n");
    let _ = (tap, bucket);
    // A formula changed after the release was made is refused, nothing committed.
    let rb = d.join("dist/tool.rb");
    let text = fs_err::read_to_string(&rb).unwrap();
    fs_err::write(&rb, text.replace("1.4.0", "6.6.6")).unwrap();
    let out = relkit(d, &args, &env);
    assert_eq!(out.status.code(), Some(1), "{}", kit::render(&out, d));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("does not match the sha256 manifest.json records"),
        "{stderr}"
    );
    assert_eq!(git(&tap_git, &["rev-list", "--count", "main"]), "2\n");
    // The runner's own GIT_CONFIG_* entries stay in force beside the token's:
    // this checkout's remote only resolves through the runner's insteadOf.
    fs_err::write(&rb, &text).unwrap();
    let (other_git, other) = remote_and_clone(d, "tap2");
    git(
        &other,
        &[
            "remote",
            "set-url",
            "origin",
            "https://relkit.invalid/tap2.git",
        ],
    );
    let rewrite = format!("url.{}.insteadOf", other_git.display());
    let env2 = [
        ("RELKIT_RECIPES_TOKEN", "s3cret-token"),
        ("GIT_CONFIG_COUNT", "1"),
        ("GIT_CONFIG_KEY_0", rewrite.as_str()),
        ("GIT_CONFIG_VALUE_0", "https://relkit.invalid/tap2.git"),
    ];
    let out = relkit(
        d,
        &[
            "publish-recipes",
            "--dist",
            "dist",
            "--tap",
            "tap2",
            "--push",
        ],
        &env2,
    );
    assert!(out.status.success(), "{}", kit::render(&out, d));
    assert_eq!(git(&other_git, &["rev-list", "--count", "main"]), "2\n");
    // Not a checkout.
    fs_err::write(&rb, &text).unwrap();
    let out = relkit(d, &["publish-recipes", "--tap", "dist"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", kit::render(&out, d));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is not a git checkout"),
        "{}",
        kit::render(&out, d)
    );
}
