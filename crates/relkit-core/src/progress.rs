//! Progress bars for long work (hashing, compressing, uploading), shown only
//! on an interactive terminal outside CI.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A byte-counting progress bar, hidden unless stderr is a terminal and we
/// are not in CI.
pub fn bytes(total: u64, label: &str) -> ProgressBar {
    let interactive = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("CI").is_none()
        && !crate::gha::is_actions();
    let target = if interactive {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(total), target);
    bar.set_style(
        ProgressStyle::with_template("{msg:>12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}")
            .expect("static template is valid")
            .progress_chars("=> "),
    );
    bar.set_message(label.to_owned());
    bar
}
