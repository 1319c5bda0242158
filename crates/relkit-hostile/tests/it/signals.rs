//! issue 10.7: SIGINT, SIGTERM or SIGHUP during a writing helper left
//! `.NAME….tmp` files behind. Each writing helper is interrupted mid-run on
//! a large input; it must exit 128 + the signal and leave its output
//! folder exactly as it was.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use relkit_testkit as kit;

use crate::{bin, listing};

/// The large input and its hard links: enough data (6 GB, no disk) that
/// even hashing on both cores takes over a second.
const LINKS: usize = 20;

/// One interruption: a helper, its arguments, the signal.
struct Interrupt {
    bin: &'static str,
    args: Vec<String>,
    signal: (&'static str, i32),
}

/// About 300 MB of random data (so a run takes seconds), plus hard links
/// to it for the helpers that hash several files.
fn big_inputs(dir: &Path) {
    let big = dir.join("big");
    let ok = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "head -c 300000000 /dev/urandom > '{}'",
            big.display()
        ))
        .status()
        .unwrap()
        .success();
    assert!(ok, "making the large input");
    kit::set_mode(&big, 0o755);
    for i in 1..LINKS {
        fs_err::hard_link(&big, dir.join(format!("big{i}"))).unwrap();
    }
}

fn cases() -> Vec<Interrupt> {
    let s = |v: &[&str]| v.iter().map(|&a| a.to_owned()).collect::<Vec<_>>();
    let package = s(&[
        "--name",
        "tool",
        "--version",
        "1.0.0",
        "--target",
        "x86_64-unknown-linux-gnu",
        "-o",
        "out",
        "big",
    ]);
    let many: Vec<String> = std::iter::once("big".to_owned())
        .chain((1..LINKS).map(|i| format!("big{i}")))
        .collect();
    let mut out: Vec<Interrupt> = [("SIGINT", 2), ("SIGTERM", 15), ("SIGHUP", 1)]
        .into_iter()
        .map(|signal| Interrupt {
            bin: "relkit-package",
            args: package.clone(),
            signal,
        })
        .collect();
    out.push(Interrupt {
        bin: "relkit-checksum",
        args: [s(&["--sidecar", "-o", "out/SHA256SUMS"]), many.clone()].concat(),
        signal: ("SIGTERM", 15),
    });
    out.push(Interrupt {
        bin: "relkit-manifest",
        args: [
            s(&[
                "create",
                "--name",
                "tool",
                "--version",
                "1.0.0",
                "-o",
                "manifest.json",
            ]),
            many.clone(),
        ]
        .concat(),
        signal: ("SIGINT", 2),
    });
    out.push(Interrupt {
        bin: "relkit-sign",
        args: [s(&["minisign", "--secret-key", "k.key"]), many.clone()].concat(),
        signal: ("SIGHUP", 1),
    });
    out.push(Interrupt {
        bin: "relkit-provider-bundle",
        args: s(&[
            "--name",
            "x",
            "--version",
            "1.0.0",
            "--namespace",
            "ns",
            "--output-dir",
            "out",
            "--binary",
            "linux_amd64=big",
        ]),
        signal: ("SIGTERM", 15),
    });
    out
}

/// Wait until a temp file shows up under `dir` (the helper is writing) or
/// `max` passes (it is still reading).
fn wait_for_temp(child: &mut Child, dir: &Path, max: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < max {
        if listing(dir).iter().any(|f| f.contains(".tmp")) {
            return true;
        }
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

#[test]
fn interrupted_helpers_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    big_inputs(d);
    fs_err::create_dir(d.join("out")).unwrap();
    kit::write(&d.join("out/keep.txt"), b"was here before\n", 0o644);
    kit::run_ok(
        kit::command(bin("relkit-sign").to_str().unwrap())
            .current_dir(d)
            .args([
                "keygen",
                "--no-password",
                "--secret-key",
                "k.key",
                "--public-key",
                "k.pub",
            ]),
    );
    let mut failed = Vec::new();
    for case in cases() {
        let before = listing(d);
        let mut child = kit::command(bin(case.bin).to_str().unwrap())
            .current_dir(d)
            .args(&case.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let what = format!("{} {}", case.bin, case.signal.0);
        if !wait_for_temp(&mut child, d, Duration::from_millis(300)) {
            let out = child.wait_with_output().unwrap();
            failed.push(format!(
                "{what}: finished before the signal: {}",
                String::from_utf8_lossy(&out.stderr).trim_end()
            ));
            continue;
        }
        let sent = Command::new("kill")
            .args(["-s", &case.signal.0[3..], &child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let out = child.wait_with_output().unwrap();
        let expect = 128 + case.signal.1;
        // Exit 128+N from relkit's handler, or (before any temp file
        // existed, so no handler was armed) death by the signal itself,
        // which a shell reports as the same 128+N.
        let killed = std::os::unix::process::ExitStatusExt::signal(&out.status);
        if out.status.code() != Some(expect) && killed != Some(case.signal.1) {
            failed.push(format!(
                "{what}: exit {:?}, not {expect}",
                out.status.code()
            ));
        }
        let after = listing(d);
        if after != before {
            failed.push(format!("{what}: folder changed: {before:?} -> {after:?}"));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}
