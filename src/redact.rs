// SPDX-License-Identifier: MPL-2.0

//! Keeping credentials out of what is printed, posted or recorded. Cameras and brokers are
//! often addressed as `rtsp://user:password@host/...` or with `?password=...` in the query;
//! such addresses reach log lines, bus messages, stream names and records unless every place
//! that shows one goes through [`uri`] first, and free text from elsewhere (a library's error
//! message that quotes the address) through [`Secrets::scrub`].

use std::sync::Mutex;

/// What stands in for a removed credential.
pub const MASK: &str = "***";

/// Query parameters whose values are credentials.
const SECRET_KEYS: &[&str] = &[
    "password",
    "passwd",
    "pass",
    "pwd",
    "token",
    "access_token",
    "secret",
    "key",
    "auth",
    "apikey",
    "api_key",
    "signature",
    "sig",
];

/// `address` with its user information (`user:password@`) and credential query values
/// replaced by [`MASK`]. Anything that is not `scheme://...` is returned unchanged.
pub fn uri(address: &str) -> String {
    let Some((scheme, rest)) = address.split_once("://") else {
        return address.to_string();
    };
    let (userinfo, rest) = split_userinfo(rest);
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (host, tail) = rest.split_at(authority_end);
    let mask = if userinfo.is_some() {
        format!("{MASK}@")
    } else {
        String::new()
    };
    format!("{scheme}://{mask}{host}{}", redact_query(tail))
}

/// The user information and the rest of what follows `scheme://`. A password may hold a
/// '/' (parsers that split at the last '@' take it so), so everything up to the last '@'
/// before the query or fragment counts as user information: an '@' in a path masks more
/// than it must, never less.
fn split_userinfo(rest: &str) -> (Option<&str>, &str) {
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
        None => (None, rest),
    }
}

fn redact_query(tail: &str) -> String {
    let Some((path, query)) = tail.split_once('?') else {
        return tail.to_string();
    };
    let (query, fragment) = match query.split_once('#') {
        Some((q, f)) => (q, Some(f)),
        None => (query, None),
    };
    let params: Vec<String> = query
        .split('&')
        .map(|param| match param.split_once('=') {
            Some((key, _)) if SECRET_KEYS.contains(&key.to_ascii_lowercase().as_str()) => {
                format!("{key}={MASK}")
            }
            _ => param.to_string(),
        })
        .collect();
    let mut out = format!("{path}?{}", params.join("&"));
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

/// The credentials in `address` (user information and credential query values), raw and
/// percent-decoded, for [`Secrets::add`].
pub fn credentials_in(address: &str) -> Vec<String> {
    let Some((_, rest)) = address.split_once("://") else {
        return Vec::new();
    };
    let (userinfo, rest) = split_userinfo(rest);
    let tail = &rest[rest.find(['/', '?', '#']).unwrap_or(rest.len())..];
    let mut found = Vec::new();
    if let Some(userinfo) = userinfo {
        match userinfo.split_once(':') {
            Some((_, password)) => found.push(password.to_string()),
            None => found.push(userinfo.to_string()),
        }
    }
    if let Some((_, query)) = tail.split_once('?') {
        let query = query.split('#').next().unwrap_or_default();
        for param in query.split('&') {
            if let Some((key, value)) = param.split_once('=')
                && SECRET_KEYS.contains(&key.to_ascii_lowercase().as_str())
            {
                found.push(value.to_string());
            }
        }
    }
    let decoded: Vec<String> = found.iter().map(|s| percent_decode(s)).collect();
    found.extend(decoded);
    found.retain(|s| !s.is_empty());
    found.sort();
    found.dedup();
    found
}

/// `%XX` escapes decoded; anything malformed is kept as it is.
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Known secret strings (passwords given on a command line, in a URI or the environment),
/// removed from any text before it is shown.
#[derive(Debug, Default)]
pub struct Secrets {
    known: Mutex<Vec<String>>,
}

impl Secrets {
    pub const fn new() -> Self {
        Self {
            known: Mutex::new(Vec::new()),
        }
    }

    /// Remembers `secret`. Strings of fewer than three characters are not remembered: masking
    /// them would mangle ordinary text more than it protects.
    pub fn add(&self, secret: &str) {
        if secret.chars().count() < 3 {
            return;
        }
        if let Ok(mut known) = self.known.lock()
            && !known.iter().any(|k| k == secret)
        {
            known.push(secret.to_string());
            // Longest first, so a secret that contains another is masked whole.
            known.sort_by_key(|k| std::cmp::Reverse(k.len()));
        }
    }

    /// Remembers every credential of `address`.
    pub fn add_uri(&self, address: &str) {
        for secret in credentials_in(address) {
            self.add(&secret);
        }
    }

    /// `text` with every URI's credentials and every known secret masked.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = scrub_uris(text);
        if let Ok(known) = self.known.lock() {
            for secret in known.iter() {
                if out.contains(secret.as_str()) {
                    out = out.replace(secret.as_str(), MASK);
                }
            }
        }
        out
    }
}

/// Every `scheme://...` word of `text` through [`uri`].
pub fn scrub_uris(text: &str) -> String {
    if !text.contains("://") {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("://") {
        // The scheme: the letters, digits, '+', '-' and '.' just before "://".
        let scheme_start = rest[..pos]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |i| i + 1);
        out.push_str(&rest[..scheme_start]);
        let word_end = rest[pos + 3..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`'))
            .map_or(rest.len(), |i| pos + 3 + i);
        out.push_str(&uri(&rest[scheme_start..word_end]));
        rest = &rest[word_end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_information_and_credential_queries_are_masked() {
        assert_eq!(
            uri("rtsp://admin:s3cret@10.0.0.7:554/live?channel=1&password=s3cret"),
            "rtsp://***@10.0.0.7:554/live?channel=1&password=***"
        );
        assert_eq!(uri("mqtt://user:pw@broker"), "mqtt://***@broker");
        assert_eq!(uri("mqtt://u:pa/ss@host:1883"), "mqtt://***@host:1883");
        assert!(credentials_in("mqtt://u:pa/ss@host").contains(&"pa/ss".to_string()));
        assert_eq!(uri("rtsp://cam-3/stream"), "rtsp://cam-3/stream");
        assert_eq!(uri("/videos/a.mp4"), "/videos/a.mp4");
        assert_eq!(
            uri("rtsp://host/x?Token=abc#frag"),
            "rtsp://host/x?Token=***#frag"
        );
    }

    #[test]
    fn credentials_are_found_raw_and_decoded() {
        let found = credentials_in("rtsp://admin:p%40ss@host/x?token=t0k3n");
        for expected in ["p%40ss", "p@ss", "t0k3n"] {
            assert!(found.iter().any(|f| f == expected), "{found:?}");
        }
        assert!(credentials_in("rtsp://host/x").is_empty());
    }

    #[test]
    fn text_loses_every_uri_credential_and_known_secret() {
        let secrets = Secrets::new();
        secrets.add_uri("rtsp://admin:hunter22@cam/x");
        secrets.add("env-password");
        secrets.add("ab");
        let text = "could not open rtsp://admin:hunter22@cam/x (\"rtsp://u:p@other/y\"); \
                    password hunter22 or env-password; ab stays";
        let clean = secrets.scrub(text);
        assert!(!clean.contains("hunter22"), "{clean}");
        assert!(!clean.contains("env-password"), "{clean}");
        assert!(!clean.contains("u:p@"), "{clean}");
        assert!(clean.contains("rtsp://***@cam/x"), "{clean}");
        assert!(clean.contains("ab stays"), "{clean}");
    }
}
