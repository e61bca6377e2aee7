//! SPICE protocol numbers (spice-protocol `spice/protocol.h` and `spice/enums.h`).

/// "REDQ", the first four bytes of every link header.
pub const MAGIC: [u8; 4] = *b"REDQ";
/// Protocol major version spoken by ryll.
pub const VERSION_MAJOR: u32 = 2;
/// Protocol minor version spoken by ryll.
pub const VERSION_MINOR: u32 = 2;

/// Largest link message or link reply (the bytes after the link header) a server accepts or ryll reads.
pub const MAX_LINK_SIZE: u32 = 4096;
/// Largest number of capability words in one set.
pub const MAX_CAPS_WORDS: u32 = 1024;
/// Size of the DER SubjectPublicKeyInfo in a link reply.
pub const PUBKEY_SIZE: usize = 162;
/// Size of the encrypted ticket: the RSA-1024 modulus size.
pub const TICKET_SIZE: usize = 128;
/// Longest password a SPICE ticket can carry.
pub const MAX_PASSWORD_LEN: usize = 60;

/// Common capability: a 4-byte auth-mechanism message follows the link reply.
pub const COMMON_CAP_PROTOCOL_AUTH_SELECTION: u32 = 0;
/// Common capability: RSA ticket authentication.
pub const COMMON_CAP_AUTH_SPICE: u32 = 1;
/// Common capability: SASL authentication.
pub const COMMON_CAP_AUTH_SASL: u32 = 2;
/// Common capability: 6-byte mini data header.
pub const COMMON_CAP_MINI_HEADER: u32 = 3;

/// Main capability: semi-seamless migration.
pub const MAIN_CAP_SEMI_SEAMLESS_MIGRATE: u32 = 0;
/// Main capability: the server sends MAIN_NAME and MAIN_UUID after INIT.
pub const MAIN_CAP_NAME_AND_UUID: u32 = 1;
/// Main capability: AGENT_CONNECTED_TOKENS instead of AGENT_CONNECTED.
pub const MAIN_CAP_AGENT_CONNECTED_TOKENS: u32 = 2;
/// Main capability: seamless migration.
pub const MAIN_CAP_SEAMLESS_MIGRATE: u32 = 3;

/// Display capability: STREAM_DATA_SIZED may be sent.
pub const DISPLAY_CAP_SIZED_STREAM: u32 = 0;
/// Display capability: MONITORS_CONFIG may be sent.
pub const DISPLAY_CAP_MONITORS_CONFIG: u32 = 1;
/// Display capability: DRAW_COMPOSITE is understood (changes what guest drivers emit).
pub const DISPLAY_CAP_COMPOSITE: u32 = 2;
/// Display capability: 8-bit alpha surfaces.
pub const DISPLAY_CAP_A8_SURFACE: u32 = 3;
/// Display capability: the client sends STREAM_REPORT.
pub const DISPLAY_CAP_STREAM_REPORT: u32 = 4;
/// Display capability: LZ4 images are understood.
pub const DISPLAY_CAP_LZ4_COMPRESSION: u32 = 5;
/// Display capability: (server) PREFERRED_COMPRESSION is honoured.
pub const DISPLAY_CAP_PREF_COMPRESSION: u32 = 6;
/// Display capability: GL scanout over a unix socket.
pub const DISPLAY_CAP_GL_SCANOUT: u32 = 7;
/// Display capability: only the CODEC_* caps set may be used for streams.
pub const DISPLAY_CAP_MULTI_CODEC: u32 = 8;
/// Display capability: MJPEG streams.
pub const DISPLAY_CAP_CODEC_MJPEG: u32 = 9;
/// Display capability: VP8 streams.
pub const DISPLAY_CAP_CODEC_VP8: u32 = 10;
/// Display capability: H.264 streams.
pub const DISPLAY_CAP_CODEC_H264: u32 = 11;
/// Display capability: (server) PREFERRED_VIDEO_CODEC_TYPE is honoured.
pub const DISPLAY_CAP_PREF_VIDEO_CODEC_TYPE: u32 = 12;
/// Display capability: VP9 streams.
pub const DISPLAY_CAP_CODEC_VP9: u32 = 13;
/// Display capability: H.265 streams.
pub const DISPLAY_CAP_CODEC_H265: u32 = 14;

/// SpiceVMC channel capability: LZ4-compressed data messages.
pub const SPICEVMC_CAP_DATA_COMPRESS_LZ4: u32 = 0;

/// SPICE channel types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChannelType {
    /// 1: session control.
    Main,
    /// 2: the guest's screen.
    Display,
    /// 3: keyboard and mouse.
    Inputs,
    /// 4: the pointer.
    Cursor,
    /// 5: audio out.
    Playback,
    /// 6: audio in.
    Record,
    /// 7: obsolete network tunnel.
    Tunnel,
    /// 8: smartcard.
    Smartcard,
    /// 9: USB redirection.
    Usbredir,
    /// 10: a generic named port.
    Port,
    /// 11: the WebDAV port (`org.spice-space.webdav.0`).
    Webdav,
    /// A type this client does not know.
    Unknown(u8),
}

impl ChannelType {
    /// The wire number.
    pub fn to_u8(self) -> u8 {
        match self {
            ChannelType::Main => 1,
            ChannelType::Display => 2,
            ChannelType::Inputs => 3,
            ChannelType::Cursor => 4,
            ChannelType::Playback => 5,
            ChannelType::Record => 6,
            ChannelType::Tunnel => 7,
            ChannelType::Smartcard => 8,
            ChannelType::Usbredir => 9,
            ChannelType::Port => 10,
            ChannelType::Webdav => 11,
            ChannelType::Unknown(n) => n,
        }
    }

    /// Every channel type SPICE defines, in wire order.
    pub const KNOWN: [ChannelType; 11] = [
        ChannelType::Main,
        ChannelType::Display,
        ChannelType::Inputs,
        ChannelType::Cursor,
        ChannelType::Playback,
        ChannelType::Record,
        ChannelType::Tunnel,
        ChannelType::Smartcard,
        ChannelType::Usbredir,
        ChannelType::Port,
        ChannelType::Webdav,
    ];

    /// spice-gtk's lower-case name of a known type (`None` for [`ChannelType::Unknown`]): the one table of
    /// channel names, used in logs, capture file names, `--secure-channels` and the `.vv` file.
    pub fn known_name(self) -> Option<&'static str> {
        Some(match self {
            ChannelType::Main => "main",
            ChannelType::Display => "display",
            ChannelType::Inputs => "inputs",
            ChannelType::Cursor => "cursor",
            ChannelType::Playback => "playback",
            ChannelType::Record => "record",
            ChannelType::Tunnel => "tunnel",
            ChannelType::Smartcard => "smartcard",
            ChannelType::Usbredir => "usbredir",
            ChannelType::Port => "port",
            ChannelType::Webdav => "webdav",
            ChannelType::Unknown(_) => return None,
        })
    }

    /// The known type named `name` (any case), as [`known_name`](Self::known_name) spells it.
    pub fn from_name(name: &str) -> Option<ChannelType> {
        Self::KNOWN.into_iter().find(|t| t.known_name().is_some_and(|n| n.eq_ignore_ascii_case(name)))
    }

    /// A short lower-case name, used in logs and capture file names (`typeN` for an unknown type).
    pub fn name(self) -> String {
        self.known_name().map_or_else(|| format!("type{}", self.to_u8()), String::from)
    }
}

impl From<u8> for ChannelType {
    fn from(n: u8) -> Self {
        match n {
            1 => ChannelType::Main,
            2 => ChannelType::Display,
            3 => ChannelType::Inputs,
            4 => ChannelType::Cursor,
            5 => ChannelType::Playback,
            6 => ChannelType::Record,
            7 => ChannelType::Tunnel,
            8 => ChannelType::Smartcard,
            9 => ChannelType::Usbredir,
            10 => ChannelType::Port,
            11 => ChannelType::Webdav,
            n => ChannelType::Unknown(n),
        }
    }
}

impl std::fmt::Display for ChannelType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

/// Result codes of a link (`SpiceLinkErr`), both in the link reply and in the final link result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkError {
    /// 0: success.
    Ok,
    /// 1: unspecified error.
    Error,
    /// 2: the server did not recognise the magic.
    InvalidMagic,
    /// 3: the server found the link message malformed.
    InvalidData,
    /// 4: protocol version mismatch.
    VersionMismatch,
    /// 5: the channel must use TLS.
    NeedSecured,
    /// 6: the channel must not use TLS.
    NeedUnsecured,
    /// 7: wrong password or ticket expired.
    PermissionDenied,
    /// 8: unknown session id.
    BadConnectionId,
    /// 9: no such channel.
    ChannelNotAvailable,
    /// Any other value.
    Unknown(u32),
}

impl LinkError {
    /// The wire number.
    pub fn to_u32(self) -> u32 {
        match self {
            LinkError::Ok => 0,
            LinkError::Error => 1,
            LinkError::InvalidMagic => 2,
            LinkError::InvalidData => 3,
            LinkError::VersionMismatch => 4,
            LinkError::NeedSecured => 5,
            LinkError::NeedUnsecured => 6,
            LinkError::PermissionDenied => 7,
            LinkError::BadConnectionId => 8,
            LinkError::ChannelNotAvailable => 9,
            LinkError::Unknown(n) => n,
        }
    }
}

impl From<u32> for LinkError {
    fn from(n: u32) -> Self {
        match n {
            0 => LinkError::Ok,
            1 => LinkError::Error,
            2 => LinkError::InvalidMagic,
            3 => LinkError::InvalidData,
            4 => LinkError::VersionMismatch,
            5 => LinkError::NeedSecured,
            6 => LinkError::NeedUnsecured,
            7 => LinkError::PermissionDenied,
            8 => LinkError::BadConnectionId,
            9 => LinkError::ChannelNotAvailable,
            n => LinkError::Unknown(n),
        }
    }
}

impl std::fmt::Display for LinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkError::Ok => f.write_str("OK"),
            LinkError::Error => f.write_str("ERROR"),
            LinkError::InvalidMagic => f.write_str("INVALID_MAGIC"),
            LinkError::InvalidData => f.write_str("INVALID_DATA"),
            LinkError::VersionMismatch => f.write_str("VERSION_MISMATCH"),
            LinkError::NeedSecured => f.write_str("NEED_SECURED"),
            LinkError::NeedUnsecured => f.write_str("NEED_UNSECURED"),
            LinkError::PermissionDenied => f.write_str("PERMISSION_DENIED"),
            LinkError::BadConnectionId => f.write_str("BAD_CONNECTION_ID"),
            LinkError::ChannelNotAvailable => f.write_str("CHANNEL_NOT_AVAILABLE"),
            LinkError::Unknown(n) => write!(f, "unknown link error {n}"),
        }
    }
}

/// Message types every channel shares, server to client.
pub mod msg {
    /// MIGRATE.
    pub const MIGRATE: u16 = 1;
    /// MIGRATE_DATA.
    pub const MIGRATE_DATA: u16 = 2;
    /// SET_ACK.
    pub const SET_ACK: u16 = 3;
    /// PING.
    pub const PING: u16 = 4;
    /// WAIT_FOR_CHANNELS.
    pub const WAIT_FOR_CHANNELS: u16 = 5;
    /// DISCONNECTING.
    pub const DISCONNECTING: u16 = 6;
    /// NOTIFY.
    pub const NOTIFY: u16 = 7;
    /// LIST (full header only).
    pub const LIST: u16 = 8;
    /// First channel-specific message number.
    pub const FIRST_CHANNEL_SPECIFIC: u16 = 101;

    /// Main channel: MIGRATE_BEGIN.
    pub const MAIN_MIGRATE_BEGIN: u16 = 101;
    /// Main channel: MIGRATE_CANCEL.
    pub const MAIN_MIGRATE_CANCEL: u16 = 102;
    /// Main channel: INIT.
    pub const MAIN_INIT: u16 = 103;
    /// Main channel: CHANNELS_LIST.
    pub const MAIN_CHANNELS_LIST: u16 = 104;
    /// Main channel: MOUSE_MODE.
    pub const MAIN_MOUSE_MODE: u16 = 105;
    /// Main channel: MULTI_MEDIA_TIME.
    pub const MAIN_MULTI_MEDIA_TIME: u16 = 106;
    /// Main channel: AGENT_CONNECTED.
    pub const MAIN_AGENT_CONNECTED: u16 = 107;
    /// Main channel: AGENT_DISCONNECTED.
    pub const MAIN_AGENT_DISCONNECTED: u16 = 108;
    /// Main channel: AGENT_DATA.
    pub const MAIN_AGENT_DATA: u16 = 109;
    /// Main channel: AGENT_TOKEN.
    pub const MAIN_AGENT_TOKEN: u16 = 110;
    /// Main channel: MIGRATE_SWITCH_HOST.
    pub const MAIN_MIGRATE_SWITCH_HOST: u16 = 111;
    /// Main channel: MIGRATE_END.
    pub const MAIN_MIGRATE_END: u16 = 112;
    /// Main channel: NAME.
    pub const MAIN_NAME: u16 = 113;
    /// Main channel: UUID.
    pub const MAIN_UUID: u16 = 114;
    /// Main channel: AGENT_CONNECTED_TOKENS.
    pub const MAIN_AGENT_CONNECTED_TOKENS: u16 = 115;
    /// Main channel: MIGRATE_BEGIN_SEAMLESS.
    pub const MAIN_MIGRATE_BEGIN_SEAMLESS: u16 = 116;

    /// SpiceVMC channels: DATA.
    pub const SPICEVMC_DATA: u16 = 101;
    /// SpiceVMC channels: COMPRESSED_DATA.
    pub const SPICEVMC_COMPRESSED_DATA: u16 = 102;
    /// Port channels: PORT_INIT.
    pub const PORT_INIT: u16 = 201;
    /// Port channels: PORT_EVENT.
    pub const PORT_EVENT: u16 = 202;

    /// Display channel: MODE (legacy primary-surface creation; spice-server 0.15 does not send it).
    pub const DISPLAY_MODE: u16 = 101;
    /// Display channel: MARK: the initial image is complete.
    pub const DISPLAY_MARK: u16 = 102;
    /// Display channel: RESET: clear the primary surface and the palette cache.
    pub const DISPLAY_RESET: u16 = 103;
    /// Display channel: COPY_BITS: copy a region of a surface within that surface.
    pub const DISPLAY_COPY_BITS: u16 = 104;
    /// Display channel: INVAL_LIST: drop these pixmap-cache entries.
    pub const DISPLAY_INVAL_LIST: u16 = 105;
    /// Display channel: INVAL_ALL_PIXMAPS: clear the pixmap cache once the listed channels caught up.
    pub const DISPLAY_INVAL_ALL_PIXMAPS: u16 = 106;
    /// Display channel: INVAL_PALETTE: drop one palette-cache entry.
    pub const DISPLAY_INVAL_PALETTE: u16 = 107;
    /// Display channel: INVAL_ALL_PALETTES: clear the palette cache.
    pub const DISPLAY_INVAL_ALL_PALETTES: u16 = 108;
    /// Display channel: STREAM_CREATE.
    pub const DISPLAY_STREAM_CREATE: u16 = 122;
    /// Display channel: STREAM_DATA.
    pub const DISPLAY_STREAM_DATA: u16 = 123;
    /// Display channel: STREAM_CLIP.
    pub const DISPLAY_STREAM_CLIP: u16 = 124;
    /// Display channel: STREAM_DESTROY.
    pub const DISPLAY_STREAM_DESTROY: u16 = 125;
    /// Display channel: STREAM_DESTROY_ALL.
    pub const DISPLAY_STREAM_DESTROY_ALL: u16 = 126;
    /// Display channel: DRAW_FILL.
    pub const DISPLAY_DRAW_FILL: u16 = 302;
    /// Display channel: DRAW_OPAQUE.
    pub const DISPLAY_DRAW_OPAQUE: u16 = 303;
    /// Display channel: DRAW_COPY.
    pub const DISPLAY_DRAW_COPY: u16 = 304;
    /// Display channel: DRAW_BLEND.
    pub const DISPLAY_DRAW_BLEND: u16 = 305;
    /// Display channel: DRAW_BLACKNESS.
    pub const DISPLAY_DRAW_BLACKNESS: u16 = 306;
    /// Display channel: DRAW_WHITENESS.
    pub const DISPLAY_DRAW_WHITENESS: u16 = 307;
    /// Display channel: DRAW_INVERS.
    pub const DISPLAY_DRAW_INVERS: u16 = 308;
    /// Display channel: DRAW_ROP3.
    pub const DISPLAY_DRAW_ROP3: u16 = 309;
    /// Display channel: DRAW_STROKE.
    pub const DISPLAY_DRAW_STROKE: u16 = 310;
    /// Display channel: DRAW_TEXT.
    pub const DISPLAY_DRAW_TEXT: u16 = 311;
    /// Display channel: DRAW_TRANSPARENT.
    pub const DISPLAY_DRAW_TRANSPARENT: u16 = 312;
    /// Display channel: DRAW_ALPHA_BLEND.
    pub const DISPLAY_DRAW_ALPHA_BLEND: u16 = 313;
    /// Display channel: SURFACE_CREATE.
    pub const DISPLAY_SURFACE_CREATE: u16 = 314;
    /// Display channel: SURFACE_DESTROY.
    pub const DISPLAY_SURFACE_DESTROY: u16 = 315;
    /// Display channel: STREAM_DATA_SIZED.
    pub const DISPLAY_STREAM_DATA_SIZED: u16 = 316;
    /// Display channel: MONITORS_CONFIG.
    pub const DISPLAY_MONITORS_CONFIG: u16 = 317;
    /// Display channel: DRAW_COMPOSITE.
    pub const DISPLAY_DRAW_COMPOSITE: u16 = 318;
    /// Display channel: STREAM_ACTIVATE_REPORT.
    pub const DISPLAY_STREAM_ACTIVATE_REPORT: u16 = 319;
    /// Display channel: GL_SCANOUT_UNIX (unix socket with fd passing only).
    pub const DISPLAY_GL_SCANOUT_UNIX: u16 = 320;
    /// Display channel: GL_DRAW.
    pub const DISPLAY_GL_DRAW: u16 = 321;
    /// Display channel: QUALITY_INDICATOR.
    pub const DISPLAY_QUALITY_INDICATOR: u16 = 322;
}

/// Message types every channel shares, client to server.
pub mod msgc {
    /// ACK_SYNC.
    pub const ACK_SYNC: u16 = 1;
    /// ACK.
    pub const ACK: u16 = 2;
    /// PONG.
    pub const PONG: u16 = 3;
    /// MIGRATE_FLUSH_MARK.
    pub const MIGRATE_FLUSH_MARK: u16 = 4;
    /// MIGRATE_DATA.
    pub const MIGRATE_DATA: u16 = 5;
    /// DISCONNECTING.
    pub const DISCONNECTING: u16 = 6;

    /// Main channel: CLIENT_INFO.
    pub const MAIN_CLIENT_INFO: u16 = 101;
    /// Main channel: ATTACH_CHANNELS.
    pub const MAIN_ATTACH_CHANNELS: u16 = 104;
    /// Main channel: MOUSE_MODE_REQUEST.
    pub const MAIN_MOUSE_MODE_REQUEST: u16 = 105;
    /// Main channel: AGENT_START.
    pub const MAIN_AGENT_START: u16 = 106;

    /// SpiceVMC channels: DATA.
    pub const SPICEVMC_DATA: u16 = 101;
    /// SpiceVMC channels: COMPRESSED_DATA.
    pub const SPICEVMC_COMPRESSED_DATA: u16 = 102;
    /// Port channels: PORT_EVENT (ryll never sends it; see the facts sheet's traps).
    pub const PORT_EVENT: u16 = 201;

    /// Display channel: INIT (mandatory: cache and GLZ dictionary sizes).
    pub const DISPLAY_INIT: u16 = 101;
    /// Display channel: STREAM_REPORT.
    pub const DISPLAY_STREAM_REPORT: u16 = 102;
    /// Display channel: PREFERRED_COMPRESSION.
    pub const DISPLAY_PREFERRED_COMPRESSION: u16 = 103;
    /// Display channel: GL_DRAW_DONE.
    pub const DISPLAY_GL_DRAW_DONE: u16 = 104;
    /// Display channel: PREFERRED_VIDEO_CODEC_TYPE.
    pub const DISPLAY_PREFERRED_VIDEO_CODEC_TYPE: u16 = 105;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_types_round_trip() {
        for n in 0..=255u8 {
            assert_eq!(ChannelType::from(n).to_u8(), n);
        }
        assert_eq!(ChannelType::from(11), ChannelType::Webdav);
        assert_eq!(ChannelType::Webdav.name(), "webdav");
        assert_eq!(ChannelType::Unknown(42).name(), "type42");
        for t in ChannelType::KNOWN {
            assert_eq!(ChannelType::from_name(&t.name().to_uppercase()), Some(t));
        }
        assert_eq!(ChannelType::from_name("type42"), None);
    }

    #[test]
    fn link_errors_round_trip() {
        for n in 0..20u32 {
            assert_eq!(LinkError::from(n).to_u32(), n);
        }
        assert_eq!(LinkError::from(7), LinkError::PermissionDenied);
    }
}
