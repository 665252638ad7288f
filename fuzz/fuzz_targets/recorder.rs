//! The recorder state machine fed arbitrary datagrams and capture times, with
//! and without metadata: it never panics, every started track ends in exactly
//! one ended session, and the manifest lists each asset id once.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtprec::assets::{Asset, Failure};
use rtprec::capture::{FrameMeta, Link, LinkType};
use rtprec::net::{Datagram, Encap, Flow, Transport};
use rtprec::record::recorder::{Actions, Recorder, SessionKey};
use rtprec::record::track::{FecSetup, TrackSetup};
use rtprec::record::workers::{Inbound, WorkerOutcome};
use rtprec::record::RecordOptions;
use rtprec::time::CaptureTime;

#[derive(Default)]
struct Count {
    started: usize,
    ended: usize,
}

impl Actions for Count {
    fn start_track(&mut self, _: usize, _: TrackSetup) {}
    fn queue(&mut self, _: usize, _: Inbound) {}
    fn enable_fec(&mut self, _: usize, _: FecSetup) {}
    fn abort_track(&mut self, _: usize) {}
    fn count_track(&mut self, _: usize, _: Failure) {}
    fn finish_tracks(&mut self, n: usize, _: &[SessionKey]) -> Vec<WorkerOutcome> {
        (0..n).map(|_| WorkerOutcome::default()).collect()
    }
    fn track_started(&mut self, _: &Asset, _: CaptureTime) {
        self.started += 1;
    }
    fn session_ended(&mut self, assets: &[(CaptureTime, Asset)]) {
        self.ended += assets.len();
    }
}

const META: &str = r#"{"room_id": "r", "peers": [
    {"peer_id": "a", "joined_at": "2026-11-23T10:00:00Z", "left_at": "2026-11-23T10:00:02Z",
     "tracks": [{"track_id": "mic", "kind": "audio", "ssrc": 1, "codec": "opus", "payload_type": 111}]},
    {"peer_id": "a", "joined_at": "2026-11-23T10:00:10Z",
     "tracks": [{"track_id": "cam", "kind": "video", "ssrc": 2, "codec": "vp8", "payload_type": 96, "rtx_ssrc": 3}]}]}"#;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let session = (mode & 1 == 1).then(|| {
        rtprec::session::metadata::parse_metadata(META, std::path::Path::new("m.json"))
            .expect("the fuzz metadata parses")
    });
    let opts = RecordOptions {
        out_dir: "/nonexistent".into(),
        jobs: 1,
        session,
        identification: "metadata",
        reorder: Default::default(),
        idle_timeout_nanos: 1_000_000_000,
        template: Default::default(),
        srtp_keys: Vec::new(),
        keylog: Default::default(),
        match_by_kind: false,
        audio_export: None,
    };
    let mut rec = Recorder::new(opts);
    let mut acts = Count::default();
    let mut t = 1_795_428_000_000_000_000i64;
    // Records: [time step (2 bytes, 1/8 ms units)] [port byte] [len byte] [payload].
    let mut input = rest;
    while input.len() >= 4 {
        let step = i64::from(u16::from_be_bytes([input[0], input[1]])) * 125_000;
        let port = u16::from(input[2]);
        let len = usize::from(input[3]).min(input.len() - 4);
        let payload = &input[4..4 + len];
        input = &input[4 + len..];
        t += step;
        let d = Datagram {
            meta: FrameMeta {
                file: rtprec::error::FileId(0),
                index: 1,
                offset: 0,
                time: CaptureTime::from_nanos(t),
                link: Link::Pcap(LinkType::RAW),
                orig_len: 0,
            },
            flow: Flow {
                src: std::net::SocketAddr::from(([10, 0, 0, 1], 5000 + port % 4)),
                dst: std::net::SocketAddr::from(([10, 0, 0, 2], 6000)),
                transport: Transport::Udp,
            },
            encap: Encap::Plain,
            payload,
        };
        rec.saw_frame(d.meta.time, &mut acts);
        rec.push(&d, &mut acts);
        if port == 255 {
            rec.idle(CaptureTime::from_nanos(t + 2_000_000_000), &mut acts);
        }
    }
    rec.finish(&mut acts);
    let m = rec.manifest(Vec::new());
    let mut ids: Vec<&str> = m.assets.iter().map(|a| a.id.as_str()).collect();
    ids.sort_unstable();
    let n = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), n, "asset ids are unique");
    assert!(acts.started <= acts.ended, "every started track ends");
});
