//! `[image]`: `relkit dist` builds an OCI image layout of the Linux
//! binaries read back out of the archives, records the index digest and
//! every platform's digest in manifest.json and the release notes, and is
//! reproducible; bad `[image]` settings fail in one line and leave the
//! output folder untouched.

use std::path::Path;
use std::process::Command;

use relkit_testkit as kit;

use super::relkit;

/// A project releasing `tool` for two Linux targets and Windows.
fn image_project(image_toml: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    kit::write(
        &d.join("prebuilt/linux-amd64/tool"),
        &kit::bytes(150_000, 21),
        0o755,
    );
    kit::write(
        &d.join("prebuilt/linux-arm64/tool"),
        &kit::bytes(140_000, 22),
        0o755,
    );
    kit::write(
        &d.join("prebuilt/windows-amd64/tool"),
        &kit::bytes(1000, 23),
        0o755,
    );
    kit::write(
        &d.join("relkit.toml"),
        format!(
            r#"name = "tool"
version = "1.4.0"
binaries = ["tool"]
targets = ["x86_64-unknown-linux-musl", "aarch64-unknown-linux-musl", "x86_64-pc-windows-msvc"]

[build]
command = "mkdir -p out/{{target}} && cp prebuilt/{{os}}-{{arch}}/tool out/{{target}}/tool{{exe}}"
binary-dir = "out/{{target}}"

{image_toml}"#
        )
        .as_bytes(),
        0o644,
    );
    dir
}

const IMAGE: &str = "[image]\nregistry = \"registry.example:5000\"\nrepository = \"acme/tool\"\nlicenses = \"MIT\"\nports = [\"8080\"]\nenv = { TOOL_MODE = \"server\" }\nlabels = { \"org.opencontainers.image.description\" = \"a tool\" }\n";

fn read_json(p: &Path) -> serde_json::Value {
    serde_json::from_slice(&fs_err::read(p).unwrap()).unwrap()
}

fn blob(layout: &Path, digest: &str) -> std::path::PathBuf {
    layout
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"))
}

fn sha256(bytes: &[u8]) -> String {
    relkit_core::hash::hash_reader(bytes, relkit_core::hash::Algo::Sha256, |_| {})
        .unwrap()
        .hex
}

#[test]
fn dist_builds_an_image_recorded_in_the_manifest_and_notes() {
    let dir = image_project(IMAGE);
    let d = dir.path();
    let out = relkit(d, &["dist"], &[]);
    assert!(out.status.success(), "{}", kit::render(&out, d));
    let dist = d.join("dist");
    let m = read_json(&dist.join("manifest.json"));
    let images = m["images"].as_array().unwrap();
    assert_eq!(images.len(), 1, "{m}");
    let image = &images[0];
    assert_eq!(image["repository"], "registry.example:5000/acme/tool");
    assert_eq!(
        image["tags"],
        serde_json::json!(["v1.4.0", "1.4", "latest"])
    );
    let platforms = image["platforms"].as_object().unwrap();
    assert_eq!(
        platforms.keys().collect::<Vec<_>>(),
        ["linux/amd64", "linux/arm64"]
    );

    // The layout holds exactly the recorded index, whose manifests are the
    // recorded per-platform digests.
    let layout = dist.join(".relkit/image");
    let top = read_json(&layout.join("index.json"));
    let index_digest = image["index_digest"].as_str().unwrap();
    assert_eq!(top["manifests"][0]["digest"], index_digest);
    let index_bytes = fs_err::read(blob(&layout, index_digest)).unwrap();
    assert_eq!(format!("sha256:{}", sha256(&index_bytes)), index_digest);
    let index: serde_json::Value = serde_json::from_slice(&index_bytes).unwrap();
    for entry in index["manifests"].as_array().unwrap() {
        let p = &entry["platform"];
        let name = format!(
            "{}/{}",
            p["os"].as_str().unwrap(),
            p["architecture"].as_str().unwrap()
        );
        assert_eq!(platforms[&name], entry["digest"], "{name}");
        // Each image holds the binary from that target's archive, unchanged.
        let manifest = read_json(&blob(&layout, entry["digest"].as_str().unwrap()));
        let config = read_json(&blob(
            &layout,
            manifest["config"]["digest"].as_str().unwrap(),
        ));
        assert_eq!(config["config"]["User"], "65532:65532");
        assert_eq!(
            config["config"]["Entrypoint"],
            serde_json::json!(["/usr/local/bin/tool"])
        );
        assert_eq!(
            config["config"]["Env"],
            serde_json::json!(["TOOL_MODE=server"])
        );
        assert!(config["config"]["ExposedPorts"]["8080/tcp"].is_object());
        let labels = &config["config"]["Labels"];
        assert_eq!(labels["org.opencontainers.image.version"], "1.4.0");
        assert_eq!(labels["org.opencontainers.image.licenses"], "MIT");
        assert_eq!(labels["org.opencontainers.image.description"], "a tool");
        let layer = blob(&layout, manifest["layers"][0]["digest"].as_str().unwrap());
        let x = d.join(format!("x-{}", p["architecture"].as_str().unwrap()));
        fs_err::create_dir_all(&x).unwrap();
        kit::run_ok(
            Command::new("tar")
                .arg("-xzf")
                .arg(&layer)
                .arg("-C")
                .arg(&x),
        );
        let want = name.replace('/', "-");
        assert!(
            fs_err::read(x.join("usr/local/bin/tool")).unwrap()
                == fs_err::read(d.join("prebuilt").join(&want).join("tool")).unwrap(),
            "{name}: the image's binary differs from the archive's"
        );
    }

    // skopeo reads the layout as an OCI index of both platforms.
    kit::require("skopeo");
    let raw = kit::run_ok(
        Command::new("skopeo")
            .args(["inspect", "--raw"])
            .arg(format!("oci:{}", layout.display())),
    );
    assert_eq!(format!("sha256:{}", sha256(&raw.stdout)), index_digest);

    // The notes say how to pull by digest and list every platform's digest.
    let notes = fs_err::read_to_string(dist.join(".relkit/notes.md")).unwrap();
    assert!(
        notes.contains(&format!(
            "docker pull registry.example:5000/acme/tool@{index_digest}"
        )),
        "{notes}"
    );
    for (platform, digest) in platforms {
        assert!(
            notes.contains(&format!("| {platform} | `{}` |", digest.as_str().unwrap())),
            "{notes}"
        );
    }
    // The layout is not a release asset: SHA256SUMS and the artifacts do not list it.
    let sums = fs_err::read_to_string(dist.join("SHA256SUMS")).unwrap();
    assert!(!sums.contains(".relkit"), "{sums}");
    let verify = relkit(d, &["manifest", "verify", "dist/manifest.json"], &[]);
    assert!(verify.status.success(), "{}", kit::render(&verify, d));
    kit::require("check-jsonschema");
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../dist-manifest.schema.json");
    kit::run_ok(
        Command::new("check-jsonschema")
            .arg("--schemafile")
            .arg(&schema)
            .arg(dist.join("manifest.json")),
    );

    // Again in the same folder (the previous layout is relkit's own, not a
    // stranger): the same digests.
    let again = relkit(d, &["dist"], &[]);
    assert!(again.status.success(), "{}", kit::render(&again, d));
    let m2 = read_json(&dist.join("manifest.json"));
    assert_eq!(m2["images"], m["images"]);
    assert!(!dist.join(".relkit/image.no-push").exists());
}

#[test]
fn push_false_records_the_image_and_marks_it_not_to_push() {
    let dir = image_project(&format!("{IMAGE}push = false\ndocker-archive = true\n"));
    let d = dir.path();
    let out = relkit(d, &["dist"], &[("SOURCE_DATE_EPOCH", "1700000001")]);
    assert!(out.status.success(), "{}", kit::render(&out, d));
    assert!(d.join("dist/.relkit/image.no-push").is_file());
    let m = read_json(&d.join("dist/manifest.json"));
    assert!(m["images"][0]["index_digest"].is_string());
    // docker-archive: a `docker load` tarball per platform, a release file
    // of its target, checksummed; skopeo reads it as a Docker archive.
    let sums = fs_err::read_to_string(d.join("dist/SHA256SUMS")).unwrap();
    for (platform, target, arch) in [
        ("linux-amd64", "x86_64-unknown-linux-musl", "amd64"),
        ("linux-arm64", "aarch64-unknown-linux-musl", "arm64"),
    ] {
        let file = format!("tool-1.4.0-{platform}.image.tar");
        assert!(sums.contains(&format!("  {file}\n")), "{sums}");
        let a = m["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["file"] == file.as_str())
            .unwrap_or_else(|| panic!("{file} not listed"));
        assert_eq!(a["kind"], "image-archive");
        assert_eq!(a["target"], target);
        kit::require("skopeo");
        let info = kit::run_ok(
            Command::new("skopeo")
                .args(["--insecure-policy", "inspect"])
                .arg(format!(
                    "docker-archive:{}",
                    d.join("dist").join(&file).display()
                )),
        );
        let info: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
        assert_eq!(info["Architecture"], arch);
        // The name `docker load` gives it (skopeo's RepoTags lists registry tags only).
        let docker = kit::run_ok(
            Command::new("tar")
                .arg("-xOf")
                .arg(d.join("dist").join(&file))
                .arg("manifest.json"),
        );
        let docker: serde_json::Value = serde_json::from_slice(&docker.stdout).unwrap();
        assert_eq!(
            docker[0]["RepoTags"],
            serde_json::json!(["registry.example:5000/acme/tool:1.4.0"])
        );
    }
    // `relkit image push --release` then pushes nothing and says why.
    let push = relkit(
        d,
        &["image", "push", "--release", "dist"],
        &[("RELKIT_LOG", "info")],
    );
    assert!(push.status.success(), "{}", kit::render(&push, d));
    let err = String::from_utf8_lossy(&push.stderr);
    assert!(err.contains("image.push is false"), "{err}");
    let notes = fs_err::read_to_string(d.join("dist/.relkit/notes.md")).unwrap();
    assert!(!notes.contains("docker pull"), "{notes}");
}

#[test]
fn bad_image_settings_fail_in_one_line_and_write_nothing() {
    let cases: [(&str, &str, &str); 6] = [
        (
            "no repository outside Actions",
            "[image]\n",
            "image.repository: is required outside GitHub Actions",
        ),
        (
            "a Windows platform",
            "[image]\nrepository = \"a/b\"\nplatforms = [\"x86_64-pc-windows-msvc\"]\n",
            "image.platforms: `x86_64-pc-windows-msvc` is not a Linux target",
        ),
        (
            "a platform the release lacks",
            "[image]\nrepository = \"a/b\"\nplatforms = [\"riscv64gc-unknown-linux-gnu\"]\n",
            "image.platforms: no archive of the release holds `tool` for `riscv64gc-unknown-linux-gnu`",
        ),
        (
            "a base named by tag",
            "[image]\nrepository = \"a/b\"\nbase = \"debian:bookworm-slim\"\n",
            "--require-digest",
        ),
        (
            "a bad tag template",
            "[image]\nrepository = \"a/b\"\ntags = [\"v {version}\"]\n",
            "image.tags: `v {version}` gives `v 1.4.0`, which is not a valid image tag",
        ),
        (
            "an unknown field",
            "[image]\nrepository = \"a/b\"\nentry-point = [\"x\"]\n",
            "unknown field `entry-point`",
        ),
    ];
    for (what, toml, want) in cases {
        let dir = image_project(toml);
        let d = dir.path();
        let out = relkit(d, &["dist"], &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{what}: {}",
            kit::render(&out, d)
        );
        let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error")).collect();
        assert_eq!(lines.len(), 1, "{what}: {stderr}");
        assert!(lines[0].contains(want), "{what}: {stderr}");
        assert!(
            !d.join("dist").exists() || kit::files_in(&d.join("dist")).is_empty(),
            "{what}: left {:?}",
            kit::files_in(&d.join("dist"))
        );
    }
}
