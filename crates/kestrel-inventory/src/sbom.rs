//! SBOM documents from an [`Inventory`]: CycloneDX 1.5 JSON and SPDX 2.3 JSON.
//!
//! Written as plain `serde_json` values: both formats are small, and the published schemas (the
//! tests validate against them) are the specification. A license that is a well-known SPDX
//! identifier is written as one; any other license text is kept as a name (CycloneDX) or a
//! comment (SPDX), never as an invalid identifier.

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::{Inventory, Package};

/// Creation details that would otherwise make documents differ from run to run.
#[derive(Debug, Clone)]
pub struct SbomMeta {
    /// RFC 3339 UTC, second precision (`2024-01-31T12:00:00Z`).
    pub created: String,
    /// The producing tool's version.
    pub tool_version: String,
}

impl SbomMeta {
    /// Now, and this crate's version.
    pub fn now() -> SbomMeta {
        SbomMeta {
            created: jiff::Timestamp::now()
                .strftime("%Y-%m-%dT%H:%M:%SZ")
                .to_string(),
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }
}

/// SPDX license identifiers common in package metadata. Anything else is not claimed to be one.
const KNOWN_SPDX: &[&str] = &[
    "0BSD",
    "AFL-2.1",
    "AGPL-3.0-only",
    "AGPL-3.0-or-later",
    "Apache-1.1",
    "Apache-2.0",
    "Artistic-1.0",
    "Artistic-2.0",
    "BSD-1-Clause",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "BSD-4-Clause",
    "BSL-1.0",
    "CC-BY-4.0",
    "CC-BY-SA-4.0",
    "CC0-1.0",
    "CDDL-1.0",
    "EPL-1.0",
    "EPL-2.0",
    "GPL-1.0-or-later",
    "GPL-2.0-only",
    "GPL-2.0-or-later",
    "GPL-3.0-only",
    "GPL-3.0-or-later",
    "HPND",
    "ISC",
    "LGPL-2.0-only",
    "LGPL-2.0-or-later",
    "LGPL-2.1-only",
    "LGPL-2.1-or-later",
    "LGPL-3.0-only",
    "LGPL-3.0-or-later",
    "MIT",
    "MIT-0",
    "MPL-1.1",
    "MPL-2.0",
    "OpenSSL",
    "PSF-2.0",
    "Python-2.0",
    "Ruby",
    "Unlicense",
    "WTFPL",
    "X11",
    "Zlib",
    "curl",
    "libtiff",
];

fn spdx_id(license: &str) -> Option<&'static str> {
    KNOWN_SPDX
        .iter()
        .copied()
        .find(|k| k.eq_ignore_ascii_case(license))
}

/// A stable identifier for this document's content (a name-based UUID from a SHA-256).
fn content_uuid(inv: &Inventory) -> String {
    let mut h = Sha256::new();
    h.update(inv.target.as_bytes());
    for p in &inv.packages {
        h.update(p.purl.as_bytes());
        h.update(p.location.as_bytes());
    }
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn properties(p: &Package) -> Vec<Value> {
    let mut props = vec![
        json!({"name": "kestrel:ecosystem", "value": p.ecosystem.to_string()}),
        json!({"name": "kestrel:installer", "value": serde_json::to_value(p.installer).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()}),
        json!({"name": "kestrel:location", "value": p.location}),
    ];
    if let Some(l) = &p.layer {
        props.push(json!({"name": "kestrel:layer", "value": format!("{} {}", l.index, l.digest)}));
    }
    if let Some(s) = &p.source {
        props.push(json!({"name": "kestrel:source", "value": format!("{} {}", s.name, s.version)}));
    }
    props
}

/// CycloneDX 1.5 JSON.
pub fn cyclonedx(inv: &Inventory, meta: &SbomMeta) -> Value {
    let mut components = Vec::new();
    if let Some(os) = &inv.os {
        let mut c = json!({
            "type": "operating-system",
            "bom-ref": "os",
            "name": os.id,
        });
        if let Some(v) = &os.version_id {
            c["version"] = json!(v);
        }
        if let Some(d) = &os.pretty_name {
            c["description"] = json!(d);
        }
        components.push(c);
    }
    for (i, p) in inv.packages.iter().enumerate() {
        let mut c = json!({
            "type": "library",
            "bom-ref": format!("pkg-{i}"),
            "name": p.name,
            "version": p.version,
            "purl": p.purl,
            "properties": properties(p),
            "evidence": {"occurrences": [{"location": p.location}]},
        });
        if !p.licenses.is_empty() {
            c["licenses"] = Value::Array(
                p.licenses
                    .iter()
                    .map(|l| match spdx_id(l) {
                        Some(id) => json!({"license": {"id": id}}),
                        None => json!({"license": {"name": l}}),
                    })
                    .collect(),
            );
        }
        components.push(c);
    }
    let mut subject = json!({
        "type": "container",
        "bom-ref": "target",
        "name": inv.target,
    });
    if let Some(d) = &inv.image_digest {
        subject["version"] = json!(d);
    }
    json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": format!("urn:uuid:{}", content_uuid(inv)),
        "version": 1,
        "metadata": {
            "timestamp": meta.created,
            "tools": {"components": [{"type": "application", "name": "kestrel", "version": meta.tool_version}]},
            "component": subject,
        },
        "components": components,
    })
}

fn spdx_ref(s: &str) -> String {
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

/// SPDX 2.3 JSON.
pub fn spdx(inv: &Inventory, meta: &SbomMeta) -> Value {
    let mut target = json!({
        "SPDXID": "SPDXRef-Target",
        "name": inv.target,
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "primaryPackagePurpose": "CONTAINER",
    });
    if let Some(d) = &inv.image_digest {
        target["versionInfo"] = json!(d);
    }
    let mut packages = vec![target];
    let mut relationships = vec![json!({
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": "SPDXRef-Target",
    })];
    if let Some(os) = &inv.os {
        let mut p = json!({
            "SPDXID": "SPDXRef-OperatingSystem",
            "name": os.id,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "primaryPackagePurpose": "OPERATING_SYSTEM",
        });
        if let Some(v) = &os.version_id {
            p["versionInfo"] = json!(v);
        }
        packages.push(p);
        relationships.push(json!({
            "spdxElementId": "SPDXRef-Target",
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": "SPDXRef-OperatingSystem",
        }));
    }
    for (i, p) in inv.packages.iter().enumerate() {
        let id = format!("SPDXRef-Package-{i}-{}", spdx_ref(&p.name));
        let ids: Option<Vec<&str>> = p.licenses.iter().map(|l| spdx_id(l)).collect();
        let declared = match ids {
            Some(ids) if !ids.is_empty() => ids.join(" AND "),
            _ => "NOASSERTION".to_owned(),
        };
        let mut comment = format!(
            "installer: {}; metadata: {}",
            properties(p)[1]["value"].as_str().unwrap_or(""),
            p.location
        );
        if let Some(l) = &p.layer {
            comment.push_str(&format!("; layer {}: {}", l.index, l.digest));
        }
        let mut pkg = json!({
            "SPDXID": id,
            "name": p.name,
            "versionInfo": p.version,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": declared,
            "copyrightText": "NOASSERTION",
            "externalRefs": [{
                "referenceCategory": "PACKAGE-MANAGER",
                "referenceType": "purl",
                "referenceLocator": p.purl,
            }],
            "comment": comment,
        });
        if declared == "NOASSERTION" && !p.licenses.is_empty() {
            pkg["licenseComments"] = json!(format!(
                "declared by the package: {}",
                p.licenses.join(", ")
            ));
        }
        if let Some(s) = &p.source {
            pkg["sourceInfo"] = json!(format!(
                "built from source package {} {}",
                s.name, s.version
            ));
        }
        packages.push(pkg);
        relationships.push(json!({
            "spdxElementId": "SPDXRef-Target",
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": id,
        }));
    }
    json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": inv.target,
        "documentNamespace": format!("https://kestrel-security.github.io/spdx/{}", content_uuid(inv)),
        "creationInfo": {
            "created": meta.created,
            "creators": [format!("Tool: kestrel-{}", meta.tool_version)],
        },
        "packages": packages,
        "relationships": relationships,
    })
}
