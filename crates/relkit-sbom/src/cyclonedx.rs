//! CycloneDX 1.6 JSON. Reproducible: fields in a fixed order (typed
//! structs), components sorted, the timestamp from the build epoch, and the
//! serial number a name-based UUID of the document's own bytes (written
//! with an empty serial first), so the same inputs give the same file and
//! any change of content gives a new serial.

use serde::Serialize;

use crate::{Checksum, Component, Sbom, Scope, content_uuid, license};

// Field names are the format's.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
#[allow(clippy::struct_field_names)]
struct Bom<'a> {
    bom_format: &'static str,
    spec_version: &'static str,
    serial_number: String,
    version: u32,
    metadata: Metadata<'a>,
    components: Vec<Comp<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    vulnerabilities: Vec<Vulnerability<'a>>,
}

#[derive(Serialize)]
struct Metadata<'a> {
    timestamp: &'a str,
    tools: Tools,
    component: Comp<'a>,
    properties: Vec<Property>,
}

#[derive(Serialize)]
struct Tools {
    components: Vec<Tool>,
}

#[derive(Serialize)]
struct Tool {
    #[serde(rename = "type")]
    kind: &'static str,
    name: &'static str,
    version: &'static str,
}

#[derive(Serialize)]
struct Comp<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(rename = "bom-ref")]
    bom_ref: String,
    name: &'a str,
    version: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hashes: Vec<Hash<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    licenses: Vec<License>,
    purl: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    properties: Vec<Property>,
}

#[derive(Serialize)]
struct Hash<'a> {
    alg: &'static str,
    content: &'a str,
}

#[derive(Serialize)]
#[serde(untagged)]
enum License {
    Expression { expression: String },
    Named { license: NamedLicense },
}

#[derive(Serialize)]
struct NamedLicense {
    name: String,
}

#[derive(Serialize)]
struct Property {
    name: &'static str,
    value: String,
}

#[derive(Serialize)]
struct Vulnerability<'a> {
    id: &'a str,
    source: Source<'a>,
    analysis: Analysis<'a>,
    affects: Vec<Affect>,
}

#[derive(Serialize)]
struct Source<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct Analysis<'a> {
    response: [&'static str; 1],
    detail: &'a str,
}

#[derive(Serialize)]
struct Affect {
    #[serde(rename = "ref")]
    reference: String,
}

fn comp<'a>(c: &'a Component, kind: &'static str, with_scope: bool) -> Comp<'a> {
    let mut hashes = Vec::new();
    let mut properties = Vec::new();
    match &c.checksum {
        Some(Checksum::Sha256(h)) => hashes.push(Hash {
            alg: "SHA-256",
            content: h,
        }),
        Some(Checksum::GoSum(s)) => properties.push(Property {
            name: "relkit:go-sum",
            value: s.clone(),
        }),
        None => {}
    }
    if let Some(src) = &c.source {
        properties.push(Property {
            name: "relkit:source",
            value: src.clone(),
        });
    }
    let licenses = match c.license.as_deref() {
        None => Vec::new(),
        Some(raw) => vec![match license::normalize(raw) {
            Some(expression) => License::Expression { expression },
            None => License::Named {
                license: NamedLicense {
                    name: raw.to_owned(),
                },
            },
        }],
    };
    Comp {
        kind,
        bom_ref: c.purl(),
        name: &c.name,
        version: &c.version,
        scope: with_scope.then_some(match c.scope {
            Scope::Required => "required",
            Scope::Excluded => "excluded",
        }),
        hashes,
        licenses,
        purl: c.purl(),
        properties,
    }
}

/// The CycloneDX 1.6 JSON of `sbom` (pretty, with a final newline).
pub fn to_json(sbom: &Sbom) -> String {
    let mut properties = vec![Property {
        name: "relkit:origin",
        value: sbom.origin.to_string(),
    }];
    if let Some(t) = &sbom.target {
        properties.push(Property {
            name: "relkit:target",
            value: t.clone(),
        });
    }
    let mut bom = Bom {
        bom_format: "CycloneDX",
        spec_version: "1.6",
        serial_number: String::new(),
        version: 1,
        metadata: Metadata {
            timestamp: &sbom.timestamp,
            tools: Tools {
                components: vec![Tool {
                    kind: "application",
                    name: relkit_core::TOOL_NAME,
                    version: relkit_core::TOOL_VERSION,
                }],
            },
            component: comp(&sbom.subject, "application", false),
            properties,
        },
        components: sbom
            .components
            .iter()
            .map(|c| comp(c, "library", true))
            .collect(),
        vulnerabilities: sbom
            .ignored
            .iter()
            .map(|i| Vulnerability {
                id: &i.id,
                source: Source { name: &i.database },
                analysis: Analysis {
                    response: ["will_not_fix"],
                    detail: &i.reason,
                },
                affects: vec![Affect {
                    reference: i.purl.clone(),
                }],
            })
            .collect(),
    };
    unique_refs(&mut bom.components);
    let unsealed = render(&bom);
    bom.serial_number = format!("urn:uuid:{}", content_uuid(unsealed.as_bytes()));
    render(&bom)
}

/// bom-refs must be unique: a second component with the same purl (one
/// crate from two sources) gets `#2`, and so on.
fn unique_refs(components: &mut [Comp<'_>]) {
    let mut seen = std::collections::BTreeMap::<String, u32>::new();
    for c in components {
        let n = seen.entry(c.bom_ref.clone()).or_insert(0);
        *n += 1;
        if *n > 1 {
            c.bom_ref = format!("{}#{n}", c.bom_ref);
        }
    }
}

fn render(bom: &Bom<'_>) -> String {
    let mut s = serde_json::to_string_pretty(bom).expect("plain data serializes");
    s.push('\n');
    s
}
