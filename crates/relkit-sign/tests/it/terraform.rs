//! Terraform itself accepts our OpenPGP signature of a provider's SHA256SUMS:
//! `terraform providers lock` against a fake registry on loopback (HTTPS
//! with a throw-away certificate), which checks the signature with the
//! public key relkit exported. Skips with a notice when terraform is absent.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::{GpgHome, Run, Sandbox};

const ZIP: &str = "terraform-provider-demo_1.0.0_linux_amd64.zip";
const SUMS: &str = "terraform-provider-demo_1.0.0_SHA256SUMS";

/// The fake registry on loopback HTTPS, trusted through `sb.root/cert.pem`.
fn start_registry(sb: &Sandbox) -> relkit_testkit::PortServer {
    let script = sb.root.join("fake_registry.py");
    fs_err::write(&script, include_str!("fixtures/fake_registry.py")).unwrap();
    let (cert, key) = relkit_testkit::self_signed_cert(&sb.root);
    relkit_testkit::PortServer::python(
        &script,
        &[sb.work.as_os_str(), cert.as_os_str(), key.as_os_str()],
    )
}

fn lock(sb: &Sandbox, tf: &Path) -> Run {
    let cfg = sb.root.join("terraformrc");
    fs_err::write(&cfg, "").unwrap();
    let mut cmd = Command::new("terraform");
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &sb.home)
        .env("TMPDIR", &sb.tmp)
        .env("SSL_CERT_FILE", sb.root.join("cert.pem"))
        .env("TF_CLI_CONFIG_FILE", &cfg)
        .env("CHECKPOINT_DISABLE", "1")
        .current_dir(tf)
        .args(["providers", "lock", "-no-color", "-platform=linux_amd64"]);
    let out = cmd.output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn terraform_accepts_the_sha256sums_signature() {
    if Command::new("terraform")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_err()
    {
        println!("notice: terraform is not installed; skipping the Terraform signature check");
        return;
    }
    let sb = Sandbox::new();
    let home = GpgHome::new(&sb, "gnupg", "");
    // A provider package: a zip holding only the binary.
    sb.file("terraform-provider-demo_v1.0.0", b"#!/bin/sh\n");
    sb.tool(
        "zip",
        &["-q", "-X", ZIP, "terraform-provider-demo_v1.0.0"],
        None,
        &[],
    )
    .ok();
    fs_err::remove_file(sb.work.join("terraform-provider-demo_v1.0.0")).unwrap();
    let digest =
        relkit_core::hash::hash_file(&sb.work.join(ZIP), relkit_core::hash::Algo::Sha256, |_| {})
            .unwrap();
    sb.file(SUMS, format!("{}  {ZIP}\n", digest.hex).as_bytes());
    sb.file("key.id", &home.fingerprint.as_bytes()[24..]);
    let envs = [("GNUPGHOME", home.home())];
    sb.relkit(&["gpg", "--export-public-key", "key.asc", SUMS], &envs)
        .ok();

    let registry = start_registry(&sb);
    let port = registry.port;
    let tf = sb.root.join("tf");
    fs_err::create_dir(&tf).unwrap();
    fs_err::write(
        tf.join("main.tf"),
        format!(
            "terraform {{\n  required_providers {{\n    demo = {{\n      source  = \"localhost:{port}/relkit/demo\"\n      version = \"1.0.0\"\n    }}\n  }}\n}}\n"
        ),
    )
    .unwrap();
    let run = lock(&sb, &tf);
    assert_eq!(
        run.code,
        0,
        "terraform refused our signature:\n{}",
        run.all()
    );
    assert!(
        run.all()
            .contains(&format!("key ID {}", &home.fingerprint[24..])),
        "{}",
        run.all()
    );

    // Control: a valid signature of something else is refused.
    sb.file("other", b"other");
    sb.relkit(&["gpg", "other"], &envs).ok();
    fs_err::copy(
        sb.work.join("other.sig"),
        sb.work.join(format!("{SUMS}.sig")),
    )
    .unwrap();
    fs_err::remove_file(tf.join(".terraform.lock.hcl")).unwrap();
    let run = lock(&sb, &tf);
    assert_ne!(
        run.code,
        0,
        "terraform accepted a wrong signature:\n{}",
        run.all()
    );
    assert!(run.all().contains("signature"), "{}", run.all());
}
