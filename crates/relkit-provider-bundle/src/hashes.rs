//! Terraform's package hashes: `zh:` (sha256 of a zip) and `h1:` (a hash of
//! the files a package installs), and the `.terraform.lock.hcl` block that
//! lists them.

use std::fmt::Write as _;

use base64::Engine as _;
use sha2::{Digest as _, Sha256};

/// The `h1:` hash of a package whose files are `(path, sha256 hex)` pairs:
/// base64 (standard, padded) of the sha256 over the lines
/// `"<sha256 hex>  <path>\n"`, sorted by path bytes. This is Go's
/// `dirhash.Hash1`, which Terraform computes for both a zip and the folder
/// it unpacks into.
pub fn h1<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut files: Vec<(&str, &str)> = files.into_iter().collect();
    files.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut summary = Sha256::new();
    for (path, sha256) in files {
        summary.update(format!("{sha256}  {path}\n").as_bytes());
    }
    format!(
        "h1:{}",
        base64::engine::general_purpose::STANDARD.encode(summary.finalize())
    )
}

/// The `zh:` hash of a zip: its lower-case hex sha256.
pub fn zh(zip_sha256: &str) -> String {
    format!("zh:{zip_sha256}")
}

/// A `.terraform.lock.hcl` provider block as `terraform init` writes it
/// (hashes sorted, two-space indentation), preceded by the file's header.
pub fn lock_file(address: &str, version: &str, hashes: &[String]) -> String {
    let mut hashes: Vec<&String> = hashes.iter().collect();
    hashes.sort();
    hashes.dedup();
    let mut s = String::from(
        "# This file is maintained automatically by \"terraform init\".\n\
         # Manual edits may be lost in future updates.\n\n",
    );
    let _ = writeln!(s, "provider \"{address}\" {{");
    let _ = writeln!(s, "  version = \"{version}\"");
    s.push_str("  hashes = [\n");
    for h in hashes {
        let _ = writeln!(s, "    \"{h}\",");
    }
    s.push_str("  ]\n}\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(data: &[u8]) -> String {
        hex::encode(Sha256::digest(data))
    }

    #[test]
    fn design_vector_two_files() {
        let (a, x) = (sha(b"data for abc"), sha(b"data for xyz"));
        // Order of the input must not matter.
        assert_eq!(
            h1([("xyz", x.as_str()), ("abc", a.as_str())]),
            "h1:EP6WfDoQTSk9klnxcjriWJOGztueJUywHNmWeq+efB8="
        );
    }

    #[test]
    fn design_vector_terraform_null_placeholder() {
        let s = sha(b"# This is just a placeholder file for discovery testing, not a real provider plugin.\n");
        assert_eq!(
            h1([("terraform-provider-null", s.as_str())]),
            "h1:qjsREM4DqEWECD43FcPqddZ9oxCG+IaMTxvWPciS05g="
        );
    }

    #[test]
    fn sorts_by_bytes_not_by_locale() {
        // `B` (0x42) sorts before `a` (0x61) by bytes; a case-insensitive
        // sort would put `a` first and give a different hash.
        let (one, two) = (sha(b"1"), sha(b"2"));
        let got = h1([("a", one.as_str()), ("B", two.as_str())]);
        let mut manual = Sha256::new();
        manual.update(format!("{two}  B\n{one}  a\n").as_bytes());
        let want = base64::engine::general_purpose::STANDARD.encode(manual.finalize());
        assert_eq!(got, format!("h1:{want}"));
        // Sanity: an empty package has the hash of nothing.
        assert_eq!(h1([]), "h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
    }

    #[test]
    fn zh_is_the_zip_sha256() {
        assert_eq!(zh("ab"), "zh:ab");
    }

    #[test]
    fn lock_block_sorted_and_deduplicated() {
        let block = lock_file(
            "registry.terraform.io/acme/demo",
            "1.2.3",
            &[
                "zh:bb".into(),
                "h1:zz".into(),
                "zh:aa".into(),
                "h1:zz".into(),
            ],
        );
        assert_eq!(
            block,
            "# This file is maintained automatically by \"terraform init\".\n\
             # Manual edits may be lost in future updates.\n\n\
             provider \"registry.terraform.io/acme/demo\" {\n  version = \"1.2.3\"\n  hashes = [\n    \"h1:zz\",\n    \"zh:aa\",\n    \"zh:bb\",\n  ]\n}\n"
        );
    }
}
