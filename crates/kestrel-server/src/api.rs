//! Routes, handlers and the OpenAPI document that describes them (`/api/openapi.json`).

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use kestrel_store::model::*;
use kestrel_store::{
    AlertFilter, PathFilter, PostureFilter, StoreError, VulnFilter, WorkloadFilter,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::AppState;
use crate::auth::{Admin, Agent, Reader};
use crate::metrics::{KindLabels, NodeLabels, RuleLabels};

/// The error body of every failed API call.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: String,
}

/// An API error: a status and a message naming what is wrong.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }
    pub fn unauthorized(m: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, m)
    }
    pub fn forbidden(m: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, m)
    }
    pub fn bad_request(m: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, m)
    }
    pub fn not_found(m: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, m)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::Invalid { .. } => ApiError::bad_request(e.to_string()),
            other => {
                tracing::error!("{other}");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "database error; see the server log",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (
            self.status,
            Json(ErrorBody {
                error: self.message,
            }),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        resp
    }
}

/// A query string, rejected with a JSON error naming the bad parameter.
#[derive(Debug)]
pub struct Q<T>(pub T);

impl<T, S> FromRequestParts<S> for Q<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Q(q.0))
            .map_err(|e: QueryRejection| ApiError::bad_request(e.body_text()))
    }
}

/// A JSON body, rejected with a JSON error naming the bad field.
#[derive(Debug)]
pub struct J<T>(pub T);

impl<T, S> FromRequest<S> for J<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;
    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        Json::<T>::from_request(req, state)
            .await
            .map(|j| J(j.0))
            .map_err(|e: JsonRejection| ApiError::new(e.status(), e.body_text()))
    }
}

type ApiResult<T> = Result<Json<T>, ApiError>;

/// Largest accepted request body: a snapshot of tens of thousands of findings.
const MAX_BODY: usize = 128 * 1024 * 1024;

/// The whole application: API, metrics, probes and dashboard.
pub fn router(state: AppState) -> Router {
    let ingest = Router::new()
        .route("/api/v1/ingest/alerts", post(ingest_alerts))
        .route("/api/v1/ingest/workloads", post(ingest_workloads))
        .route("/api/v1/ingest/vulnerabilities", post(ingest_vulns))
        .route("/api/v1/ingest/posture", post(ingest_posture))
        .route("/api/v1/ingest/attack-paths", post(ingest_paths))
        .route("/api/v1/ingest/health", post(ingest_health))
        .route("/api/v1/ingest/cluster", get(ingest_cluster))
        .layer(DefaultBodyLimit::max(MAX_BODY));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/openapi.json", get(openapi))
        .route("/api/v1/whoami", get(whoami))
        .route("/api/v1/overview", get(overview))
        .route("/api/v1/alerts", get(alerts))
        .route("/api/v1/workloads", get(workloads))
        .route(
            "/api/v1/workloads/{cluster}/{namespace}/{kind}/{name}",
            get(workload),
        )
        .route("/api/v1/vulnerabilities", get(vulnerabilities))
        .route("/api/v1/posture", get(posture))
        .route("/api/v1/attack-paths", get(attack_paths))
        .route("/api/v1/attack-paths/{cluster}/{id}", get(attack_path))
        .route("/api/v1/sensors", get(sensors))
        .route("/api/v1/tokens", get(list_tokens).post(create_token))
        .route("/api/v1/tokens/{id}", delete(revoke_token))
        .route("/api/v1/enrollment-tokens", post(create_enrollment))
        .route("/api/v1/dead-letters", get(dead_letters))
        .merge(ingest)
        .merge(crate::web::routes())
        .with_state(state)
}

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "Kestrel API",
        description = "Alerts, workloads, risk-ranked vulnerabilities, posture findings, attack paths and sensors. \
            Every route except /healthz and /readyz needs `Authorization: Bearer TOKEN`: an API token (kst_...) \
            with role read or admin, or for /api/v1/ingest/* an agent enrollment token (kag_...).",
    ),
    paths(
        healthz, readyz, metrics, openapi, whoami, overview, alerts, workloads, workload, vulnerabilities, posture,
        attack_paths, attack_path, sensors, list_tokens, create_token, revoke_token, create_enrollment,
        dead_letters, ingest_alerts, ingest_workloads, ingest_vulns, ingest_posture, ingest_paths, ingest_health, ingest_cluster
    ),
    components(schemas(ErrorBody, Whoami, AgentCluster, WorkloadDetail, CreateToken, CreateEnrollment, VulnSort, Order)),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

use kestrel_store::{Order, VulnSort};

/// The OpenAPI 3.1 document of this API.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

#[utoipa::path(get, path = "/healthz", security(()), responses((status = 200, description = "The process is up", body = String)))]
async fn healthz() -> &'static str {
    "ok"
}

#[utoipa::path(get, path = "/readyz", security(()), responses(
    (status = 200, description = "The database answers", body = String),
    (status = 503, description = "The database does not answer", body = String)))]
async fn readyz(State(s): State<AppState>) -> Response {
    match s.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(e) => {
            tracing::warn!("readiness check failed: {e}");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}

#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Prometheus text format", body = String)))]
async fn metrics(_r: Reader, State(s): State<AppState>) -> Response {
    match s.store.size_bytes().await {
        Ok(n) => {
            s.metrics.database_size.set(n);
        }
        Err(e) => tracing::warn!("cannot measure the database: {e}"),
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics.encode(),
    )
        .into_response()
}

#[utoipa::path(get, path = "/api/openapi.json", responses((status = 200, description = "This document")))]
async fn openapi(_r: Reader) -> Json<utoipa::openapi::OpenApi> {
    Json(openapi_document())
}

/// The caller's role.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Whoami {
    pub role: Role,
}

#[utoipa::path(get, path = "/api/v1/whoami", responses((status = 200, body = Whoami), (status = 401, body = ErrorBody)))]
async fn whoami(r: Reader) -> Json<Whoami> {
    Json(Whoami { role: r.role })
}

#[utoipa::path(get, path = "/api/v1/overview", responses((status = 200, body = Overview)))]
async fn overview(_r: Reader, State(s): State<AppState>) -> ApiResult<Overview> {
    Ok(Json(s.store.overview().await?))
}

#[utoipa::path(get, path = "/api/v1/alerts", params(AlertFilter), responses((status = 200, body = Page<StoredAlert>), (status = 400, body = ErrorBody)))]
async fn alerts(
    _r: Reader,
    State(s): State<AppState>,
    Q(f): Q<AlertFilter>,
) -> ApiResult<Page<StoredAlert>> {
    Ok(Json(s.store.list_alerts(&f).await?))
}

#[utoipa::path(get, path = "/api/v1/workloads", params(WorkloadFilter), responses((status = 200, body = Page<WorkloadSummary>)))]
async fn workloads(
    _r: Reader,
    State(s): State<AppState>,
    Q(f): Q<WorkloadFilter>,
) -> ApiResult<Page<WorkloadSummary>> {
    Ok(Json(s.store.list_workloads(&f).await?))
}

/// Everything about one workload.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WorkloadDetail {
    pub summary: WorkloadSummary,
    /// Its vulnerabilities, riskiest first (at most 1000).
    pub vulnerabilities: Page<StoredVuln>,
    /// Its latest alerts (at most 100).
    pub alerts: Page<StoredAlert>,
    /// Posture findings about the workload object.
    pub posture: Page<StoredPosture>,
    /// Attack paths entering through it.
    pub attack_paths: Page<StoredPath>,
}

#[utoipa::path(get, path = "/api/v1/workloads/{cluster}/{namespace}/{kind}/{name}",
    params(("cluster" = String, Path), ("namespace" = String, Path), ("kind" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = WorkloadDetail), (status = 404, body = ErrorBody)))]
async fn workload(
    _r: Reader,
    State(s): State<AppState>,
    Path((cluster, namespace, kind, name)): Path<(String, String, String, String)>,
) -> ApiResult<WorkloadDetail> {
    let page = s
        .store
        .list_workloads(&WorkloadFilter {
            cluster: Some(cluster.clone()),
            namespace: Some(namespace.clone()),
            kind: Some(kind.clone()),
            name: Some(name.clone()),
            ..Default::default()
        })
        .await?;
    let summary = page.items.into_iter().next().ok_or_else(|| {
        ApiError::not_found(format!(
            "no workload {kind} {namespace}/{name} in cluster {cluster}"
        ))
    })?;
    let vulnerabilities = s
        .store
        .list_vulnerabilities(&VulnFilter {
            cluster: Some(cluster.clone()),
            namespace: Some(namespace.clone()),
            workload_kind: Some(kind.clone()),
            workload: Some(name.clone()),
            limit: Some(1000),
            ..Default::default()
        })
        .await?;
    let alerts = s
        .store
        .list_alerts(&AlertFilter {
            cluster: Some(cluster.clone()),
            namespace: Some(namespace.clone()),
            workload: Some(name.clone()),
            limit: Some(100),
            ..Default::default()
        })
        .await?;
    let posture = s
        .store
        .list_posture(&PostureFilter {
            cluster: Some(cluster.clone()),
            namespace: Some(namespace.clone()),
            kind: Some(kind.clone()),
            name: Some(name.clone()),
            limit: Some(1000),
            ..Default::default()
        })
        .await?;
    let attack_paths = s
        .store
        .list_attack_paths(&PathFilter {
            cluster: Some(cluster),
            namespace: Some(namespace),
            workload: Some(name),
            limit: Some(100),
            ..Default::default()
        })
        .await?;
    Ok(Json(WorkloadDetail {
        summary,
        vulnerabilities,
        alerts,
        posture,
        attack_paths,
    }))
}

#[utoipa::path(get, path = "/api/v1/vulnerabilities", params(VulnFilter), responses((status = 200, body = Page<StoredVuln>), (status = 400, body = ErrorBody)))]
async fn vulnerabilities(
    _r: Reader,
    State(s): State<AppState>,
    Q(f): Q<VulnFilter>,
) -> ApiResult<Page<StoredVuln>> {
    Ok(Json(s.store.list_vulnerabilities(&f).await?))
}

#[utoipa::path(get, path = "/api/v1/posture", params(PostureFilter), responses((status = 200, body = Page<StoredPosture>)))]
async fn posture(
    _r: Reader,
    State(s): State<AppState>,
    Q(f): Q<PostureFilter>,
) -> ApiResult<Page<StoredPosture>> {
    Ok(Json(s.store.list_posture(&f).await?))
}

#[utoipa::path(get, path = "/api/v1/attack-paths", params(PathFilter), responses((status = 200, body = Page<StoredPath>)))]
async fn attack_paths(
    _r: Reader,
    State(s): State<AppState>,
    Q(f): Q<PathFilter>,
) -> ApiResult<Page<StoredPath>> {
    Ok(Json(s.store.list_attack_paths(&f).await?))
}

#[utoipa::path(get, path = "/api/v1/attack-paths/{cluster}/{id}",
    params(("cluster" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = StoredPath), (status = 404, body = ErrorBody)))]
async fn attack_path(
    _r: Reader,
    State(s): State<AppState>,
    Path((cluster, id)): Path<(String, String)>,
) -> ApiResult<StoredPath> {
    s.store
        .get_attack_path(&cluster, &id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no attack path {id:?} in cluster {cluster:?}")))
}

#[utoipa::path(get, path = "/api/v1/sensors", responses((status = 200, body = Vec<StoredSensor>)))]
async fn sensors(_r: Reader, State(s): State<AppState>) -> ApiResult<Vec<StoredSensor>> {
    Ok(Json(s.store.list_sensors().await?))
}

#[utoipa::path(get, path = "/api/v1/tokens", responses((status = 200, body = Vec<TokenInfo>), (status = 403, body = ErrorBody)))]
async fn list_tokens(_a: Admin, State(s): State<AppState>) -> ApiResult<Vec<TokenInfo>> {
    Ok(Json(s.store.list_tokens().await?))
}

/// A new API token.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    pub name: String,
    pub role: Role,
}

#[utoipa::path(post, path = "/api/v1/tokens", request_body = CreateToken, responses((status = 201, body = NewToken), (status = 403, body = ErrorBody)))]
async fn create_token(
    _a: Admin,
    State(s): State<AppState>,
    J(req): J<CreateToken>,
) -> Result<(StatusCode, Json<NewToken>), ApiError> {
    if req.name.trim().is_empty() {
        return Err(ApiError::bad_request("name must not be empty"));
    }
    Ok((
        StatusCode::CREATED,
        Json(s.store.create_api_token(&req.name, req.role).await?),
    ))
}

#[utoipa::path(delete, path = "/api/v1/tokens/{id}", params(("id" = String, Path)),
    responses((status = 204, description = "Revoked"), (status = 404, body = ErrorBody)))]
async fn revoke_token(
    a: Admin,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if id == a.token_id {
        return Err(ApiError::bad_request(
            "refusing to revoke the token making this request",
        ));
    }
    if s.store.revoke_token(&id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("no token with id {id:?}")))
    }
}

/// A new agent enrollment token for a cluster.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEnrollment {
    pub cluster: String,
}

#[utoipa::path(post, path = "/api/v1/enrollment-tokens", request_body = CreateEnrollment, responses((status = 201, body = NewToken), (status = 403, body = ErrorBody)))]
async fn create_enrollment(
    _a: Admin,
    State(s): State<AppState>,
    J(req): J<CreateEnrollment>,
) -> Result<(StatusCode, Json<NewToken>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(s.store.create_enrollment_token(&req.cluster).await?),
    ))
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct PageParams {
    limit: Option<u64>,
    offset: Option<u64>,
}

#[utoipa::path(get, path = "/api/v1/dead-letters", params(PageParams), responses((status = 200, body = Page<DeadLetter>), (status = 403, body = ErrorBody)))]
async fn dead_letters(
    _a: Admin,
    State(s): State<AppState>,
    Q(p): Q<PageParams>,
) -> ApiResult<Page<DeadLetter>> {
    Ok(Json(s.store.list_dead_letters(p.limit, p.offset).await?))
}

fn count_records(s: &AppState, kind: &str, n: u64) {
    s.metrics
        .records_ingested
        .get_or_create(&KindLabels {
            kind: kind.to_owned(),
        })
        .inc_by(n);
}

#[utoipa::path(post, path = "/api/v1/ingest/alerts", request_body = AlertBatch,
    responses((status = 200, body = IngestResult), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn ingest_alerts(
    a: Agent,
    State(s): State<AppState>,
    J(batch): J<AlertBatch>,
) -> ApiResult<IngestResult> {
    a.check_cluster(&batch.cluster)?;
    let out = s
        .store
        .ingest_alerts(&batch.cluster, &batch.node, &batch.alerts)
        .await?;
    let now = jiff::Timestamp::now();
    for &i in &out.accepted {
        let alert = &batch.alerts[i].alert;
        s.metrics
            .alerts_ingested
            .get_or_create(&RuleLabels {
                rule: alert.rule.clone(),
                priority: alert.priority.as_str().to_owned(),
            })
            .inc();
        if let Ok(t) = alert.time.parse::<jiff::Timestamp>() {
            let lag = now.duration_since(t).as_secs_f64();
            s.metrics.ingest_lag.observe(lag.max(0.0));
        }
        s.sinks.enqueue(alert).await;
    }
    s.metrics.alerts_duplicate.inc_by(out.duplicates);
    count_records(&s, "alert", out.accepted.len() as u64);
    Ok(Json(out.result()))
}

#[utoipa::path(post, path = "/api/v1/ingest/workloads", request_body = Snapshot<Workload>,
    responses((status = 200, body = IngestResult), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn ingest_workloads(
    a: Agent,
    State(s): State<AppState>,
    J(snap): J<Snapshot<Workload>>,
) -> ApiResult<IngestResult> {
    a.check_cluster(&snap.cluster)?;
    let r = s.store.replace_workloads(&snap).await?;
    count_records(&s, "workload", r.accepted);
    Ok(Json(r))
}

#[utoipa::path(post, path = "/api/v1/ingest/vulnerabilities", request_body = Snapshot<VulnFinding>,
    responses((status = 200, body = IngestResult), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn ingest_vulns(
    a: Agent,
    State(s): State<AppState>,
    J(snap): J<Snapshot<VulnFinding>>,
) -> ApiResult<IngestResult> {
    a.check_cluster(&snap.cluster)?;
    let r = s.store.replace_vulnerabilities(&snap).await?;
    count_records(&s, "vulnerability", r.accepted);
    Ok(Json(r))
}

#[utoipa::path(post, path = "/api/v1/ingest/posture", request_body = Snapshot<PostureFinding>,
    responses((status = 200, body = IngestResult), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn ingest_posture(
    a: Agent,
    State(s): State<AppState>,
    J(snap): J<Snapshot<PostureFinding>>,
) -> ApiResult<IngestResult> {
    a.check_cluster(&snap.cluster)?;
    let r = s.store.replace_posture(&snap).await?;
    count_records(&s, "posture", r.accepted);
    Ok(Json(r))
}

#[utoipa::path(post, path = "/api/v1/ingest/attack-paths", request_body = Snapshot<AttackPath>,
    responses((status = 200, body = IngestResult), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn ingest_paths(
    a: Agent,
    State(s): State<AppState>,
    J(snap): J<Snapshot<AttackPath>>,
) -> ApiResult<IngestResult> {
    a.check_cluster(&snap.cluster)?;
    let r = s.store.replace_attack_paths(&snap).await?;
    count_records(&s, "attack_path", r.accepted);
    Ok(Json(r))
}

/// The cluster an enrollment token belongs to.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AgentCluster {
    pub cluster: String,
}

/// Lets a one-shot uploader (`kestrel scan k8s --server`) name the cluster its token enrolls
/// instead of asking the user to repeat it.
#[utoipa::path(get, path = "/api/v1/ingest/cluster",
    responses((status = 200, body = AgentCluster), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn ingest_cluster(a: Agent) -> Json<AgentCluster> {
    Json(AgentCluster { cluster: a.cluster })
}

#[utoipa::path(post, path = "/api/v1/ingest/health", request_body = SensorHealth,
    responses((status = 200, body = IngestResult), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn ingest_health(
    a: Agent,
    State(s): State<AppState>,
    J(h): J<SensorHealth>,
) -> ApiResult<IngestResult> {
    a.check_cluster(&h.cluster)?;
    s.store.record_sensor(&h).await?;
    let labels = NodeLabels {
        cluster: h.cluster.clone(),
        node: h.node.clone(),
    };
    s.metrics
        .sensor_eps
        .get_or_create(&labels)
        .set(h.events_per_second);
    s.metrics
        .sensor_events
        .get_or_create(&labels)
        .set(i64::try_from(h.events_total).unwrap_or(i64::MAX));
    s.metrics
        .sensor_drops
        .get_or_create(&labels)
        .set(i64::try_from(h.drops_total).unwrap_or(i64::MAX));
    s.metrics
        .agent_buffer_bytes
        .get_or_create(&labels)
        .set(i64::try_from(h.buffer_bytes).unwrap_or(i64::MAX));
    s.metrics
        .agent_buffer_dropped
        .get_or_create(&labels)
        .set(i64::try_from(h.buffer_dropped_batches).unwrap_or(i64::MAX));
    count_records(&s, "sensor_health", 1);
    Ok(Json(IngestResult {
        accepted: 1,
        duplicates: 0,
    }))
}
