//! The proxy's configuration: JSON in MODELOPS_PROXY_CONFIG, written by the
//! operator (operator/api/proxy-config.ts holds the schema it writes). The
//! defaults come from that schema through the generated contract, so the
//! two sides cannot drift apart.
use serde::Deserialize;

use crate::contract as c;

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    Numeric,
    Categorical,
}

#[derive(Clone, Debug, Deserialize)]
pub struct SignatureField {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: FieldType,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Signature {
    #[serde(default)]
    pub inputs: Vec<SignatureField>,
    #[serde(default)]
    pub outputs: Vec<SignatureField>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct ReferenceEntry {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: FieldType,
    /// numeric: the reference's N+1 bucket boundaries.
    pub edges: Option<Vec<f64>>,
    /// categorical: the categories the reference knows; others count as "__other__".
    pub categories: Option<Vec<String>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Reference {
    #[serde(default)]
    pub features: Vec<ReferenceEntry>,
    #[serde(default)]
    pub predictions: Vec<ReferenceEntry>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShadowConfig {
    /// Base URL of the shadow revision; the request path is appended.
    pub url: String,
    /// Share of inference requests mirrored, 0..100; unset: asked of the shadow at MIRROR_PATH.
    pub percent: Option<f64>,
    #[serde(default = "d::discover_every_ms")]
    pub discover_every_ms: u64,
    #[serde(default = "d::max_concurrent")]
    pub max_concurrent: usize,
    #[serde(default = "d::timeout_ms")]
    pub timeout_ms: u64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    pub namespace: String,
    pub deployment: String,
    pub revision: String,
    pub version: String,
    #[serde(default = "d::listen_port")]
    pub listen_port: u16,
    #[serde(default = "d::metrics_port")]
    pub metrics_port: u16,
    #[serde(default = "d::upstream")]
    pub upstream: String,
    /// The model server's gRPC port (h2c); gRPC calls to the proxy go there. Unset: no gRPC.
    pub grpc_upstream: Option<String>,
    #[serde(default)]
    pub signature: Signature,
    #[serde(default)]
    pub reference: Reference,
    pub shadow: Option<ShadowConfig>,
    pub mirror_percent: Option<f64>,
    #[serde(default = "d::max_parse_bytes")]
    pub max_parse_bytes: usize,
    #[serde(default = "d::max_buffered_bytes")]
    pub max_buffered_bytes: usize,
    #[serde(default = "d::max_parse_inflight")]
    pub max_parse_inflight: usize,
    #[serde(default = "d::upstream_timeout_ms")]
    pub upstream_timeout_ms: u64,
    #[serde(default = "d::upstream_idle_timeout_ms")]
    pub upstream_idle_timeout_ms: u64,
    #[serde(default = "d::headers_timeout_ms")]
    pub headers_timeout_ms: u64,
    #[serde(default = "d::request_timeout_ms")]
    pub request_timeout_ms: u64,
    #[serde(default = "d::keep_alive_timeout_ms")]
    pub keep_alive_timeout_ms: u64,
    #[serde(default = "d::max_connection_age_ms")]
    pub max_connection_age_ms: u64,
    #[serde(default = "d::drain_ms")]
    pub drain_ms: u64,
}

/// serde wants functions for defaults; each returns the contract's value.
mod d {
    use super::c;
    pub fn listen_port() -> u16 { c::DEFAULT_LISTEN_PORT }
    pub fn metrics_port() -> u16 { c::DEFAULT_METRICS_PORT }
    pub fn upstream() -> String { c::DEFAULT_UPSTREAM.to_string() }
    pub fn max_parse_bytes() -> usize { c::DEFAULT_MAX_PARSE_BYTES }
    pub fn max_buffered_bytes() -> usize { c::DEFAULT_MAX_BUFFERED_BYTES }
    pub fn max_parse_inflight() -> usize { c::DEFAULT_MAX_PARSE_INFLIGHT }
    pub fn upstream_timeout_ms() -> u64 { c::DEFAULT_UPSTREAM_TIMEOUT_MS }
    pub fn upstream_idle_timeout_ms() -> u64 { c::DEFAULT_UPSTREAM_IDLE_TIMEOUT_MS }
    pub fn headers_timeout_ms() -> u64 { c::DEFAULT_HEADERS_TIMEOUT_MS }
    pub fn request_timeout_ms() -> u64 { c::DEFAULT_REQUEST_TIMEOUT_MS }
    pub fn keep_alive_timeout_ms() -> u64 { c::DEFAULT_KEEP_ALIVE_TIMEOUT_MS }
    pub fn max_connection_age_ms() -> u64 { c::DEFAULT_MAX_CONNECTION_AGE_MS }
    pub fn drain_ms() -> u64 { c::DEFAULT_DRAIN_MS }
    pub fn discover_every_ms() -> u64 { c::DEFAULT_SHADOW_DISCOVER_EVERY_MS }
    pub fn max_concurrent() -> usize { c::DEFAULT_SHADOW_MAX_CONCURRENT }
    pub fn timeout_ms() -> u64 { c::DEFAULT_SHADOW_TIMEOUT_MS }
}

/// Parses the JSON config; the error says which field is wrong.
pub fn parse(json: Option<&str>) -> Result<Config, String> {
    let env = c::CONFIG_ENV;
    let json = json.ok_or_else(|| format!("{env} is not set: the operator passes the proxy's config as JSON in it"))?;
    let config: Config = serde_json::from_str(json).map_err(|e| format!("{env} is invalid: {e}"))?;
    for (what, url) in [("upstream", Some(&config.upstream)), ("grpcUpstream", config.grpc_upstream.as_ref())] {
        if let Some(url) = url {
            url.parse::<http::Uri>()
                .ok()
                .filter(|u| u.scheme_str() == Some("http") && u.authority().is_some())
                .ok_or_else(|| format!("{env} is invalid: {what} {url:?} is not an http://host:port URL"))?;
        }
    }
    Ok(config)
}
