//! What a repository's config may reach of the server: each question decided by one
//! function in one module, called wherever the thing is used.
//!
//! - [`net`]: which addresses a request may connect to.
//! - [`secrets`]: which of the server's secrets a repository may use.
//! - [`files`]: which files a repository's config may have read (templates).
//! - [`urls`]: what of a URL may be shown (messages, logs, spool, payloads).
//!
//! The trust model (SPEC.md, Security): the server admin trusts nobody else; a repository
//! admin gets only what the site config grants; a pusher gets nothing.

pub mod files;
pub mod net;
pub mod secrets;
pub mod urls;
