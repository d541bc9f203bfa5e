//! NebulaGraph's graph-service wire protocol as sans-I/O codecs: bytes in, typed calls out,
//! replies framed exactly like the calls they answer.
//!
//! A graph server built on [`graphsession_core::node::GraphNode`] gives each connection a
//! [`ServerCodec`], feeds it what the socket reads ([`ServerCodec::handle_bytes`]), takes
//! [`Call`]s from [`ServerCodec::poll_request`], turns them into the node's
//! [`Request`](graphsession_core::node::Request)s ([`WireRequest::direct_node_request`],
//! [`login_request`] after its password check, [`execute_request`] after its parser) and
//! writes [`ServerCodec::encode_reply`]'s bytes for each reply. A [`FrameError`] closes only
//! that connection.
//!
//! # The framings
//!
//! | client | framing | protocol |
//! |---|---|---|
//! | nebula3-python 3.8.3 | fbthrift Header (magic `0x0FFF` in bytes 4-5) | Compact v2 (Binary also served) |
//! | Node.js client 3.0.3 | Framed (4-byte big-endian length) | strict Binary (`0x8001`) |
//! | Rust `nebula-client` 0.7.3 | none (fbthrift's unframed transport) | strict Binary (`0x8001` in bytes 0-1) |
//!
//! The first frame's bytes 4-5 decide (bytes 0-1 for unframed messages); every later frame
//! must agree. Not served: python's
//! opt-in HTTP/2 transport, Compact version 1 (little-endian doubles), non-strict Binary, Header
//! transforms (compression); each is refused with a [`FrameError`].
//!
//! # What is generated and what is written here
//!
//! The generated crates `nebula-fbthrift-graph-v3` and `nebula-fbthrift-common-v3` (0.3.0, on
//! `fbthrift-git` 0.0.7) supply the types, the response serializers (both protocols) and the
//! decoder of parameter values. Written here: the Header frame (no maintained Rust crate has one),
//! the dispatch by method name (the generated processor answers the one-way `signout`, which
//! desynchronizes python's connection: here `signout` never gets a reply), and a bounded
//! reader and walker for request arguments, because the generated decoders trust declared
//! lengths and recurse without limit (see `reader/mod.rs`). The walker checks every request
//! within [`Config`]'s limits before the generated decoder reads any of it.
//!
//! Nothing here reads a clock or does I/O: latency is the host's measure, passed in.
//!
//! # Example: one call on one connection
//!
//! ```
//! use graphsession_core::node::Reply;
//! use graphsession_core::server::PasswordCheck;
//! use graphsession_wire::{Config, Framing, ServerCodec, WireRequest, login_request};
//!
//! // nebula3-python's `authenticate("root", "nebula")`: a Header frame around a Compact call.
//! let mut read = vec![0, 0, 0, 45, 0x0F, 0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0];
//! read.extend_from_slice(b"\x82\x22\x00\x0cauthenticate\x18\x04root\x18\x06nebula\x00");
//!
//! let mut codec = ServerCodec::new(Config::default())?;
//! codec.handle_bytes(&read);
//! while let Some(call) = codec.poll_request() {
//!     let call = call?; // an error: log it and close this connection
//!     let WireRequest::Authenticate { username, password } = &call.request else { continue };
//!     // The host checks `password` against its store, then hands the node its request.
//!     let request = login_request(username, PasswordCheck::Verified, "10.0.0.1");
//!     // ... node.handle_request(now, connection, request, &mut roles), and the node replies:
//!     let reply = Reply::Authenticated {
//!         session_id: 7,
//!         time_zone_offset_seconds: 0,
//!         time_zone_name: "UTC".into(),
//!     };
//!     let Some(reply_to) = call.reply_to else { continue }; // signout: never answered
//!     let bytes = codec.encode_reply(&reply_to, &reply, 120);
//!     assert_eq!((reply_to.framing(), &bytes[4..6]), (Framing::Header, &[0x0F, 0xFF][..]));
//! #   let _ = (password, request);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod client;
mod codec;
mod config;
mod decode;
mod encode;
mod error;
mod framing;
mod json;
mod node;
mod reader;
mod request;
mod response;
mod schema;
mod value;
mod walk;

pub use client::{
    ClientCodec, ClientCodecConfig, ClientCodecConfigError, EncodeError, PENDING_REPLIES_LIMIT,
    Reply as ClientReply, ReplyError,
};
pub use codec::ServerCodec;
pub use config::{Config, ConfigError, FRAME_BYTES_LIMIT, NESTING_DEPTH_LIMIT};
pub use error::FrameError;
pub use framing::{Framing, Protocol};
pub use json::execution_json;
pub use node::{execute_request, login_request};
pub use request::{Call, Method, Parameters, ReplyTo, WireRequest};
pub use response::{auth_response, execution_response, verify_client_version_response};
pub use value::{CivilDate, civil_from_days, wire_data_set, wire_date_time, wire_value};

/// The generated graph-service crate (`nebula-fbthrift-graph-v3`), for its response types.
pub use nebula_fbthrift_graph_v3 as nebula_graph;

/// The generated common crate (`nebula-fbthrift-common-v3`), for its `Value` types.
pub use nebula_fbthrift_common_v3 as nebula_common;
