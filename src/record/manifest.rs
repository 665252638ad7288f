//! Manifest assembly: a track's asset record from what the recorder knows of
//! it and what its worker reported; ids and path parts.

use super::recorder::{Life, Track};
use crate::assets::{self, Asset, AssetStats, Failure, FailureCode, Resolution, Status};
use crate::time::CaptureTime;

/// The asset record of a track; `offset` is its start on the session timeline
/// (ms, and where it came from), known once the session ends.
pub(super) fn asset_of(t: &Track, offset: Option<(i64, &'static str)>) -> Asset {
    let finished = match &t.life {
        Life::Done(f) => Some(f.as_ref()),
        _ => None,
    };
    let result = finished.map(|f| &f.result);
    let stats = finished.and_then(|f| f.stats.as_deref());
    let dims = finished.and_then(|f| f.dims);
    let (status, error, file) = match result {
        _ if t.skipped.is_some() => {
            let message = t.skipped.clone().unwrap_or_default();
            (
                Status::Skipped,
                Some(Failure::new(FailureCode::Skipped, message)),
                None,
            )
        }
        Some(Ok(file)) => (Status::Completed, None, Some(file)),
        Some(Err(f)) => (Status::Failed, Some(f.clone()), None),
        None => (
            Status::Failed,
            Some(Failure::new(FailureCode::Internal, "track never finished")),
            None,
        ),
    };
    let mut st = stats.cloned().unwrap_or_default();
    if stats.is_none() {
        // The track never ran (e.g. unsupported codec): still count what arrived.
        st.packets = t.packets_seen;
    }
    Asset {
        id: assets::asset_id(
            &t.id.room_id,
            &t.id.session_id,
            &t.id.peer_id,
            &t.id.track_id,
        ),
        asset_type: "track".into(),
        room_id: t.id.room_id.clone(),
        session_id: t.id.session_id.clone(),
        peer_id: t.id.peer_id.clone(),
        track_id: t.id.track_id.clone(),
        kind: t.id.kind,
        source: t.id.source,
        codec: t.codec_name.clone(),
        container: file.and(t.container).map(|c| c.extension().to_string()),
        ssrc: t.id.ssrc.map(|s| format!("0x{s:08X}")),
        payload_type: t.payload_type,
        clock_rate: t.clock_rate,
        path: file.and(t.rel_path.clone()),
        size: file.map(|f| f.size),
        sha256: file.map(|f| f.sha256_hex()),
        started_at: t.first_time.map(assets::time_str),
        stopped_at: t.last_time.map(assets::time_str),
        duration_ms: file.map(|f| f.duration_ms),
        start_offset_ms: offset.map(|(ms, _)| ms),
        start_offset_source: offset.map(|(_, source)| source.to_string()),
        sender_clock: None,
        resolution: dims
            .filter(|_| file.is_some())
            .map(|(width, height)| Resolution { width, height }),
        status,
        error,
        inferred: t.id.inferred.clone(),
        time_source: None,
        decryption: None,
        exports: file
            .zip(t.rel_path.as_deref())
            .map(|(f, rel)| {
                f.exports
                    .iter()
                    .map(|e| assets::AssetExport {
                        kind: e.kind.as_str().into(),
                        path: e.kind.rel_path_beside(rel),
                        size: e.size,
                        sha256: e.sha256_hex(),
                        duration_ms: e.duration_ms,
                        sample_rate: e.sample_rate,
                        channels: e.channels,
                    })
                    .collect()
            })
            .unwrap_or_default(),
        stats: AssetStats {
            packets: st.packets,
            lost: st.reorder.lost,
            duplicates: st.reorder.duplicates,
            duplicates_other_path: t.paths.copies(),
            paths: t.paths.count(),
            reordered: st.reorder.reordered,
            late: st.reorder.late,
            resets: st.reorder.restarts,
            restarts: st.reorder.restarts,
            recovered: st.recovered_rtx + st.recovered_red + st.recovered_fec,
            recovered_rtx: st.recovered_rtx,
            recovered_red: st.recovered_red,
            recovered_fec: st.recovered_fec,
            rtx_packets: st.rtx_packets,
            fec_packets: st.fec_packets,
            frames_written: st.frames_written,
            frames_dropped_incomplete: st.frames_dropped_incomplete,
            frames_dropped_until_keyframe: st.frames_dropped_until_keyframe,
            frames_inserted: st.frames_inserted,
            gaps: st.gaps,
            timestamp_jumps: st.timestamp_jumps,
            malformed: st.malformed,
            other_payload_types: st.other_payload_types,
            padding_only: st.padding_only,
            outside_presence: t.outside_presence,
            pauses: st.pauses,
            paused_ms: st.paused_ms,
            srtp_auth_failures: t.srtp.as_ref().map_or(0, |s| s.failures()) + t.keyring_failures,
        },
    }
}

/// `20261123T100001Z`: a capture time as a path-safe id part.
pub(super) fn compact_time(t: CaptureTime) -> String {
    t.to_rfc3339_millis()
        .replace(['-', ':'], "")
        .split('.')
        .next()
        .unwrap_or_default()
        .to_string()
        + "Z"
}

/// `10.0.0.1:5000` -> `10.0.0.1-5000`, `[::1]:5000` -> `__1-5000`: a path-safe peer id.
pub(super) fn peer_from_addr(a: &std::net::SocketAddr) -> String {
    let ip = a.ip().to_string().replace(':', "_");
    format!("{ip}-{}", a.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_parts_are_path_safe() {
        let t = CaptureTime::from_secs_nanos(1_795_428_001, 120_000_000);
        assert_eq!(compact_time(t), "20261123T100001Z");
        assert_eq!(
            peer_from_addr(&"[2001:db8::1]:5004".parse().expect("addr")),
            "2001_db8__1-5004"
        );
        assert_eq!(
            peer_from_addr(&"10.0.0.1:5000".parse().expect("addr")),
            "10.0.0.1-5000"
        );
    }
}
