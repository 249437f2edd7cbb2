//! The parsers behind `Config`: one per kind of setting, each turning a raw text into a
//! typed value or a `ConfigError` that names the setting and the fix.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use base64::{engine::general_purpose::STANDARD, Engine};
use ipnet::IpNet;
use secrecy::SecretBox;
use url::Url;

use super::{bad, limits, providers, ConfigError, EncryptionKey, SETTINGS};

/// The scalar settings of a TOML file by environment name, and its `[[provider]]` tables.
pub(super) type FlatToml = (BTreeMap<String, String>, providers::Tables);

pub(super) fn flatten_toml(text: &str) -> Result<FlatToml, ConfigError> {
    let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| ConfigError {
        setting: "GATEHOUSE_CONFIG".into(),
        problem: format!("the file is not valid TOML ({})", e.message()),
        fix: "correct the file's syntax".into(),
    })?;
    let providers = providers::Tables {
        providers: providers::parse(table.remove("provider").as_ref())?,
        upstream_clients: providers::parse_upstream_clients(
            table.remove("upstream_client").as_ref(),
        )?,
    };
    let mut out = BTreeMap::new();
    for (key, value) in table {
        match value {
            toml::Value::Table(section) => {
                for (inner, value) in section {
                    insert_toml(&mut out, &format!("{key}_{inner}"), value)?;
                }
            }
            value => insert_toml(&mut out, &key, value)?,
        }
    }
    Ok((out, providers))
}

pub(super) fn insert_toml(
    out: &mut BTreeMap<String, String>,
    key: &str,
    value: toml::Value,
) -> Result<(), ConfigError> {
    let name = key.to_ascii_uppercase();
    if !SETTINGS.contains(&name.as_str()) && !limits::SETTINGS.contains(&name.as_str()) {
        return Err(ConfigError {
            setting: "GATEHOUSE_CONFIG".into(),
            problem: format!("unknown setting '{key}'"),
            fix: "remove it or correct its name (see the README's configuration table)".into(),
        });
    }
    let text = match value {
        toml::Value::Array(items) => items.iter().map(scalar_text).collect::<Vec<_>>().join(","),
        other => scalar_text(&other),
    };
    out.insert(name, text);
    Ok(())
}

pub(super) fn scalar_text(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        // Tables and dates are no setting's type; the setting's own parser reports it.
        _ => String::from("(unsupported value)"),
    }
}

pub(super) fn parse_bool(name: &str, value: Option<&str>) -> Result<bool, ConfigError> {
    match value.map(str::to_ascii_lowercase).as_deref() {
        None | Some("false" | "0" | "no" | "off") => Ok(false),
        Some("true" | "1" | "yes" | "on") => Ok(true),
        Some(other) => Err(bad(
            name,
            format!("'{other}' is not a boolean"),
            "use true or false",
        )),
    }
}

/// `90`, `90s`, `15m`, `1h`, `30d`.
pub(crate) fn parse_duration(
    name: &str,
    value: Option<&str>,
    default_secs: u64,
) -> Result<Duration, ConfigError> {
    let Some(v) = value else {
        return Ok(Duration::from_secs(default_secs));
    };
    let (digits, unit) = v.split_at(v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len()));
    let multiplier = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => 0,
    };
    match digits.parse::<u64>() {
        Ok(n) if multiplier > 0 => Ok(Duration::from_secs(n.saturating_mul(multiplier))),
        _ => Err(bad(
            name,
            format!("'{v}' is not a duration"),
            "use a number with s, m, h or d, e.g. 1h",
        )),
    }
}

/// A lifetime: a duration that must be more than zero.
pub(super) fn parse_lifetime(
    name: &str,
    value: Option<&str>,
    default_secs: u64,
) -> Result<Duration, ConfigError> {
    let parsed = parse_duration(name, value, default_secs)?;
    if parsed.is_zero() {
        return Err(bad(
            name,
            "a lifetime of 0 would end everything at once",
            "use a number with s, m, h or d above zero, e.g. 1h",
        ));
    }
    Ok(parsed)
}

pub(super) fn parse_cidrs(name: &str, value: Option<&str>) -> Result<Vec<IpNet>, ConfigError> {
    let Some(v) = value else {
        return Ok(Vec::new());
    };
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| {
            IpNet::from_str(item)
                .or_else(|_| IpAddr::from_str(item).map(IpNet::from))
                .map_err(|_| {
                    bad(
                        name,
                        format!("'{item}' is not a CIDR range"),
                        "use a comma-separated list like 10.0.0.0/8,::1/128",
                    )
                })
        })
        .collect()
}

/// A comma-separated list of host names, each optionally with `:port`.
pub(super) fn parse_hosts(name: &str, value: Option<&str>) -> Result<Vec<String>, ConfigError> {
    let Some(v) = value else {
        return Ok(Vec::new());
    };
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| {
            let parsed = Url::parse(&format!("http://{item}/"))
                .ok()
                .filter(|u| u.path() == "/" && u.username().is_empty() && u.query().is_none());
            match parsed {
                Some(_) => Ok(item.to_ascii_lowercase()),
                None => Err(bad(
                    name,
                    format!("'{item}' is not a host name (with an optional :port)"),
                    "use a comma-separated list like gatehouse.internal,10.0.0.5:3000",
                )),
            }
        })
        .collect()
}

pub(super) fn parse_url(
    name: &str,
    value: Option<&str>,
    default: &str,
) -> Result<Url, ConfigError> {
    let raw = value.unwrap_or(default);
    match Url::parse(raw) {
        Ok(url) if matches!(url.scheme(), "https" | "http") => Ok(url),
        _ => Err(bad(
            name,
            format!("'{raw}' is not an http(s) URL"),
            "use a full https:// URL",
        )),
    }
}

pub(crate) fn parse_keys(value: &str) -> Result<Vec<EncryptionKey>, ConfigError> {
    const FIX: &str =
        "use id:base64 entries of 32 random bytes, e.g. k1:$(openssl rand -base64 32)";
    let mut keys: Vec<EncryptionKey> = Vec::new();
    for entry in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((id, b64)) = entry.split_once(':') else {
            return Err(bad("ENCRYPTION_KEYS", "an entry has no 'id:' part", FIX));
        };
        let id = id.trim();
        if id.is_empty()
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(bad(
                "ENCRYPTION_KEYS",
                format!("key id '{id}' is not alphanumeric"),
                FIX,
            ));
        }
        if keys.iter().any(|k| k.id == id) {
            return Err(bad(
                "ENCRYPTION_KEYS",
                format!("key id '{id}' appears twice"),
                FIX,
            ));
        }
        let bytes: [u8; 32] = STANDARD
            .decode(b64.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| {
                bad(
                    "ENCRYPTION_KEYS",
                    format!("key '{id}' is not 32 bytes of base64"),
                    FIX,
                )
            })?;
        keys.push(EncryptionKey {
            id: id.to_owned(),
            key: SecretBox::new(Box::new(bytes)),
        });
    }
    if keys.is_empty() {
        return Err(bad("ENCRYPTION_KEYS", "is set but holds no key", FIX));
    }
    Ok(keys)
}
