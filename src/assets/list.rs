//! Finding assets across output directories, and addressing them by URL.
//!
//! Signed URLs follow nginx's `secure_link` module: the link carries
//! `md5=<base64url(MD5("{expires}{uri} {secret}"))>&expires=<unix seconds>`,
//! which a stock nginx verifies with
//! `secure_link $arg_md5,$arg_expires; secure_link_md5 "$secure_link_expires$uri SECRET";`.

use super::{Asset, Manifest, Status};
use base64::Engine;
use md5::{Digest, Md5};
use std::path::{Path, PathBuf};

/// Why assets could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    /// A manifest could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The manifest.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A manifest is not rtprec's.
    #[error("{}: not an rtprec manifest: {message}", path.display())]
    Invalid {
        /// The manifest.
        path: PathBuf,
        /// What is wrong (with line and column).
        message: String,
    },
}

/// An asset and the output directory it belongs to.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Located {
    /// The output directory (the one holding manifest.json).
    pub dir: PathBuf,
    /// The asset record.
    #[serde(flatten)]
    pub asset: Asset,
}

impl Located {
    /// The asset's file on disk, when it has one.
    pub fn file(&self) -> Option<PathBuf> {
        self.asset.path.as_ref().map(|p| self.dir.join(p))
    }
}

/// One asset in the shape of the hosted recording-assets API (100ms
/// `GET /v2/recording-assets`): what integrations with that API already read.
///
/// The mapping from rtprec's record: `id`, `type`, `room_id`, `session_id`,
/// `peer_id`, `track_id`, `status` and `size` as they are; `path` the file's
/// absolute path (the API's storage location; `null` without a file);
/// `duration` in seconds (`duration_ms / 1000`); `created_at` the capture time
/// of the track's last packet (`stopped_at`: when the file was complete);
/// `metadata` the whole rtprec record with its `dir`. The API's `job_id` and
/// `thumbnails` have no counterpart and are left out.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ApiAsset {
    /// The asset id.
    pub id: String,
    /// The asset type (`track`).
    #[serde(rename = "type")]
    pub asset_type: String,
    /// The file's absolute path; `null` when the asset has no file.
    pub path: Option<String>,
    /// The file's size in bytes.
    pub size: Option<u64>,
    /// The playable duration in seconds.
    pub duration: Option<f64>,
    /// Room id.
    pub room_id: String,
    /// Session id.
    pub session_id: String,
    /// Peer id.
    pub peer_id: String,
    /// Track id.
    pub track_id: String,
    /// `completed`, `failed` or `skipped`.
    pub status: Status,
    /// When the file was complete: the capture time of the track's last packet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// rtprec's own record of the asset, with the output directory it belongs to.
    pub metadata: Located,
}

/// The response of the hosted API's list call: one page holding every asset.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ApiList {
    /// The assets.
    pub data: Vec<ApiAsset>,
    /// The page size: here the number of assets, all on one page.
    pub limit: usize,
    /// The API's cursor for the next page: always `null`, there is none.
    pub last: Option<String>,
}

/// The hosted API's pre-signed URL response (`GET /v2/recording-assets/{id}/presigned-url`).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ApiPresignedUrl {
    /// The asset id.
    pub id: String,
    /// The file's absolute path, as in [`ApiAsset::path`].
    pub path: String,
    /// The URL.
    pub url: String,
    /// Seconds the URL stays valid from now (`--expires-in`); `null` for a
    /// `file://` URL, which does not expire.
    pub expiry: Option<u64>,
}

impl ApiAsset {
    /// The API view of `located`; `abs_dir` is its output directory made
    /// absolute (by the caller, which knows the working directory).
    pub fn new(located: Located, abs_dir: &Path) -> ApiAsset {
        let a = &located.asset;
        ApiAsset {
            id: a.id.clone(),
            asset_type: a.asset_type.clone(),
            path: a
                .path
                .as_ref()
                .map(|p| abs_dir.join(p).to_string_lossy().into_owned()),
            size: a.size,
            // Milliseconds to seconds: f64 holds every duration exactly to the millisecond.
            duration: a.duration_ms.map(|ms| ms as f64 / 1000.0),
            room_id: a.room_id.clone(),
            session_id: a.session_id.clone(),
            peer_id: a.peer_id.clone(),
            track_id: a.track_id.clone(),
            status: a.status,
            created_at: a.stopped_at.clone(),
            metadata: located,
        }
    }
}

impl ApiList {
    /// One page holding all of `data`.
    pub fn new(data: Vec<ApiAsset>) -> ApiList {
        ApiList {
            limit: data.len(),
            data,
            last: None,
        }
    }
}

/// Filters of `rtprec assets list`; `None` matches everything.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Asset type (only `track` exists).
    pub asset_type: Option<String>,
    /// Room id.
    pub room_id: Option<String>,
    /// Session id.
    pub session_id: Option<String>,
    /// Peer id.
    pub peer_id: Option<String>,
    /// Status.
    pub status: Option<Status>,
}

impl Filter {
    /// Whether `a` passes every given filter.
    pub fn matches(&self, a: &Asset) -> bool {
        let eq = |want: &Option<String>, got: &str| want.as_deref().is_none_or(|w| w == got);
        eq(&self.asset_type, &a.asset_type)
            && eq(&self.room_id, &a.room_id)
            && eq(&self.session_id, &a.session_id)
            && eq(&self.peer_id, &a.peer_id)
            && self.status.is_none_or(|s| s == a.status)
    }
}

/// Reads `DIR/manifest.json` of every directory, in order, keeping the assets that match.
pub fn list(dirs: &[PathBuf], filter: &Filter) -> Result<Vec<Located>, ListError> {
    let mut out = Vec::new();
    for dir in dirs {
        let path = dir.join("manifest.json");
        let text = std::fs::read_to_string(&path).map_err(|source| ListError::Io {
            path: path.clone(),
            source,
        })?;
        let m: Manifest = serde_json::from_str(&text).map_err(|e| ListError::Invalid {
            path: path.clone(),
            message: e.to_string(),
        })?;
        if m.version != super::MANIFEST_VERSION {
            let message = format!(
                "manifest version {} (this rtprec reads {})",
                m.version,
                super::MANIFEST_VERSION
            );
            return Err(ListError::Invalid { path, message });
        }
        out.extend(
            m.assets
                .into_iter()
                .filter(|a| filter.matches(a))
                .map(|asset| Located {
                    dir: dir.clone(),
                    asset,
                }),
        );
    }
    Ok(out)
}

/// `file://` URL of an absolute path, percent-encoding what is not URL-safe.
pub fn file_url(path: &Path) -> String {
    format!("file://{}", encode_path(&path.to_string_lossy()))
}

/// nginx `secure_link` URL: `{base}/{path}?md5=…&expires=…`.
///
/// `expires` is Unix seconds (the caller takes it from the wall clock: a link's
/// lifetime is about the real world, not the capture).
pub fn signed_url(base: &str, rel_path: &str, secret: &str, expires: u64) -> String {
    let base = base.trim_end_matches('/');
    // The URI nginx hashes is the request path, as sent (percent-encoded).
    let uri_path = base_path(base).to_string() + "/" + &encode_path(rel_path);
    let mut h = Md5::new();
    h.update(format!("{expires}{uri_path} {secret}").as_bytes());
    let md5 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(h.finalize());
    format!(
        "{base}/{}?md5={md5}&expires={expires}",
        encode_path(rel_path)
    )
}

/// The path part of `scheme://host[:port]/path` (empty when there is none).
fn base_path(base: &str) -> &str {
    let after_scheme = base.split_once("://").map_or(base, |(_, rest)| rest);
    after_scheme.find('/').map_or("", |i| &after_scheme[i..])
}

/// Percent-encodes everything but unreserved characters and `/` (RFC 3986 §2.3).
fn encode_path(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    for b in p.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_urls_match_nginx_secure_link() {
        // echo -n '2147483647/media/room/s/p/t.ogg s3cret' | openssl md5 -binary | base64 | tr +/ -_ | tr -d =
        let url = signed_url(
            "https://cdn.example/media/",
            "room/s/p/t.ogg",
            "s3cret",
            2_147_483_647,
        );
        assert_eq!(
            url,
            "https://cdn.example/media/room/s/p/t.ogg?md5=OWc5w5rBbi_pB8WgtaE8hQ&expires=2147483647"
        );
    }

    #[test]
    fn file_urls_are_percent_encoded() {
        assert_eq!(
            file_url(Path::new("/out/a b/c#d.ogg")),
            "file:///out/a%20b/c%23d.ogg"
        );
    }
}
