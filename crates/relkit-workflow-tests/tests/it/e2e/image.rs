//! issue 14: release.yml's image inputs and image.yml, end to end. A Go
//! project with `[image]` (linux/amd64 and linux/arm64, which Go
//! cross-compiles here) is released; its finalize step builds the OCI
//! layout with the `image-*` inputs (which reach relkit only as the step's
//! `RELKIT_IMAGE_*` environment, through the composite action), then the
//! caller's second job, image.yml, pushes it to Debian's docker-registry on
//! 127.0.0.1 (htpasswd, TLS from a throwaway CA) and attests its digest.

use std::process::Command;

use base64::Engine as _;

use relkit_testkit::registry::{PASSWORD, Registry, USER};
use serde_json::Value;

use super::{Caller, act, git, setup_caller, the_release};
use crate::text;

/// The caller's jobs after `release`: image.yml, then one recording its outputs.
const IMAGE_JOBS: &str = r#"  image:
    needs: release
    uses: relkit/relkit/.github/workflows/image.yml@v1
    permissions:
      packages: write
      id-token: write
      attestations: write
    with:
      relkit-version: 0.1.0
      relkit-install: prebuilt
    secrets:
      registry-username: ${{ secrets.REGISTRY_USERNAME }}
      registry-password: ${{ secrets.REGISTRY_PASSWORD }}
  image-outputs:
    needs: image
    runs-on: ubuntu-latest
    permissions: {}
    steps:
      - shell: bash
        env:
          IMAGE: ${{ needs.image.outputs.image }}
          DIGEST: ${{ needs.image.outputs.image-index-digest }}
        run: printf '%s\n' "$IMAGE" "$DIGEST" > "$RELKIT_E2E_ARTIFACTS/../image-outputs.txt"
"#;

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// `key=value` lines a double recorded.
fn recorded(path: &std::path::Path) -> Vec<(String, String)> {
    fs_err::read_to_string(path)
        .unwrap_or_else(|_| panic!("{} was not written", path.display()))
        .lines()
        .map(|l| {
            let (k, v) = l.split_once('=').expect("key=value");
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

#[test]
fn image_release_pushes_the_recorded_index_and_attests_its_digest() {
    relkit_testkit::require("go");
    let reg_dir = tempfile::tempdir().expect("tempdir");
    let reg = Registry::start(reg_dir.path());
    let host = reg.host();
    // relkit.toml names another registry, repository and tags: what is
    // pushed must be what the release.yml inputs say.
    let with = format!(
        "      build-tool: go\n      targets: linux/amd64 linux/arm64\n      include: README.md\n      image-registry: {host}\n      image-name: acme/gosample\n      image-tags: \"{{tag}} latest\"\n"
    );
    let mut e = setup_caller(
        "gosample",
        "gosample",
        &Caller {
            with: &with,
            jobs: IMAGE_JOBS,
            ..Caller::default()
        },
    );
    let sample = e.dir.join("sample");
    relkit_testkit::write(
        &sample.join("relkit.toml"),
        b"name = \"gosample\"\nbinaries = [\"gosample\"]\n\n[image]\nregistry = \"registry.invalid\"\nrepository = \"acme/from-relkit-toml\"\ntags = [\"from-relkit-toml\"]\nlicenses = \"MIT\"\n",
        0o644,
    );
    git(&sample, &["add", "relkit.toml"]);
    git(&sample, &["commit", "-q", "-m", "image"]);
    // relkit trusts the test CA the way any rustls client on a runner
    // does: SSL_CERT_FILE.
    e.vars
        .push(("SSL_CERT_FILE".to_owned(), reg.ca().display().to_string()));
    e.secrets
        .push(("REGISTRY_USERNAME".to_owned(), USER.to_owned()));
    e.secrets
        .push(("REGISTRY_PASSWORD".to_owned(), PASSWORD.to_owned()));

    let out = act(&e);
    assert!(
        out.status.success(),
        "act failed:\n{}\n--- registry log\n{}",
        text(&out),
        reg.log_text()
    );
    let log = text(&out);

    // The published manifest.json records the index finalize built, under
    // the inputs' registry, name and tags.
    the_release(&e.fake);
    let published = e.fake.api("/repos/acme/sample/releases/tags/v0.1.0");
    let url = published["assets"]
        .as_array()
        .expect("assets")
        .iter()
        .find(|a| a["name"] == "manifest.json")
        .and_then(|a| a["browser_download_url"].as_str())
        .expect("manifest.json published")
        .to_owned();
    let got = Command::new("curl")
        .args(["-sSfL", &url])
        .output()
        .expect("curl");
    assert!(got.status.success(), "GET {url}: {}", text(&got));
    let manifest: Value = serde_json::from_slice(&got.stdout).expect("manifest JSON");
    let images = manifest["images"]
        .as_array()
        .expect("images in manifest.json");
    assert_eq!(images.len(), 1, "{manifest:#}");
    let image = &images[0];
    let repository = format!("{host}/acme/gosample");
    assert_eq!(image["repository"], repository.as_str(), "{image:#}");
    assert_eq!(
        image["tags"],
        serde_json::json!(["v0.1.0", "latest"]),
        "{image:#}"
    );
    let digest = image["index_digest"]
        .as_str()
        .expect("index_digest")
        .to_owned();
    let platforms: Vec<&str> = image["platforms"]
        .as_object()
        .expect("platforms")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"], "{image:#}");

    // The registry serves that very index under both tags, with both platforms.
    for tag in ["v0.1.0", "latest"] {
        let raw = reg
            .skopeo()
            .args(["inspect", "--raw", "--creds", &reg.creds()])
            .arg(format!("docker://{repository}:{tag}"))
            .output()
            .expect("skopeo");
        assert!(raw.status.success(), "skopeo inspect {tag}: {}", text(&raw));
        assert_eq!(
            format!("sha256:{}", sha256_hex(&raw.stdout)),
            digest,
            "{tag}: the registry's index is not the recorded one"
        );
        let index: Value = serde_json::from_slice(&raw.stdout).expect("index JSON");
        assert_eq!(
            index["mediaType"], "application/vnd.oci.image.index.v1+json",
            "{index:#}"
        );
        let mut pushed: Vec<String> = index["manifests"]
            .as_array()
            .expect("manifests")
            .iter()
            .map(|m| {
                format!(
                    "{}/{}",
                    m["platform"]["os"].as_str().unwrap_or(""),
                    m["platform"]["architecture"].as_str().unwrap_or("")
                )
            })
            .collect();
        pushed.sort();
        assert_eq!(pushed, ["linux/amd64", "linux/arm64"], "{index:#}");
        for m in index["manifests"].as_array().expect("manifests") {
            let p = format!(
                "{}/{}",
                m["platform"]["os"].as_str().unwrap_or(""),
                m["platform"]["architecture"].as_str().unwrap_or("")
            );
            assert_eq!(m["digest"], image["platforms"][&p], "{p}");
        }
    }

    // image.yml's outputs, docker/login-action's and the attestation's inputs.
    let outputs = fs_err::read_to_string(e.dir.join("image-outputs.txt")).expect("image outputs");
    assert_eq!(
        outputs.lines().collect::<Vec<_>>(),
        [repository.as_str(), digest.as_str()],
        "image.yml outputs"
    );
    let login = recorded(&e.dir.join("docker-login.txt"));
    assert_eq!(
        login,
        [
            ("registry".to_owned(), host.clone()),
            ("username".to_owned(), USER.to_owned()),
            (
                "password-sha256".to_owned(),
                sha256_hex(PASSWORD.as_bytes())
            ),
        ]
    );
    let attested = recorded(&e.dir.join("attested-image.txt"));
    assert_eq!(
        attested,
        [
            ("subject-name".to_owned(), repository.clone()),
            ("subject-digest".to_owned(), digest.clone()),
            ("push-to-registry".to_owned(), "true".to_owned()),
        ]
    );

    // The password never reached the log, neither as is nor as basic auth.
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    for secret in [PASSWORD, basic.as_str()] {
        assert!(
            !log.contains(secret),
            "the registry password reached the act log"
        );
    }
}
