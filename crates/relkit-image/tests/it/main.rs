//! relkit-image against the real thing: Debian's docker-registry (the CNCF
//! distribution server) on 127.0.0.1 with htpasswd auth and TLS, read back
//! with skopeo and umoci; a fault-injecting proxy for 5xx, 429 and dropped
//! uploads; reproducibility across folders, umasks and mtimes.
#![allow(clippy::too_many_lines)]

mod harness;

use harness::{Fixture, PASSWORD, USER, image_bin, sha256_file};
use relkit_testkit::{require, run, run_ok};
use serde_json::Value;

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn stderr_lines(out: &std::process::Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The one error line of a failed run, checked for shape and exit code.
fn one_error_line(out: &std::process::Output, code: i32) -> String {
    assert_eq!(
        out.status.code(),
        Some(code),
        "exit code; stderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let errors: Vec<String> = stderr_lines(out)
        .into_iter()
        .filter(|l| l.starts_with("error"))
        .collect();
    assert_eq!(errors.len(), 1, "one error line: {errors:?}");
    assert!(out.stdout.is_empty(), "nothing on stdout");
    errors[0].clone()
}

#[test]
fn pushes_a_two_platform_image_that_skopeo_and_umoci_read_back() {
    let fx = Fixture::new();
    let reg = fx.registry(None);
    let layout = fx.build_layout("layout", &[]);
    let built = json(&layout.1);
    let index = built["index"].as_str().unwrap().to_owned();

    // Chunked upload (1 MiB chunks of a ~0.8 MB gzip layer would be one
    // chunk: use 64 KiB) against the real server.
    let out = run_ok(
        fx.push(&reg, &layout.0, "relkit/demo")
            .args(["--tag", "v1.2.3", "--tag", "1.2", "--tag", "latest"])
            .args(["--chunk-size", "65536"]),
    );
    let pushed = json(&out);
    assert_eq!(pushed["index"], index.as_str());
    assert_eq!(pushed["uploaded_blobs"], 4, "{pushed}");
    let patches = reg.log_count("PATCH /v2/relkit/demo/blobs/uploads/");
    assert!(patches > 2, "chunked upload used PATCH ({patches})");

    // skopeo sees an OCI index with both platforms, under every tag.
    require("skopeo");
    let raw = run_ok(
        fx.skopeo(&reg)
            .args(["inspect", "--raw"])
            .arg(format!("docker://{}/relkit/demo:v1.2.3", reg.host())),
    );
    let sha = harness::sha256_bytes(&raw.stdout);
    assert_eq!(
        format!("sha256:{sha}"),
        index,
        "the registry serves our index bytes"
    );
    let idx: Value = serde_json::from_slice(&raw.stdout).unwrap();
    assert_eq!(idx["mediaType"], "application/vnd.oci.image.index.v1+json");
    let plats: Vec<String> = idx["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            format!(
                "{}/{}",
                m["platform"]["os"].as_str().unwrap(),
                m["platform"]["architecture"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(plats, ["linux/amd64", "linux/arm64"]);
    for tag in ["1.2", "latest"] {
        let raw = run_ok(
            fx.skopeo(&reg)
                .args(["inspect", "--raw"])
                .arg(format!("docker://{}/relkit/demo:{tag}", reg.host())),
        );
        assert_eq!(
            format!("sha256:{}", harness::sha256_bytes(&raw.stdout)),
            index
        );
    }

    // The config: non-root, entrypoint, labels.
    let cfg = run_ok(
        fx.skopeo(&reg)
            .args(["--override-arch", "amd64", "inspect", "--config"])
            .arg(format!("docker://{}/relkit/demo:v1.2.3", reg.host())),
    );
    let cfg: Value = serde_json::from_slice(&cfg.stdout).unwrap();
    assert_eq!(cfg["config"]["User"], "65532:65532");
    assert_eq!(cfg["config"]["Entrypoint"][0], "/usr/local/bin/demo");
    assert_eq!(
        cfg["config"]["Labels"]["org.opencontainers.image.version"],
        "1.2.3"
    );
    assert_eq!(cfg["created"], "2023-11-14T22:13:20Z");

    // Copy the amd64 image out with skopeo, unpack it with umoci: the
    // binary is the archive's byte for byte, and it runs.
    require("umoci");
    let copy = fx.dir.path().join("copy");
    run_ok(
        fx.skopeo(&reg)
            .args(["--override-arch", "amd64", "copy"])
            .arg(format!("docker://{}/relkit/demo:v1.2.3", reg.host()))
            .arg(format!("oci:{}:amd64", copy.display())),
    );
    let bundle = fx.dir.path().join("bundle");
    run_ok(
        std::process::Command::new("umoci")
            .args(["unpack", "--rootless", "--image"])
            .arg(format!("{}:amd64", copy.display()))
            .arg(&bundle),
    );
    let unpacked = bundle.join("rootfs/usr/local/bin/demo");
    assert_eq!(sha256_file(&unpacked), sha256_file(&fx.amd64));
    let ver = run_ok(std::process::Command::new(&unpacked).arg("--version"));
    assert_eq!(String::from_utf8_lossy(&ver.stdout).trim(), "demo 1.2.3");

    // A second push uploads no blob: the registry's own log shows no new
    // upload session, only manifests.
    let before = reg.log_count("/blobs/uploads/");
    let out = run_ok(
        fx.push(&reg, &layout.0, "relkit/demo")
            .args(["--tag", "v1.2.3"]),
    );
    let again = json(&out);
    assert_eq!(again["uploaded_blobs"], 0);
    assert_eq!(again["present_blobs"], 4);
    assert_eq!(
        reg.log_count("/blobs/uploads/"),
        before,
        "no upload on the second push"
    );

    // Cross-repository mount: another repository gets every blob mounted.
    let before = reg.log_count("PUT /v2/relkit/other/blobs/uploads/");
    let out = run_ok(fx.push(&reg, &layout.0, "relkit/other").args([
        "--tag",
        "v1.2.3",
        "--mount-from",
        "relkit/demo",
    ]));
    let mounted = json(&out);
    assert_eq!(mounted["mounted_blobs"], 4, "{mounted}");
    assert_eq!(mounted["uploaded_blobs"], 0);
    assert_eq!(reg.log_count("PUT /v2/relkit/other/blobs/uploads/"), before);
    assert!(reg.log_count("?mount=") >= 4);
}

#[test]
fn same_inputs_give_the_same_digests_across_folders_umasks_and_mtimes() {
    let fx = Fixture::new();
    let a = fx.build_layout("a/layout", &[]);
    // Other folder, other umask, other binary mtimes and paths.
    let other = fx.dir.path().join("elsewhere/bin");
    fs_err::create_dir_all(&other).unwrap();
    let amd = other.join("demo-amd64");
    let arm = other.join("demo-arm64");
    fs_err::copy(&fx.amd64, &amd).unwrap();
    fs_err::copy(&fx.arm64, &arm).unwrap();
    run_ok(
        std::process::Command::new("touch")
            .args(["-d", "2001-02-03 04:05:06"])
            .arg(&amd)
            .arg(&arm),
    );
    let out_b = fx.dir.path().join("b/deeper/layout");
    let b = run_ok(
        std::process::Command::new("sh")
            .args(["-c", "umask 077; exec \"$@\"", "sh"])
            .arg(image_bin())
            .args(["build", "--version", "1.2.3", "--name", "demo"])
            .arg("--out")
            .arg(&out_b)
            .arg(format!(
                "--binary=x86_64-unknown-linux-musl={}",
                amd.display()
            ))
            .arg(format!(
                "--binary=aarch64-unknown-linux-musl={}",
                arm.display()
            ))
            .args(["--revision", "0123456789abcdef0123456789abcdef01234567"])
            .args([
                "--source",
                "https://github.com/relkit/demo",
                "--licenses",
                "MIT",
            ])
            .env("SOURCE_DATE_EPOCH", "1700000000"),
    );
    let (ja, jb) = (json(&a.1), json(&b));
    assert_eq!(ja["index"], jb["index"]);
    assert_eq!(ja["platforms"], jb["platforms"]);
    let files = relkit_testkit::files_in(&a.0);
    assert_eq!(files, relkit_testkit::files_in(&out_b));
    for f in &files {
        assert_eq!(
            fs_err::read(a.0.join(f)).unwrap(),
            fs_err::read(out_b.join(f)).unwrap(),
            "{f}"
        );
    }
    // The layer's tar: owner 0, fixed times, sorted, modes 0755.
    let idx: Value =
        serde_json::from_slice(&fs_err::read(a.0.join("index.json")).unwrap()).unwrap();
    assert_eq!(
        idx["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"],
        "1.2.3"
    );
    let layer = harness::layer_of(&a.0, "amd64");
    let listing = run_ok(
        std::process::Command::new("tar")
            .args(["--numeric-owner", "-tvzf"])
            .arg(&layer),
    );
    let listing = String::from_utf8_lossy(&listing.stdout).into_owned();
    let expect = [
        "drwxr-xr-x 0/0 0 2023-11-14 22:13 usr/",
        "drwxr-xr-x 0/0 0 2023-11-14 22:13 usr/local/",
        "drwxr-xr-x 0/0 0 2023-11-14 22:13 usr/local/bin/",
    ];
    let lines: Vec<String> = listing
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(lines[..3], expect, "{listing}");
    assert!(
        lines[3].starts_with("-rwxr-xr-x 0/0 ")
            && lines[3].ends_with("2023-11-14 22:13 usr/local/bin/demo"),
        "{listing}"
    );
    // A different SOURCE_DATE_EPOCH gives a different index.
    let c = run_ok(
        fx.build_cmd(&fx.dir.path().join("c"), &[])
            .env("SOURCE_DATE_EPOCH", "1700000001"),
    );
    assert_ne!(json(&c)["index"], ja["index"]);
    // zstd layers too are reproducible and typed as such.
    let z1 = run_ok(&mut fx.build_cmd(&fx.dir.path().join("z1"), &["--compression", "zstd"]));
    let z2 = run_ok(&mut fx.build_cmd(&fx.dir.path().join("z2"), &["--compression", "zstd"]));
    assert_eq!(json(&z1)["index"], json(&z2)["index"]);
    assert_ne!(json(&z1)["index"], ja["index"]);
}

#[test]
fn registry_faults_are_retried_and_no_tag_points_at_a_missing_blob() {
    let fx = Fixture::new();
    let reg = fx.registry(None);
    let layout = fx.build_layout("layout", &[]);
    let index = json(&layout.1)["index"].as_str().unwrap().to_owned();
    let faults = r#"[
        {"method": "HEAD", "path": "/blobs/", "action": "429", "retry_after": 1, "times": 1},
        {"method": "POST", "path": "/blobs/uploads/", "action": "503", "times": 2},
        {"method": "PATCH", "path": "/blobs/uploads/", "action": "drop", "times": 1},
        {"method": "PUT", "path": "/blobs/uploads/", "action": "drop", "times": 1},
        {"method": "PUT", "path": "/manifests/v1.2.3", "action": "500", "times": 2}
    ]"#;
    let proxy = fx.proxy(&reg, faults, None);
    let out = run(fx.push_via(&proxy, &layout.0, "relkit/faults").args([
        "--tag",
        "v1.2.3",
        "--chunk-size",
        "262144",
    ]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json(&out)["index"], index.as_str());
    for fault in [" 429", " 503", " dropped", " 500"] {
        assert!(
            proxy.log().contains(fault),
            "fault {fault} was injected:\n{}",
            proxy.log()
        );
    }
    let warnings = String::from_utf8_lossy(&out.stderr);
    assert!(warnings.contains("retrying"), "{warnings}");
    let raw = run_ok(
        fx.skopeo(&reg)
            .args(["inspect", "--raw"])
            .arg(format!("docker://{}/relkit/faults:v1.2.3", reg.host())),
    );
    assert_eq!(
        format!("sha256:{}", harness::sha256_bytes(&raw.stdout)),
        index
    );

    // A registry that keeps failing the blob uploads: exit 3 after the
    // budget, and the tag was never set (tags go last).
    let always =
        r#"[{"method": "PUT", "path": "/blobs/uploads/", "action": "503", "times": 1000}]"#;
    let proxy = fx.proxy(&reg, always, None);
    let out = run(fx.push_via(&proxy, &layout.0, "relkit/broken").args([
        "--tag",
        "v1.2.3",
        "--give-up-secs",
        "2",
    ]));
    let line = one_error_line(&out, 3);
    assert!(
        line.contains("still failing after 2s of retries") && line.contains("HTTP 503"),
        "{line}"
    );
    assert_eq!(
        reg.log_count("PUT /v2/relkit/broken/manifests/"),
        0,
        "no manifest, no tag"
    );
    let missing = run(fx
        .skopeo(&reg)
        .args(["inspect", "--raw"])
        .arg(format!("docker://{}/relkit/broken:v1.2.3", reg.host())));
    assert!(!missing.status.success());
}

#[test]
fn bearer_token_flow_through_a_token_service() {
    let fx = Fixture::new();
    let reg = fx.registry(None);
    let layout = fx.build_layout("layout", &[]);
    let proxy = fx.proxy(&reg, "[]", Some(&format!("{USER}:{PASSWORD}")));
    let out = run_ok(
        fx.push_via(&proxy, &layout.0, "relkit/bearer")
            .args(["--tag", "v1"]),
    );
    assert_eq!(json(&out)["uploaded_blobs"], 4);
    assert!(
        proxy.log().contains(
            "GET /token?service=relkit-test&scope=repository%3Arelkit%2Fbearer%3Apull%2Cpush 200"
        ),
        "{}",
        proxy.log()
    );
    // A wrong password at the token service: exit 1, nothing pushed.
    let out = run(fx
        .push_via(&proxy, &layout.0, "relkit/bearer2")
        .args(["--tag", "v1"])
        .env("RELKIT_REGISTRY_PASSWORD", "wrong-password"));
    let line = one_error_line(&out, 1);
    assert!(
        line.contains("token service refused the credentials"),
        "{line}"
    );
    assert_eq!(reg.log_count("/v2/relkit/bearer2/"), 0);
}

#[test]
fn bad_input_is_one_line_and_pushes_nothing() {
    let fx = Fixture::new();
    let reg = fx.registry(None);
    let layout = fx.build_layout("layout", &[]);

    // Only non-Linux targets.
    let out = run(relkit_testkit::command(image_bin().to_str().unwrap())
        .args(["build", "--version", "1.0.0", "--out"])
        .arg(fx.dir.path().join("none"))
        .arg(format!(
            "--binary=x86_64-pc-windows-msvc={}",
            fx.amd64.display()
        ))
        .arg(format!(
            "--binary=aarch64-apple-darwin={}",
            fx.arm64.display()
        )));
    let line = one_error_line(&out, 1);
    assert!(
        line.contains("no Linux target among `x86_64-pc-windows-msvc`, `aarch64-apple-darwin`"),
        "{line}"
    );
    assert!(!fx.dir.path().join("none").exists(), "no output");
    // A base not pinned by digest under --require-digest.
    let out = run(&mut fx.build_cmd(
        &fx.dir.path().join("based"),
        &["--base", "debian:bookworm-slim", "--require-digest"],
    ));
    let line = one_error_line(&out, 1);
    assert!(
        line.contains("--base: `debian:bookworm-slim` is not pinned by digest"),
        "{line}"
    );
    // A binary that is missing.
    let out = run(relkit_testkit::command(image_bin().to_str().unwrap())
        .args(["build", "--version", "1.0.0", "--out"])
        .arg(fx.dir.path().join("missing"))
        .arg("--binary=x86_64-unknown-linux-musl=/nonexistent/demo"));
    let line = one_error_line(&out, 1);
    assert!(line.contains("/nonexistent/demo"), "{line}");
    assert!(!fx.dir.path().join("missing").exists());
    // An output path holding something else is not replaced.
    let precious = fx.dir.path().join("precious");
    fs_err::create_dir_all(&precious).unwrap();
    fs_err::write(precious.join("keep"), "x").unwrap();
    let out = run(&mut fx.build_cmd(&precious, &[]));
    let line = one_error_line(&out, 1);
    assert!(
        line.contains("is not an OCI image layout; refusing to replace it"),
        "{line}"
    );
    assert!(precious.join("keep").exists());

    // A wrong password: exit 1 at once, nothing uploaded.
    let out = run(fx
        .push(&reg, &layout.0, "relkit/wrong")
        .args(["--tag", "v1"])
        .env("RELKIT_REGISTRY_PASSWORD", "not-the-password"));
    let line = one_error_line(&out, 1);
    assert!(
        line.contains(&format!(
            "registry `{}`: the credentials were refused (HTTP 401",
            reg.host()
        )),
        "{line}"
    );
    // No credentials at all.
    let out = run(fx
        .push(&reg, &layout.0, "relkit/wrong")
        .env_remove("RELKIT_REGISTRY_USERNAME")
        .env_remove("RELKIT_REGISTRY_PASSWORD"));
    let line = one_error_line(&out, 1);
    assert!(
        line.contains("asks for credentials and none were given"),
        "{line}"
    );
    assert_eq!(reg.log_count("/v2/relkit/wrong/blobs/uploads"), 0);
    // An unreachable registry: retried, then exit 3.
    let dead = harness::free_port();
    let out = run(fx
        .push_to(&format!("127.0.0.1:{dead}/relkit/demo"), &layout.0)
        .args(["--give-up-secs", "1", "--retry-base-ms", "100"]));
    let line = one_error_line(&out, 3);
    assert!(line.contains("still failing after 1s of retries"), "{line}");
    // A tag that is not a tag; an image with a tag in it; a broken layout.
    let out = run(fx
        .push(&reg, &layout.0, "relkit/demo")
        .args(["--tag", "v1/x"]));
    assert!(one_error_line(&out, 1).contains("--tag: `v1/x` is not a valid tag"));
    let out = run(&mut fx.push(&reg, &layout.0, "relkit/demo:v1"));
    assert!(one_error_line(&out, 1).contains("without a tag or digest"));
    let out = run(&mut fx.push(&reg, fx.dir.path(), "relkit/demo"));
    assert!(one_error_line(&out, 1).contains("index.json"));
    // A layout whose blob was tampered with.
    let index = json(&layout.1)["index"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_owned();
    let blob = layout.0.join("blobs/sha256").join(&index);
    let mut bytes = fs_err::read(&blob).unwrap();
    bytes[10] ^= 1;
    relkit_testkit::set_mode(&blob, 0o644);
    fs_err::write(&blob, &bytes).unwrap();
    let out = run(&mut fx.push(&reg, &layout.0, "relkit/demo"));
    assert!(one_error_line(&out, 1).contains("does not match its digest"));
}

#[test]
fn credentials_never_reach_a_log() {
    let fx = Fixture::new();
    let reg = fx.registry(None);
    let layout = fx.build_layout("layout", &[]);
    let proxy = fx.proxy(
        &reg,
        r#"[{"method": "PUT", "path": "/manifests/", "action": "500", "times": 1}]"#,
        Some(&format!("{USER}:{PASSWORD}")),
    );
    let b64 = base64_of(&format!("{USER}:{PASSWORD}"));
    for (out, what) in [
        (
            run(fx
                .push(&reg, &layout.0, "relkit/secret")
                .env("RELKIT_LOG", "trace")
                .args(["--tag", "v1"])),
            "basic",
        ),
        (
            run(fx
                .push_via(&proxy, &layout.0, "relkit/secret2")
                .env("RELKIT_LOG", "trace")
                .args(["--tag", "v1"])),
            "bearer",
        ),
        (
            run(fx
                .push(&reg, &layout.0, "relkit/secret3")
                .env("RELKIT_LOG", "trace")
                .env("RELKIT_REGISTRY_PASSWORD", "wrong-Secret-42")),
            "refused",
        ),
    ] {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.lines().count() > 5,
            "{what}: trace logging is on:\n{text}"
        );
        for secret in [
            PASSWORD,
            b64.as_str(),
            "relkit-test-token-0123456789",
            "wrong-Secret-42",
        ] {
            assert!(
                !text.contains(secret),
                "{what}: a secret reached the log:\n{text}"
            );
        }
    }
}

fn base64_of(s: &str) -> String {
    let out = run_ok(std::process::Command::new("sh").args([
        "-c",
        "printf %s \"$1\" | base64 -w0",
        "sh",
        s,
    ]));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A base image pinned by digest, pulled from the (authenticated, TLS)
/// registry: its layers come first, ours on top; the same base and
/// binaries give the same digest again; pushing next to the base mounts
/// its layers instead of uploading them.
#[test]
fn builds_on_a_base_image_pinned_by_digest() {
    let fx = Fixture::new();
    let reg = fx.registry(None);
    let base = fx.build_layout("base", &["--env", "KEEP=base", "--env", "MODE=base"]);
    run_ok(fx.push(&reg, &base.0, "relkit/base").args(["--tag", "v1"]));
    let base_index = json(&base.1)["index"].as_str().unwrap().to_owned();
    let build = |out: &str, base_ref: &str| {
        let mut cmd = relkit_testkit::command(image_bin().to_str().unwrap());
        cmd.args([
            "build",
            "--version",
            "2.0.0",
            "--name",
            "app",
            "--env",
            "MODE=app",
        ])
        .arg("--out")
        .arg(fx.dir.path().join(out))
        .arg(format!(
            "--binary=x86_64-unknown-linux-musl={}",
            fx.amd64.display()
        ))
        .arg(format!(
            "--binary=aarch64-unknown-linux-musl={}",
            fx.arm64.display()
        ))
        .args(["--revision", "0123456789abcdef0123456789abcdef01234567"])
        .args(["--base", base_ref])
        .arg("--ca-file")
        .arg(fx.ca())
        .env("RELKIT_BASE_USERNAME", USER)
        .env("RELKIT_BASE_PASSWORD", PASSWORD);
        cmd
    };
    let pinned = format!("{}/relkit/base@{base_index}", reg.host());
    let app = run_ok(build("app", &pinned).arg("--require-digest"));
    let again = run_ok(&mut build("app2", &pinned));
    assert_eq!(
        json(&app)["index"],
        json(&again)["index"],
        "reproducible on a base"
    );
    let by_tag = run_ok(&mut build(
        "app3",
        &format!("{}/relkit/base:v1", reg.host()),
    ));
    assert_eq!(
        json(&app)["index"],
        json(&by_tag)["index"],
        "the tag names the same base"
    );

    let layout = fx.dir.path().join("app");
    let pushed = json(&run_ok(fx.push(&reg, &layout, "relkit/app").args([
        "--tag",
        "v2.0.0",
        "--mount-from",
        "relkit/base",
    ])));
    // Both base layers are mounted; the two configs and two new layers upload.
    assert_eq!(pushed["mounted_blobs"], 2, "{pushed}");
    assert_eq!(pushed["uploaded_blobs"], 4, "{pushed}");

    let cfg = run_ok(
        fx.skopeo(&reg)
            .args(["--override-arch", "amd64", "inspect", "--config"])
            .arg(format!("docker://{}/relkit/app:v2.0.0", reg.host())),
    );
    let cfg: Value = serde_json::from_slice(&cfg.stdout).unwrap();
    assert_eq!(cfg["rootfs"]["diff_ids"].as_array().unwrap().len(), 2);
    assert_eq!(cfg["config"]["Entrypoint"][0], "/usr/local/bin/app");
    assert_eq!(
        cfg["config"]["Env"],
        serde_json::json!(["KEEP=base", "MODE=app"])
    );
    assert_eq!(
        cfg["config"]["Labels"]["org.opencontainers.image.version"],
        "2.0.0"
    );
    let copy = fx.dir.path().join("copy");
    run_ok(
        fx.skopeo(&reg)
            .args(["--override-arch", "amd64", "copy"])
            .arg(format!("docker://{}/relkit/app:v2.0.0", reg.host()))
            .arg(format!("oci:{}:amd64", copy.display())),
    );
    let bundle = fx.dir.path().join("bundle");
    run_ok(
        std::process::Command::new("umoci")
            .args(["unpack", "--rootless", "--image"])
            .arg(format!("{}:amd64", copy.display()))
            .arg(&bundle),
    );
    for name in ["demo", "app"] {
        let bin = bundle.join("rootfs/usr/local/bin").join(name);
        assert_eq!(sha256_file(&bin), sha256_file(&fx.amd64), "{name}");
    }

    // A base the registry does not have: one line, exit 1, no output.
    let missing = format!("{}/relkit/base@sha256:{}", reg.host(), "0".repeat(64));
    let out = run(&mut build("none", &missing));
    let line = one_error_line(&out, 1);
    assert!(
        line.contains("GET manifest sha256:000") && line.contains("HTTP 404"),
        "{line}"
    );
    assert!(!fx.dir.path().join("none").exists());
}

/// A finalized release's folder holding the image `relkit finalize`
/// leaves: the layout at `.relkit/image` and manifest.json's `images`.
fn release_dir(fx: &Fixture, rel: &str, repository: &str) -> (std::path::PathBuf, Value) {
    let (layout, out) = fx.build_layout(&format!("{rel}/.relkit/image"), &[]);
    let built = json(&out);
    let dir = layout.parent().unwrap().parent().unwrap().to_path_buf();
    let manifest = serde_json::json!({
        "schema_version": 1,
        "name": "demo",
        "version": "1.2.3",
        "build_timestamp": "2023-11-14T22:13:20Z",
        "tool": {"name": "relkit", "version": "0"},
        "targets": [],
        "artifacts": [],
        "images": [{
            "repository": repository,
            "index_digest": built["index"],
            "platforms": built["platforms"],
            "tags": ["v1.2.3", "1.2"],
        }],
    });
    fs_err::write(
        dir.join("manifest.json"),
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )
    .unwrap();
    (dir, built)
}

fn push_release(fx: &Fixture, dir: &std::path::Path) -> std::process::Command {
    let mut cmd = relkit_testkit::command(image_bin().to_str().unwrap());
    cmd.args(["push", "--release"])
        .arg(dir)
        .arg("--ca-file")
        .arg(fx.ca())
        .env("RELKIT_REGISTRY_USERNAME", USER)
        .env("RELKIT_REGISTRY_PASSWORD", PASSWORD)
        .env("RELKIT_RETRY_BASE_MS", "50")
        .env("RELKIT_GIVE_UP_SECS", "30");
    cmd
}

#[test]
fn pushes_the_image_a_finalized_release_records() {
    let fx = Fixture::new();
    let reg = fx.registry(None);
    let repo = format!("{}/relkit/released", reg.host());
    let (dir, built) = release_dir(&fx, "rel", &repo);
    let out = run_ok(&mut push_release(&fx, &dir));
    let pushed = json(&out);
    assert_eq!(pushed["index"], built["index"]);
    assert_eq!(pushed["image"], repo.as_str());
    assert_eq!(pushed["tags"], serde_json::json!(["v1.2.3", "1.2"]));
    require("skopeo");
    for tag in ["v1.2.3", "1.2"] {
        let raw = run_ok(
            fx.skopeo(&reg)
                .args(["inspect", "--raw"])
                .arg(format!("docker://{repo}:{tag}")),
        );
        assert_eq!(
            format!("sha256:{}", harness::sha256_bytes(&raw.stdout)),
            built["index"].as_str().unwrap()
        );
    }

    // A layout that is not the one the release records is refused before
    // anything is sent.
    let (other, _) = release_dir(&fx, "other", &format!("{}/relkit/tampered", reg.host()));
    let m = other.join("manifest.json");
    let text = fs_err::read_to_string(&m).unwrap();
    let wrong = format!("sha256:{}", "0".repeat(64));
    let digest = built["index"].as_str().unwrap();
    fs_err::write(&m, text.replace(digest, &wrong)).unwrap();
    let out = run(&mut push_release(&fx, &other));
    let line = one_error_line(&out, 1);
    assert!(
        line.contains(&format!("but manifest.json records {wrong}")),
        "{line}"
    );
    assert_eq!(reg.log_count("/v2/relkit/tampered/"), 0, "nothing sent");

    // An --image that differs from the recorded repository is refused too.
    let out = run(push_release(&fx, &dir).args(["--image", "127.0.0.1:1/else"]));
    let line = one_error_line(&out, 1);
    assert!(
        line.contains("differs from the repository the release records"),
        "{line}"
    );

    // `push = false` (finalize's mark): nothing pushed, exit 0.
    let (quiet, _) = release_dir(&fx, "quiet", &format!("{}/relkit/quiet", reg.host()));
    fs_err::write(quiet.join(".relkit/image.no-push"), "").unwrap();
    let out = run(push_release(&fx, &quiet).env("RELKIT_LOG", "info"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    assert_eq!(reg.log_count("/v2/relkit/quiet/"), 0, "nothing sent");
}

#[test]
fn save_writes_a_tarball_skopeo_reads_as_docker_archive_and_oci_archive() {
    require("skopeo");
    let fx = Fixture::new();
    let (layout, out) = fx.build_layout("layout", &[]);
    let built = json(&out);
    let amd64 = built["platforms"]["linux/amd64"]
        .as_str()
        .unwrap()
        .to_owned();
    let tarball = fx.dir.path().join("demo-amd64.tar");
    let save = |out: &std::path::Path| {
        let mut cmd = relkit_testkit::command(image_bin().to_str().unwrap());
        cmd.args([
            "save",
            "--platform",
            "linux/amd64",
            "--tag",
            "ghcr.io/relkit/demo:v1.2.3",
        ])
        .arg("--layout")
        .arg(&layout)
        .arg("--out")
        .arg(out);
        cmd
    };
    let o = run_ok(&mut save(&tarball));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), amd64);
    let listing = run_ok(std::process::Command::new("tar").arg("-tvf").arg(&tarball));
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(
        listing.contains(" manifest.json\n") && listing.contains(" index.json\n"),
        "{listing}"
    );
    assert!(
        listing.lines().all(|l| l.starts_with("-rw-r--r-- 0/0")),
        "{listing}"
    );

    // skopeo reads it as a Docker archive (what `docker load` takes) …
    let inspect = run_ok(
        std::process::Command::new("skopeo")
            .args(["--insecure-policy", "inspect"])
            .arg(format!("docker-archive:{}", tarball.display())),
    );
    let info: Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(info["Architecture"], "amd64");
    assert_eq!(info["Labels"]["org.opencontainers.image.version"], "1.2.3");
    // … and as an OCI archive, whose image is byte for byte the layout's.
    let raw = run_ok(
        std::process::Command::new("skopeo")
            .args(["--insecure-policy", "inspect", "--raw"])
            .arg(format!("oci-archive:{}", tarball.display())),
    );
    assert_eq!(
        format!("sha256:{}", harness::sha256_bytes(&raw.stdout)),
        amd64
    );
    // The binary comes back out with the input's sha256.
    let copied = fx.dir.path().join("copied");
    run_ok(
        std::process::Command::new("skopeo")
            .args(["--insecure-policy", "copy"])
            .arg(format!("docker-archive:{}", tarball.display()))
            .arg(format!("oci:{}:x", copied.display())),
    );
    let layer = harness::layer_of_single(&copied);
    let x = fx.dir.path().join("x");
    fs_err::create_dir_all(&x).unwrap();
    // GNU tar finds the compression itself (skopeo may store the layer either way).
    run_ok(
        std::process::Command::new("tar")
            .arg("-xf")
            .arg(&layer)
            .arg("-C")
            .arg(&x),
    );
    assert_eq!(
        sha256_file(&x.join("usr/local/bin/demo")),
        sha256_file(&fx.amd64)
    );

    // Reproducible: the same bytes again.
    let again = fx.dir.path().join("again.tar");
    run_ok(&mut save(&again));
    assert!(fs_err::read(&again).unwrap() == fs_err::read(&tarball).unwrap());

    // A platform the layout lacks, a tag without `:TAG`: one line, nothing written.
    let none = fx.dir.path().join("none.tar");
    let bad = |platform: &str, tag: &str| {
        let mut cmd = relkit_testkit::command(image_bin().to_str().unwrap());
        cmd.args(["save", "--platform", platform, "--tag", tag])
            .arg("--layout")
            .arg(&layout)
            .arg("--out")
            .arg(&none);
        run(&mut cmd)
    };
    let line = one_error_line(&bad("linux/s390x", "ghcr.io/relkit/demo:v1"), 1);
    assert!(line.contains("no `linux/s390x` image"), "{line}");
    let line = one_error_line(&bad("linux/amd64", "ghcr.io/relkit/demo"), 1);
    assert!(line.contains("is not REPOSITORY:TAG"), "{line}");
    assert!(!none.exists());
}

/// Peak RSS in KiB of `cmd` (run through python3, which reads it from
/// `getrusage(RUSAGE_CHILDREN)`), and its output.
fn peak_rss_kib(cmd: &std::process::Command) -> (u64, std::process::Output) {
    require("python3");
    let mut py = std::process::Command::new("python3");
    py.args([
        "-c",
        "import resource, subprocess, sys\n\
         r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n\
         sys.stderr.buffer.write(r.stderr)\n\
         print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n\
         sys.exit(r.returncode)",
    ])
    .arg(cmd.get_program())
    .args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => py.env(k, v),
            None => py.env_remove(k),
        };
    }
    let out = run_ok(&mut py);
    let kib = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    (kib, out)
}

// Memory stays bounded whatever the blob size: a 72 MiB layer (random
// bytes, so gzip leaves it that size) is built and pushed, chunked and in
// one PUT, each run under 64 MiB of peak RSS; a push that held the blob
// in memory would exceed it. (An RSS bound, never a time bound.)
#[test]
fn memory_stays_bounded_for_a_layer_larger_than_the_bound() {
    let fx = Fixture::new();
    let reg = fx.registry(None);
    let big = relkit_testkit::write(
        &fx.dir.path().join("big/demo"),
        &relkit_testkit::bytes(72 << 20, 11),
        0o755,
    );
    let layout = fx.dir.path().join("big-layout");
    let mut build = relkit_testkit::command(image_bin().to_str().unwrap());
    build
        .args(["build", "--version", "1.2.3", "--name", "demo", "--out"])
        .arg(&layout)
        .arg(format!(
            "--binary=x86_64-unknown-linux-musl={}",
            big.display()
        ));
    let (kib, _) = peak_rss_kib(&build);
    assert!(kib < 64 << 10, "build peak RSS {kib} KiB");
    let largest = relkit_testkit::files_in(&layout.join("blobs/sha256"))
        .iter()
        .map(|f| {
            fs_err::metadata(layout.join("blobs/sha256").join(f))
                .unwrap()
                .len()
        })
        .max()
        .unwrap();
    assert!(largest > 72 << 20, "the layer is {largest} bytes");
    for (repo, chunk) in [
        ("relkit/big-chunked", "16777216"),
        ("relkit/big-whole", "1000000000"),
    ] {
        let mut push = fx.push(&reg, &layout, repo);
        push.args(["--tag", "v1", "--chunk-size", chunk]);
        let (kib, _) = peak_rss_kib(&push);
        assert!(
            kib < 64 << 10,
            "push ({chunk}-byte chunks) peak RSS {kib} KiB"
        );
        assert_eq!(reg.log_count(&format!("PUT /v2/{repo}/manifests/v1")), 1);
    }
}
