//! GNU tar, bsdtar, python's tarfile and zipfile, and unzip all extract our
//! archives to exactly the inputs, with the right modes and one top folder.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use relkit_testkit as kit;

use crate::{FORMATS, Project, expected_entries, run_in};

const TOP: &str = "mytool-1.2.3-x86_64-unknown-linux-gnu";

fn check_extracted(project: &Project, root: &Path, tool: &str) {
    let tops: Vec<_> = fs_err::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(tops, [TOP], "{tool}: exactly one top-level folder");
    let top = root.join(TOP);
    let mut found = kit::files_in(&top);
    found.sort();
    let mut want: Vec<_> = expected_entries().iter().map(|e| e.0.to_owned()).collect();
    want.sort();
    assert_eq!(found, want, "{tool}: file list");
    for (inside, source, mode) in expected_entries() {
        let got = fs_err::read(top.join(inside)).unwrap();
        assert!(
            got == fs_err::read(project.path().join(source)).unwrap(),
            "{tool}: {inside} differs"
        );
        let m = fs_err::metadata(top.join(inside))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(m, mode, "{tool}: mode of {inside}");
    }
}

#[test]
fn real_extractors_read_every_format() {
    for tool in ["tar", "bsdtar", "unzip", "python3", "zstd", "xz"] {
        kit::require(tool);
    }
    let project = Project::new();
    for format in FORMATS {
        let out = project.package(format, "dist", &[]);
        assert!(
            out.status.success(),
            "{format}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let archive = project.archive("dist", format);
        let a = archive.to_str().unwrap();

        let bsd = tempfile::tempdir().unwrap();
        // -p: restore modes exactly, not masked by the test's umask.
        run_in(bsd.path(), "bsdtar", &["-xpf", a]);
        check_extracted(&project, bsd.path(), &format!("bsdtar {format}"));

        if format == "zip" {
            let uz = tempfile::tempdir().unwrap();
            run_in(uz.path(), "unzip", &["-q", a]);
            check_extracted(&project, uz.path(), "unzip");
            let py = tempfile::tempdir().unwrap();
            run_in(py.path(), "python3", &["-c", PY_ZIP, a]);
            check_extracted(&project, py.path(), "python zipfile");
        } else {
            let gnu = tempfile::tempdir().unwrap();
            run_in(gnu.path(), "tar", &["-xpf", a]);
            check_extracted(&project, gnu.path(), &format!("GNU tar {format}"));
            if format != "tar.zst" {
                // Python 3.11's tarfile has no zstd.
                let py = tempfile::tempdir().unwrap();
                run_in(py.path(), "python3", &["-c", PY_TAR, a]);
                check_extracted(&project, py.path(), &format!("python tarfile {format}"));
            }
        }
    }
}

/// Extract with zipfile, applying the unix modes stored in external_attr.
const PY_ZIP: &str = r"
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    assert z.testzip() is None
    for info in z.infolist():
        path = z.extract(info)
        mode = (info.external_attr >> 16) & 0o777
        if not info.is_dir():
            os.chmod(path, mode)
";

/// Extract with tarfile and check the headers' owners and times.
const PY_TAR: &str = r"
import sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    for m in t.getmembers():
        assert m.uid == 0 and m.gid == 0, (m.name, m.uid, m.gid)
        assert m.uname == '' and m.gname == '', (m.name, m.uname, m.gname)
        assert m.mtime == 1700000000, (m.name, m.mtime)
        assert m.isdir() or m.isfile(), m.name
    t.extractall(filter='fully_trusted')
";

#[test]
fn sha256sum_accepts_the_sidecar_and_part_matches() {
    kit::require("sha256sum");
    let project = Project::new();
    assert!(project.package("tar.gz", "dist", &[]).status.success());
    let dist = project.path().join("dist");
    let sidecar = "mytool-1.2.3-x86_64-unknown-linux-gnu.tar.gz.sha256";
    let out = run_in(&dist, "sha256sum", &["-c", "--strict", sidecar]);
    assert!(String::from_utf8_lossy(&out.stdout).contains(": OK"));
    assert_eq!(
        kit::files_in(&dist),
        [
            "mytool-1.2.3-x86_64-unknown-linux-gnu.part.json",
            "mytool-1.2.3-x86_64-unknown-linux-gnu.tar.gz",
            sidecar,
        ]
    );
    let part: serde_json::Value = serde_json::from_str(
        &fs_err::read_to_string(dist.join("mytool-1.2.3-x86_64-unknown-linux-gnu.part.json"))
            .unwrap(),
    )
    .unwrap();
    let archive = &part["artifacts"][0];
    assert_eq!(archive["kind"], "archive");
    assert_eq!(archive["target"], "x86_64-unknown-linux-gnu");
    let hex = fs_err::read_to_string(dist.join(sidecar)).unwrap();
    assert_eq!(archive["sha256"], hex.split_whitespace().next().unwrap());
    let contents = archive["contents"].as_array().unwrap();
    assert_eq!(contents.len(), 6);
    assert_eq!(contents[0]["path"], format!("{TOP}/LICENSE"));
    assert_eq!(part["build_timestamp"], "2023-11-14T22:13:20Z");
    assert_eq!(part["version"], "1.2.3");
}

#[test]
fn strip_records_sizes_and_shrinks_a_real_binary() {
    kit::require("strip");
    kit::require("cc");
    let dir = tempfile::tempdir().unwrap();
    fs_err::write(dir.path().join("hello.c"), "int main(void){return 0;}\n").unwrap();
    kit::run_ok(
        std::process::Command::new("cc")
            .current_dir(dir.path())
            .args(["-g", "-o", "hello", "hello.c"]),
    );
    let mut cmd = kit::command(crate::BIN);
    cmd.current_dir(dir.path()).args([
        "--name",
        "hello",
        "--version",
        "0.1.0",
        "--target",
        "linux/amd64",
        "--strip",
        "-o",
        "out",
        "hello",
    ]);
    kit::run_ok(&mut cmd);
    let part: serde_json::Value = serde_json::from_str(
        &fs_err::read_to_string(dir.path().join("out/hello-0.1.0-linux-amd64.part.json")).unwrap(),
    )
    .unwrap();
    let sizes = &part["metrics"]["strip"]["hello-0.1.0-linux-amd64/hello"];
    let (before, after) = (
        sizes["before"].as_u64().unwrap(),
        sizes["after"].as_u64().unwrap(),
    );
    assert!(
        after < before,
        "strip should shrink a -g binary: {before} -> {after}"
    );
    assert_eq!(
        part["artifacts"][0]["contents"][0]["size"]
            .as_u64()
            .unwrap(),
        after
    );
    // The input itself is untouched.
    assert_eq!(
        fs_err::metadata(dir.path().join("hello")).unwrap().len(),
        before
    );
}

#[test]
fn windows_targets_default_to_zip_with_exe() {
    let dir = tempfile::tempdir().unwrap();
    kit::write(&dir.path().join("tool.exe"), b"MZ fake", 0o644);
    let mut cmd = kit::command(crate::BIN);
    cmd.current_dir(dir.path()).args([
        "--name",
        "tool",
        "--version",
        "2.0.0-rc.1",
        "--target",
        "x86_64-pc-windows-msvc",
        "-o",
        "out",
        "tool.exe",
    ]);
    kit::run_ok(&mut cmd);
    assert_eq!(
        kit::files_in(&dir.path().join("out")),
        [
            "tool-2.0.0-rc.1-x86_64-pc-windows-msvc.part.json",
            "tool-2.0.0-rc.1-x86_64-pc-windows-msvc.zip",
            "tool-2.0.0-rc.1-x86_64-pc-windows-msvc.zip.sha256",
        ]
    );
}
