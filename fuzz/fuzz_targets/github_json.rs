//! The GitHub JSON relkit-release-upload reads: releases, assets (one, or a
//! page of them) and error bodies.
#![no_main]

use libfuzzer_sys::fuzz_target;
use relkit_release_upload::github::{Asset, Release, Resp};

fn touch(a: &Asset) {
    let _ = a.is_uploaded();
    if let Some(hex) = a.sha256() {
        let _ = relkit_core::manifest::is_hex(hex, 64);
    }
}

fuzz_target!(|data: &[u8]| {
    // The client reads bodies as text, then parses them.
    let Ok(body) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(releases) = serde_json::from_str::<Vec<Release>>(body) {
        releases.iter().flat_map(|r| &r.assets).for_each(touch);
    }
    if let Ok(release) = serde_json::from_str::<Release>(body) {
        release.assets.iter().for_each(touch);
    }
    if let Ok(assets) = serde_json::from_str::<Vec<Asset>>(body) {
        assets.iter().for_each(touch);
    }
    if let Ok(asset) = serde_json::from_str::<Asset>(body) {
        touch(&asset);
    }
    // Any body, as an error: GitHub's `message` and validation codes.
    let r = Resp {
        status: 422,
        headers: http::HeaderMap::new(),
        body: body.to_owned(),
    };
    let _ = r.message();
    let _ = r.already_exists();
});
