//! Services: configured brokers, built once per push and ready to deliver.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Error;

use crate::broker::{Broker, BuildContext};
use crate::config::values::{PathFilter, RefFilter};
use crate::config::{RepoConfig, SiteConfig};
use crate::event::{Push, RefChange};
use crate::scm::Limits;
use crate::state::StateDir;
use crate::trust::secrets::Grants;

/// One configured use of a broker, built.
pub struct Service {
    /// The service's unique name.
    pub name: String,
    /// The broker's name.
    pub broker_name: String,
    /// Runs only when a pushed ref matches.
    pub filter: Option<RefFilter>,
    /// Runs only when a new changeset touches a matching file.
    pub paths: Option<PathFilter>,
    /// Most changesets a delivery carries (0: all).
    pub max_commits: usize,
    /// Timeout of one attempt.
    pub timeout: Duration,
    /// Options with secrets redacted, for the payload's `service`.
    pub options: serde_json::Value,
    /// The built broker.
    pub broker: Box<dyn Broker>,
    /// Patch lines the broker wants per changeset, if any.
    pub diff_lines: Option<usize>,
    /// One delivery per pushed ref instead of one per push.
    pub per_ref: bool,
    /// The service's table as written, for queue mode.
    pub written: String,
}

/// A service that could not be built (its problem is reported, the others still run).
pub struct Broken {
    /// The service's name.
    pub name: String,
    /// The broker's name.
    pub broker_name: String,
    /// Why it could not be built.
    pub error: Error,
}

/// Builds every enabled service of `config`, with the secrets `grants` allows.
pub fn build_all(
    config: &RepoConfig,
    site: &SiteConfig,
    state: &StateDir,
    grants: &Grants,
) -> (Vec<Arc<Service>>, Vec<Broken>) {
    let mut services = Vec::new();
    let mut broken = Vec::new();
    for service in config.services.iter().filter(|service| service.enabled) {
        // No single attempt may outlast the whole hook's budget.
        let timeout = service
            .timeout
            .unwrap_or(site.limits.timeout)
            .0
            .min(site.limits.budget.0);
        let context = BuildContext {
            site,
            state: state.clone(),
            timeout,
            grants,
        };
        match service.options.build(&context) {
            Ok(broker) => services.push(Arc::new(Service {
                name: service.name.clone(),
                broker_name: service.broker.clone(),
                filter: service.branches.clone(),
                paths: service.paths.clone(),
                max_commits: service.max_commits,
                timeout,
                options: service.redacted.clone(),
                broker,
                diff_lines: service.options.diff_lines(),
                per_ref: service.options.per_ref(),
                written: service.written.clone(),
            })),
            Err(error) => broken.push(Broken {
                name: service.name.clone(),
                broker_name: service.broker.clone(),
                error,
            }),
        }
    }
    (services, broken)
}

/// How much of the push the services need: the largest cap (0 wins: no cap) and the
/// largest patch.
pub fn limits(services: &[Arc<Service>]) -> Limits {
    let max_commits = if services.iter().any(|service| service.max_commits == 0) {
        0
    } else {
        services
            .iter()
            .map(|service| service.max_commits)
            .max()
            .unwrap_or(1)
    };
    Limits {
        max_commits,
        diff_lines: services
            .iter()
            .filter_map(|service| service.diff_lines)
            .max(),
        heads: services.iter().any(|service| service.per_ref),
    }
}

impl Service {
    /// Whether the branch filter lets this ref through.
    fn wants_ref(&self, change: &RefChange) -> bool {
        self.filter
            .as_ref()
            .is_none_or(|filter| filter.matches(&change.refname, change.filter_name()))
    }

    /// Why the service's filters keep this delivery from it, or `None` when it runs.
    /// Both filters must let it through (AND); a per-ref delivery (`ref_index`) is
    /// judged by its own ref.
    pub fn skip_reason(&self, push: &Push, ref_index: Option<usize>) -> Option<&'static str> {
        match ref_index.and_then(|index| push.refs.get(index)) {
            Some(change) if !self.wants_ref(change) => {
                return Some("this ref does not match its branches filter");
            }
            Some(_) => {}
            None if !push.refs.iter().any(|change| self.wants_ref(change)) => {
                return Some("no pushed ref matches its branches filter");
            }
            None => {}
        }
        if let Some(paths) = &self.paths
            && !push
                .commits
                .iter()
                .any(|commit| commit.files.iter().any(|file| paths.matches(&file.file)))
        {
            return Some("no new changeset touches its paths filter");
        }
        None
    }
}
