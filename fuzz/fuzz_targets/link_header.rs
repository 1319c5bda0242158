//! `Link:` headers of listing pages (issue 10.9): `next_page` follows
//! `rel="next"` only within the API URL.
#![no_main]

use std::sync::OnceLock;

use http::{HeaderMap, HeaderValue, Uri, header::LINK};
use libfuzzer_sys::fuzz_target;
use relkit_release_upload::next_page;
use url::Url;

fn apis() -> &'static [Url; 2] {
    static APIS: OnceLock<[Url; 2]> = OnceLock::new();
    APIS.get_or_init(|| {
        [
            Url::parse("https://api.github.com/").unwrap(),
            Url::parse("https://ghe.example.com/api/v3/").unwrap(),
        ]
    })
}

fuzz_target!(|data: &[u8]| {
    // One header value per input line; a response may send several.
    let mut headers = HeaderMap::new();
    for line in data.split(|b| *b == b'\n') {
        if let Ok(v) = HeaderValue::from_bytes(line) {
            headers.append(LINK, v);
        }
    }
    for api in apis() {
        for len in [0, 100] {
            let Ok(Some(next)) = next_page(api, &headers, "/repos/o/r/releases", 1, len) else {
                continue;
            };
            assert!(next.starts_with('/'), "a next page is a path: {next:?}");
            // octocrab sends a path without scheme or authority to the API
            // host (with the token); a next page must never name another host.
            if let Ok(uri) = next.parse::<Uri>() {
                assert!(
                    uri.authority().is_none() && uri.scheme().is_none(),
                    "the next page stays on the API host: {next:?}"
                );
            }
        }
    }
});
