//! Changeset dates in the payload's two forms.

use chrono::{DateTime, FixedOffset, Utc};

/// `timestamp` (author's offset) and `utctimestamp` for seconds since the epoch and an
/// offset in minutes east of UTC.
pub fn payload_dates(seconds: i64, offset_minutes: i32) -> (String, String) {
    let utc = DateTime::<Utc>::from_timestamp(seconds, 0).unwrap_or_default();
    let offset = FixedOffset::east_opt(offset_minutes * 60)
        .unwrap_or_else(|| FixedOffset::east_opt(0).expect("zero is a valid offset"));
    let local = utc.with_timezone(&offset);
    (
        local.format("%Y-%m-%d %H:%M:%S").to_string(),
        utc.format("%Y-%m-%d %H:%M:%S+00:00").to_string(),
    )
}

/// An ISO 8601 date with its offset (`2026-11-27T10:00:00+01:00`).
pub fn iso8601(seconds: i64, offset_minutes: i32) -> String {
    let utc = DateTime::<Utc>::from_timestamp(seconds, 0).unwrap_or_default();
    let offset = FixedOffset::east_opt(offset_minutes * 60)
        .unwrap_or_else(|| FixedOffset::east_opt(0).expect("zero is a valid offset"));
    utc.with_timezone(&offset)
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// The current time, RFC 3339 in UTC with second precision (`pushed_at`).
pub fn now_rfc3339() -> String {
    Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_keep_the_author_offset_and_utc() {
        // 2026-11-27 09:00:00 UTC, author at +01:00.
        let (local, utc) = payload_dates(1_795_770_000, 60);
        assert_eq!(local, "2026-11-27 10:00:00");
        assert_eq!(utc, "2026-11-27 09:00:00+00:00");
        let (local, _) = payload_dates(1_795_770_000, -330);
        assert_eq!(local, "2026-11-27 03:30:00");
        assert_eq!(iso8601(1_795_770_000, 60), "2026-11-27T10:00:00+01:00");
    }
}
