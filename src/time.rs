//! Capture time: the only clock rtprec's decisions use. (On an idle live pipe the
//! read loop lets it advance with the wall clock; see `pipeline`.)

use std::fmt;

/// A capture timestamp in nanoseconds since the Unix epoch (UTC).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CaptureTime(i64);

impl CaptureTime {
    /// Builds a time from nanoseconds since the Unix epoch.
    pub const fn from_nanos(nanos: i64) -> Self {
        CaptureTime(nanos)
    }

    /// Builds a time from whole seconds and a sub-second part in nanoseconds.
    pub fn from_secs_nanos(secs: i64, nanos: i64) -> Self {
        CaptureTime(secs.saturating_mul(1_000_000_000).saturating_add(nanos))
    }

    /// Nanoseconds since the Unix epoch.
    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    /// Seconds since the Unix epoch as a float (for display and rates).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// This time plus `nanos` (saturating).
    pub fn plus_nanos(self, nanos: i64) -> Self {
        CaptureTime(self.0.saturating_add(nanos))
    }

    /// Signed difference `self - earlier` in nanoseconds.
    pub fn nanos_since(self, earlier: CaptureTime) -> i64 {
        self.0.saturating_sub(earlier.0)
    }

    /// RFC 3339 UTC text with millisecond precision, e.g. `2026-11-23T10:00:01.120Z`.
    pub fn to_rfc3339_millis(self) -> String {
        self.rfc3339(3)
    }

    /// RFC 3339 UTC text with microsecond precision, e.g. `2026-11-23T10:00:01.120345Z`.
    pub fn to_rfc3339_micros(self) -> String {
        self.rfc3339(6)
    }

    /// RFC 3339 UTC text with `digits` (3 or 6) fractional digits, truncated.
    fn rfc3339(self, digits: u32) -> String {
        let secs = self.0.div_euclid(1_000_000_000);
        let frac = self.0.rem_euclid(1_000_000_000) / 10i64.pow(9 - digits);
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{frac:0w$}Z",
            sod / 3600,
            (sod / 60) % 60,
            sod % 60,
            w = digits as usize
        )
    }
}

impl fmt::Display for CaptureTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339_millis())
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day).
// Howard Hinnant's `civil_from_days` algorithm (public domain description).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339() {
        assert_eq!(
            CaptureTime::from_nanos(0).to_string(),
            "1970-01-01T00:00:00.000Z"
        );
        let t = CaptureTime::from_secs_nanos(1_795_428_001, 120_000_000);
        assert_eq!(t.to_string(), "2026-11-23T10:00:01.120Z");
        assert_eq!(
            CaptureTime::from_nanos(-1).to_string(),
            "1969-12-31T23:59:59.999Z"
        );
        assert_eq!(
            CaptureTime::from_secs_nanos(951_782_400, 0).to_string(),
            "2000-02-29T00:00:00.000Z"
        );
        assert_eq!(
            CaptureTime::from_secs_nanos(1_795_428_001, 120_345_999).to_rfc3339_micros(),
            "2026-11-23T10:00:01.120345Z"
        );
    }
}
