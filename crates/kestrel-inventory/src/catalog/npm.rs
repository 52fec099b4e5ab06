//! npm: `node_modules/<name>/package.json` and `node_modules/@scope/<name>/package.json`, at any
//! depth. A package owns every file below its directory except nested `node_modules`.

use kestrel_package::{Ecosystem, EcosystemKind, Installer, Package};
use serde::Deserialize;

use super::{Ctx, purl};
use crate::WarningKind;
use crate::tree;

/// Whether `dir` is a package directory inside `node_modules`.
pub(crate) fn is_package_dir(dir: &str) -> bool {
    let parent = tree::parent(dir);
    let name = tree::file_name(dir);
    if name.starts_with('@') || name.starts_with('.') {
        return false;
    }
    let parent_name = tree::file_name(parent);
    parent_name == "node_modules"
        || (parent_name.starts_with('@') && tree::file_name(tree::parent(parent)) == "node_modules")
}

#[derive(Debug, Deserialize)]
struct PackageJson {
    name: Option<String>,
    version: Option<String>,
    license: Option<LicenseField>,
    licenses: Option<Vec<LicenseField>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum LicenseField {
    Spdx(String),
    Object {
        #[serde(rename = "type")]
        ty: Option<String>,
    },
    Other(serde::de::IgnoredAny),
}

impl LicenseField {
    fn name(self) -> Option<String> {
        match self {
            LicenseField::Spdx(s) => Some(s),
            LicenseField::Object { ty } => ty,
            LicenseField::Other(_) => None,
        }
    }
}

pub(super) fn catalog(ctx: &mut Ctx<'_>) {
    let manifests: Vec<String> = ctx
        .tree
        .iter()
        .filter(|(p, n)| {
            n.content.is_some()
                && tree::file_name(p) == "package.json"
                && is_package_dir(tree::parent(p))
        })
        .map(|(p, _)| p.to_owned())
        .collect();
    for path in manifests {
        let Some(bytes) = ctx.tree.read(&path) else {
            continue;
        };
        let parsed: PackageJson = match serde_json::from_slice(bytes) {
            Ok(p) => p,
            Err(e) => {
                ctx.warn(
                    WarningKind::Malformed,
                    &path,
                    format!("invalid package.json: {e}"),
                );
                continue;
            }
        };
        let (Some(name), Some(version)) = (parsed.name, parsed.version) else {
            ctx.warn(
                WarningKind::Malformed,
                &path,
                "package.json without name or version: skipped",
            );
            continue;
        };
        let mut licenses: Vec<String> = parsed
            .license
            .into_iter()
            .chain(parsed.licenses.into_iter().flatten())
            .filter_map(LicenseField::name)
            .collect();
        licenses.sort();
        licenses.dedup();
        let dir = tree::parent(&path).to_owned();
        let nested = format!("{dir}/node_modules/");
        let files = ctx.owned_files(
            ctx.tree
                .below(&dir)
                .filter(|(p, _)| !p.starts_with(&nested))
                .map(|(p, _)| p.to_owned()),
        );
        let (namespace, short) = match name.split_once('/') {
            Some((scope, n)) if scope.starts_with('@') => (Some(scope), n),
            _ => (None, name.as_str()),
        };
        let purl = purl("npm", namespace, short, &version, &[]);
        let layer = ctx.layer_of(&path);
        ctx.packages.push(Package {
            name,
            version,
            ecosystem: Ecosystem::new(EcosystemKind::Npm),
            purl,
            licenses,
            files,
            location: path,
            layer,
            installer: Installer::Npm,
            source: None,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_dirs() {
        assert!(is_package_dir("/app/node_modules/express"));
        assert!(is_package_dir("/app/node_modules/@types/node"));
        assert!(is_package_dir("/app/node_modules/a/node_modules/b"));
        assert!(!is_package_dir("/app/node_modules/@types"));
        assert!(!is_package_dir("/app/node_modules/.bin"));
        assert!(!is_package_dir("/app/node_modules/express/lib"));
        assert!(!is_package_dir("/app"));
    }
}
