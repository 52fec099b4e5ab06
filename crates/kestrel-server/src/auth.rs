//! Bearer-token authentication and the role each route needs.
//!
//! Three kinds of caller, told apart by the token alone:
//! - read users (`kst_...`, role `read`): every `GET` under `/api`, and `/metrics`;
//! - admins (`kst_...`, role `admin`): what readers may, plus token management and dead letters;
//! - agents (`kag_...`, one cluster each): only the `/api/v1/ingest/*` routes, and only for the
//!   cluster their token enrolls.
//!
//! A missing or unknown token is 401 with `WWW-Authenticate: Bearer`; a known token of the wrong
//! kind is 403.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use kestrel_store::model::{Principal, Role};

use crate::AppState;
use crate::api::ApiError;

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let header = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer header"))?;
    let value = header
        .to_str()
        .map_err(|_| ApiError::unauthorized("Authorization header is not text"))?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .ok_or_else(|| ApiError::unauthorized("Authorization header is not a Bearer token"))?;
    Ok(token.trim())
}

async fn principal(parts: &Parts, state: &AppState) -> Result<Principal, ApiError> {
    let token = bearer(parts)?;
    state
        .store
        .authenticate(token)
        .await?
        .ok_or_else(|| ApiError::unauthorized("unknown or revoked token"))
}

/// A caller allowed to read: a `read` or `admin` user.
#[derive(Debug, Clone)]
pub struct Reader {
    pub role: Role,
}

impl FromRequestParts<AppState> for Reader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match principal(parts, state).await? {
            Principal::User { role, .. } => Ok(Reader { role }),
            Principal::Agent { .. } => Err(ApiError::forbidden(
                "agent enrollment tokens may only ingest; use a read or admin API token",
            )),
        }
    }
}

/// A caller allowed to administer: an `admin` user.
#[derive(Debug, Clone)]
pub struct Admin {
    pub token_id: String,
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match principal(parts, state).await? {
            Principal::User {
                role: Role::Admin,
                token_id,
            } => Ok(Admin { token_id }),
            Principal::User { .. } => Err(ApiError::forbidden("this route needs an admin token")),
            Principal::Agent { .. } => Err(ApiError::forbidden(
                "agent enrollment tokens may only ingest; this route needs an admin token",
            )),
        }
    }
}

/// An enrolled agent, with the cluster its token belongs to.
#[derive(Debug, Clone)]
pub struct Agent {
    pub cluster: String,
}

impl Agent {
    /// Refuses data for another cluster than the token's.
    pub fn check_cluster(&self, claimed: &str) -> Result<(), ApiError> {
        if claimed == self.cluster {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "this enrollment token is for cluster {:?}, not {claimed:?}",
                self.cluster
            )))
        }
    }
}

impl FromRequestParts<AppState> for Agent {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match principal(parts, state).await? {
            Principal::Agent { cluster, .. } => Ok(Agent { cluster }),
            Principal::User { .. } => Err(ApiError::forbidden(
                "ingest routes need an agent enrollment token (kag_...), not an API token",
            )),
        }
    }
}
