//! Where signalling and the media disagree: streams no track matched, bound
//! by kind with `--match-by-kind` and described in a track's `no-media`
//! message; and tracks signalling calls SRTP that had no key, settled at a
//! session's end ([`crate::record::encrypted`]). A child of the recorder so
//! that it reads the recorder's state without widening it.

use super::*;

impl Unmatched {
    /// Audio or video, when its payload type or payloads tell.
    pub(super) fn kind(&self) -> Option<Kind> {
        self.kind.or_else(|| {
            let g = self.guesser.as_ref()?.guess();
            g.codec.map(Codec::kind)
        })
    }
}

impl Recorder {
    /// The kind a payload type has by signalling (the media payload type of
    /// tracks of one kind) or by RFC 3551's static table.
    pub(super) fn signalled_kind(&self, pt: u8) -> Option<Kind> {
        let mut kinds = self
            .tracks
            .iter()
            .filter(|t| t.payload_type == Some(pt))
            .map(|t| t.id.kind);
        match kinds.next() {
            Some(k) if kinds.all(|o| o == k) => Some(k),
            Some(_) => None,
            None => crate::codec::static_payload_type(pt).map(|s| s.codec.kind()),
        }
    }

    /// Signalled tracks that have had no packet yet: they may take a stream by kind.
    pub(super) fn waiting_tracks(&self, kind: Kind) -> Vec<usize> {
        self.tracks
            .iter()
            .enumerate()
            .filter(|(_, t)| {
                t.id.kind == kind
                    && t.packets_seen == 0
                    && matches!(t.life, Life::Idle)
                    && t.skipped.is_none()
            })
            .map(|(i, _)| i)
            .collect()
    }

    /// The kind of a held stream: its payload type's, else its payloads' as inference guesses them.
    pub(super) fn held_kind(&self, p: &Pending) -> Option<Kind> {
        let (pt, guess, _) = p.guess()?;
        self.signalled_kind(pt)
            .or_else(|| guess.codec.map(Codec::kind))
    }

    /// `--match-by-kind`: holds a stream no track matched while some track
    /// still waits for its media; true when the packet was held.
    pub(super) fn hold_for_kind(
        &mut self,
        d: &Datagram<'_>,
        pkt: &RtpPacket<'_>,
        actions: &mut dyn Actions,
    ) -> bool {
        let ssrc = pkt.ssrc();
        let arrival = Arrival::from_rtp(pkt, d.meta.time);
        if let Some((p, _, _)) = self.held.get_mut(&ssrc.0) {
            p.push(pkt, arrival, d.payload, d.flow);
            if p.ripe(d.meta.time) {
                self.decide_by_kind(ssrc.0, actions);
            }
            return true;
        }
        let someone_waits = self
            .tracks
            .iter()
            .any(|t| t.packets_seen == 0 && matches!(t.life, Life::Idle) && t.skipped.is_none());
        if !someone_waits || self.held.len() >= MAX_UNMATCHED {
            return false;
        }
        let mut p = Pending::new(d, ssrc);
        p.push(pkt, arrival, d.payload, d.flow);
        self.held.insert(ssrc.0, (p, d.meta, d.encap));
        true
    }

    /// Decides every held stream (the session ends), first seen first.
    pub(super) fn decide_all_held(&mut self, actions: &mut dyn Actions) {
        let mut keys: Vec<(CaptureTime, u32)> = self
            .held
            .iter()
            .map(|(k, (p, _, _))| (p.first_time, *k))
            .collect();
        keys.sort_unstable();
        for (_, k) in keys {
            self.decide_by_kind(k, actions);
        }
    }

    /// A held stream's kind is known (or the session ends): it becomes the track
    /// of its kind when it is the only unmatched stream of that kind and that
    /// track the only one of its kind waiting; otherwise it stays unmatched.
    pub(super) fn decide_by_kind(&mut self, ssrc: u32, actions: &mut dyn Actions) {
        let Some((p, meta, encap)) = self.held.remove(&ssrc) else {
            return;
        };
        let kind = self.held_kind(&p);
        let chosen = kind.and_then(|k| {
            let others = self
                .held
                .values()
                .filter(|(q, _, _)| self.held_kind(q) == Some(k));
            let unmatched = self.unmatched.iter().filter(|u| u.kind() == Some(k));
            let alone = others.count() + unmatched.count() == 0;
            match self.waiting_tracks(k).as_slice() {
                [i] if alone => Some(*i),
                _ => None,
            }
        });
        let Some(i) = chosen else {
            self.router.set_ssrc(ssrc, Route::Ignore);
            let pt = p.guess().map_or(0, |(pt, _, _)| pt);
            if !self
                .diagnostics
                .iter()
                .any(|x| x.kind == "ssrc-not-in-metadata")
            {
                let ctx = crate::error::PacketCtx {
                    time: p.first_time,
                    rtp: Some(crate::error::RtpCtx {
                        ssrc,
                        seq: p.packets.first().map_or(0, |a| a.seq16),
                    }),
                    ..Default::default()
                };
                self.diagnostics.push(Diagnostic {
                    ctx,
                    kind: "ssrc-not-in-metadata",
                    message: format!(
                        "SSRC {} (PT {pt}, {} -> {}) is not in the session metadata, and \
                         --match-by-kind found no single track of its kind for it; not recorded",
                        Ssrc(ssrc),
                        p.flow.src,
                        p.flow.dst
                    ),
                });
            }
            if self.unmatched.len() < MAX_UNMATCHED {
                self.unmatched.push(Unmatched {
                    ssrc,
                    payload_type: pt,
                    flow: p.flow,
                    packets: p.total(),
                    kind,
                    guesser: None,
                });
            }
            return;
        };
        self.router.bind_to(ssrc, i);
        let t = &mut self.tracks[i];
        t.id.ssrc = Some(ssrc);
        t.id.inferred.push("ssrc (by kind)".into());
        // The stream's payload type is the media's (signalling named another one):
        // its codec is the one its payloads show, when they show one.
        if let Some((pt, guess, _)) = p.guess()
            && t.payload_type != Some(pt)
        {
            t.payload_type = Some(pt);
            t.id.inferred.push("payload_type".into());
            if let Some(codec) = guess.codec.filter(|c| t.codec != Some(*c)) {
                t.codec = Some(codec);
                t.codec_name = Some(codec.name().into());
                t.clock_rate = guess.clock_rate;
                t.channels = None;
                t.fmtp = None;
                t.id.inferred.push("codec".into());
                t.encryption =
                    crate::record::encrypted::Watch::new(t.encryption.protection, Some(codec));
                t.tag_probe = (t.srtp.is_none()
                    && crate::record::encrypted::TagProbe::applies(Some(codec)))
                .then(Default::default);
            }
        }
        let keyed = t.srtp.is_some();
        for ((a, raw), flow) in p.packets.into_iter().zip(p.raws).zip(p.flows) {
            if keyed {
                let d = Datagram {
                    meta: crate::capture::FrameMeta {
                        time: a.time,
                        ..meta
                    },
                    flow,
                    encap,
                    payload: &raw,
                };
                self.enqueue_srtp(i, &d, actions);
            } else {
                self.enqueue(i, a, Some(&raw), flow, actions);
            }
        }
    }

    /// What the session's unmatched streams say about track `i` having no media:
    /// each stream, and whether `--match-by-kind` would (or could not) take one.
    pub(super) fn describe_unmatched(&self, i: usize) -> String {
        let t = &self.tracks[i];
        if self.unmatched.is_empty() || t.packets_seen > 0 {
            return String::new();
        }
        let noun = if self.opts.identification == "sdp" {
            "SDP"
        } else {
            "metadata"
        };
        let kind = t.id.kind;
        let same = self
            .unmatched
            .iter()
            .filter(|u| u.kind() == Some(kind))
            .count();
        let waiting = self.waiting_tracks(kind).len();
        let name = kind_name(kind);
        let hint = match (same, waiting, self.opts.match_by_kind) {
            (1, 1, false) => format!(
                "; it is the only unmatched {name} stream: use --match-by-kind to record it as this track"
            ),
            (0, _, true) => format!("; --match-by-kind: no unmatched {name} stream"),
            (1, _, true) => format!(
                "; --match-by-kind: {waiting} {name} tracks had no media, so the one {name} stream is none's"
            ),
            (n, _, true) => format!("; --match-by-kind: {n} unmatched {name} streams, not one"),
            _ => String::new(),
        };
        let list: Vec<String> = self
            .unmatched
            .iter()
            .map(|u| {
                let kind = u
                    .kind()
                    .map(|k| format!(" ({})", kind_name(k)))
                    .unwrap_or_default();
                format!(
                    "SSRC 0x{:08X} PT {}{kind} on {} -> {} ({} packets)",
                    u.ssrc, u.payload_type, u.flow.src, u.flow.dst, u.packets
                )
            })
            .collect();
        format!(
            "; the capture has {} stream(s) the {noun} does not name, not matched: {}{hint}",
            self.unmatched.len(),
            list.join(", ")
        )
    }

    /// Whether a `--srtp-keys` key decrypts `ssrc` (its packets reach tracks decrypted).
    pub(super) fn keyring_decrypts(&self, ssrc: Option<u32>) -> bool {
        ssrc.is_some_and(|s| self.keyring.profile(s).is_some())
    }

    /// At a session's end: tracks signalling calls SRTP, without a key, whose
    /// payloads never showed plain media fail as encrypted ([`crate::record::encrypted::at_end`]).
    pub(super) fn settle_encryption(&mut self, actions: &mut dyn Actions) {
        for idx in 0..self.tracks.len() {
            let t = &self.tracks[idx];
            if matches!(t.life, Life::Done(_)) {
                continue;
            }
            let decrypted = self.keyring_decrypts(t.id.ssrc);
            if let Some(message) = crate::record::encrypted::at_end(t, decrypted) {
                self.count_instead(idx, FailureCode::EncryptedNoKey, message, actions);
            }
        }
    }
}

/// `audio` or `video`.
fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Audio => "audio",
        Kind::Video => "video",
    }
}
