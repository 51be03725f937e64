//! The commands: each takes its arguments and the output streams, returns an exit code.

pub mod check;
pub mod hook;
pub mod install;
pub mod payload;

use crate::config::{self, ConfigErrors, RepoConfig, SiteConfig};
use crate::repo::RepoContext;
use crate::service::{self, Broken, Service};

/// A repository's configuration, loaded and built.
pub struct Loaded {
    /// The site config.
    pub site: SiteConfig,
    /// The repository config.
    pub config: RepoConfig,
    /// The services that were built.
    pub services: Vec<Service>,
    /// The services that could not be built.
    pub broken: Vec<Broken>,
}

/// Loads the site and repository configs of `context` and builds its services.
pub fn load(context: &RepoContext) -> Result<Loaded, ConfigErrors> {
    let site = config::site::load();
    let repo = config::repo::load(&context.config_path());
    let (site, config) = match (site, repo) {
        (Ok(site), Ok(config)) => (site, config),
        (site, repo) => {
            let mut errors = Vec::new();
            errors.extend(site.err().into_iter().flat_map(|e| e.0));
            errors.extend(repo.err().into_iter().flat_map(|e| e.0));
            return Err(ConfigErrors(errors));
        }
    };
    let (services, broken) = service::build_all(&config, &site, &context.state_dir());
    Ok(Loaded {
        site,
        config,
        services,
        broken,
    })
}
