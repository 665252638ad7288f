//! Routing: which track an SSRC (with metadata) or a 5-tuple and SSRC
//! (without) belongs to, and how SSRCs that signalling did not name are bound
//! to their track by the MID/RID header extensions or the `m=` port.

use crate::net::Datagram;
use crate::rtp::RtpPacket;

/// `a=extmap` URI of the MID header extension (RFC 8843 §15).
pub const MID_URI: &str = "urn:ietf:params:rtp-hdrext:sdes:mid";
/// `a=extmap` URI of the RID header extension (RFC 8852).
pub const RID_URI: &str = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id";

/// SSRCs remembered as not recorded ([`Route::Ignore`]) per session. Each costs
/// about 16 bytes; a hostile capture of a million one-packet SSRCs would otherwise
/// grow the table for as long as the session lasts (#13). Past the cap an ignored
/// SSRC is simply not remembered: if it comes back it is looked at again.
pub const MAX_IGNORED: usize = 65_536;

/// Where packets of an SSRC go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// The track's own media.
    Track(usize),
    /// RFC 4588 retransmissions of the track's packets.
    Rtx(usize),
    /// The track's separate FEC stream (FlexFEC, RFC 8627).
    Fec(usize),
    /// A track of a session that has ended: its later packets are outside
    /// the session (counted, not recorded). The index is the ended asset's.
    Ended(usize),
    /// Known and not recorded.
    Ignore,
}

/// What names a track's packets when its SSRC is not known in advance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BindBy {
    /// BUNDLE: the MID (and RID) header extensions (RFC 8843, RFC 8852).
    Mid {
        /// The `a=mid` value.
        mid: String,
        /// The MID extension's id.
        mid_ext: u8,
        /// The `a=rid` value and the RID extension's id.
        rid: Option<(String, u8)>,
    },
    /// Plain RTP/AVP SDP: the `m=` port the media is sent to, and the payload type.
    Port {
        /// Destination port.
        port: u16,
        /// The `m=` line's payload type, when it names one.
        payload_type: Option<u8>,
    },
}

impl BindBy {
    fn matches(&self, d: &Datagram<'_>, pkt: &RtpPacket<'_>) -> bool {
        match self {
            BindBy::Mid { mid, mid_ext, rid } => {
                let exts = pkt.extensions();
                exts.get(*mid_ext) == Some(mid.as_bytes())
                    && rid
                        .as_ref()
                        .is_none_or(|(rid, ext)| exts.get(*ext) == Some(rid.as_bytes()))
            }
            BindBy::Port { port, payload_type } => {
                d.flow.dst.port() == *port && payload_type.is_none_or(|pt| pt == pkt.payload_type())
            }
        }
    }
}

/// The routing tables of the current session.
#[derive(Debug, Default)]
pub struct Router {
    /// SSRC -> route (a media source is its SSRC, whichever path it took).
    by_ssrc: crate::hash::FastMap<u32, Route>,
    /// Metadata tracks without an SSRC, waiting for the first packet that names them.
    bindings: Vec<(usize, BindBy)>,
    /// Entries of `by_ssrc` that are [`Route::Ignore`].
    ignored: usize,
}

impl Router {
    /// The route of an SSRC.
    pub fn ssrc(&self, ssrc: u32) -> Option<Route> {
        self.by_ssrc.get(&ssrc).copied()
    }

    /// Routes `ssrc`.
    pub fn set_ssrc(&mut self, ssrc: u32, route: Route) {
        let new = usize::from(route == Route::Ignore);
        if new == 1 && self.ignored >= MAX_IGNORED && !self.by_ssrc.contains_key(&ssrc) {
            return;
        }
        let old = self.by_ssrc.insert(ssrc, route);
        self.ignored = self.ignored + new - usize::from(old == Some(Route::Ignore));
    }

    /// Track `track` waits for the first packet `by` names.
    pub fn wait_for(&mut self, track: usize, by: BindBy) {
        self.bindings.push((track, by));
    }

    /// Binds the packet's SSRC to the first waiting track its MID/RID header
    /// extensions or its destination port and payload type name.
    pub fn bind(&mut self, d: &Datagram<'_>, pkt: &RtpPacket<'_>) -> Option<usize> {
        let pos = self
            .bindings
            .iter()
            .position(|(_, by)| by.matches(d, pkt))?;
        let (track, _) = self.bindings.remove(pos);
        self.set_ssrc(pkt.ssrc().0, Route::Track(track));
        Some(track)
    }

    /// Tracks still waiting for the first packet that names them.
    pub fn waiting(&self) -> impl Iterator<Item = usize> + '_ {
        self.bindings.iter().map(|(t, _)| *t)
    }

    /// Binds `ssrc` to waiting track `track` without a packet naming it
    /// (`--match-by-kind`): the track no longer waits.
    pub fn bind_to(&mut self, ssrc: u32, track: usize) {
        self.bindings.retain(|(t, _)| *t != track);
        self.set_ssrc(ssrc, Route::Track(track));
    }

    /// Every SSRC routed to a track (metadata), for closing a session.
    pub fn track_ssrcs(&self) -> impl Iterator<Item = (u32, usize)> + '_ {
        self.by_ssrc.iter().filter_map(|(s, r)| match r {
            Route::Track(i) => Some((*s, *i)),
            _ => None,
        })
    }

    /// Forgets the session's routes.
    pub fn clear(&mut self) {
        self.by_ssrc.clear();
        self.bindings.clear();
        self.ignored = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn datagram<'a>(payload: &'a [u8], dst_port: u16) -> Datagram<'a> {
        let dst = format!("10.0.0.2:{dst_port}");
        Datagram::for_test(payload, "10.0.0.1:5000", &dst, Default::default())
    }

    /// An RTP packet with a one-byte-header extension carrying `mid` as id 3.
    fn rtp_with_mid(ssrc: u32, mid: &[u8]) -> Vec<u8> {
        let mut p = vec![0x90, 96, 0, 1, 0, 0, 0, 0];
        p.extend_from_slice(&ssrc.to_be_bytes());
        let mut ext = vec![(3 << 4) | (mid.len() as u8 - 1)];
        ext.extend_from_slice(mid);
        while ext.len() % 4 != 0 {
            ext.push(0);
        }
        p.extend_from_slice(&[0xBE, 0xDE]);
        p.extend_from_slice(&((ext.len() / 4) as u16).to_be_bytes());
        p.extend_from_slice(&ext);
        p.extend_from_slice(&[1, 2, 3]);
        p
    }

    #[test]
    fn an_unsignalled_ssrc_binds_by_its_mid() {
        let mut r = Router::default();
        let by = |mid: &str| BindBy::Mid {
            mid: mid.into(),
            mid_ext: 3,
            rid: None,
        };
        r.wait_for(0, by("0"));
        r.wait_for(1, by("1"));
        let raw = rtp_with_mid(0xAB, b"1");
        let pkt = RtpPacket::parse(&raw).expect("parses");
        assert_eq!(r.bind(&datagram(&raw, 9), &pkt), Some(1));
        assert_eq!(r.ssrc(0xAB), Some(Route::Track(1)));
        // Bound once: the next SSRC with the same MID finds nobody waiting.
        let raw2 = rtp_with_mid(0xAC, b"1");
        let pkt2 = RtpPacket::parse(&raw2).expect("parses");
        assert_eq!(r.bind(&datagram(&raw2, 9), &pkt2), None);
    }

    #[test]
    fn plain_sdp_binds_by_port_and_payload_type() {
        let mut r = Router::default();
        r.wait_for(
            4,
            BindBy::Port {
                port: 40000,
                payload_type: Some(0),
            },
        );
        let raw = rtp_with_mid(7, b"x");
        let pkt = RtpPacket::parse(&raw).expect("parses");
        // Payload type 96 is not the m= line's 0.
        assert_eq!(r.bind(&datagram(&raw, 40000), &pkt), None);
        let mut raw0 = raw.clone();
        raw0[1] = 0;
        let pkt0 = RtpPacket::parse(&raw0).expect("parses");
        assert_eq!(r.bind(&datagram(&raw0, 40002), &pkt0), None);
        assert_eq!(r.bind(&datagram(&raw0, 40000), &pkt0), Some(4));
    }

    #[test]
    fn a_waiting_track_can_be_bound_without_a_packet() {
        let mut r = Router::default();
        let port = |port| BindBy::Port {
            port,
            payload_type: None,
        };
        r.wait_for(2, port(5004));
        r.wait_for(3, port(5006));
        assert_eq!(r.waiting().collect::<Vec<_>>(), vec![2, 3]);
        r.bind_to(0xAB, 3);
        assert_eq!(r.ssrc(0xAB), Some(Route::Track(3)));
        assert_eq!(r.waiting().collect::<Vec<_>>(), vec![2]);
    }

    #[test]
    fn ignored_ssrcs_are_remembered_up_to_the_cap() {
        let mut r = Router::default();
        r.set_ssrc(1, Route::Track(0));
        for s in 0..(MAX_IGNORED as u32 + 100) {
            r.set_ssrc(s + 10, Route::Ignore);
        }
        assert_eq!(r.ignored, MAX_IGNORED);
        assert_eq!(r.by_ssrc.len(), MAX_IGNORED + 1);
        // Other routes are always remembered, and replacing an ignored one frees its slot.
        r.set_ssrc(10, Route::Track(1));
        assert_eq!(r.ignored, MAX_IGNORED - 1);
        r.set_ssrc(u32::MAX, Route::Ignore);
        assert_eq!(r.ssrc(u32::MAX), Some(Route::Ignore));
        r.clear();
        assert_eq!(r.ignored, 0);
    }

    #[test]
    fn clearing_forgets_every_route() {
        let mut r = Router::default();
        r.set_ssrc(1, Route::Track(0));
        r.set_ssrc(2, Route::Rtx(0));
        assert_eq!(r.track_ssrcs().collect::<Vec<_>>(), vec![(1, 0)]);
        r.clear();
        assert_eq!(r.ssrc(1), None);
    }
}
