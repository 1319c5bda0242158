//! `relkit.toml`: `Config::parse`, then the targets it names (what `relkit
//! dist` and `relkit plan` read next).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use relkit_config::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Config::parse(Path::new("relkit.toml"), text) {
        Ok(config) => {
            for t in &config.targets {
                let _ = relkit_core::target::Target::parse(t);
            }
        }
        Err(e) => {
            // Errors are one line: toml's snippet is reduced to line, column
            // and message.
            let msg = e.to_string();
            assert!(!msg.contains('\n'), "a config error is one line: {msg:?}");
        }
    }
});
