//! Repository and site configuration: typed, validated once, with every error located.
//!
//! [`repo::load`] reads `pushbroker.toml` table by table so that each error points at the
//! exact key (file, line, column); [`site::load`] reads the server admin's site config.
//! Values that need checking (URLs, globs, durations, secret references) are checked
//! while they are parsed, so a loaded config never needs validating again.

pub mod common;
pub mod diagnostic;
pub mod email;
pub mod queue;
mod redact;
pub mod repo;
pub mod schema;
pub mod secret;
pub mod site;
pub mod values;
mod wording;

pub use diagnostic::{ConfigError, ConfigErrors, Source};
pub use repo::{RepoConfig, RepositoryConfig, ServiceConfig};
pub use site::SiteConfig;
