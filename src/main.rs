//! The `pushbroker` command line: clap commands mapped to library calls.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use pushbroker::cmd;

/// Service integration for self-hosted Git and Mercurial servers: on every push, run
/// the repository's configured services (email, POST, chat, …).
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The post-receive hook: reads `<old> <new> <ref>` lines on stdin and delivers.
    Hook {
        /// Print what each service would send; deliver nothing.
        #[arg(long)]
        dry_run: bool,
        /// Called by the Mercurial shim (hooks/pushbroker_hg.py), which speaks JSON on
        /// stdin/stdout.
        #[arg(long, hide = true)]
        hg: bool,
        /// The Mercurial push's first and last changeset, for the spool.
        #[arg(long, hide = true, num_args = 2, requires = "hg")]
        hg_range: Vec<String>,
    },
    /// Install the hook (and a starter pushbroker.toml) into repositories.
    Install {
        /// Git repositories (bare or not) or Mercurial repositories.
        #[arg(required = true)]
        repos: Vec<PathBuf>,
    },
    /// Remove the hook, restoring any hook that was there before.
    Uninstall {
        /// Git or Mercurial repositories.
        #[arg(required = true)]
        repos: Vec<PathBuf>,
    },
    /// Validate the site and repository configs; exit 1 on any error.
    Check {
        /// The repository (default: the current one).
        repo: Option<PathBuf>,
    },
    /// List the brokers this server offers, or one broker's options and a [[service]]
    /// block to paste.
    Brokers {
        /// A broker: show its options (type, default, help) and a [[service]] block.
        name: Option<String>,
        /// Also list this repository's services, and whether each is on.
        #[arg(long)]
        repo: Option<PathBuf>,
    },
    /// Print the JSON Schema of pushbroker.toml (for Taplo / Even Better TOML).
    Schema,
    /// Send a test event (the tip of the default branch; none in a repository without
    /// commits) to the services, marked as a test wherever it is read.
    Test {
        /// The repository (default: the current one).
        repo: Option<PathBuf>,
        /// Only this service.
        #[arg(long)]
        service: Option<String>,
    },
    /// Show recent deliveries with their final state, what waits in the spool (--failed),
    /// or one delivery's requests and responses (--show ID).
    Log {
        /// The repository (default: the current one).
        repo: Option<PathBuf>,
        /// How many attempts to show.
        #[arg(short = 'n', long, default_value_t = 20)]
        count: usize,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        /// List the spooled (failed) deliveries instead.
        #[arg(long)]
        failed: bool,
        /// Show one delivery in full: every attempt, its request and its response.
        #[arg(long, value_name = "ID", conflicts_with = "failed")]
        show: Option<String>,
    },
    /// Retry spooled deliveries with their original event and delivery id (or drop them).
    ///
    /// Exit 0 when nothing is left failing, 1 when a delivery failed again, 3 when only
    /// deliveries of services no longer configured are left (drop them with --drop
    /// --service NAME).
    Redeliver {
        /// The repository (default: the current one); also accepted as the first
        /// argument when it names a directory.
        #[arg(long)]
        repo: Option<PathBuf>,
        /// [REPO] then delivery ids; default: all of them.
        ids: Vec<String>,
        /// Every spooled delivery (the default when no id is given).
        #[arg(long)]
        all: bool,
        /// Queue mode: put the repository's dead letters back on the work stream.
        #[arg(long, conflicts_with = "all")]
        dead: bool,
        /// Only the deliveries of this service (with --drop: drop them all).
        #[arg(long, value_name = "NAME", conflicts_with = "dead")]
        service: Option<String>,
        /// Remove the given deliveries (or --service NAME's) from the spool instead of
        /// sending them; each gets a `dropped` line in the log.
        #[arg(long, conflicts_with_all = ["dead", "all"])]
        drop: bool,
    },
    /// Queue mode: take deliveries from the queue and make them, until SIGTERM.
    Worker {
        /// Deliveries made at once.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Serve only this broker's deliveries (a worker serves one broker or all).
        #[arg(long)]
        broker: Option<String>,
        /// Where the state of repositories that are not on this machine goes.
        #[arg(long, default_value = pushbroker::cmd::worker::DEFAULT_STATE_ROOT)]
        state_dir: PathBuf,
    },
    /// Run a custom broker against the conformance cases; print how to register it.
    Verify {
        /// The broker program.
        program: PathBuf,
        /// The name to register it under (default: the file name).
        #[arg(long)]
        name: Option<String>,
        /// Each case's timeout.
        #[arg(long, default_value = "10s", value_parser = parse_timeout)]
        timeout: std::time::Duration,
        /// Arguments to register it with.
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Renders a template in a process of its own (used by format = "template").
    #[command(name = "__render-template", hide = true)]
    RenderTemplate,
    /// Print the payload a push would produce: [REPO] OLD NEW REF [OLD NEW REF…].
    Payload {
        /// Output form (default: native; with --service, what that service sends, in
        /// its own form: the email as text, the POST or chat body).
        #[arg(long, value_enum)]
        format: Option<cmd::payload::Format>,
        /// Most changesets to include (0: all); default the service's, else 500.
        #[arg(long)]
        max_commits: Option<usize>,
        /// Print what this service would send (its options, its cap, its form).
        #[arg(long)]
        service: Option<String>,
        /// Mercurial: the changesets of this revset (e.g. "tip", "-3:").
        #[arg(long, allow_hyphen_values = true)]
        rev: Option<String>,
        /// Git: [REPO] then OLD NEW REF triples (OLD/NEW: any revision, or 40 zeros);
        /// with --rev: [REPO].
        args: Vec<String>,
    },
}

fn parse_timeout(text: &str) -> Result<std::time::Duration, String> {
    pushbroker::config::values::Timeout::parse(text).map(|timeout| timeout.0)
}

fn main() -> ExitCode {
    // A bug must still be one line for the pusher, never a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        pushbroker::report::line(
            &mut std::io::stderr(),
            &format!("internal error{location}: please report it; the push itself is done"),
        );
    }));
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(error) => {
            pushbroker::report::line(&mut std::io::stderr(), &format!("error: {error:#}"));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    // The commands that deliver stop cleanly on SIGTERM, SIGINT and SIGHUP: no new
    // attempt, what is left spooled, one line. Installed before any thread starts.
    let delivers = matches!(
        cli.command,
        Command::Hook { dry_run: false, .. } | Command::Redeliver { .. } | Command::Test { .. }
    );
    if delivers {
        pushbroker::deliver::stop::install();
    }
    let mut out = std::io::stdout().lock();
    // Not locked for the whole run: a thread that writes to stderr (a library's warning)
    // would wait for the lock forever, and the push with it.
    let mut err = std::io::stderr();
    match cli.command {
        Command::Hook {
            dry_run,
            hg: true,
            hg_range,
        } => cmd::hook::run_hg(
            hg_range.first().zip(hg_range.get(1)),
            dry_run,
            &mut out,
            &mut err,
        ),
        Command::Hook {
            dry_run, hg: false, ..
        } => {
            let mut input = Vec::new();
            std::io::stdin()
                .read_to_end(&mut input)
                .context("reading the hook input")?;
            // Checked as UTF-8 first: far faster than the lossy decoder on 10,000 lines
            // of plain ASCII, which is what git writes.
            let input = match std::str::from_utf8(&input) {
                Ok(text) => std::borrow::Cow::Borrowed(text),
                Err(_) => String::from_utf8_lossy(&input),
            };
            cmd::hook::run(&input, dry_run, &mut out, &mut err)
        }
        Command::Install { repos } => cmd::install::run(&repos, false, &mut out, &mut err),
        Command::Uninstall { repos } => cmd::install::run(&repos, true, &mut out, &mut err),
        Command::Check { repo } => cmd::check::run(repo.as_deref(), &mut out),
        Command::Brokers { name, repo } => {
            cmd::brokers::run(name.as_deref(), repo.as_deref(), &mut out)
        }
        Command::Schema => cmd::brokers::print_schema(&mut out),
        Command::Test { repo, service } => {
            cmd::test::run(repo.as_deref(), service.as_deref(), &mut out)
        }
        Command::Log {
            repo,
            count,
            json,
            failed,
            show,
        } => cmd::log::run(
            repo.as_deref(),
            &cmd::log::Request {
                count,
                json,
                failed,
                show,
            },
            &mut out,
        ),
        Command::Verify {
            program,
            name,
            timeout,
            args,
        } => cmd::verify::run(
            &cmd::verify::Request {
                program: &program,
                args: &args,
                name: name.as_deref(),
                timeout,
            },
            &mut out,
        ),
        Command::Redeliver {
            mut repo,
            mut ids,
            all: _,
            dead,
            service,
            drop,
        } => {
            // `redeliver REPO [ID…]` as SPEC writes it: a first argument that is a
            // directory is the repository (delivery ids never are).
            if repo.is_none()
                && ids
                    .first()
                    .is_some_and(|first| std::path::Path::new(first).is_dir())
            {
                repo = Some(PathBuf::from(ids.remove(0)));
            }
            let service = service.as_deref();
            match (dead, drop) {
                (true, _) => cmd::requeue::run(repo.as_deref(), &mut out),
                (false, true) => cmd::drop::run(repo.as_deref(), &ids, service, &mut out),
                (false, false) => cmd::redeliver::run(repo.as_deref(), &ids, service, &mut out),
            }
        }
        Command::Worker {
            concurrency,
            broker,
            state_dir,
        } => cmd::worker::run(concurrency, broker, Some(state_dir), &mut err),
        Command::RenderTemplate => Ok(pushbroker::broker::post::template::render_child()),
        Command::Payload {
            format,
            max_commits,
            service,
            rev,
            args,
        } => cmd::payload::run(
            cmd::payload::Request {
                args,
                format,
                max_commits,
                service,
                rev,
            },
            &mut out,
        ),
    }
}
