//! The HOST:PORT syntax every connection source and every dial shares: port numbers, host checks, IPv6 brackets.

use std::net::Ipv6Addr;

/// Parses a port number: 1..=65535.
pub fn parse_port(s: &str) -> Option<u16> {
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u16>().ok().filter(|p| *p > 0)
}

/// HOST:PORT for connecting and for messages: IPv6 literals get brackets.
pub fn format_addr(host: &str, port: u16) -> String {
    if host.parse::<Ipv6Addr>().is_ok() {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Splits HOST:PORT (IPv6 in brackets) as `SessionConfig::addr` holds it.
pub fn split_addr(addr: &str) -> Option<(String, u16)> {
    let (host, port) = addr.rsplit_once(':')?;
    let port = parse_port(port)?;
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    (!host.is_empty()).then(|| (host.to_string(), port))
}

/// Checks a host name: not empty, no whitespace or control characters (it ends up in a proxy request line).
pub fn check_host(host: &str) -> Result<(), String> {
    if host.is_empty() {
        return Err("the host is empty".into());
    }
    if host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("the host {host:?} contains spaces or control characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_addresses() {
        assert_eq!(split_addr("vm:5900"), Some(("vm".into(), 5900)));
        assert_eq!(split_addr("[::1]:5900"), Some(("::1".into(), 5900)));
        assert_eq!(split_addr("vm"), None);
        assert_eq!(split_addr(":5900"), None);
        assert_eq!(split_addr("vm:0"), None);
        assert_eq!(split_addr(""), None);
    }

    #[test]
    fn formats_addresses_and_ports() {
        assert_eq!(format_addr("::1", 5900), "[::1]:5900");
        assert_eq!(format_addr("vmhost", 5900), "vmhost:5900");
        assert_eq!(parse_port("065535"), None);
        assert_eq!(parse_port("65535"), Some(65535));
    }
}
