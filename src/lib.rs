//! pushbroker: a forge's "service integration" for self-hosted Git servers.
//!
//! The data flows one way:
//!
//! 1. hook input ([`scm::git::input`]) →
//! 2. new changesets and ref changes ([`scm::git::collect`]) →
//! 3. the [`event::Push`], built once ([`push::assemble`]) →
//! 4. each configured [`service::Service`] renders and delivers it through its
//!    [`broker::Broker`], in parallel ([`deliver::run`]) →
//! 5. one line per service for the pusher ([`report`]).
//!
//! Configuration ([`config`]) is loaded and validated once, before any of this.

pub mod broker;
pub mod cmd;
pub mod config;
pub mod deliver;
pub mod event;
pub mod install;
pub mod push;
pub mod queue;
pub mod repo;
pub mod report;
pub mod scm;
pub mod service;
pub mod state;
pub mod text;
pub mod trust;
pub mod verify;

/// `User-Agent` of every HTTP request.
pub const USER_AGENT: &str = concat!("pushbroker/", env!("CARGO_PKG_VERSION"));
