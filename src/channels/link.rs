//! Linking one channel over a stream `connect::dial` opened: link message, link reply, ticket, link result.

use super::io::{record, HeaderMode, SharedCapture};
use crate::capture::Direction;
use crate::connect::error::ConnectError;
use crate::connect::password::Password;
use crate::connect::tcp::CONNECT_TIMEOUT;
use crate::protocol::caps::Caps;
use crate::protocol::constants::{
    LinkError, COMMON_CAP_AUTH_SPICE, COMMON_CAP_MINI_HEADER, COMMON_CAP_PROTOCOL_AUTH_SELECTION, VERSION_MAJOR,
};
use crate::protocol::link::{parse_link_result, select_auth, LinkHeader, LinkMess, LinkReply, LINK_HEADER_SIZE};
use crate::protocol::main_channel::ChannelId;
use crate::protocol::ticket::encrypt_ticket;
use crate::protocol::ProtocolError;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Why a channel could not be connected or linked. Each message names the cause and the next step.
#[derive(Debug, thiserror::Error)]
pub enum LinkFailure {
    /// The channel's stream could not be opened (TCP, proxy, TLS), or the link exchange timed out.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The server refused the password.
    #[error(
        "the server refused the password for the {channel} channel (PERMISSION_DENIED): check the password given \
         with --password-file or RYLL_PASSWORD; a .vv file's password from a SPICE proxy (kerbside) is a token that \
         expires, so fetch a new .vv file"
    )]
    PermissionDenied {
        /// The channel.
        channel: String,
    },
    /// The server requires TLS and no TLS port is known.
    #[error(
        "the server requires TLS for the {channel} channel (NEED_SECURED) and no TLS port is known: give the \
         server's TLS port with --direct HOST:PORT:TLS_PORT, spice+tls://HOST:TLS_PORT or tls-port= in the .vv file"
    )]
    NeedSecured {
        /// The channel.
        channel: String,
    },
    /// Protocol major version mismatch.
    #[error("the server speaks SPICE protocol version {major}, ryll speaks {VERSION_MAJOR} (VERSION_MISMATCH)")]
    VersionMismatch {
        /// The server's major version (0 if the server only answered VERSION_MISMATCH).
        major: u32,
    },
    /// The server does not have this channel.
    #[error("the server has no {channel} channel (CHANNEL_NOT_AVAILABLE)")]
    ChannelNotAvailable {
        /// The channel.
        channel: String,
    },
    /// The server closed the socket during the link.
    #[error(
        "the server closed the connection while linking the {channel} channel ({stage}): the server may not offer \
         this channel, or another client took over the session"
    )]
    ClosedDuringLink {
        /// The channel.
        channel: String,
        /// How far the link got.
        stage: &'static str,
    },
    /// The peer is not a SPICE server.
    #[error("{addr} is not a SPICE server (bad magic in its reply): check the port")]
    NotSpice {
        /// HOST:PORT.
        addr: String,
    },
    /// The server refused the link for another reason.
    #[error("the server refused the {channel} channel: {code}")]
    LinkRefused {
        /// The channel.
        channel: String,
        /// The server's code.
        code: LinkError,
    },
    /// A malformed link reply or an impossible request.
    #[error("link of the {channel} channel failed: {source}")]
    Protocol {
        /// The channel.
        channel: String,
        /// The cause.
        source: ProtocolError,
    },
    /// A socket error during the link.
    #[error("link of the {channel} channel failed: {source}")]
    Io {
        /// The channel.
        channel: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// What to link.
#[derive(Debug, Clone)]
pub struct LinkRequest {
    /// 0 for the main channel of a new session, the session id otherwise.
    pub connection_id: u32,
    /// The channel.
    pub channel: ChannelId,
    /// Channel capabilities to advertise.
    pub channel_caps: Caps,
    /// The password (empty when the server has ticketing off).
    pub password: Password,
    /// HOST:PORT, for messages.
    pub addr: String,
}

/// The outcome of a successful link.
#[derive(Debug, Clone)]
pub struct LinkInfo {
    /// Server common capabilities.
    pub server_common: Caps,
    /// Server channel capabilities.
    pub server_channel: Caps,
    /// The data header both sides will use.
    pub mode: HeaderMode,
}

/// The common capabilities ryll advertises.
pub fn client_common_caps() -> Caps {
    Caps::with(&[COMMON_CAP_PROTOCOL_AUTH_SELECTION, COMMON_CAP_AUTH_SPICE, COMMON_CAP_MINI_HEADER])
}

/// Performs the link handshake on `stream`, recording it in `capture`.
pub async fn link<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    req: &LinkRequest,
    capture: &Option<SharedCapture>,
) -> Result<LinkInfo, LinkFailure> {
    match tokio::time::timeout(CONNECT_TIMEOUT, link_inner(stream, req, capture)).await {
        Ok(r) => r,
        Err(_) => Err(ConnectError::Timeout { addr: req.addr.clone() }.into()),
    }
}

async fn link_inner<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    req: &LinkRequest,
    capture: &Option<SharedCapture>,
) -> Result<LinkInfo, LinkFailure> {
    let channel = req.channel.channel_type.name();
    let io_err = |source: std::io::Error| LinkFailure::Io { channel: channel.clone(), source };
    let proto_err = |source: ProtocolError| LinkFailure::Protocol { channel: channel.clone(), source };
    let closed = |stage: &'static str| LinkFailure::ClosedDuringLink { channel: channel.clone(), stage };

    let mess = LinkMess {
        connection_id: req.connection_id,
        channel_type: req.channel.channel_type,
        channel_id: req.channel.id,
        common_caps: client_common_caps(),
        channel_caps: req.channel_caps.clone(),
    }
    .encode();
    stream.write_all(&mess).await.map_err(io_err)?;
    record(capture, Direction::ClientToServer, &mess);

    let mut header = [0u8; LINK_HEADER_SIZE];
    read_or_closed(stream, &mut header, || closed("no link reply"), io_err).await?;
    record(capture, Direction::ServerToClient, &header);
    let header = match LinkHeader::parse(&header) {
        Err(ProtocolError::BadMagic(_)) => return Err(LinkFailure::NotSpice { addr: req.addr.clone() }),
        other => other.map_err(proto_err)?,
    };
    let mut body = vec![0u8; header.size as usize];
    read_or_closed(stream, &mut body, || closed("link reply cut short"), io_err).await?;
    record(capture, Direction::ServerToClient, &body);
    if header.major != VERSION_MAJOR {
        return Err(LinkFailure::VersionMismatch { major: header.major });
    }
    let reply = LinkReply::parse(&body).map_err(proto_err)?;
    check_code(reply.error, &channel)?;

    let plan = select_auth(&reply.common_caps).map_err(proto_err)?;
    let mut out = Vec::with_capacity(4 + 128);
    if plan.send_selection {
        out.extend_from_slice(&plan.mechanism.encode());
    }
    let ticket = encrypt_ticket(&reply.pub_key, req.password.expose(), &mut rand::thread_rng()).map_err(proto_err)?;
    out.extend_from_slice(&ticket);
    stream.write_all(&out).await.map_err(io_err)?;
    record(capture, Direction::ClientToServer, &out);

    let mut result = [0u8; 4];
    read_or_closed(stream, &mut result, || closed("no link result after the ticket"), io_err).await?;
    record(capture, Direction::ServerToClient, &result);
    check_code(parse_link_result(&result).map_err(proto_err)?, &channel)?;

    let mode = if reply.common_caps.has(COMMON_CAP_MINI_HEADER) { HeaderMode::Mini } else { HeaderMode::Full };
    Ok(LinkInfo { server_common: reply.common_caps, server_channel: reply.channel_caps, mode })
}

fn check_code(code: LinkError, channel: &str) -> Result<(), LinkFailure> {
    let channel = channel.to_string();
    match code {
        LinkError::Ok => Ok(()),
        LinkError::PermissionDenied => Err(LinkFailure::PermissionDenied { channel }),
        LinkError::NeedSecured => Err(LinkFailure::NeedSecured { channel }),
        LinkError::VersionMismatch => Err(LinkFailure::VersionMismatch { major: 0 }),
        LinkError::ChannelNotAvailable => Err(LinkFailure::ChannelNotAvailable { channel }),
        code => Err(LinkFailure::LinkRefused { channel, code }),
    }
}

async fn read_or_closed<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut [u8],
    closed: impl FnOnce() -> LinkFailure,
    io_err: impl FnOnce(std::io::Error) -> LinkFailure,
) -> Result<(), LinkFailure> {
    match stream.read_exact(buf).await {
        Ok(_) => Ok(()),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::UnexpectedEof
                    | std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::BrokenPipe
            ) =>
        {
            Err(closed())
        }
        Err(e) => Err(io_err(e)),
    }
}
