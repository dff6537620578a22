//! Who may do what (SPEC §4): the token, the cookie it is traded for, and the Host and Origin
//! checks that keep other web sites (and DNS rebinding) away from the Run buttons.
//!
//! - Every request must carry a Host header that names the address `serve` listens on:
//!   exactly `IP:PORT` as bound (`127.0.0.1:8080`), or `localhost:PORT` on a loopback address.
//!   For an unspecified address (`0.0.0.0`), any IP literal with the port. A name such as
//!   `127.0.0.1.evil.example` or `127.0.0.1:8080.evil` is refused: that is what a rebinding
//!   attack sends.
//! - Changing anything (a run, a stop, a tick) and the live stream need the token: the
//!   HttpOnly, SameSite=Strict cookie that the printed URL is traded for, or the header
//!   `X-Runbook-Token`. They are refused when the request comes from another Origin (an
//!   `Origin` header other than `http://HOST`, or `Sec-Fetch-Site` other than `same-origin`).
//! - The token is compared in constant time; it is random, 128 bits, new at each start.

use std::net::{IpAddr, SocketAddr};

use axum::http::{header, HeaderMap};

pub const TOKEN_HEADER: &str = "x-runbook-token";

#[derive(Debug, Clone)]
pub struct Guard {
    addr: SocketAddr,
    token: String,
    cookie_name: String,
}

impl Guard {
    pub fn new(addr: SocketAddr, token: String) -> Guard {
        Guard {
            // Cookies are per host, not per port: name it after the port so two servers on
            // one machine do not overwrite each other's.
            cookie_name: format!("runbook_token_{}", addr.port()),
            addr,
            token,
        }
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether a Host header value names this server.
    pub fn host_allowed(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        if host == self.addr.to_string() {
            return true;
        }
        let port = self.addr.port();
        let Some((name, p)) = split_host_port(&host) else {
            return false;
        };
        if p != port {
            return false;
        }
        let ip = self.addr.ip();
        if name == "localhost" {
            return ip.is_loopback() || ip.is_unspecified();
        }
        match name
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            Ok(_) if ip.is_unspecified() => true,
            Ok(given) => given == ip,
            Err(_) => false,
        }
    }

    pub fn host_ok(&self, headers: &HeaderMap) -> bool {
        single(headers, header::HOST.as_str()).is_some_and(|h| self.host_allowed(h))
    }

    /// No Origin, or exactly `http://HOST` for the (already checked) Host; and no
    /// `Sec-Fetch-Site` saying the request came from elsewhere.
    pub fn origin_ok(&self, headers: &HeaderMap) -> bool {
        if let Some(site) = headers.get("sec-fetch-site") {
            if !matches!(site.to_str(), Ok("same-origin") | Ok("none")) {
                return false;
            }
        }
        if headers.get_all("sec-fetch-site").iter().count() > 1 {
            return false;
        }
        if headers.get(header::ORIGIN).is_none() {
            return true;
        }
        // Exactly one Origin and one Host, each readable: anything else is not a browser's
        // same-origin request.
        let Some(origin) = single(headers, header::ORIGIN.as_str()) else {
            return false;
        };
        let Some(host) = single(headers, header::HOST.as_str()) else {
            return false;
        };
        self.host_allowed(host) && origin.eq_ignore_ascii_case(&format!("http://{host}"))
    }

    /// Whether the request holds the token (cookie or header).
    pub fn authed(&self, headers: &HeaderMap) -> bool {
        if let Some(t) = headers.get(TOKEN_HEADER).and_then(|v| v.to_str().ok()) {
            if self.token_matches(t) {
                return true;
            }
        }
        for v in headers.get_all(header::COOKIE) {
            let Ok(v) = v.to_str() else { continue };
            for pair in v.split(';') {
                if let Some((k, val)) = pair.trim().split_once('=') {
                    if k == self.cookie_name && self.token_matches(val) {
                        return true;
                    }
                }
            }
        }
        false
    }

    pub fn token_matches(&self, given: &str) -> bool {
        let a = given.as_bytes();
        let b = self.token.as_bytes();
        if a.len() != b.len() {
            return false;
        }
        a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }

    /// The `Set-Cookie` value that trades the token for a cookie.
    pub fn set_cookie(&self) -> String {
        format!(
            "{}={}; Path=/; HttpOnly; SameSite=Strict",
            self.cookie_name, self.token
        )
    }
}

/// The value of a header given exactly once, as text.
fn single<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    let mut all = headers.get_all(name).iter();
    let first = all.next()?;
    if all.next().is_some() {
        return None;
    }
    first.to_str().ok()
}

/// `host:port` or `[v6]:port` → (host, port).
fn split_host_port(s: &str) -> Option<(&str, u16)> {
    let (h, p) = s.rsplit_once(':')?;
    if h.contains(':') && !(h.starts_with('[') && h.ends_with(']')) {
        return None;
    }
    if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((h, p.parse().ok()?))
}

/// A new random token: 32 hex digits.
pub fn new_token() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_header_must_name_the_listening_address() {
        let g = Guard::new("127.0.0.1:8080".parse().unwrap(), "t".into());
        for ok in ["127.0.0.1:8080", "localhost:8080", "LOCALHOST:8080"] {
            assert!(g.host_allowed(ok), "{ok}");
        }
        for bad in [
            "127.0.0.1.evil.example",
            "127.0.0.1.evil.example:8080",
            "127.0.0.1:8080.evil",
            "127.0.0.1:8081",
            "127.0.0.1",
            "evil.example:8080",
            "127.0.0.2:8080",
            "localhost.evil:8080",
            "127.0.0.1:8080 ",
            "",
        ] {
            assert!(!g.host_allowed(bad), "{bad}");
        }
        let any = Guard::new("0.0.0.0:8080".parse().unwrap(), "t".into());
        assert!(any.host_allowed("10.1.2.3:8080"));
        assert!(!any.host_allowed("lab.example:8080"));
        let v6 = Guard::new("[::1]:9000".parse().unwrap(), "t".into());
        assert!(v6.host_allowed("[::1]:9000"));
        assert!(!v6.host_allowed("[::2]:9000"));
    }

    #[test]
    fn token_compare() {
        let g = Guard::new("127.0.0.1:1".parse().unwrap(), "abcd".into());
        assert!(g.token_matches("abcd"));
        assert!(!g.token_matches("abce"));
        assert!(!g.token_matches("abc"));
        assert!(!g.token_matches(""));
    }
}
