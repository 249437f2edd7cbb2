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

#[cfg(test)]
mod tests {
    #[test]
    fn formats_utc() {
        assert_eq!(super::format_utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(super::format_utc(1_795_000_000), "2026-11-18 11:06 UTC");
    }
}
