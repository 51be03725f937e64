//! `pushbroker payload`: prints the payload a push would produce, for broker authors;
//! with `--service NAME` (and no `--format`), what that service would send in its own
//! form: the email as text, a POST's or chat message's body, a custom broker's stdin.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use git2::Oid;

use crate::deliver;
use crate::push;
use crate::repo::RepoContext;
use crate::repo::Vcs;
use crate::scm::{Limits, git, hg};

/// The payload's written form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Pretty JSON, as a custom broker reads it on stdin (with `broker` and `service`
    /// when `--service` names one).
    Native,
    /// The body of a `post` service with `format = "json"`.
    Json,
    /// The body of a `post` service with `format = "bitbucket"`: `payload=<json>`.
    Bitbucket,
}

/// What to print.
pub struct Request {
    /// `[REPO] OLD NEW REF [OLD NEW REF…]`.
    pub args: Vec<String>,
    /// The written form; `None`: the service's own form with `service`, else native.
    pub format: Option<Format>,
    /// Cap on changesets; default the service's, else 500; 0 = no cap.
    pub max_commits: Option<usize>,
    /// Render for this service (its options, its cap).
    pub service: Option<String>,
    /// Mercurial: the changesets of this revset (the args are then `[REPO]` only).
    pub rev: Option<String>,
}

/// Builds the push described by the arguments and prints its payload to `out`.
pub fn run(request: Request, out: &mut dyn Write) -> Result<ExitCode> {
    let (repo, triples) = match &request.rev {
        Some(_) if request.args.len() > 1 => bail!("with --rev, name at most the repository"),
        Some(_) => (
            PathBuf::from(request.args.first().map_or(".", String::as_str)),
            Vec::new(),
        ),
        None => {
            // A Mercurial repository gets the Mercurial example, not a Git one about
            // OLD NEW REF triples.
            let named = (request.args.len() % 3 == 1).then(|| PathBuf::from(&request.args[0]));
            if let Ok(context) = RepoContext::open(named.as_deref())
                && matches!(context.vcs, Vcs::Hg)
            {
                bail!(hg_needs_rev(&context));
            }
            split_args(&request.args)?
        }
    };
    let context = RepoContext::open(Some(&repo))?;
    let loaded = super::load(&context)?;
    let service = match &request.service {
        Some(name) => Some(
            loaded
                .services
                .iter()
                .find(|service| &service.name == name)
                .with_context(|| super::no_service(&loaded, name))?,
        ),
        None => None,
    };
    let max_commits = request
        .max_commits
        .or(service.map(|service| service.max_commits))
        .unwrap_or(crate::config::repo::DEFAULT_MAX_COMMITS);
    let own_form = request.format.is_none() && service.is_some();
    let limits = Limits {
        max_commits,
        diff_lines: service
            .filter(|_| own_form)
            .and_then(|service| service.diff_lines),
        heads: true,
    };
    let event = match (&context.vcs, &request.rev) {
        (Vcs::Hg, Some(revset)) => {
            let gathered = hg::gather_cli(&context.top, &context.state(), revset, limits)?;
            super::assemble(&context, &loaded, hg::to_changes(gathered), push::pusher())
        }
        (Vcs::Hg, None) => bail!(hg_needs_rev(&context)),
        (Vcs::Git(_), Some(_)) => bail!("--rev is for Mercurial; for Git name OLD NEW REF triples"),
        (Vcs::Git(_), None) => {
            let updates = triples
                .iter()
                .map(|[old, new, name]| {
                    Ok(git::RefUpdate {
                        old: resolve(&context, old)?,
                        new: resolve(&context, new)?,
                        name: name.clone(),
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            super::build_event(&context, &loaded, &updates, limits, push::pusher())?
        }
    };
    let id = deliver::new_delivery_id();
    if let (Some(service), true) = (service, own_form) {
        return own(&event, service, &id, max_commits, out);
    }
    let broker = service.map(|service| (service.broker_name.as_str(), &service.options));
    // Streamed, not built in memory first: a payload of 10,000 commits is large.
    let mut out = std::io::BufWriter::new(out);
    match request.format.unwrap_or(Format::Native) {
        Format::Native => {
            serde_json::to_writer_pretty(&mut out, &event.payload(&id, max_commits, broker))?
        }
        Format::Json => serde_json::to_writer(&mut out, &event.payload(&id, max_commits, None))?,
        Format::Bitbucket => {
            let json = serde_json::to_string(&event.payload(&id, max_commits, None))?;
            write!(out, "payload={}", crate::broker::post::form_encode(&json))?;
        }
    }
    writeln!(out)?;
    out.flush()?;
    // Not freed: the process ends here, and freeing 10,000 changesets one by one costs
    // more than listing their files took (2.5% of the run).
    std::mem::forget(event);
    Ok(ExitCode::SUCCESS)
}

/// Prints what `service` would send for `event`, in its own form: the email as text
/// (headers, then the body; every email with `per_commit`), the body of a built-in HTTP
/// broker's request (`post` in its format, the chat message), the native payload a
/// custom broker reads on stdin. A per-ref service (GitHub's push events) makes one
/// per ref, printed one after the other.
fn own(
    event: &crate::event::Push,
    service: &crate::service::Service,
    id: &str,
    max_commits: usize,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    let refs: Vec<Option<usize>> = match service.per_ref {
        true => (0..event.refs.len()).map(Some).collect(),
        false => vec![None],
    };
    let builtin = crate::broker::parser(&service.broker_name).is_some();
    for ref_index in refs {
        if let Some(reason) = service.skip_reason(event, ref_index) {
            bail!(
                "the service {:?} would send nothing for this push: {reason}",
                service.name
            );
        }
        let delivery = crate::broker::Delivery {
            max_commits,
            ..deliver::delivery(event, service, id, ref_index)
        };
        let text = match (builtin, service.broker_name.as_str()) {
            (true, "email") => service.broker.preview(&delivery)?,
            // The request line and headers, then a blank line and the body.
            (true, _) => {
                let preview = service.broker.preview(&delivery)?;
                match preview.split_once("\n\n") {
                    Some((_, body)) => body.to_string(),
                    None => preview,
                }
            }
            (false, _) => serde_json::to_string_pretty(&delivery.payload())?,
        };
        writeln!(out, "{}", text.trim_end())?;
    }
    Ok(ExitCode::SUCCESS)
}

fn hg_needs_rev(context: &RepoContext) -> String {
    format!(
        "{} is a Mercurial repository: name the changesets with --rev REVSET, e.g. `pushbroker payload --rev tip` or `--rev \"-3:\"`",
        context.top.display()
    )
}

/// `[REPO] OLD NEW REF…` into the repository (default `.`) and the triples.
fn split_args(args: &[String]) -> Result<(PathBuf, Vec<[String; 3]>)> {
    let (repo, rest) = match args.len() % 3 {
        0 => (PathBuf::from("."), args),
        1 => (PathBuf::from(&args[0]), &args[1..]),
        _ => bail!(
            "expected [REPO] followed by OLD NEW REF triples, got {} arguments",
            args.len()
        ),
    };
    if rest.is_empty() {
        bail!("name at least one OLD NEW REF triple, e.g. `HEAD~1 HEAD refs/heads/main`");
    }
    let triples = rest
        .chunks(3)
        .map(|chunk| [chunk[0].clone(), chunk[1].clone(), chunk[2].clone()])
        .collect();
    Ok((repo, triples))
}

/// A revision: a full id, all zeros for "none", or anything `git rev-parse` takes.
fn resolve(context: &RepoContext, spec: &str) -> Result<Oid> {
    if spec.len() == 40 && spec.bytes().all(|b| b == b'0') {
        return Ok(Oid::ZERO_SHA1);
    }
    // libgit2's own words (`revspec … not found; class=Reference (4)…`) say nothing more.
    let object = context.git()?.revparse_single(spec).map_err(|_| {
        anyhow::anyhow!(
            "unknown revision {spec:?}: name a commit id, a branch, a tag, `HEAD~1`, or 40 zeros for none"
        )
    })?;
    Ok(object.id())
}
