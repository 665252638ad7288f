//! Test-only: datagrams of the shared real captures, read with rtprec's own stages.

use crate::testutil::shared::{datagrams, read_shared};

/// Datagram payloads of `name`, or `None` (with a printed reason) when the corpus is absent.
///
/// Panics when the corpus is absent and `CI` is set: CI must run these tests.
pub(crate) fn udp_payloads(name: &str) -> Option<Vec<Vec<u8>>> {
    let bytes = read_shared(name)?;
    Some(datagrams(&bytes).into_iter().map(|d| d.payload).collect())
}

#[cfg(test)]
mod tests {
    use super::udp_payloads;
    use crate::rtp::rtcp::{self, RtcpPacket};
    use crate::rtp::{PacketClass, RtpPacket, Ssrc, classify};
    use std::collections::BTreeSet;

    #[test]
    fn str0m_vp8_header_extensions() {
        let Some(all) = udp_payloads("str0m_vp8.pcap") else {
            return;
        };
        let mut ids = BTreeSet::new();
        let mut n = 0;
        for d in all.iter().filter(|d| classify(d) == PacketClass::Rtp) {
            let p = RtpPacket::parse(d).expect("every packet of str0m_vp8.pcap is valid RTP");
            assert_eq!(p.ssrc(), Ssrc(0xEEDF3944));
            let exts = p.extensions();
            assert!(exts.is_valid());
            ids.extend(exts.map(|e| e.id));
            n += 1;
        }
        assert_eq!(n, 104);
        assert_eq!(ids, BTreeSet::from([2, 3, 4, 9, 10]));
    }

    #[test]
    fn rtcp_compounds_in_captures() {
        // (file, packet types in order, SR time as Unix seconds). The senders' clocks are
        // off: rtpproxy's is 1970-01-01 09:28 (tshark 4.0 agrees). ndpi_sip's SR carries
        // NTP seconds 1_120_471_986, which is Unix time 2005-07-04 written into the NTP
        // field; tshark applies the RFC 4330 era rule and shows 2071, we keep era 0.
        let cases: &[(&str, &[u8], f64)] = &[
            ("rtpproxy_rtcp.o.pcap", &[200, 202], 34_081.918),
            ("ndpi_sip.pcap", &[200, 202, 203], -1_088_517_813.629),
        ];
        for (file, want, sr_time) in cases {
            let Some(all) = udp_payloads(file) else {
                return;
            };
            let mut types = Vec::new();
            for d in all.iter().filter(|d| classify(d) == PacketClass::Rtcp) {
                for p in rtcp::compound(d) {
                    let p = p.unwrap_or_else(|e| panic!("{file}: {e}"));
                    if let RtcpPacket::SenderReport(sr) = &p {
                        let unix = sr.ntp.as_unix_secs_f64();
                        assert!((unix - sr_time).abs() < 0.001, "{file}: NTP {unix}");
                    }
                    types.push(p.packet_type());
                }
            }
            assert_eq!(types, *want, "{file}");
        }
    }
}
