//! `scripts/action.sh`, the body of action.yml: hostile inputs reach the
//! helper as literal argv elements, bad inputs stop with one `::error::`
//! line before anything runs, secrets are masked and handed only to the
//! helper that needs them, outputs land in `$GITHUB_OUTPUT`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::{bin_dir, root, text};

const PWNED: [&str; 5] = [
    "/tmp/pwned",
    "/tmp/pwned2",
    "/tmp/pwned3",
    "/tmp/pwned4",
    "/tmp/pwned5",
];

struct Stub {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    bin: PathBuf,
    argv: PathBuf,
    env: PathBuf,
    output: PathBuf,
}

/// Stub helpers that record their argv (NUL-separated) and environment.
fn stub() -> Stub {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    let bin = dir.join("bin");
    let argv = dir.join("argv");
    let env = dir.join("env");
    let script = format!(
        "#!/bin/sh\nprintf '%s\\0' \"$(basename \"$0\")\" \"$@\" > '{}'\nenv > '{}'\n[ \"$(basename \"$0\")\" = relkit-package ] && echo 'archive=dist/x-1.0.0-t.tar.gz' >> \"$GITHUB_OUTPUT\"\nexit 0\n",
        argv.display(),
        env.display()
    );
    for name in [
        "relkit",
        "relkit-package",
        "relkit-release-upload",
        "relkit-sign",
        "relkit-checksum",
        "relkit-manifest",
    ] {
        relkit_testkit::write(&bin.join(name), script.as_bytes(), 0o755);
    }
    let output = dir.join("github-output");
    fs_err::write(&output, "").expect("output file");
    Stub {
        _tmp: tmp,
        dir,
        bin,
        argv,
        env,
        output,
    }
}

fn action(stub: &Stub, path_first: &Path, inputs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new("bash");
    cmd.arg(root().join("scripts/action.sh"))
        .current_dir(&stub.dir)
        .env_clear()
        .env(
            "PATH",
            format!(
                "{}:{}",
                path_first.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("HOME", &stub.dir)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", &stub.output)
        .env("RELKIT_ACTION_PATH", root())
        .env("INPUT_INSTALL", "none");
    for (k, v) in inputs {
        cmd.env(format!("INPUT_{k}"), v);
    }
    cmd.output().expect("run action.sh")
}

fn recorded_argv(stub: &Stub) -> Vec<String> {
    let raw = fs_err::read(&stub.argv).expect("the helper ran");
    raw.split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

fn clear_pwned() {
    for p in PWNED {
        let _ = fs_err::remove_file(p);
    }
}

fn assert_not_pwned() {
    for p in PWNED {
        assert!(
            !Path::new(p).exists(),
            "{p} was created: an input was executed"
        );
    }
}

#[test]
fn hostile_inputs_reach_the_helper_literally() {
    clear_pwned();
    let s = stub();
    let name = r#""; touch /tmp/pwned; echo ""#;
    let out = action(
        &s,
        &s.bin,
        &[
            ("COMMAND", "package"),
            ("NAME", name),
            ("VERSION", "1.0.0"),
            ("TARGET", "x86_64-unknown-linux-gnu"),
            (
                "FILES",
                "$(touch /tmp/pwned2)\n  bin; touch /tmp/pwned3  \n",
            ),
            ("INCLUDE", "`touch /tmp/pwned4`"),
            ("ARGS", "--strip\n$(touch /tmp/pwned5)"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        recorded_argv(&s),
        [
            "relkit-package",
            "--name",
            name,
            "--version",
            "1.0.0",
            "--target",
            "x86_64-unknown-linux-gnu",
            "--include",
            "`touch /tmp/pwned4`",
            "--strip",
            "$(touch /tmp/pwned5)",
            "--",
            "$(touch /tmp/pwned2)",
            "bin; touch /tmp/pwned3",
        ]
    );
    assert_not_pwned();
}

#[test]
fn the_real_helper_sees_the_literal_string() {
    clear_pwned();
    let s = stub();
    fs_err::write(s.dir.join("tool"), b"bin").expect("binary");
    let name = r#""; touch /tmp/pwned; echo ""#;
    let out = action(
        &s,
        bin_dir(),
        &[
            ("COMMAND", "package"),
            ("NAME", name),
            ("VERSION", "1.0.0"),
            ("TARGET", "x86_64-unknown-linux-gnu"),
            ("FILES", "tool"),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("::error::--name: `{name}`")),
        "{}",
        text(&out)
    );
    let out = action(
        &s,
        bin_dir(),
        &[("COMMAND", "plan"), ("TARGETS", "$(touch /tmp/pwned2)")],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("`$(touch`"),
        "{}",
        text(&out)
    );
    assert_not_pwned();
}

#[test]
fn bad_inputs_stop_with_one_error_line_before_anything_runs() {
    let s = stub();
    let pkg = [
        ("COMMAND", "package"),
        ("NAME", "t"),
        ("VERSION", "1.0.0"),
        ("TARGET", "x86_64-unknown-linux-gnu"),
        ("FILES", "t"),
    ];
    let with = |over: &[(&'static str, &'static str)]| -> Vec<(&'static str, &'static str)> {
        let mut v: Vec<_> = pkg
            .iter()
            .filter(|(k, _)| !over.iter().any(|(o, _)| o == k))
            .copied()
            .collect();
        v.extend_from_slice(over);
        v
    };
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![],
            "input `command` is ``; expected one of: package checksum manifest",
        ),
        (
            with(&[("COMMAND", "rm -rf /")]),
            "input `command` is `rm -rf /`; expected one of",
        ),
        (
            with(&[("INSTALL", "maybe")]),
            "input `install` is `maybe`; expected one of: auto prebuilt source none",
        ),
        (
            with(&[("STRIP", "yes")]),
            "input `strip` is `yes`; expected true or false",
        ),
        (
            with(&[("VERSION", "latest")]),
            "input `version` is `latest`, which is not a semver version",
        ),
        (with(&[("NAME", "a\nb")]), "input `name` must be one line"),
        (
            with(&[("FORMAT", "rar")]),
            "input `format` is `rar`; expected one of: tar.gz tar.xz tar.zst zip",
        ),
        (
            with(&[("FILES", "")]),
            "input `files` (the binaries to package) is required for command `package`",
        ),
        (
            with(&[("FILES", "nothing-*.bin")]),
            "`nothing-*.bin` in input `files` matches no file",
        ),
        (
            with(&[("WORKING_DIRECTORY", "no/such/dir")]),
            "input `working-directory` is `no/such/dir`, which is not a folder",
        ),
        (
            with(&[("RELKIT_VERSION", "1.x")]),
            "input `relkit-version` is `1.x`",
        ),
        (
            vec![
                ("COMMAND", "release-upload"),
                ("FILES", "t"),
                ("RELEASE_ID", "12a"),
            ],
            "input `release-id` is `12a`, which is not a release id",
        ),
        (
            vec![
                ("COMMAND", "release-upload"),
                ("FILES", "t"),
                ("REPO", "not a repo"),
            ],
            "input `repo` is `not a repo`, which is not OWNER/NAME",
        ),
        (
            vec![("COMMAND", "release-upload"), ("FILES", "t")],
            "input `github-token` is empty",
        ),
        (
            vec![("COMMAND", "release-upload"), ("GITHUB_TOKEN", "x")],
            "input `files` or `manifest` is required",
        ),
        (
            vec![("COMMAND", "sign"), ("FILES", "t")],
            "input `minisign-key` is required for command `sign minisign`",
        ),
        (
            vec![("COMMAND", "manifest"), ("MODE", "explode"), ("FILES", "t")],
            "input `mode` is `explode`; expected one of: merge create verify",
        ),
        (
            vec![("COMMAND", "plan"), ("RUNNERS", "linux")],
            "`linux` in input `runners` is not TARGET=LABEL",
        ),
        (
            vec![
                ("COMMAND", "provider-bundle"),
                ("PROVIDER_NAME", "x"),
                ("VERSION", "1.0.0"),
                ("FILES", "path-only"),
            ],
            "`path-only` in input `files` is not TARGET=PATH",
        ),
    ];
    for (inputs, want) in cases {
        let _ = fs_err::remove_file(&s.argv);
        let out = action(&s, &s.bin, &inputs);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let errors: Vec<&str> = stdout
            .lines()
            .filter(|l| l.starts_with("::error"))
            .collect();
        assert_eq!(out.status.code(), Some(1), "{inputs:?}: {}", text(&out));
        assert_eq!(errors.len(), 1, "{inputs:?}: {}", text(&out));
        assert!(
            errors[0].contains(want),
            "{inputs:?}: expected `{want}` in {}",
            errors[0]
        );
        assert!(
            !s.argv.exists(),
            "{inputs:?}: the helper ran despite a bad input"
        );
    }
}

#[test]
fn secrets_are_masked_unset_and_given_only_to_their_helper() {
    let s = stub();
    fs_err::write(s.dir.join("a.tar.gz"), b"x").expect("file");
    let out = action(
        &s,
        &s.bin,
        &[
            ("COMMAND", "release-upload"),
            ("FILES", "*.tar.gz"),
            ("GITHUB_TOKEN", "s3cr3t-token"),
            ("RELEASE_ID", "7"),
            ("TAG", "v1.0.0"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout
            .lines()
            .next()
            .is_some_and(|l| l == "::add-mask::s3cr3t-token"),
        "mask first: {stdout}"
    );
    let env = fs_err::read_to_string(&s.env).expect("env");
    assert!(
        env.lines().any(|l| l == "GITHUB_TOKEN=s3cr3t-token"),
        "{env}"
    );
    assert!(
        !env.contains("INPUT_GITHUB_TOKEN"),
        "the input variable must be unset: {env}"
    );
    assert_eq!(
        recorded_argv(&s),
        [
            "relkit-release-upload",
            "--token-env",
            "GITHUB_TOKEN",
            "--tag",
            "v1.0.0",
            "--release-id",
            "7",
            "--",
            "a.tar.gz"
        ]
    );
    // Another command never sees the token, nor a minisign key it does not use.
    let out = action(
        &s,
        &s.bin,
        &[
            ("COMMAND", "checksum"),
            ("FILES", "a.tar.gz"),
            ("GITHUB_TOKEN", "s3cr3t-token"),
            ("MINISIGN_KEY", "untrusted comment: k\nRWQsecretkeyline"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("::add-mask::RWQsecretkeyline"), "{stdout}");
    let env = fs_err::read_to_string(&s.env).expect("env");
    assert!(
        !env.contains("s3cr3t-token") && !env.contains("RWQsecretkeyline"),
        "{env}"
    );
    // sign gets the key through a variable it names, not argv.
    let out = action(
        &s,
        &s.bin,
        &[
            ("COMMAND", "sign"),
            ("FILES", "a.tar.gz"),
            ("MINISIGN_KEY", "KEYTEXT"),
            ("MINISIGN_PASSWORD", "PW"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let argv = recorded_argv(&s);
    assert!(
        !argv
            .iter()
            .any(|a| a.contains("KEYTEXT") || a.contains("PW")),
        "{argv:?}"
    );
    let env = fs_err::read_to_string(&s.env).expect("env");
    assert!(
        env.contains("RELKIT_ACTION_MINISIGN_KEY=KEYTEXT")
            && env.contains("RELKIT_ACTION_MINISIGN_PASSWORD=PW"),
        "{env}"
    );
}

#[test]
fn outputs_are_written_and_globs_expand_in_the_working_directory() {
    let s = stub();
    fs_err::create_dir_all(s.dir.join("w/target")).expect("mkdir");
    fs_err::write(s.dir.join("w/target/b"), b"b").expect("file");
    fs_err::write(s.dir.join("w/target/a"), b"a").expect("file");
    let out = action(
        &s,
        &s.bin,
        &[
            ("COMMAND", "package"),
            ("NAME", "x"),
            ("VERSION", "1.0.0"),
            ("TARGET", "t"),
            ("FILES", "target/*"),
            ("WORKING_DIRECTORY", "w"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let argv = recorded_argv(&s);
    assert_eq!(&argv[argv.len() - 3..], ["--", "target/a", "target/b"]);
    let outputs = fs_err::read_to_string(&s.output).expect("outputs");
    assert!(
        outputs.contains(&format!("relkit-bin={}\n", s.bin.display())),
        "{outputs}"
    );
    assert!(
        outputs.contains("archives=[\"dist/x-1.0.0-t.tar.gz\"]\n"),
        "{outputs}"
    );
}

/// The same through action.yml itself, run by act: the `with:` values reach
/// the helper through the step's `env:` mapping, still literal.
#[test]
fn act_passes_hostile_inputs_through_action_yml_literally() {
    relkit_testkit::require("act");
    clear_pwned();
    let s = stub();
    let repo = s.dir.join("repo");
    fs_err::create_dir_all(&repo).expect("mkdir");
    crate::e2e::action_copy(&repo);
    let workflow = r#"name: inject
on: push
permissions: {}
jobs:
  inject:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - id: run
        uses: ./
        with:
          command: package
          install: none
          name: '"; touch /tmp/pwned; echo "'
          version: 1.0.0
          target: x86_64-unknown-linux-gnu
          files: |
            $(touch /tmp/pwned2)
            bin; touch /tmp/pwned3
          include: "`touch /tmp/pwned4`"
          args: --flag=$(touch /tmp/pwned5)
      - shell: bash
        env:
          ARCHIVES: ${{ steps.run.outputs.archives }}
          BIN: ${{ steps.run.outputs.relkit-bin }}
        run: printf '%s\n' "$ARCHIVES" "$BIN" > "$RELKIT_TEST_OUT"
"#;
    relkit_testkit::write(
        &repo.join(".github/workflows/inject.yml"),
        workflow.as_bytes(),
        0o644,
    );
    crate::e2e::git(&repo, &["init", "-q"]);
    crate::e2e::git(&repo, &["add", "-A"]);
    crate::e2e::git(&repo, &["commit", "-q", "-m", "inject"]);
    let outputs = s.dir.join("outputs.txt");
    let out = Command::new("act")
        .current_dir(&repo)
        .env("ACT_DISABLE_VERSION_CHECK", "1")
        .env(
            "PATH",
            format!(
                "{}:{}",
                s.bin.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_OUTPUT")
        .args([
            "push",
            "-W",
            ".github/workflows/inject.yml",
            "-P",
            "ubuntu-latest=-self-hosted",
            "--no-cache-server",
        ])
        .arg("--action-cache-path")
        .arg(s.dir.join("act-cache"))
        .arg("--env")
        .arg(format!("RELKIT_TEST_OUT={}", outputs.display()))
        .output()
        .expect("run act");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        recorded_argv(&s),
        [
            "relkit-package",
            "--name",
            r#""; touch /tmp/pwned; echo ""#,
            "--version",
            "1.0.0",
            "--target",
            "x86_64-unknown-linux-gnu",
            "--include",
            "`touch /tmp/pwned4`",
            "--flag=$(touch /tmp/pwned5)",
            "--",
            "$(touch /tmp/pwned2)",
            "bin; touch /tmp/pwned3",
        ]
    );
    assert_not_pwned();
    let outputs = fs_err::read_to_string(&outputs).expect("the outputs step ran");
    assert_eq!(
        outputs,
        format!("[\"dist/x-1.0.0-t.tar.gz\"]\n{}\n", s.bin.display())
    );
}

#[test]
fn image_push_passes_registry_credentials_by_environment_only() {
    // issue 14: `command: image-push` runs `relkit image push --release
    // OUTPUT_DIR`; the registry password is masked, unset as an input and
    // reaches only that helper, in RELKIT_REGISTRY_PASSWORD.
    let s = stub();
    let out = action(
        &s,
        &s.bin,
        &[
            ("COMMAND", "image-push"),
            ("OUTPUT_DIR", "dist"),
            ("REGISTRY_USERNAME", "bot"),
            ("REGISTRY_PASSWORD", "r3g-pa55word"),
            ("GITHUB_TOKEN", "s3cr3t-token"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("::add-mask::r3g-pa55word"), "{stdout}");
    assert_eq!(
        recorded_argv(&s),
        ["relkit", "image", "push", "--release", "dist"]
    );
    let env = fs_err::read_to_string(&s.env).expect("env");
    assert!(
        env.lines()
            .any(|l| l == "RELKIT_REGISTRY_PASSWORD=r3g-pa55word"),
        "{env}"
    );
    assert!(
        env.lines().any(|l| l == "RELKIT_REGISTRY_USERNAME=bot"),
        "{env}"
    );
    assert!(!env.contains("INPUT_REGISTRY_PASSWORD"), "{env}");
    // Another command never sees the registry password.
    let out = action(
        &s,
        &s.bin,
        &[
            ("COMMAND", "checksum"),
            ("FILES", "*"),
            ("REGISTRY_PASSWORD", "r3g-pa55word"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let env = fs_err::read_to_string(&s.env).expect("env");
    assert!(!env.contains("r3g-pa55word"), "{env}");
}
