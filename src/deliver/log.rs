//! The delivery log, `<state>/deliveries.jsonl`: one JSON line per attempt.
//!
//! Each line is written with one `write` on a file opened for appending, so lines of
//! concurrent pushes never interleave. Past [`ROTATE_BYTES`] the file is rotated (under a
//! lock) and the last [`KEEP`] old files are kept.
//!
//! The last line of a delivery in each run carries its final [`State`] (`delivered`,
//! `spooled`, `dropped`, …); earlier ones read `retrying`. The request and response of
//! an HTTP attempt go to a file of their own (`exchange.rs`), so their size never pushes
//! the attempts' history out of the log.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::broker::Verdict;

/// Size at which the log is rotated.
pub const ROTATE_BYTES: u64 = 8 * 1024 * 1024;
/// Rotated files kept (`deliveries.jsonl.1` … `.3`).
pub const KEEP: usize = 3;

/// One attempt, as logged.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Attempt {
    /// When the attempt ended, RFC 3339 UTC.
    pub time: String,
    /// The delivery id.
    pub delivery: String,
    /// The service's name.
    pub service: String,
    /// The broker's name.
    pub broker: String,
    /// 1 for the first attempt of a delivery, counted across redeliveries.
    pub attempt: u32,
    /// How it ended.
    pub outcome: Verdict,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
    /// HTTP status, SMTP reply code or exit code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<i64>,
    /// The receiver's answer or the reason it failed.
    pub detail: String,
    /// What a custom broker printed (capped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// Where the delivery stands after this line; absent in lines of older versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<State>,
    /// The ref(s) the delivery is about (`main`; `main, dev +3 more`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub refs: String,
    /// The short id of the delivery's newest changeset (or of its ref's new value).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub commit: String,
    /// A `pushbroker test` delivery, not a push.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub test: bool,
    /// The HTTP request and response, written to the exchange file, not to this line.
    #[serde(skip)]
    pub exchange: Option<Box<crate::broker::http::Exchange>>,
}

/// Where a delivery stands after a logged line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// The receiver took it: done.
    Delivered,
    /// Its filters or its broker had nothing to send: done.
    Skipped,
    /// Handed to the queue; a worker's lines follow (queue mode).
    Queued,
    /// Another attempt follows in this run.
    Retrying,
    /// Failed; kept in the spool for `pushbroker redeliver`.
    Spooled,
    /// Failed, and not kept: a test delivery (tests are never spooled).
    Failed,
    /// Failed, and the spool could not take it: lost.
    Lost,
    /// Removed from the spool by the admin (`pushbroker redeliver --drop`).
    Dropped,
    /// Queue mode: out of attempts, on the dead-letter stream (`redeliver --dead`).
    Dead,
}

impl State {
    /// Its name, as logged.
    pub fn word(self) -> &'static str {
        match self {
            State::Delivered => "delivered",
            State::Skipped => "skipped",
            State::Queued => "queued",
            State::Retrying => "retrying",
            State::Spooled => "spooled",
            State::Failed => "failed",
            State::Lost => "lost",
            State::Dropped => "dropped",
            State::Dead => "dead",
        }
    }
}

/// Most ref names a log line lists.
const LISTED_REFS: usize = 3;

impl Attempt {
    /// The line of attempt `attempt` of delivery `delivery` through `service`
    /// (`broker`), which ended as `outcome` after `took`, now.
    pub fn of(
        delivery: &str,
        (service, broker): (&str, &str),
        attempt: u32,
        outcome: &crate::broker::Outcome,
        took: std::time::Duration,
    ) -> Attempt {
        Attempt {
            time: crate::scm::dates::now_rfc3339(),
            delivery: delivery.to_string(),
            service: service.to_string(),
            broker: broker.to_string(),
            attempt,
            outcome: outcome.verdict,
            duration_ms: u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
            status: outcome.status,
            detail: outcome.detail.clone(),
            output: outcome.output.clone(),
            state: match outcome.verdict {
                Verdict::Delivered => Some(State::Delivered),
                Verdict::Skipped => Some(State::Skipped),
                Verdict::Queued => Some(State::Queued),
                Verdict::Retry | Verdict::Failed => None,
            },
            refs: String::new(),
            commit: String::new(),
            test: false,
            exchange: outcome.exchange.clone(),
        }
    }

    /// This line with the ref(s) and commit of the delivery of `push` (for a per-ref
    /// delivery, ref `ref_index`), marked when `push` is a test.
    pub fn about(mut self, push: &crate::event::Push, ref_index: Option<usize>) -> Attempt {
        let short = |id: &str| crate::scm::short_id(id);
        self.test = push.test;
        match ref_index.and_then(|index| push.refs.get(index)) {
            Some(change) => {
                self.refs = change.name.clone();
                self.commit = change
                    .new
                    .as_deref()
                    .or(change.old.as_deref())
                    .map(short)
                    .unwrap_or_default();
            }
            None => {
                let mut names: Vec<&str> = push
                    .refs
                    .iter()
                    .take(LISTED_REFS)
                    .map(|change| change.name.as_str())
                    .collect();
                let more = push.refs.len().saturating_sub(LISTED_REFS);
                let more = (more > 0).then(|| format!("+{more} more"));
                names.extend(more.as_deref());
                self.refs = names.join(", ");
                self.commit = match push.commits.last() {
                    Some(commit) => commit.node.clone(),
                    None => push
                        .refs
                        .first()
                        .and_then(|change| change.new.as_deref().or(change.old.as_deref()))
                        .map(short)
                        .unwrap_or_default(),
                };
            }
        }
        self
    }

    /// This line, saying the delivery is now `state`.
    pub fn settled(mut self, state: State) -> Attempt {
        self.state = Some(state);
        self
    }

    /// The state the table shows: the logged one, or for a line of an older version
    /// the attempt's outcome.
    pub fn shown_state(&self) -> String {
        match self.state {
            Some(state) => state.word().to_string(),
            None => format!("{:?}", self.outcome).to_lowercase(),
        }
    }
}

/// The log of one repository.
#[derive(Debug, Clone)]
pub struct DeliveryLog {
    path: PathBuf,
    rotate_bytes: u64,
}

impl DeliveryLog {
    /// The log at `path`.
    pub fn new(path: PathBuf) -> DeliveryLog {
        DeliveryLog {
            path,
            rotate_bytes: ROTATE_BYTES,
        }
    }

    /// Appends one attempt (and its HTTP exchange, when it has one, to the exchange
    /// file).
    pub fn append(&self, attempt: &Attempt) -> Result<()> {
        if let Some(exchange) = &attempt.exchange {
            // The request and response are for the admin's eyes; not worth the attempt.
            let _ = super::exchange::Exchanges::beside(&self.path).append(attempt, exchange);
        }
        let mut line = serde_json::to_vec(attempt).context("serializing a log line")?;
        line.push(b'\n');
        let dir = self.path.parent().context("the log has a directory")?;
        crate::state::create_state_dir(dir)?;
        self.rotate_if_large()?;
        let mut file =
            crate::state::open_file(OpenOptions::new().append(true).create(true), &self.path)
                .with_context(|| format!("opening {}", self.path.display()))?;
        file.write_all(&line)
            .with_context(|| format!("appending to {}", self.path.display()))
    }

    fn rotate_if_large(&self) -> Result<()> {
        let large =
            |path: &Path| fs::metadata(path).is_ok_and(|meta| meta.len() >= self.rotate_bytes);
        if !large(&self.path) {
            return Ok(());
        }
        let lock = lock_file(&self.path.with_extension("lock"))?;
        // Another push may have rotated while this one waited for the lock.
        if large(&self.path) {
            for index in (1..KEEP).rev() {
                let _ = fs::rename(self.rotated(index), self.rotated(index + 1));
            }
            fs::rename(&self.path, self.rotated(1))
                .with_context(|| format!("rotating {}", self.path.display()))?;
        }
        drop(lock);
        Ok(())
    }

    fn rotated(&self, index: usize) -> PathBuf {
        PathBuf::from(format!("{}.{index}", self.path.display()))
    }

    /// The newest `count` attempts, oldest first (the current file, then rotated ones).
    /// Lines that are not valid JSON are counted in the second value, not returned.
    pub fn recent(&self, count: usize) -> Result<(Vec<Attempt>, usize)> {
        let mut attempts = Vec::new();
        let mut invalid = 0;
        let files = std::iter::once(self.path.clone()).chain((1..=KEEP).map(|i| self.rotated(i)));
        for path in files {
            if attempts.len() >= count {
                break;
            }
            let Ok(file) = File::open(&path) else {
                continue;
            };
            let mut lines = Vec::new();
            for line in BufReader::new(file).lines() {
                let line = line.with_context(|| format!("reading {}", path.display()))?;
                match serde_json::from_str::<Attempt>(&line) {
                    Ok(attempt) => lines.push(attempt),
                    Err(_) => invalid += 1,
                }
            }
            lines.extend(attempts);
            attempts = lines;
        }
        let skip = attempts.len().saturating_sub(count);
        Ok((attempts.split_off(skip), invalid))
    }
}

/// Takes an exclusive lock on `path` (created if needed), held until the file is dropped.
pub fn lock_file(path: &Path) -> Result<File> {
    if let Some(dir) = path.parent() {
        crate::state::create_state_dir(dir)?;
    }
    let file = crate::state::open_file(
        OpenOptions::new().write(true).create(true).truncate(false),
        path,
    )
    .with_context(|| format!("opening the lock {}", path.display()))?;
    file.lock()
        .with_context(|| format!("locking {}", path.display()))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(n: u32) -> Attempt {
        Attempt {
            time: "2026-11-27T09:00:00Z".into(),
            delivery: format!("id-{n}"),
            service: "ci".into(),
            broker: "post".into(),
            attempt: n,
            outcome: Verdict::Delivered,
            duration_ms: 1,
            status: Some(200),
            detail: "HTTP 200".into(),
            output: None,
            state: Some(State::Delivered),
            refs: "main".into(),
            commit: "0123456789ab".into(),
            test: false,
            exchange: None,
        }
    }

    #[test]
    fn rotates_past_its_size_and_keeps_the_newest_files() {
        let dir = tempfile::tempdir().expect("tmp");
        let log = DeliveryLog {
            path: dir.path().join("deliveries.jsonl"),
            rotate_bytes: 400,
        };
        for n in 1..=40 {
            log.append(&attempt(n)).expect("append");
        }
        let names: Vec<String> = (1..=KEEP + 1)
            .filter(|i| log.rotated(*i).exists())
            .map(|i| i.to_string())
            .collect();
        assert_eq!(names, vec!["1", "2", "3"], "three rotated files, no fourth");
        let (recent, invalid) = log.recent(5).expect("read");
        assert_eq!(invalid, 0);
        let ids: Vec<u32> = recent.iter().map(|a| a.attempt).collect();
        assert_eq!(ids, vec![36, 37, 38, 39, 40]);
        // Reading across files: more than the current file holds.
        let (all, _) = log.recent(1000).expect("read");
        assert!(all.len() > 5 && all.len() < 40, "{}", all.len());
        assert!(
            all.windows(2).all(|w| w[0].attempt < w[1].attempt),
            "oldest first"
        );
    }
}
