//! The resolved connection target that every source (`--direct`, a `.vv` file, a URI) produces, and the
//! secure-channels policy.

use super::password::Password;
use super::proxy::ProxyUrl;
use crate::protocol::constants::ChannelType;

/// Where and how to connect, as one source gave it. Fields a source did not set are `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectTarget {
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// The plain port.
    pub port: Option<u16>,
    /// The TLS port.
    pub tls_port: Option<u16>,
    /// The SPICE password (a one-time ticket in `.vv` files).
    pub password: Option<Password>,
    /// CA certificates as PEM text (the `.vv` file's inline `ca`).
    pub ca: Option<String>,
    /// The certificate subject to expect, like `C=XX,L=city,O=org,CN=host`.
    pub host_subject: Option<String>,
    /// Which channels must use TLS.
    pub secure_channels: Option<SecureChannels>,
    /// The HTTP CONNECT proxy every channel goes through.
    pub proxy: Option<ProxyUrl>,
    /// A title for the session (window title, log line).
    pub title: Option<String>,
}

/// Which channels must be linked over TLS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SecureChannels {
    /// None is required (ryll still retries a channel over TLS when the server answers NEED_SECURED).
    #[default]
    None,
    /// Every channel.
    All,
    /// These channel types.
    Only(Vec<ChannelType>),
}

impl SecureChannels {
    /// Parses a list of channel names separated by `,` or `;` (`all` means every channel), spelled as spice-gtk
    /// spells them ([`ChannelType::known_name`]).
    pub fn parse(list: &str) -> Result<SecureChannels, String> {
        let mut only = Vec::new();
        for name in list.split([',', ';']).map(str::trim).filter(|n| !n.is_empty()) {
            if name.eq_ignore_ascii_case("all") {
                return Ok(SecureChannels::All);
            }
            let found = ChannelType::from_name(name);
            match found {
                Some(t) if !only.contains(&t) => only.push(t),
                Some(_) => {}
                None => {
                    let known: Vec<&str> = ChannelType::KNOWN.iter().filter_map(|t| t.known_name()).collect();
                    return Err(format!(
                        "unknown channel name {:?} (use all, or some of: {})",
                        name.chars().take(40).collect::<String>(),
                        known.join(", ")
                    ));
                }
            }
        }
        Ok(if only.is_empty() { SecureChannels::None } else { SecureChannels::Only(only) })
    }

    /// Whether `channel` must use TLS.
    pub fn requires(&self, channel: ChannelType) -> bool {
        match self {
            SecureChannels::None => false,
            SecureChannels::All => true,
            SecureChannels::Only(list) => list.contains(&channel),
        }
    }

    /// Whether any channel must use TLS.
    pub fn any(&self) -> bool {
        !matches!(self, SecureChannels::None)
    }
}

impl std::fmt::Display for SecureChannels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecureChannels::None => f.write_str("none"),
            SecureChannels::All => f.write_str("all"),
            SecureChannels::Only(list) => {
                let names: Vec<String> = list.iter().map(|t| t.name()).collect();
                f.write_str(&names.join(","))
            }
        }
    }
}

impl ConnectTarget {
    /// Checks that the target can be connected to: a TLS-only policy needs a TLS port, and so on.
    pub fn check(&self) -> Result<(), String> {
        if self.port.is_none() && self.tls_port.is_none() {
            return Err(format!("no port for {}: give a port, a TLS port or both", self.host));
        }
        if self.tls_port.is_none() {
            if let Some(policy) = self.secure_channels.as_ref().filter(|p| p.any()) {
                return Err(format!(
                    "the secure channels ({policy}) must use TLS, but no TLS port is known: give one with \
                     --direct HOST:PORT:TLS_PORT, tls-port= in the .vv file, or spice+tls://"
                ));
            }
        }
        Ok(())
    }

    /// One line describing the target for logs: host, ports, proxy (never a password or proxy credentials).
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(p) = self.port {
            parts.push(format!("port {p}"));
        }
        if let Some(p) = self.tls_port {
            parts.push(format!("TLS port {p}"));
        }
        let mut s = format!("{} ({})", self.host, parts.join(", "));
        if let Some(proxy) = &self.proxy {
            s.push_str(&format!(" through the HTTP proxy {proxy}"));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secure_channels_lists() {
        assert_eq!(SecureChannels::parse("").unwrap(), SecureChannels::None);
        assert_eq!(SecureChannels::parse("all").unwrap(), SecureChannels::All);
        assert_eq!(SecureChannels::parse("main;ALL").unwrap(), SecureChannels::All);
        let only = SecureChannels::parse("main;inputs;").unwrap();
        assert_eq!(only, SecureChannels::Only(vec![ChannelType::Main, ChannelType::Inputs]));
        assert!(only.requires(ChannelType::Main) && !only.requires(ChannelType::Webdav));
        assert_eq!(SecureChannels::parse(" main , webdav,main").unwrap().to_string(), "main,webdav");
        let e = SecureChannels::parse("main,dispaly").unwrap_err();
        assert!(e.contains("\"dispaly\"") && e.contains("webdav"), "{e}");
    }

    #[test]
    fn check_and_describe() {
        let mut t = ConnectTarget { host: "vm".into(), port: Some(5900), ..ConnectTarget::default() };
        assert!(t.check().is_ok());
        t.secure_channels = Some(SecureChannels::All);
        assert!(t.check().unwrap_err().contains("no TLS port"));
        t.tls_port = Some(5901);
        assert!(t.check().is_ok());
        t.proxy = Some(ProxyUrl::parse("http://u:hunter2@proxy:3128").unwrap());
        t.password = Some(Password::new("secret"));
        let d = t.describe();
        assert_eq!(d, "vm (port 5900, TLS port 5901) through the HTTP proxy http://proxy:3128 (with credentials)");
        let dbg = format!("{t:?}");
        assert!(!dbg.contains("hunter2") && !dbg.contains("secret"), "{dbg}");
        assert!(ConnectTarget { host: "vm".into(), ..ConnectTarget::default() }.check().is_err());
    }
}
