//! Static checks of action.yml, the workflows and the templates: the tools
//! GitHub users run (actionlint, check-jsonschema, zizmor, shellcheck), plus
//! the conventions those tools do not enforce (SHA pins, no expressions in
//! scripts, persist-credentials, least-privilege permissions).

use std::path::{Path, PathBuf};
use std::process::Command;

use relkit_testkit::require;

use crate::{fixtures, root, text};

fn workflows() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in [".github/workflows", "workflows-templates"] {
        for e in fs_err::read_dir(root().join(dir)).expect("read workflows") {
            let p = e.expect("entry").path();
            if p.extension().is_some_and(|x| x == "yml") {
                files.push(p);
            }
        }
    }
    files.sort();
    assert!(
        files.len() >= 6,
        "expected release, release-relkit, ci and three templates: {files:?}"
    );
    files
}

fn actions() -> Vec<PathBuf> {
    let mut files = vec![root().join("action.yml")];
    for e in fs_err::read_dir(fixtures().join("doubles")).expect("read doubles") {
        files.push(e.expect("entry").path().join("action.yml"));
    }
    files
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed:\n{}", text(&out));
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn actionlint_passes_every_workflow_and_template() {
    require("actionlint");
    require("shellcheck"); // actionlint checks every run: script with it
    run_ok(
        Command::new("actionlint")
            .current_dir(root())
            .args(workflows()),
    );
}

#[test]
fn check_jsonschema_accepts_workflows_templates_and_actions() {
    require("check-jsonschema");
    run_ok(
        Command::new("check-jsonschema")
            .args(["--builtin-schema", "vendor.github-workflows"])
            .args(workflows()),
    );
    run_ok(
        Command::new("check-jsonschema")
            .args(["--builtin-schema", "vendor.github-actions"])
            .args(actions()),
    );
}

#[test]
fn zizmor_offline_has_no_findings() {
    require("zizmor");
    let out = run_ok(
        Command::new("zizmor")
            .current_dir(root())
            .args([
                "--offline",
                "--config",
                "zizmor.yml",
                "action.yml",
                ".github/workflows",
            ])
            .arg("workflows-templates"),
    );
    assert!(out.contains("No findings to report"), "{out}");
}

#[test]
fn every_zizmor_ignore_gives_a_reason() {
    let text = fs_err::read_to_string(root().join("zizmor.yml")).expect("zizmor.yml");
    let mut rule = None;
    let mut commented = false;
    for line in text.lines() {
        if line.starts_with("  ") && !line.starts_with("   ") && line.trim_end().ends_with(':') {
            rule = Some(line.trim().trim_end_matches(':').to_owned());
            commented = false;
        } else if line.trim_start().starts_with('#') {
            commented = true;
        } else if line.trim() == "ignore:" {
            assert!(
                commented,
                "zizmor.yml: the ignores of `{rule:?}` have no written reason"
            );
        }
    }
}

#[test]
fn shellcheck_passes_the_scripts() {
    require("shellcheck");
    run_ok(
        Command::new("shellcheck")
            .current_dir(root())
            .args(["scripts/action.sh", "scripts/install.sh"]),
    );
}

/// Every `run:` script of a YAML file, as (first line number, text).
fn run_blocks(text: &str) -> Vec<(usize, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        let trimmed = l.trim_start().trim_start_matches("- ");
        if let Some(rest) = trimmed.strip_prefix("run:") {
            let indent = l.len() - l.trim_start().len();
            let mut body = rest.to_owned();
            let mut j = i + 1;
            while j < lines.len()
                && (lines[j].trim().is_empty()
                    || lines[j].len() - lines[j].trim_start().len() > indent + 2)
            {
                body.push('\n');
                body.push_str(lines[j]);
                j += 1;
            }
            out.push((i + 1, body));
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

#[test]
fn no_expression_is_expanded_inside_a_script() {
    let mut files = workflows();
    files.extend(actions());
    let mut scripts = 0;
    for f in files {
        let text = fs_err::read_to_string(&f).expect("read");
        for (line, body) in run_blocks(&text) {
            scripts += 1;
            assert!(
                !body.contains("${{"),
                "{}:{line}: `${{{{ }}}}` inside run:, pass it through env: instead",
                f.display()
            );
        }
    }
    assert!(
        scripts > 10,
        "found only {scripts} run: blocks; is the scanner broken?"
    );
}

fn steps_using<'a>(text: &'a str, action: &str) -> Vec<(usize, Vec<&'a str>)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if l.contains(&format!("uses: {action}")) {
            // The step runs from its `- ` line to the next line at that indentation or less.
            let start = (0..=i)
                .rev()
                .find(|&k| lines[k].trim_start().starts_with("- "))
                .unwrap_or(i);
            let indent = lines[start].len() - lines[start].trim_start().len();
            let end = (start + 1..lines.len())
                .find(|&k| {
                    !lines[k].trim().is_empty()
                        && lines[k].len() - lines[k].trim_start().len() <= indent
                })
                .unwrap_or(lines.len());
            out.push((i + 1, lines[start..end].to_vec()));
        }
    }
    out
}

#[test]
fn third_party_actions_are_pinned_by_full_sha_with_a_version_comment() {
    let mut count = 0;
    for f in workflows().into_iter().chain([root().join("action.yml")]) {
        let text = fs_err::read_to_string(&f).expect("read");
        for (n, l) in text.lines().enumerate() {
            let Some((_, uses)) = l.split_once("uses: ") else {
                continue;
            };
            let uses = uses.trim();
            // Local actions, and the templates' call of relkit itself (see zizmor.yml).
            if uses.starts_with("./") || uses.starts_with("relkit/relkit/") {
                continue;
            }
            count += 1;
            let (reference, comment) = uses.split_once(" # ").unwrap_or((uses, ""));
            let sha = reference.rsplit_once('@').map_or("", |(_, r)| r);
            assert!(
                sha.len() == 40
                    && sha.bytes().all(|b| b.is_ascii_hexdigit())
                    && comment.starts_with('v'),
                "{}:{}: `{uses}` is not pinned as OWNER/REPO@<40-hex sha> # vX",
                f.display(),
                n + 1
            );
        }
    }
    assert!(count >= 5, "found only {count} third-party uses");
}

#[test]
fn every_checkout_drops_its_credentials() {
    let mut count = 0;
    for f in workflows() {
        let text = fs_err::read_to_string(&f).expect("read");
        for (line, step) in steps_using(&text, "actions/checkout@") {
            count += 1;
            assert!(
                step.iter()
                    .any(|l| l.trim() == "persist-credentials: false"),
                "{}:{line}: actions/checkout without persist-credentials: false",
                f.display()
            );
        }
    }
    assert!(count >= 4, "found only {count} checkouts");
}

#[test]
fn workflows_declare_least_privilege_permissions_and_release_jobs_their_own() {
    for f in workflows() {
        let text = fs_err::read_to_string(&f).expect("read");
        let top = text
            .lines()
            .find(|l| l.starts_with("permissions:"))
            .unwrap_or_else(|| panic!("{}: no top-level permissions", f.display()));
        assert!(
            top == "permissions: {}" || text.contains("permissions:\n  contents: read"),
            "{}: top-level permissions are broader than read: {top}",
            f.display()
        );
        assert!(!text.contains("write-all"), "{}: write-all", f.display());
    }
    let release =
        fs_err::read_to_string(root().join(".github/workflows/release.yml")).expect("release.yml");
    // Only finalize may mint an OIDC token; build only reads.
    let build = release
        .split("\n  build:\n")
        .nth(1)
        .expect("build job")
        .split("\n  finalize:\n")
        .next()
        .expect("build body");
    assert!(
        build.contains("permissions:\n      contents: read\n"),
        "build must only read"
    );
    let plan = release
        .split("\n  plan:\n")
        .nth(1)
        .expect("plan job")
        .split("\n  build:\n")
        .next()
        .expect("plan body");
    assert!(!plan.contains("id-token"), "plan must not get id-token");
    assert!(
        release.contains("concurrency:\n      group: relkit-finalize-"),
        "finalize needs a concurrency group per tag"
    );
}

#[test]
fn every_template_has_its_properties() {
    let dir = root().join("workflows-templates");
    for f in workflows().into_iter().filter(|f| f.starts_with(&dir)) {
        let props = f.with_extension("properties.json");
        let text = fs_err::read_to_string(&props)
            .unwrap_or_else(|_| panic!("{} has no {}", f.display(), props.display()));
        let v: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", props.display()));
        for key in ["name", "description", "iconName"] {
            assert!(
                v[key].as_str().is_some_and(|s| !s.is_empty()),
                "{}: `{key}` missing",
                props.display()
            );
        }
        assert!(
            v["categories"].as_array().is_some_and(|a| !a.is_empty()),
            "{}: no categories",
            props.display()
        );
    }
    let go = fs_err::read_to_string(dir.join("go-release.yml")).expect("go template");
    assert!(
        go.contains("build-tool: go") && go.contains("go-version-variable: main.version"),
        "the Go template sets the version with -ldflags -X"
    );
    let tf = fs_err::read_to_string(dir.join("terraform-provider-release.yml"))
        .expect("terraform template");
    assert!(
        tf.contains("provider: true") && tf.contains("gpg-private-key"),
        "the provider template bundles and gpg-signs"
    );
}

#[test]
fn release_workflow_leaves_every_decision_to_relkit() {
    // issue 9: the YAML only passes inputs and moves files. How a target is
    // built, what is checksummed, signed, uploaded and listed is decided by
    // relkit (`command: build`, `command: finalize`, `release-upload
    // --manifest`), never by shell in the workflow.
    let release =
        fs_err::read_to_string(root().join(".github/workflows/release.yml")).expect("release.yml");
    for needed in [
        "command: plan",
        "command: build",
        "build-tool: ${{ matrix.build-tool }}",
        "command: package",
        "command: finalize",
        "keep-published: true",
        "subject-checksums: ${{ steps.finalize.outputs.attest-subjects }}",
        "manifest: ${{ steps.finalize.outputs.manifest }}",
    ] {
        assert!(release.contains(needed), "release.yml lacks `{needed}`");
    }
    for banned in [
        "curl ",
        "jq ",
        "find ",
        "sha256sum",
        "cargo build",
        "cargo zigbuild",
        "go build",
        "mode: create-draft",
    ] {
        assert!(
            !release.contains(banned),
            "release.yml decides something itself: `{banned}`"
        );
    }
    assert!(
        Path::new(&root().join("relkit.pub")).is_file(),
        "the action's public key is committed"
    );
}
