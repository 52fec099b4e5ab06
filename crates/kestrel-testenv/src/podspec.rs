//! The subset of a Kubernetes core/v1 Pod manifest the test Pod supports, and
//! its translation into podman flags.
//!
//! Every struct refuses unknown fields: a field the translation would not
//! honour (resources, volumes, probes, ...) is an error naming it, never
//! silently dropped, so `tests/env/pod.yaml` stays a faithful description of
//! what runs.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::image::IMAGE_NAME;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PodManifest {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: PodSpec,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectMeta {
    pub name: String,
    #[serde(default = "default_namespace")]
    pub namespace: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

fn default_namespace() -> String {
    "default".to_owned()
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PodSpec {
    /// Only `Never`: podman here has no supervisor that would restart
    /// containers the way the kubelet does, so `Always` would be a lie.
    pub restart_policy: RestartPolicy,
    pub containers: Vec<ContainerSpec>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum RestartPolicy {
    Never,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    #[serde(default)]
    pub image_pull_policy: Option<PullPolicy>,
    #[serde(default)]
    pub command: Vec<String>,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub working_dir: Option<String>,
    #[serde(default)]
    pub env: Vec<EnvVar>,
    #[serde(default)]
    pub security_context: Option<SecurityContext>,
}

/// The image is local, so only policies that never pull are accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum PullPolicy {
    Never,
    IfNotPresent,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvVar {
    pub name: String,
    pub value: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SecurityContext {
    pub run_as_user: Option<u32>,
    pub run_as_group: Option<u32>,
    pub run_as_non_root: Option<bool>,
    pub allow_privilege_escalation: Option<bool>,
    pub read_only_root_filesystem: Option<bool>,
    pub capabilities: Option<Capabilities>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capabilities {
    #[serde(default)]
    pub add: Vec<String>,
    #[serde(default)]
    pub drop: Vec<String>,
}

impl PodManifest {
    /// Reads and validates a Pod manifest file.
    pub fn read(path: &Path) -> Result<PodManifest> {
        let text = std::fs::read_to_string(path).map_err(Error::io(path))?;
        PodManifest::parse(path, &text)
    }

    /// Parses and validates manifest text; `path` is only used in errors.
    pub fn parse(path: &Path, text: &str) -> Result<PodManifest> {
        let manifest: PodManifest =
            serde_norway::from_str(text).map_err(|source| Error::PodYaml {
                path: path.to_owned(),
                source,
            })?;
        manifest.validate(path)?;
        Ok(manifest)
    }

    fn validate(&self, path: &Path) -> Result<()> {
        let fail = |field: String, message: String| Error::PodSpec {
            path: path.to_owned(),
            field,
            message,
        };
        if self.api_version != "v1" || self.kind != "Pod" {
            return Err(fail(
                "apiVersion/kind".into(),
                format!(
                    "`{}`/`{}`, expected `v1`/`Pod`",
                    self.api_version, self.kind
                ),
            ));
        }
        for (field, value) in [
            ("metadata.name", &self.metadata.name),
            ("metadata.namespace", &self.metadata.namespace),
        ] {
            if !is_dns_label(value) {
                return Err(fail(
                    field.into(),
                    format!("`{value}` is not a DNS label (lower-case a-z, 0-9, `-`, at most 63)"),
                ));
            }
        }
        if self.spec.containers.is_empty() {
            return Err(fail("spec.containers".into(), "no containers".into()));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, container) in self.spec.containers.iter().enumerate() {
            let at = |field: &str| format!("spec.containers[{i}].{field}");
            if !is_dns_label(&container.name) {
                return Err(fail(
                    at("name"),
                    format!("`{}` is not a DNS label", container.name),
                ));
            }
            if !seen.insert(container.name.as_str()) {
                return Err(fail(
                    at("name"),
                    format!("`{}` is used by two containers", container.name),
                ));
            }
            if container.image != IMAGE_NAME {
                return Err(fail(
                    at("image"),
                    format!(
                        "`{}`: only the test image `{IMAGE_NAME}` exists here (no registry); \
                         write `image: {IMAGE_NAME}`",
                        container.image
                    ),
                ));
            }
            for (j, var) in container.env.iter().enumerate() {
                if var.name.is_empty() || var.name.contains('=') {
                    return Err(fail(
                        at(&format!("env[{j}].name")),
                        format!("`{}` is not a variable name", var.name),
                    ));
                }
            }
            let security = container.security_context.clone().unwrap_or_default();
            if security.run_as_non_root == Some(true) && security.run_as_user.unwrap_or(0) == 0 {
                // The kubelet refuses to start such a container; so do we.
                return Err(fail(
                    at("securityContext.runAsNonRoot"),
                    "true, but runAsUser is 0 or unset (the image's user is root)".into(),
                ));
            }
        }
        Ok(())
    }
}

impl ContainerSpec {
    /// `podman run` flags (before the image) and arguments (after it) with
    /// Kubernetes semantics: `command` replaces the image entrypoint and, as
    /// with the kubelet, the image's CMD too; `args` replaces CMD.
    pub(crate) fn podman_run_args(&self, image: &str) -> Vec<String> {
        let mut flags = Vec::new();
        if let Some(dir) = &self.working_dir {
            flags.extend(["--workdir".to_owned(), dir.clone()]);
        }
        for var in &self.env {
            flags.extend(["--env".to_owned(), format!("{}={}", var.name, var.value)]);
        }
        let security = self.security_context.clone().unwrap_or_default();
        match (security.run_as_user, security.run_as_group) {
            (Some(user), Some(group)) => {
                flags.extend(["--user".to_owned(), format!("{user}:{group}")])
            }
            (Some(user), None) => flags.extend(["--user".to_owned(), user.to_string()]),
            // The user defaults to the image's, which for the test image is root.
            (None, Some(group)) => flags.extend(["--user".to_owned(), format!("0:{group}")]),
            (None, None) => {}
        }
        if security.allow_privilege_escalation == Some(false) {
            flags.extend(["--security-opt".to_owned(), "no-new-privileges".to_owned()]);
        }
        if security.read_only_root_filesystem == Some(true) {
            flags.push("--read-only".to_owned());
        }
        if let Some(caps) = &security.capabilities {
            for cap in &caps.drop {
                flags.extend(["--cap-drop".to_owned(), cap.clone()]);
            }
            for cap in &caps.add {
                flags.extend(["--cap-add".to_owned(), cap.clone()]);
            }
        }
        if !self.command.is_empty() {
            let entrypoint = serde_json::to_string(&self.command).unwrap_or_default();
            flags.extend(["--entrypoint".to_owned(), entrypoint]);
        }
        flags.push(image.to_owned());
        flags.extend(self.args.iter().cloned());
        flags
    }
}

fn is_dns_label(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 63
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !text.starts_with('-')
        && !text.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::{Expect, expect};

    /// Parses `yaml` and renders either the podman arguments of each
    /// container or the error.
    fn check(yaml: &str, expect: Expect) {
        let rendered = match PodManifest::parse(Path::new("pod.yaml"), yaml) {
            Ok(pod) => pod
                .spec
                .containers
                .iter()
                .map(|c| format!("{}: {}", c.name, c.podman_run_args("IMAGE").join(" ")))
                .collect::<Vec<_>>()
                .join("\n"),
            Err(err) => format!("error: {err}"),
        };
        expect.assert_eq(&rendered);
    }

    const HEAD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop}\n";

    #[test]
    fn repo_pod_manifest_translates() {
        let path = crate::cmd::env_dir().join("pod.yaml");
        let text = std::fs::read_to_string(&path).unwrap();
        check(
            &text,
            expect![[r#"
                python: --workdir /opt/app/python --env KESTREL_ENV=production --env PYTHONDONTWRITEBYTECODE=1 --user 1000:1000 --security-opt no-new-privileges --cap-drop ALL --entrypoint ["/opt/app/venv/bin/python","/opt/app/python/app.py"] IMAGE
                node: --workdir /opt/app/node --env KESTREL_ENV=production --env NODE_ENV=production --user 1001:1001 --security-opt no-new-privileges --cap-drop ALL --entrypoint ["/usr/bin/node","/opt/app/node/app.js"] IMAGE"#]],
        );
    }

    #[test]
    fn command_args_and_users() {
        check(
            &format!(
                "{HEAD}spec:\n  restartPolicy: Never\n  containers:\n  - name: a\n    image: kestrel-test\n    args: [x, 'y z']\n    securityContext: {{runAsUser: 7, readOnlyRootFilesystem: true, capabilities: {{add: [NET_ADMIN]}}}}\n  - name: b\n    image: kestrel-test\n    securityContext: {{runAsGroup: 9}}\n"
            ),
            expect![[r#"
                a: --user 7 --read-only --cap-add NET_ADMIN IMAGE x y z
                b: --user 0:9 IMAGE"#]],
        );
    }

    #[test]
    fn unsupported_or_wrong_fields_are_named() {
        let container = "  containers:\n  - name: a\n    image: kestrel-test\n";
        check(
            &format!(
                "{HEAD}spec:\n  restartPolicy: Never\n  containers:\n  - name: a\n    image: kestrel-test\n    resources: {{}}\n"
            ),
            expect![
                "error: pod manifest pod.yaml: spec.containers[0]: unknown field `resources`, expected one of `name`, `image`, `imagePullPolicy`, `command`, `args`, `workingDir`, `env`, `securityContext` at line 9 column 5"
            ],
        );
        check(
            &format!("{HEAD}spec:\n  restartPolicy: Always\n{container}"),
            expect![[
                r#"error: pod manifest pod.yaml: spec.restartPolicy: unknown variant `Always`, expected `Never` at line 5 column 18"#
            ]],
        );
        check(
            &format!(
                "{HEAD}spec:\n  restartPolicy: Never\n  containers:\n  - name: a\n    image: nginx:1.25\n"
            ),
            expect![[
                r#"error: pod manifest pod.yaml: spec.containers[0].image: `nginx:1.25`: only the test image `kestrel-test` exists here (no registry); write `image: kestrel-test`"#
            ]],
        );
        check(
            &format!(
                "{HEAD}spec:\n  restartPolicy: Never\n{container}  - name: a\n    image: kestrel-test\n"
            ),
            expect![[
                r#"error: pod manifest pod.yaml: spec.containers[1].name: `a` is used by two containers"#
            ]],
        );
        check(
            &format!(
                "apiVersion: v1\nkind: Pod\nmetadata: {{name: Web}}\nspec:\n  restartPolicy: Never\n{container}"
            ),
            expect![[
                r#"error: pod manifest pod.yaml: metadata.name: `Web` is not a DNS label (lower-case a-z, 0-9, `-`, at most 63)"#
            ]],
        );
        check(
            &format!(
                "{HEAD}spec:\n  restartPolicy: Never\n{container}    securityContext: {{runAsNonRoot: true}}\n"
            ),
            expect![[
                r#"error: pod manifest pod.yaml: spec.containers[0].securityContext.runAsNonRoot: true, but runAsUser is 0 or unset (the image's user is root)"#
            ]],
        );
    }
}
