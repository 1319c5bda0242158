//! SPDX 2.3 JSON, reproducible the same way as the CycloneDX writer: the
//! document namespace ends in a name-based UUID of the document's bytes.
//! The subject is the described package; every component is a package the
//! subject DEPENDS_ON (or, for build-only ones, a BUILD_DEPENDENCY_OF it).
//! Ignored advisories are REVIEW annotations on the package they matched.

// Field names are the format's.
#![allow(clippy::struct_field_names)]

use std::collections::BTreeSet;

use serde::Serialize;

use crate::{Checksum, Component, Sbom, Scope, content_uuid, license};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Document<'a> {
    spdx_version: &'static str,
    data_license: &'static str,
    #[serde(rename = "SPDXID")]
    spdx_id: &'static str,
    name: String,
    document_namespace: String,
    creation_info: CreationInfo<'a>,
    comment: String,
    packages: Vec<Package<'a>>,
    relationships: Vec<Relationship>,
}

#[derive(Serialize)]
struct CreationInfo<'a> {
    created: &'a str,
    creators: [String; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Package<'a> {
    #[serde(rename = "SPDXID")]
    spdx_id: String,
    name: &'a str,
    version_info: &'a str,
    download_location: String,
    files_analyzed: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    checksums: Vec<SpdxChecksum<'a>>,
    license_concluded: &'static str,
    license_declared: String,
    copyright_text: &'static str,
    external_refs: [ExternalRef; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
    primary_package_purpose: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    annotations: Vec<Annotation>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SpdxChecksum<'a> {
    algorithm: &'static str,
    checksum_value: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExternalRef {
    reference_category: &'static str,
    reference_type: &'static str,
    reference_locator: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Annotation {
    annotation_date: String,
    annotation_type: &'static str,
    annotator: String,
    comment: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Relationship {
    spdx_element_id: String,
    relationship_type: &'static str,
    related_spdx_element: String,
}

/// SPDX ids allow letters, digits, `.` and `-`.
fn id_part(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

fn tool() -> String {
    format!(
        "Tool: {}-{}",
        relkit_core::TOOL_NAME,
        relkit_core::TOOL_VERSION
    )
}

fn package<'a>(
    c: &'a Component,
    spdx_id: String,
    purpose: &'static str,
    sbom: &Sbom,
) -> Package<'a> {
    let checksums = match &c.checksum {
        Some(Checksum::Sha256(h)) => vec![SpdxChecksum {
            algorithm: "SHA256",
            checksum_value: h,
        }],
        _ => Vec::new(),
    };
    let comment = match &c.checksum {
        Some(Checksum::GoSum(s)) => Some(format!("go.sum hash {s}")),
        _ => None,
    };
    let download_location = match c.source.as_deref() {
        Some(crate::auditable::CRATES_IO) => format!(
            "https://crates.io/api/v1/crates/{}/{}/download",
            c.name, c.version
        ),
        _ => "NOASSERTION".to_owned(),
    };
    // A LicenseRef would need its text in the document; say NOASSERTION.
    let license_declared = c
        .license
        .as_deref()
        .and_then(license::normalize)
        .filter(|e| !e.contains("LicenseRef-"))
        .unwrap_or_else(|| "NOASSERTION".to_owned());
    let purl = c.purl();
    let annotations = sbom
        .ignored
        .iter()
        .filter(|i| i.purl == purl)
        .map(|i| Annotation {
            annotation_date: sbom.timestamp.clone(),
            annotation_type: "REVIEW",
            annotator: tool(),
            comment: format!("{} advisory {} ignored: {}", i.database, i.id, i.reason),
        })
        .collect();
    Package {
        spdx_id,
        name: &c.name,
        version_info: &c.version,
        download_location,
        files_analyzed: false,
        checksums,
        license_concluded: "NOASSERTION",
        license_declared,
        copyright_text: "NOASSERTION",
        external_refs: [ExternalRef {
            reference_category: "PACKAGE-MANAGER",
            reference_type: "purl",
            reference_locator: purl,
        }],
        comment,
        primary_package_purpose: purpose,
        annotations,
    }
}

/// The SPDX 2.3 JSON of `sbom` (pretty, with a final newline).
pub fn to_json(sbom: &Sbom) -> String {
    let root_id = format!("SPDXRef-Package-{}", id_part(&sbom.subject.name));
    let mut used = BTreeSet::from([root_id.clone()]);
    let mut packages = vec![package(&sbom.subject, root_id.clone(), "APPLICATION", sbom)];
    let mut relationships = vec![Relationship {
        spdx_element_id: "SPDXRef-DOCUMENT".to_owned(),
        relationship_type: "DESCRIBES",
        related_spdx_element: root_id.clone(),
    }];
    for c in &sbom.components {
        let base = format!(
            "SPDXRef-Package-{}-{}",
            id_part(&c.name),
            id_part(&c.version)
        );
        let mut id = base.clone();
        let mut n = 1;
        while !used.insert(id.clone()) {
            n += 1;
            id = format!("{base}-{n}");
        }
        relationships.push(match c.scope {
            Scope::Required => Relationship {
                spdx_element_id: root_id.clone(),
                relationship_type: "DEPENDS_ON",
                related_spdx_element: id.clone(),
            },
            Scope::Excluded => Relationship {
                spdx_element_id: id.clone(),
                relationship_type: "BUILD_DEPENDENCY_OF",
                related_spdx_element: root_id.clone(),
            },
        });
        packages.push(package(c, id, "LIBRARY", sbom));
    }
    let mut comment = format!("Made by relkit from {}", sbom.origin);
    if let Some(t) = &sbom.target {
        comment.push_str(" for target ");
        comment.push_str(t);
    }
    comment.push('.');
    let name = format!("{}-{}", sbom.subject.name, sbom.subject.version);
    let mut doc = Document {
        spdx_version: "SPDX-2.3",
        data_license: "CC0-1.0",
        spdx_id: "SPDXRef-DOCUMENT",
        name: name.clone(),
        document_namespace: String::new(),
        creation_info: CreationInfo {
            created: &sbom.timestamp,
            creators: [tool()],
        },
        comment,
        packages,
        relationships,
    };
    let unsealed = render(&doc);
    doc.document_namespace = format!(
        "https://spdx.org/spdxdocs/{}-{}",
        id_part(&name),
        content_uuid(unsealed.as_bytes())
    );
    render(&doc)
}

fn render(doc: &Document<'_>) -> String {
    let mut s = serde_json::to_string_pretty(doc).expect("plain data serializes");
    s.push('\n');
    s
}
