//! Changeset dates in the payload's forms, including dates that are no calendar date.
//!
//! A Git commit holds its dates as text (`<seconds> <+hhmm>`), and git accepts any
//! text there. How each kind of date appears:
//!
//! | the commit holds | `timestamp`, `utctimestamp` | ISO 8601 (GitHub, GitLab) |
//! |---|---|---|
//! | a date | in the author's offset; in UTC | with the author's offset |
//! | a date with an offset past ±23:59 (`+9999`: 99 h 99 min) | the offset applied as git applies it; in UTC | in UTC (`+00:00`): ISO 8601 has no such offset |
//! | seconds that are no date (not a number, past year 262143, `18446744073709551617`) | the raw text, both (`18446744073709551617 +0000`) | the Unix epoch, as `git log` shows such a date |
//! | no date at all (no author line) | `""`, both | the Unix epoch |

use chrono::{DateTime, FixedOffset, Utc};

/// A changeset's date as the payload shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Date {
    /// A calendar date: seconds since the epoch, and the author's offset in minutes
    /// east of UTC (which may be past what a UTC offset can be).
    At {
        /// Seconds since the epoch.
        seconds: i64,
        /// Minutes east of UTC.
        offset_minutes: i32,
    },
    /// Text that is no calendar date, as the commit holds it.
    Raw(String),
    /// No date at all.
    Missing,
}

/// The ISO 8601 form of a date that is no calendar date: the epoch, as git shows it.
const EPOCH_ISO: &str = "1970-01-01T00:00:00+00:00";

impl Date {
    /// The date at `seconds` in an offset of `offset_minutes`; `raw` (the date as
    /// written) when that is no calendar date.
    pub fn new(seconds: i64, offset_minutes: i32, raw: &str) -> Date {
        let local = seconds.checked_add(i64::from(offset_minutes) * 60);
        match local.map(|local| {
            DateTime::<Utc>::from_timestamp(seconds, 0).zip(DateTime::from_timestamp(local, 0))
        }) {
            Some(Some(_)) => Date::At {
                seconds,
                offset_minutes,
            },
            _ => Date::Raw(raw.to_string()),
        }
    }

    /// `timestamp` (the author's offset, `YYYY-MM-DD HH:MM:SS`) and `utctimestamp`
    /// (`YYYY-MM-DD HH:MM:SS+00:00`); see the module doc for other dates.
    pub fn payload(&self) -> (String, String) {
        match self {
            Date::At {
                seconds,
                offset_minutes,
            } => {
                let local = seconds + i64::from(*offset_minutes) * 60;
                match (civil(local), civil(*seconds)) {
                    (Some(local), Some(utc)) => {
                        (written(local, ' ', ""), written(utc, ' ', "+00:00"))
                    }
                    _ => (
                        at(local).format("%Y-%m-%d %H:%M:%S").to_string(),
                        at(*seconds).format("%Y-%m-%d %H:%M:%S+00:00").to_string(),
                    ),
                }
            }
            Date::Raw(raw) => (raw.clone(), raw.clone()),
            Date::Missing => (String::new(), String::new()),
        }
    }

    /// ISO 8601 with the offset (`2026-11-27T10:00:00+01:00`), always a valid date-time;
    /// see the module doc for other dates.
    pub fn iso8601(&self) -> String {
        match self {
            Date::At {
                seconds,
                offset_minutes,
            } => {
                let offset = FixedOffset::east_opt(offset_minutes * 60)
                    .unwrap_or_else(|| FixedOffset::east_opt(0).expect("zero is a valid offset"));
                let minutes = offset.local_minus_utc() / 60;
                let sign = if minutes < 0 { "-" } else { "+" };
                let zone = format!("{sign}{:02}:{:02}", minutes.abs() / 60, minutes.abs() % 60);
                match civil(seconds + i64::from(minutes) * 60) {
                    Some(local) => written(local, 'T', &zone),
                    None => at(*seconds)
                        .with_timezone(&offset)
                        .format("%Y-%m-%dT%H:%M:%S%:z")
                        .to_string(),
                }
            }
            Date::Raw(_) | Date::Missing => EPOCH_ISO.to_string(),
        }
    }
}

/// The calendar date and time of `seconds` since the epoch in UTC (year, month, day,
/// hours, minutes, seconds), for the years 0 to 9999, which chrono writes as four digits;
/// `None` for the others. (chrono's `format` took 5% of a 10,000-commit payload.)
fn civil(seconds: i64) -> Option<[u32; 6]> {
    // Howard Hinnant's days_from_civil, inverted: the proleptic Gregorian calendar in
    // 400-year eras starting on 1 March.
    let days = seconds.div_euclid(86_400);
    let time = seconds.rem_euclid(86_400) as u32;
    let from_march_0000 = days.checked_add(719_468)?;
    let era = from_march_0000.div_euclid(146_097);
    let day_of_era = from_march_0000.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let march_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * march_month + 2) / 5 + 1;
    let month = if march_month < 10 {
        march_month + 3
    } else {
        march_month - 9
    };
    let year = era * 400 + year_of_era + i64::from(month <= 2);
    (0..=9999).contains(&year).then_some([
        year as u32,
        month as u32,
        day as u32,
        time / 3600,
        time / 60 % 60,
        time % 60,
    ])
}

/// `YYYY-MM-DD` `between` `HH:MM:SS`, then `zone`.
fn written(
    [year, month, day, hours, minutes, seconds]: [u32; 6],
    between: char,
    zone: &str,
) -> String {
    let mut out = String::with_capacity(19 + zone.len());
    let two = |out: &mut String, value: u32| {
        out.push(char::from(b'0' + (value / 10) as u8));
        out.push(char::from(b'0' + (value % 10) as u8));
    };
    two(&mut out, year / 100);
    two(&mut out, year % 100);
    for (separator, value) in [
        ('-', month),
        ('-', day),
        (between, hours),
        (':', minutes),
        (':', seconds),
    ] {
        out.push(separator);
        two(&mut out, value);
    }
    out.push_str(zone);
    out
}

/// A time [`Date::new`] checked to be in range.
fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(seconds, 0).unwrap_or_default()
}

/// `timestamp` and `utctimestamp` for seconds since the epoch and an offset in minutes
/// east of UTC (see [`Date::payload`]).
pub fn payload_dates(seconds: i64, offset_minutes: i32) -> (String, String) {
    Date::new(seconds, offset_minutes, &raw(seconds, offset_minutes)).payload()
}

/// An ISO 8601 date with its offset (see [`Date::iso8601`]).
pub fn iso8601(seconds: i64, offset_minutes: i32) -> String {
    Date::new(seconds, offset_minutes, &raw(seconds, offset_minutes)).iso8601()
}

/// A date written as Git writes it: `<seconds> <+hhmm>`.
fn raw(seconds: i64, offset_minutes: i32) -> String {
    let sign = if offset_minutes < 0 { '-' } else { '+' };
    let minutes = offset_minutes.unsigned_abs();
    format!("{seconds} {sign}{:02}{:02}", minutes / 60, minutes % 60)
}

/// The current time, RFC 3339 in UTC with second precision (`pushed_at`).
pub fn now_rfc3339() -> String {
    Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_written_as_chrono_writes_them() {
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut seconds = vec![0, -1, 951_782_400, 253_402_300_799, -62_167_219_200];
        seconds.extend([-62_167_219_201, 253_402_300_800, 8_210_298_412_799]);
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seconds.push((seed % 700_000_000_000) as i64 - 100_000_000_000);
        }
        for seconds in seconds {
            for offset_minutes in [0, 60, -330, 1439, -1439, 1440, 5999] {
                let date = Date::At {
                    seconds,
                    offset_minutes,
                };
                let utc = at(seconds);
                let local = at(seconds + i64::from(offset_minutes) * 60);
                let payload = (
                    local.format("%Y-%m-%d %H:%M:%S").to_string(),
                    utc.format("%Y-%m-%d %H:%M:%S+00:00").to_string(),
                );
                assert_eq!(date.payload(), payload, "{seconds} {offset_minutes}");
                let offset = FixedOffset::east_opt(offset_minutes * 60)
                    .unwrap_or_else(|| FixedOffset::east_opt(0).unwrap());
                let iso = utc.with_timezone(&offset).format("%Y-%m-%dT%H:%M:%S%:z");
                assert_eq!(
                    date.iso8601(),
                    iso.to_string(),
                    "{seconds} {offset_minutes}"
                );
            }
        }
    }

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

    #[test]
    fn dates_that_are_no_calendar_date_keep_their_raw_text_and_iso_is_always_valid() {
        // +9999 is 99 h 99 min, applied as git applies it; ISO 8601 falls back to UTC.
        let absurd = Date::new(1_795_770_000, 99 * 60 + 99, "1795770000 +9999");
        assert_eq!(
            absurd.payload(),
            (
                "2026-12-01 13:39:00".to_string(),
                "2026-11-27 09:00:00+00:00".to_string()
            )
        );
        assert_eq!(absurd.iso8601(), "2026-11-27T09:00:00+00:00");
        let far = Date::new(i64::MAX, 0, "9223372036854775807 +0000");
        assert_eq!(far, Date::Raw("9223372036854775807 +0000".into()));
        assert_eq!(far.payload().0, "9223372036854775807 +0000");
        assert_eq!(far.iso8601(), "1970-01-01T00:00:00+00:00");
        assert_eq!(Date::Missing.payload(), (String::new(), String::new()));
        assert_eq!(
            payload_dates(i64::MIN, -60).1,
            format!("{} -0100", i64::MIN)
        );
    }
}
