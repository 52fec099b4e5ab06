//! The API server's encryption-at-rest configuration (`--encryption-provider-config`): a file
//! of kind `EncryptionConfiguration` (`apiserver.config.k8s.io/v1`), never an API object.
//!
//! For each group of resources the API server writes with the first provider listed and reads
//! with any of them; so what protects a resource is its first provider, and `identity` there
//! means the resource is stored in plain text even when stronger providers follow.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

/// An `EncryptionConfiguration` file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EncryptionConfiguration {
    #[serde(default)]
    pub metadata: Option<ObjectMeta>,
    /// The resource groups, each with its providers. Empty means nothing is encrypted.
    #[serde(default)]
    pub resources: Vec<ResourceConfiguration>,
}

/// One `resources[]` entry: which resources, and the providers that encrypt them, in order.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ResourceConfiguration {
    /// `secrets`, `configmaps`, `deployments.apps`, `*.` (every core resource), `*.apps`, `*.*`.
    #[serde(default)]
    pub resources: Vec<String>,
    #[serde(default)]
    pub providers: Vec<ProviderConfiguration>,
}

impl ResourceConfiguration {
    /// Whether this entry names the core `secrets` resource, directly or by a wildcard.
    pub fn covers_secrets(&self) -> bool {
        self.resources
            .iter()
            .any(|r| matches!(r.as_str(), "secrets" | "secrets." | "*." | "*.*"))
    }
}

/// One provider entry; exactly one of its fields is set in a valid file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ProviderConfiguration {
    #[serde(default)]
    pub identity: Option<serde_json::Value>,
    #[serde(default)]
    pub aescbc: Option<KeysConfiguration>,
    #[serde(default)]
    pub aesgcm: Option<KeysConfiguration>,
    #[serde(default)]
    pub secretbox: Option<KeysConfiguration>,
    #[serde(default)]
    pub kms: Option<KmsConfiguration>,
}

/// Which kind of provider an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    /// No encryption.
    Identity,
    AesCbc,
    AesGcm,
    Secretbox,
    /// KMS v1 (the `apiVersion` field absent or `v1`), deprecated since Kubernetes 1.28.
    KmsV1,
    KmsV2,
}

impl ProviderKind {
    /// The provider's key in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Identity => "identity",
            ProviderKind::AesCbc => "aescbc",
            ProviderKind::AesGcm => "aesgcm",
            ProviderKind::Secretbox => "secretbox",
            ProviderKind::KmsV1 => "kms (v1)",
            ProviderKind::KmsV2 => "kms (v2)",
        }
    }

    /// Whether the data-encryption key is written in the configuration file itself (rather
    /// than held by an external key management service).
    pub fn key_in_file(self) -> bool {
        matches!(
            self,
            ProviderKind::AesCbc | ProviderKind::AesGcm | ProviderKind::Secretbox
        )
    }
}

impl ProviderConfiguration {
    /// The provider this entry configures, or `None` for an entry without a known provider.
    pub fn kind(&self) -> Option<ProviderKind> {
        if self.identity.is_some() {
            Some(ProviderKind::Identity)
        } else if self.aescbc.is_some() {
            Some(ProviderKind::AesCbc)
        } else if self.aesgcm.is_some() {
            Some(ProviderKind::AesGcm)
        } else if self.secretbox.is_some() {
            Some(ProviderKind::Secretbox)
        } else {
            self.kms.as_ref().map(|k| match k.api_version.as_deref() {
                Some("v2") => ProviderKind::KmsV2,
                _ => ProviderKind::KmsV1,
            })
        }
    }

    /// The keys of a local-key provider (`aescbc`, `aesgcm`, `secretbox`).
    pub fn keys(&self) -> &[Key] {
        self.aescbc
            .as_ref()
            .or(self.aesgcm.as_ref())
            .or(self.secretbox.as_ref())
            .map_or(&[], |k| k.keys.as_slice())
    }
}

/// The keys of a local-key provider; the first encrypts, all decrypt.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct KeysConfiguration {
    #[serde(default)]
    pub keys: Vec<Key>,
}

/// One key: its name and its base64 secret, in the clear.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Key {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub secret: String,
}

/// A KMS provider: the key is held by an external service reached over `endpoint`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KmsConfiguration {
    /// `v1` (the default when absent) or `v2`.
    #[serde(default)]
    pub api_version: Option<String>,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub endpoint: Option<String>,
}
