//! The one place that reads the wall clock; everything else takes `now` as a parameter.

pub use crate::domain::UnixTime;

#[allow(clippy::disallowed_methods)] // this module is the sanctioned reader of the clock
pub fn now() -> UnixTime {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// A stored timestamp as `YYYY-MM-DD HH:MM UTC`, for pages and the CLI.
pub fn format_utc(at: UnixTime) -> String {
    match time::OffsetDateTime::from_unix_timestamp(at) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02} UTC",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute()
        ),
        Err(_) => at.to_string(),
    }
}

/// `YYYY-MM-DD` (midnight) or `YYYY-MM-DDTHH:MM` (as an HTML date or datetime-local field
/// sends it), read as UTC.
pub fn parse_utc(text: &str) -> Option<UnixTime> {
    let (date, clock) = match text.trim().split_once(['T', ' ']) {
        Some((d, c)) => (d, Some(c)),
        None => (text.trim(), None),
    };
    let mut parts = date.split('-');
    let year: i32 = parts.next()?.parse().ok()?;
    let month: u8 = parts.next()?.parse().ok()?;
    let day: u8 = parts.next()?.parse().ok()?;
    if parts.next().is_some() {
        return None;
    }
    let date =
        time::Date::from_calendar_date(year, time::Month::try_from(month).ok()?, day).ok()?;
    let (hour, minute) = match clock {
        None => (0, 0),
        Some(c) => {
            let (h, m) = c.split_once(':')?;
            (h.parse().ok()?, m.get(..2)?.parse().ok()?)
        }
    };
    let at = time::PrimitiveDateTime::new(date, time::Time::from_hms(hour, minute, 0).ok()?);
    Some(at.assume_utc().unix_timestamp())
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_utc_dates_and_times() {
        assert_eq!(super::parse_utc("1970-01-02"), Some(86400));
        assert_eq!(
            super::parse_utc("2026-11-18T11:06"),
            Some(1_795_000_000 - 40)
        );
        assert_eq!(super::parse_utc("2026-13-01"), None);
        assert_eq!(super::parse_utc("yesterday"), None);
        assert_eq!(super::parse_utc("2026-11-18T25:00"), None);
    }

    #[test]
    fn formats_utc() {
        assert_eq!(super::format_utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(super::format_utc(1_795_000_000), "2026-11-18 11:06 UTC");
    }
}
