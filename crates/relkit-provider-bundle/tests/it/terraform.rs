//! Real Terraform (offline, `CHECKPOINT_DISABLE=1`, its own CLI config)
//! installing what relkit-provider-bundle wrote: from the unpacked mirror,
//! the packed mirror, `-plugin-dir`, a static HTTPS network mirror and an
//! HTTPS provider registry with signed checksums. The host platform's
//! provider is a stub that records it was started, so each test proves
//! Terraform ran our binary (never the manifest JSON).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use relkit_core::target::Target;

use crate::signing::TestKey;
use crate::{binary_args, cmd};

const VERSION: &str = "1.2.3";

/// The terraform binary, or `None` (with a notice) when it is not installed.
fn terraform() -> Option<PathBuf> {
    let fixed = PathBuf::from("/usr/local/bin/terraform");
    if fixed.is_file() {
        return Some(fixed);
    }
    let on_path = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("terraform"))
            .find(|p| p.is_file())
    });
    if on_path.is_none() {
        eprintln!("NOTICE: terraform is not installed; skipping this Terraform conformance test");
    }
    on_path
}

/// A bundle of provider `demo` for the host platform (a stub that writes
/// `marker` and exits 1) and two other platforms.
struct Bundle {
    work: tempfile::TempDir,
    out: PathBuf,
    marker: PathBuf,
    host_platform: String,
    platforms: Vec<String>,
}

impl Bundle {
    fn new(hostname: Option<&str>, extra: &[&str], key: Option<&TestKey>) -> Self {
        let work = tempfile::tempdir().unwrap();
        let marker = work.path().join("provider-started");
        let host = Target::host().terraform_platform();
        let mut bins = vec![(host.clone(), work.path().join("bin/host"))];
        let stub = format!("#!/bin/sh\necho \"$@\" > '{}'\nexit 1\n", marker.display());
        relkit_testkit::write(&bins[0].1, stub.as_bytes(), 0o755);
        for (i, other) in [
            "linux_amd64",
            "darwin_arm64",
            "windows_amd64",
            "linux_arm64",
        ]
        .into_iter()
        .filter(|p| *p != host)
        .take(2)
        .enumerate()
        {
            let path = work.path().join(format!("bin/{other}"));
            relkit_testkit::write(
                &path,
                &relkit_testkit::bytes(10_000, 7 + u32::try_from(i).unwrap()),
                0o755,
            );
            bins.push((other.to_owned(), path));
        }
        let out = work.path().join("dist");
        let mut c = cmd();
        c.args([
            "--name",
            "demo",
            "--version",
            VERSION,
            "--namespace",
            "acme",
        ])
        .args(extra);
        if let Some(h) = hostname {
            c.args(["--hostname", h]);
        }
        if let Some(key) = key {
            c.env("GNUPGHOME", key.home.path())
                .args(["--gpg-key-id", &key.fingerprint]);
        }
        c.args(binary_args(&bins)).arg("--output-dir").arg(&out);
        relkit_testkit::run_ok(&mut c);
        let mut platforms: Vec<String> = bins.iter().map(|(t, _)| t.clone()).collect();
        platforms.sort();
        Bundle {
            work,
            out,
            marker,
            host_platform: host,
            platforms,
        }
    }

    /// Every hash of our lock file.
    fn lock_hashes(&self) -> BTreeSet<String> {
        hashes_in(&self.out.join(format!(
            "terraform-provider-demo_{VERSION}.terraform.lock.hcl"
        )))
    }

    /// Our `h1:` hashes, by platform, from the packed mirror's VERSION.json.
    fn h1_by_platform(&self) -> Vec<(String, String)> {
        let dir = fs_err::read_dir(self.out.join("terraform-mirror"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let v: serde_json::Value = serde_json::from_str(
            &fs_err::read_to_string(dir.join(format!("acme/demo/{VERSION}.json"))).unwrap(),
        )
        .unwrap();
        v["archives"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(p, a)| {
                let h1 = a["hashes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|h| h.as_str().unwrap())
                    .find(|h| h.starts_with("h1:"));
                (p.clone(), h1.unwrap().to_owned())
            })
            .collect()
    }

    /// A fresh Terraform working folder requiring `source`.
    fn project(&self, name: &str, source: &str) -> PathBuf {
        let dir = self.work.path().join(name);
        let tf = format!(
            "terraform {{\n  required_providers {{\n    demo = {{\n      source  = \"{source}\"\n      version = \"{VERSION}\"\n    }}\n  }}\n}}\n\nprovider \"demo\" {{}}\n"
        );
        relkit_testkit::write(&dir.join("main.tf"), tf.as_bytes(), 0o644);
        dir
    }
}

/// The `h1:`/`zh:` strings of a lock file.
fn hashes_in(lock: &Path) -> BTreeSet<String> {
    fs_err::read_to_string(lock)
        .unwrap()
        .lines()
        .map(|l| l.trim().trim_end_matches(',').trim_matches('"'))
        .filter(|l| l.starts_with("h1:") || l.starts_with("zh:"))
        .map(str::to_owned)
        .collect()
}

/// A terraform command in `project`, offline, with `cli_config` as its CLI
/// configuration and nothing from the user's environment.
fn tf(tf_bin: &Path, project: &Path, cli_config: &str) -> Command {
    let config = project.join("cli.tfrc");
    fs_err::write(&config, cli_config).unwrap();
    let home = project.join("home");
    fs_err::create_dir_all(&home).unwrap();
    let mut c = Command::new(tf_bin);
    c.current_dir(project)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("CHECKPOINT_DISABLE", "1")
        .env("TF_CLI_CONFIG_FILE", &config)
        .env("TF_IN_AUTOMATION", "1")
        .env("TF_INPUT", "0")
        .env("NO_PROXY", "*");
    c
}

fn run_tf(c: &mut Command) -> (Output, String) {
    let out = relkit_testkit::run(c.arg("-no-color"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out, text)
}

/// `terraform init` (args before it), asserting success.
fn init_ok(mut c: Command, args: &[&str]) -> String {
    let (out, text) = run_tf(c.arg("init").args(args));
    assert!(out.status.success(), "terraform init failed:\n{text}");
    text
}

/// After a successful init: `terraform validate` starts the provider, which
/// must be our stub (the marker appears), and the lock file Terraform wrote
/// holds only hashes we published, including the host platform's h1.
fn assert_runs_our_binary(bundle: &Bundle, tf_bin: &Path, project: &Path, cli_config: &str) {
    assert!(!bundle.marker.exists());
    let (out, text) = run_tf(tf(tf_bin, project, cli_config).arg("validate"));
    assert!(
        !out.status.success(),
        "the stub exits 1, so validate fails:\n{text}"
    );
    assert!(
        bundle.marker.exists(),
        "terraform did not start our provider binary:\n{text}"
    );
    fs_err::remove_file(&bundle.marker).unwrap();
    let written = hashes_in(&project.join(".terraform.lock.hcl"));
    let ours = bundle.lock_hashes();
    assert!(
        written.is_subset(&ours),
        "terraform locked {written:?}, we published {ours:?}"
    );
    let host_h1 = bundle
        .h1_by_platform()
        .into_iter()
        .find(|(p, _)| *p == bundle.host_platform)
        .unwrap()
        .1;
    assert!(written.contains(&host_h1), "{written:?} lacks {host_h1}");
}

#[test]
fn init_from_unpacked_filesystem_mirror() {
    let Some(tf_bin) = terraform() else { return };
    let b = Bundle::new(None, &[], None);
    let project = b.project("unpacked", "acme/demo");
    let config = format!(
        "provider_installation {{\n  filesystem_mirror {{\n    path = \"{}\"\n  }}\n}}\n",
        b.out.join("terraform-providers").display()
    );
    let text = init_ok(tf(&tf_bin, &project, &config), &[]);
    assert!(
        text.contains(&format!("Installed acme/demo v{VERSION}")),
        "{text}"
    );
    assert_runs_our_binary(&b, &tf_bin, &project, &config);
}

#[test]
fn init_from_packed_filesystem_mirror() {
    let Some(tf_bin) = terraform() else { return };
    let b = Bundle::new(None, &[], None);
    let project = b.project("packed", "acme/demo");
    let config = format!(
        "provider_installation {{\n  filesystem_mirror {{\n    path = \"{}\"\n  }}\n}}\n",
        b.out.join("terraform-mirror").display()
    );
    let text = init_ok(tf(&tf_bin, &project, &config), &[]);
    assert!(
        text.contains(&format!("Installed acme/demo v{VERSION}")),
        "{text}"
    );
    assert_runs_our_binary(&b, &tf_bin, &project, &config);
}

#[test]
fn init_with_plugin_dir_both_layouts() {
    let Some(tf_bin) = terraform() else { return };
    let b = Bundle::new(None, &[], None);
    for layout in ["terraform-providers", "terraform-mirror"] {
        let project = b.project(&format!("plugin-dir-{layout}"), "acme/demo");
        let plugin_dir = format!("-plugin-dir={}", b.out.join(layout).display());
        let text = init_ok(tf(&tf_bin, &project, ""), &[&plugin_dir]);
        assert!(
            text.contains(&format!("Installed acme/demo v{VERSION}")),
            "{layout}: {text}"
        );
        assert_runs_our_binary(&b, &tf_bin, &project, "");
    }
}

/// Our pre-filled `.terraform.lock.hcl` is accepted as is: Terraform checks
/// the installed package against it and leaves it unchanged.
#[test]
fn prefilled_lock_file_is_accepted() {
    let Some(tf_bin) = terraform() else { return };
    let b = Bundle::new(None, &[], None);
    for layout in ["terraform-providers", "terraform-mirror"] {
        let project = b.project(&format!("prefilled-{layout}"), "acme/demo");
        let ours = b.out.join(format!(
            "terraform-provider-demo_{VERSION}.terraform.lock.hcl"
        ));
        fs_err::copy(&ours, project.join(".terraform.lock.hcl")).unwrap();
        let config = format!(
            "provider_installation {{\n  filesystem_mirror {{\n    path = \"{}\"\n  }}\n}}\n",
            b.out.join(layout).display()
        );
        init_ok(tf(&tf_bin, &project, &config), &[]);
        assert_eq!(
            fs_err::read_to_string(project.join(".terraform.lock.hcl")).unwrap(),
            fs_err::read_to_string(&ours).unwrap(),
            "{layout}"
        );
    }
}

/// `terraform providers lock -fs-mirror` for every platform records exactly
/// our h1 hashes, from either mirror layout.
#[test]
fn providers_lock_writes_our_h1_for_every_platform() {
    let Some(tf_bin) = terraform() else { return };
    let b = Bundle::new(None, &[], None);
    let ours: BTreeSet<String> = b.h1_by_platform().into_iter().map(|(_, h)| h).collect();
    assert_eq!(b.h1_by_platform().len(), 3);
    for layout in ["terraform-providers", "terraform-mirror"] {
        let project = b.project(&format!("lock-{layout}"), "acme/demo");
        let mut c = tf(&tf_bin, &project, "");
        c.args(["providers", "lock"])
            .arg(format!("-fs-mirror={}", b.out.join(layout).display()));
        for p in &b.platforms {
            c.arg(format!("-platform={p}"));
        }
        let (out, text) = run_tf(&mut c);
        assert!(out.status.success(), "{layout}: {text}");
        let written = hashes_in(&project.join(".terraform.lock.hcl"));
        let h1: BTreeSet<String> = written
            .iter()
            .filter(|h| h.starts_with("h1:"))
            .cloned()
            .collect();
        assert_eq!(h1, ours, "{layout}");
        assert!(written.is_subset(&b.lock_hashes()), "{layout}: {written:?}");
    }
}

#[test]
fn packed_tree_as_https_network_mirror() {
    let Some(tf_bin) = terraform() else { return };
    let b = Bundle::new(None, &[], None);
    let (cert, key) = relkit_testkit::self_signed_cert(b.work.path());
    let root = b.out.join("terraform-mirror");
    let mirror = relkit_testkit::PortServer::python(
        &server_script(),
        &[
            "static".as_ref(),
            cert.as_os_str(),
            key.as_os_str(),
            root.as_os_str(),
        ],
    );
    let project = b.project("network-mirror", "acme/demo");
    let config = format!(
        "provider_installation {{\n  network_mirror {{\n    url = \"https://localhost:{}/\"\n  }}\n}}\n",
        mirror.port
    );
    let mut c = tf(&tf_bin, &project, &config);
    c.env("SSL_CERT_FILE", &cert);
    let text = init_ok(c, &[]);
    assert!(
        text.contains(&format!(
            "Installed acme/demo v{VERSION} (verified checksum)"
        )),
        "{text}"
    );
    assert_runs_our_binary(&b, &tf_bin, &project, &config);
}

/// What the registry serves: the release as built, or tampered with.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Tamper {
    None,
    /// One byte of the host zip flipped; SHA256SUMS unchanged.
    Zip,
    /// The host zip flipped and SHA256SUMS rewritten to match it; the
    /// signature, made over the original, no longer fits.
    ZipAndSums,
    /// One byte of the signature flipped.
    Signature,
}

fn registry_init(tamper: Tamper) -> Option<(Bundle, String, bool, TestKey)> {
    let tf_bin = terraform()?;
    let key = TestKey::new(None);
    // The port must be known before bundling (it is part of the address),
    // so start the server first on a folder we fill afterwards.
    let stage = tempfile::tempdir().unwrap();
    let served = stage.path().join("served");
    fs_err::create_dir_all(&served).unwrap();
    let (cert, tls_key) = relkit_testkit::self_signed_cert(stage.path());
    let config = stage.path().join("registry.json");
    let fingerprint = key.fingerprint.clone();
    fs_err::write(
        &config,
        serde_json::json!({
            "namespace": "acme", "name": "demo", "version": VERSION, "protocols": ["6.0"],
            "key_id": &fingerprint[fingerprint.len() - 16..], "public_key": key.public_armored(),
        })
        .to_string(),
    )
    .unwrap();
    let registry = relkit_testkit::PortServer::python(
        &server_script(),
        &[
            "registry".as_ref(),
            cert.as_os_str(),
            tls_key.as_os_str(),
            served.as_os_str(),
            config.as_os_str(),
        ],
    );
    let host = format!("localhost:{}", registry.port);
    let b = Bundle::new(Some(&host), &[], Some(&key));
    let prefix = format!("terraform-provider-demo_{VERSION}");
    for entry in fs_err::read_dir(&b.out).unwrap() {
        let p = entry.unwrap().path();
        if p.is_file()
            && p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&format!("{prefix}_"))
        {
            fs_err::copy(&p, served.join(p.file_name().unwrap())).unwrap();
        }
    }
    let host_zip = served.join(format!("{prefix}_{}.zip", b.host_platform));
    let sums = served.join(format!("{prefix}_SHA256SUMS"));
    let flip_last = |p: &Path| {
        let mut bytes = fs_err::read(p).unwrap();
        let n = bytes.len();
        bytes[n / 2] ^= 0x55;
        fs_err::write(p, bytes).unwrap();
    };
    match tamper {
        Tamper::None => {}
        Tamper::Zip => flip_last(&host_zip),
        Tamper::ZipAndSums => {
            let old = crate::sha256_file(&b.out.join(host_zip.file_name().unwrap()));
            flip_last(&host_zip);
            let new = crate::sha256_file(&host_zip);
            let text = fs_err::read_to_string(&sums).unwrap().replace(&old, &new);
            fs_err::write(&sums, text).unwrap();
        }
        Tamper::Signature => flip_last(&sums.with_file_name(format!("{prefix}_SHA256SUMS.sig"))),
    }
    let project = b.project(
        &format!("registry-{tamper:?}"),
        &format!("{host}/acme/demo"),
    );
    let mut c = tf(&tf_bin, &project, "");
    c.env("SSL_CERT_FILE", &cert);
    let (out, text) = run_tf(c.arg("init"));
    if out.status.success() {
        let mut c = tf(&tf_bin, &project, "");
        c.env("SSL_CERT_FILE", &cert);
        let (_, validate) = run_tf(c.arg("validate"));
        assert!(
            b.marker.exists(),
            "terraform did not start our provider:\n{validate}"
        );
        let written = hashes_in(&project.join(".terraform.lock.hcl"));
        // From a registry Terraform records a zh for every line of the
        // signed SHA256SUMS (manifest included) plus the h1 of what it
        // installed: all ours.
        assert!(
            written.is_subset(&b.lock_hashes()),
            "{written:?} vs {:?}",
            b.lock_hashes()
        );
        assert_eq!(
            written.iter().filter(|h| h.starts_with("zh:")).count(),
            4,
            "{written:?}"
        );
        // Locking every platform from the registry writes exactly our hashes.
        let project = b.project("registry-lock", &format!("{host}/acme/demo"));
        let mut c = tf(&tf_bin, &project, "");
        c.env("SSL_CERT_FILE", &cert).args(["providers", "lock"]);
        for p in &b.platforms {
            c.arg(format!("-platform={p}"));
        }
        let (out, lock_text) = run_tf(&mut c);
        assert!(out.status.success(), "{lock_text}");
        // (Terraform adds `constraints` from main.tf; the hashes are equal.)
        assert_eq!(
            hashes_in(&project.join(".terraform.lock.hcl")),
            b.lock_hashes()
        );
    }
    drop(registry);
    drop(stage);
    Some((b, text, out.status.success(), key))
}

#[test]
fn registry_protocol_installs_signed_provider() {
    let Some((b, text, ok, key)) = registry_init(Tamper::None) else {
        return;
    };
    assert!(ok, "{text}");
    let short = &key.fingerprint[key.fingerprint.len() - 16..];
    assert!(
        text.contains(&format!("v{VERSION} (self-signed, key ID {short})")),
        "{text}"
    );
    drop(b);
}

#[test]
fn registry_refuses_tampered_zip() {
    let Some((b, text, ok, _key)) = registry_init(Tamper::Zip) else {
        return;
    };
    assert!(!ok, "terraform accepted a tampered zip:\n{text}");
    assert!(
        text.contains("checksum") || text.contains("SHA256"),
        "{text}"
    );
    assert!(!b.marker.exists());
}

#[test]
fn registry_refuses_sums_that_do_not_match_the_signature() {
    let Some((b, text, ok, _key)) = registry_init(Tamper::ZipAndSums) else {
        return;
    };
    assert!(!ok, "terraform accepted re-written SHA256SUMS:\n{text}");
    assert!(text.to_lowercase().contains("signature"), "{text}");
    assert!(!b.marker.exists());
}

#[test]
fn registry_refuses_corrupt_signature() {
    let Some((b, text, ok, _key)) = registry_init(Tamper::Signature) else {
        return;
    };
    assert!(!ok, "terraform accepted a corrupt signature:\n{text}");
    assert!(text.to_lowercase().contains("signature"), "{text}");
    assert!(!b.marker.exists());
}

/// The loopback HTTPS server used by these tests.
fn server_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/tf_server.py")
}
