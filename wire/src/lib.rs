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
//! # The two framings
//!
//! | client | framing | protocol |
//! |---|---|---|
//! | nebula3-python 3.8.3 | fbthrift Header (magic `0x0FFF` in bytes 4-5) | Compact v2 (Binary also served) |
//! | Node.js client 3.0.3 | Framed (4-byte big-endian length) | strict Binary (`0x8001`) |
//!
//! The first frame's bytes 4-5 decide; every later frame must agree.
//!
//! # What is generated and what is written here
//!
//! The generated crates `nebula-fbthrift-graph-v3` and `nebula-fbthrift-common-v3` (0.3.0, on
//! `fbthrift-git` 0.0.7) supply the types, the response serializers (both protocols) and the
//! decoder of parameter values. Written here: the Header frame ([`framing`](Framing) has why),
//! the dispatch by method name (the generated processor answers the one-way `signout`, which
//! desynchronizes python's connection: here `signout` never gets a reply), and a bounded
//! reader and walker for request arguments, because the generated decoders trust declared
//! lengths and recurse without limit (see `reader/mod.rs`). The walker checks every request
//! within [`Config`]'s limits before the generated decoder reads any of it.
//!
//! Nothing here reads a clock or does I/O: latency is the host's measure, passed in.

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
