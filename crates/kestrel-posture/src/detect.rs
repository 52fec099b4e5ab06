//! Credential detection in literal values (environment variables, ConfigMap data).
//!
//! Deliberately narrow: a value is a credential when its shape proves it (an AWS access key
//! id, a PEM private key, a GitHub or Slack token) or when its name says so and the value is
//! not obviously a reference, a placeholder or a number.

/// Names the kind of credential `value` (under key `name`) holds, if it holds one.
pub fn credential(name: &str, value: &str) -> Option<&'static str> {
    let v = value.trim();
    if is_aws_access_key_id(v) {
        return Some("an AWS access key id");
    }
    if v.contains("-----BEGIN") && v.contains("PRIVATE KEY") {
        return Some("a private key");
    }
    if ["ghp_", "gho_", "ghs_", "github_pat_"]
        .iter()
        .any(|p| v.starts_with(p))
        && v.len() >= 30
    {
        return Some("a GitHub token");
    }
    if v.starts_with("xoxb-") || v.starts_with("xoxp-") {
        return Some("a Slack token");
    }
    let upper = name.to_ascii_uppercase();
    let secret_name = [
        "PASSWORD",
        "PASSWD",
        "SECRET",
        "TOKEN",
        "API_KEY",
        "APIKEY",
        "PRIVATE_KEY",
        "ACCESS_KEY",
        "CREDENTIAL",
    ]
    .iter()
    .any(|k| upper.contains(k));
    let looks_like_value = v.len() >= 8
        && !v.contains("$(")
        && !v.contains("${")
        && !v.starts_with('/')
        && !v.chars().all(|c| c.is_ascii_digit())
        && !matches!(
            v.to_ascii_lowercase().as_str(),
            "true" | "false" | "changeme" | "<redacted>"
        );
    if secret_name
        && looks_like_value
        && !upper.ends_with("_FILE")
        && !upper.ends_with("_PATH")
        && !upper.ends_with("_TTL")
    {
        return Some("a secret-named literal value");
    }
    None
}

/// `AKIA`/`ASIA` followed by 16 upper-case letters or digits.
fn is_aws_access_key_id(v: &str) -> bool {
    v.len() == 20
        && (v.starts_with("AKIA") || v.starts_with("ASIA"))
        && v[4..]
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::credential;

    #[test]
    fn detects_by_shape_and_by_name() {
        assert_eq!(
            credential("X", "AKIAIOSFODNN7EXAMPLE"),
            Some("an AWS access key id")
        );
        assert_eq!(
            credential("DB_PASSWORD", "hunter2-hunter2"),
            Some("a secret-named literal value")
        );
        assert_eq!(credential("TOKEN_TTL", "3600"), None);
        assert_eq!(credential("PASSWORD_FILE", "/run/secrets/pw"), None);
        assert_eq!(credential("API_TOKEN", "$(TOKEN_FROM_SECRET)"), None);
        assert_eq!(credential("LOG_LEVEL", "debug-verbose"), None);
    }
}
