//! A client of the coordinator's API that signs its writes (workers, operators, tests).

use std::time::Duration;

use k256::ecdsa::SigningKey;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::auth::sign_request;
use super::bundle::{address_of, Bundle};
use super::server::{
    EpochRequest, FailRequest, HeartbeatRequest, LeaseGrant, LeaseRequest, RegisterRequest,
    ResultRequest,
};
use super::store::{now_ms, JobKind};

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The coordinator could not be reached or the connection broke (worth retrying).
    #[error("coordinator unreachable: {0}")]
    Transport(String),
    /// The coordinator answered with an error.
    #[error("coordinator answered {status}: {message}")]
    Http {
        /// The status.
        status: StatusCode,
        /// Its `error` message.
        message: String,
    },
    /// The answer was not what the API documents.
    #[error("unexpected answer from the coordinator: {0}")]
    Protocol(String),
}

impl ClientError {
    /// Whether trying again later may succeed: transport failures, 5xx, 429.
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Transport(_) => true,
            ClientError::Http { status, .. } => {
                status.is_server_error() || *status == StatusCode::TOO_MANY_REQUESTS
            }
            ClientError::Protocol(_) => false,
        }
    }

    /// The HTTP status, when the coordinator answered.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            ClientError::Http { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A client bound to one coordinator and, for writes, one key.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    http: reqwest::Client,
    key: Option<SigningKey>,
    /// The last signing time used: signing times strictly increase, so no two requests share a digest.
    last_time: std::sync::Arc<std::sync::atomic::AtomicI64>,
}

impl Client {
    /// A client of the coordinator at `base` (`http://host:port`), signing with `key`.
    pub fn new(base: &str, key: Option<SigningKey>) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(600))
            .build()
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        Ok(Self {
            base: base.trim_end_matches('/').to_string(),
            http,
            key,
            last_time: Default::default(),
        })
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<(StatusCode, Vec<u8>), ClientError> {
        self.send_within(method, path, body, None).await
    }

    async fn send_within(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        timeout: Option<Duration>,
    ) -> Result<(StatusCode, Vec<u8>), ClientError> {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        if let Some(t) = timeout {
            req = req.timeout(t);
        }
        if let Some(body) = body {
            let key = self
                .key
                .as_ref()
                .ok_or_else(|| ClientError::Protocol("a signed request needs a key".into()))?;
            let now = now_ms();
            let prev = self
                .last_time
                .fetch_max(now, std::sync::atomic::Ordering::SeqCst);
            let time = if prev >= now {
                self.last_time
                    .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
                    + 1
            } else {
                now
            };
            for (name, value) in sign_request(key, method.as_str(), path, time, &body) {
                req = req.header(name, value);
            }
            req = req.header("content-type", "application/json").body(body);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| ClientError::Transport(e.to_string()))?
            .to_vec();
        if status.is_client_error() || status.is_server_error() {
            let message = serde_json::from_slice::<Value>(&bytes)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_string))
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).chars().take(500).collect());
            return Err(ClientError::Http { status, message });
        }
        Ok((status, bytes))
    }

    async fn signed_json<T: serde::Serialize>(
        &self,
        path: &str,
        body: &T,
    ) -> Result<(StatusCode, Value), ClientError> {
        let body = serde_json::to_vec(body).map_err(|e| ClientError::Protocol(e.to_string()))?;
        let (status, bytes) = self.send(Method::POST, path, Some(body)).await?;
        if status == StatusCode::NO_CONTENT {
            return Ok((status, Value::Null));
        }
        let v = serde_json::from_slice(&bytes).map_err(|e| ClientError::Protocol(e.to_string()))?;
        Ok((status, v))
    }

    /// Creates a Datanet owned by the key.
    pub async fn create_datanet(&self, name: &str) -> Result<Value, ClientError> {
        Ok(self
            .signed_json("/v1/datanets", &serde_json::json!({ "name": name }))
            .await?
            .1)
    }

    /// Adds signed records (JSON lines, as `zkattr datanet add` reads) to Datanet `name`.
    pub async fn add_records(&self, name: &str, jsonl: &[u8]) -> Result<Value, ClientError> {
        let (_, bytes) = self
            .send(
                Method::POST,
                &format!("/v1/datanets/{name}/records"),
                Some(jsonl.to_vec()),
            )
            .await?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Protocol(e.to_string()))
    }

    /// Seals the next version of Datanet `name` (owner or operator key).
    pub async fn seal(&self, name: &str) -> Result<Value, ClientError> {
        Ok(self
            .signed_json(&format!("/v1/datanets/{name}/seal"), &serde_json::json!({}))
            .await?
            .1)
    }

    /// Seals the next version of Datanet `name` only if it has exactly `items` items (409 otherwise).
    pub async fn seal_items(&self, name: &str, items: u64) -> Result<Value, ClientError> {
        Ok(self
            .signed_json(
                &format!("/v1/datanets/{name}/seal"),
                &serde_json::json!({ "items": items }),
            )
            .await?
            .1)
    }

    /// `GET path` as JSON.
    pub async fn get_json(&self, path: &str) -> Result<Value, ClientError> {
        let (_, bytes) = self.send(Method::GET, path, None).await?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Protocol(e.to_string()))
    }

    /// `GET path` as bytes.
    pub async fn get_bytes(&self, path: &str) -> Result<Vec<u8>, ClientError> {
        Ok(self.send(Method::GET, path, None).await?.1)
    }

    /// Downloads artifact `address`, checking that its bytes hash to it.
    pub async fn artifact(&self, address: &str) -> Result<Vec<u8>, ClientError> {
        let bytes = self.get_bytes(&format!("/v1/artifacts/{address}")).await?;
        if address_of(&bytes) != address {
            return Err(ClientError::Protocol(format!(
                "artifact {address} downloaded with other contents"
            )));
        }
        Ok(bytes)
    }

    /// Registers the key's worker.
    pub async fn register(&self, capabilities: Value) -> Result<Value, ClientError> {
        Ok(self
            .signed_json("/v1/workers", &RegisterRequest { capabilities })
            .await?
            .1)
    }

    /// Leases a job, waiting up to `wait_ms`; `None` when there was none.
    pub async fn lease(
        &self,
        kinds: &[JobKind],
        wait_ms: u64,
    ) -> Result<Option<LeaseGrant>, ClientError> {
        let req = LeaseRequest {
            kinds: kinds.to_vec(),
            wait_ms,
        };
        let (status, v) = self.signed_json("/v1/jobs/lease", &req).await?;
        if status == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        serde_json::from_value(v)
            .map(Some)
            .map_err(|e| ClientError::Protocol(format!("lease: {e}")))
    }

    /// Renews a lease; returns its new expiry (ms). Gives up after 15 s, so one hung request does not hold
    /// up the next heartbeat.
    pub async fn heartbeat(
        &self,
        job: i64,
        lease_id: &str,
        progress: Option<Value>,
    ) -> Result<i64, ClientError> {
        let req = HeartbeatRequest {
            lease_id: lease_id.into(),
            progress,
        };
        let body = serde_json::to_vec(&req).map_err(|e| ClientError::Protocol(e.to_string()))?;
        let (_, bytes) = self
            .send_within(
                Method::POST,
                &format!("/v1/jobs/{job}/heartbeat"),
                Some(body),
                Some(Duration::from_secs(15)),
            )
            .await?;
        let v: Value =
            serde_json::from_slice(&bytes).map_err(|e| ClientError::Protocol(e.to_string()))?;
        v["until"]
            .as_i64()
            .ok_or_else(|| ClientError::Protocol("heartbeat: no `until`".into()))
    }

    /// Puts a failed job back in the queue (operator key).
    pub async fn requeue(&self, job: i64) -> Result<Value, ClientError> {
        Ok(self
            .signed_json(&format!("/v1/jobs/{job}/requeue"), &serde_json::json!({}))
            .await?
            .1)
    }

    /// Submits a result.
    pub async fn submit(
        &self,
        job: i64,
        lease_id: &str,
        bundle: Bundle,
    ) -> Result<Value, ClientError> {
        let req = ResultRequest {
            lease_id: lease_id.into(),
            bundle,
        };
        Ok(self
            .signed_json(&format!("/v1/jobs/{job}/result"), &req)
            .await?
            .1)
    }

    /// Reports a failure.
    pub async fn fail(
        &self,
        job: i64,
        lease_id: &str,
        reason: &str,
        transient: bool,
    ) -> Result<Value, ClientError> {
        let req = FailRequest {
            lease_id: lease_id.into(),
            reason: reason.into(),
            transient,
        };
        Ok(self
            .signed_json(&format!("/v1/jobs/{job}/fail"), &req)
            .await?
            .1)
    }

    /// Creates an epoch (operator key).
    pub async fn create_epoch(&self, req: &EpochRequest) -> Result<Value, ClientError> {
        Ok(self.signed_json("/v1/epochs", req).await?.1)
    }
}
