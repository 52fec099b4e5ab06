//! Ruby gems (`specifications/*.gemspec`), PHP Composer (`vendor/composer/installed.json`) and
//! .NET (`*.deps.json`) metadata.

use kestrel_package::{Ecosystem, EcosystemKind, Installer, Package};
use serde::Deserialize;

use super::{Ctx, purl};
use crate::WarningKind;
use crate::tree;

pub(super) fn catalog(ctx: &mut Ctx<'_>) {
    let paths: Vec<String> = ctx
        .tree
        .iter()
        .filter(|(_, n)| n.content.is_some())
        .map(|(p, _)| p)
        .filter(|p| {
            let name = tree::file_name(p);
            let parent = tree::file_name(tree::parent(p));
            (name.ends_with(".gemspec") && parent == "specifications")
                || (name == "installed.json" && parent == "composer")
                || name.ends_with(".deps.json")
        })
        .map(str::to_owned)
        .collect();
    for path in paths {
        let name = tree::file_name(&path);
        if name.ends_with(".gemspec") {
            gemspec(ctx, &path);
        } else if name == "installed.json" {
            composer(ctx, &path);
        } else {
            deps_json(ctx, &path);
        }
    }
}

/// The first string literal after `.<attr> =` in a gemspec (`s.name = "rack".freeze`).
fn ruby_string(text: &str, attr: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let l = l.trim();
        let rest = l.split_once(&format!(".{attr} = "))?.1;
        let rest = rest.trim_start_matches('[');
        let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
        let inner = &rest[1..];
        Some(inner[..inner.find(quote)?].to_owned())
    })
}

fn ruby_strings(text: &str, attr: &str) -> Vec<String> {
    text.lines()
        .find_map(|l| {
            l.trim()
                .split_once(&format!(".{attr} = "))
                .map(|(_, r)| r.to_owned())
        })
        .map(|r| {
            r.split(['"', '\''])
                .skip(1)
                .step_by(2)
                .map(str::to_owned)
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

fn gemspec(ctx: &mut Ctx<'_>, path: &str) {
    let Some(bytes) = ctx.tree.read(path) else {
        return;
    };
    let text = String::from_utf8_lossy(bytes).into_owned();
    let (Some(name), Some(version)) = (ruby_string(&text, "name"), ruby_string(&text, "version"))
    else {
        ctx.warn(
            WarningKind::Malformed,
            path,
            "gemspec without a name or version: skipped",
        );
        return;
    };
    let mut licenses = ruby_strings(&text, "licenses");
    if licenses.is_empty() {
        licenses = ruby_strings(&text, "license");
    }
    let gem_dir = format!("{}/gems/{name}-{version}", tree::parent(tree::parent(path)));
    let files = ctx.owned_files(
        std::iter::once(path.to_owned()).chain(ctx.tree.below(&gem_dir).map(|(p, _)| p.to_owned())),
    );
    let layer = ctx.layer_of(path);
    ctx.packages.push(Package {
        purl: purl("gem", None, &name, &version, &[]),
        name,
        version,
        ecosystem: Ecosystem::new(EcosystemKind::RubyGems),
        licenses,
        files,
        location: path.to_owned(),
        layer,
        installer: Installer::RubyGems,
        source: None,
    });
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Installed {
    V2 { packages: Vec<ComposerPackage> },
    V1(Vec<ComposerPackage>),
}

#[derive(Debug, Deserialize)]
struct ComposerPackage {
    name: String,
    version: String,
    #[serde(default)]
    license: Vec<String>,
    #[serde(default, rename = "install-path")]
    install_path: Option<String>,
}

fn composer(ctx: &mut Ctx<'_>, path: &str) {
    let Some(bytes) = ctx.tree.read(path) else {
        return;
    };
    let installed: Installed = match serde_json::from_slice(bytes) {
        Ok(i) => i,
        Err(e) => {
            ctx.warn(
                WarningKind::Malformed,
                path,
                format!("invalid Composer installed.json: {e}"),
            );
            return;
        }
    };
    let packages = match installed {
        Installed::V2 { packages } | Installed::V1(packages) => packages,
    };
    let composer_dir = tree::parent(path).to_owned();
    for p in packages {
        let dir = match &p.install_path {
            Some(ip) => tree::join(&composer_dir, ip),
            None => tree::join(tree::parent(&composer_dir), &p.name),
        };
        let files = ctx.owned_files(ctx.tree.below(&dir).map(|(f, _)| f.to_owned()));
        let (ns, short) = p
            .name
            .split_once('/')
            .map_or((None, p.name.as_str()), |(a, b)| (Some(a), b));
        // Composer records tags as written (`v5.4.0`); Packagist advisories use the bare number.
        let version = p.version.strip_prefix('v').unwrap_or(&p.version).to_owned();
        let layer = ctx.layer_of(path);
        ctx.packages.push(Package {
            purl: purl("composer", ns, short, &version, &[]),
            name: p.name,
            version,
            ecosystem: Ecosystem::new(EcosystemKind::Packagist),
            licenses: p.license,
            files,
            location: path.to_owned(),
            layer,
            installer: Installer::Composer,
            source: None,
        });
    }
}

#[derive(Debug, Deserialize)]
struct DepsJson {
    #[serde(default)]
    libraries: std::collections::BTreeMap<String, DepsLibrary>,
}

#[derive(Debug, Deserialize)]
struct DepsLibrary {
    #[serde(rename = "type")]
    ty: String,
}

fn deps_json(ctx: &mut Ctx<'_>, path: &str) {
    let Some(bytes) = ctx.tree.read(path) else {
        return;
    };
    let deps: DepsJson = match serde_json::from_slice(bytes) {
        Ok(d) => d,
        Err(e) => {
            ctx.warn(
                WarningKind::Malformed,
                path,
                format!("invalid .NET deps.json: {e}"),
            );
            return;
        }
    };
    let dir = tree::parent(path).to_owned();
    for (key, lib) in deps.libraries {
        // Projects are the application itself; only NuGet packages have advisories.
        if lib.ty != "package" {
            continue;
        }
        let Some((name, version)) = key.split_once('/') else {
            ctx.warn(
                WarningKind::Malformed,
                path,
                format!("library key {key:?} is not NAME/VERSION"),
            );
            continue;
        };
        let dll = format!("{dir}/{name}.dll");
        let mut files = vec![path.to_owned()];
        if ctx.tree.get(&dll).is_some() {
            files.push(dll);
        }
        let layer = ctx.layer_of(path);
        ctx.packages.push(Package {
            purl: purl("nuget", None, name, version, &[]),
            name: name.to_owned(),
            version: version.to_owned(),
            ecosystem: Ecosystem::new(EcosystemKind::NuGet),
            licenses: Vec::new(),
            files: ctx.owned_files(files),
            location: path.to_owned(),
            layer,
            installer: Installer::NuGet,
            source: None,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gemspec_strings() {
        let t = "  s.name = \"rack\".freeze\n  s.version = \"2.2.3\"\n  s.licenses = [\"MIT\".freeze, 'BSD']\n";
        assert_eq!(ruby_string(t, "name").unwrap(), "rack");
        assert_eq!(ruby_string(t, "version").unwrap(), "2.2.3");
        assert_eq!(ruby_strings(t, "licenses"), vec!["MIT", "BSD"]);
    }
}
