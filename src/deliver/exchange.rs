//! The exchange file, `<state>/exchanges.jsonl`: the HTTP request and response of each
//! attempt, for `pushbroker log --show`, as a forge's "Recent deliveries" keeps them.
//!
//! Bounded twice: per attempt by `broker::http` (the request body's first 16 KiB, the
//! response body's first 4 KiB, 40 headers of at most 512 characters each, credentials
//! masked), and per repository here: past [`ROTATE_BYTES`] the file becomes
//! `exchanges.jsonl.1` (the older one is removed), so a repository keeps at most twice
//! that. The attempts themselves stay in `deliveries.jsonl`, whose history these bodies
//! never push out.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::log::{Attempt, lock_file};
use crate::broker::http::Exchange;

/// Size at which the exchange file is rotated (one older file is kept).
pub const ROTATE_BYTES: u64 = 4 * 1024 * 1024;

/// One line of the file: which attempt, and its exchange.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Line {
    /// The delivery id.
    pub delivery: String,
    /// The attempt's number.
    pub attempt: u32,
    /// When the attempt ended.
    pub time: String,
    /// What was sent and what came back.
    #[serde(flatten)]
    pub exchange: Exchange,
}

/// A repository's exchange file.
#[derive(Debug, Clone)]
pub struct Exchanges {
    path: PathBuf,
    rotate_bytes: u64,
}

impl Exchanges {
    /// The exchange file beside the delivery log at `log`.
    pub fn beside(log: &Path) -> Exchanges {
        Exchanges {
            path: log.with_file_name("exchanges.jsonl"),
            rotate_bytes: ROTATE_BYTES,
        }
    }

    /// Appends the exchange of `attempt`.
    pub fn append(&self, attempt: &Attempt, exchange: &Exchange) -> Result<()> {
        let line = Line {
            delivery: attempt.delivery.clone(),
            attempt: attempt.attempt,
            time: attempt.time.clone(),
            exchange: exchange.clone(),
        };
        let mut bytes = serde_json::to_vec(&line).context("serializing an exchange")?;
        bytes.push(b'\n');
        let dir = self.path.parent().context("the file has a directory")?;
        crate::state::create_state_dir(dir)?;
        self.rotate_if_large()?;
        let mut file =
            crate::state::open_file(OpenOptions::new().append(true).create(true), &self.path)
                .with_context(|| format!("opening {}", self.path.display()))?;
        file.write_all(&bytes)
            .with_context(|| format!("appending to {}", self.path.display()))
    }

    fn rotate_if_large(&self) -> Result<()> {
        let large = || fs::metadata(&self.path).is_ok_and(|meta| meta.len() >= self.rotate_bytes);
        if !large() {
            return Ok(());
        }
        let lock = lock_file(&self.path.with_extension("lock"))?;
        if large() {
            fs::rename(&self.path, self.older())
                .with_context(|| format!("rotating {}", self.path.display()))?;
        }
        drop(lock);
        Ok(())
    }

    fn older(&self) -> PathBuf {
        PathBuf::from(format!("{}.1", self.path.display()))
    }

    /// Every kept exchange of delivery `id`, oldest first.
    pub fn of(&self, id: &str) -> Result<Vec<Line>> {
        let mut found = Vec::new();
        for path in [self.older(), self.path.clone()] {
            let Ok(file) = File::open(&path) else {
                continue;
            };
            for line in BufReader::new(file).lines() {
                let line = line.with_context(|| format!("reading {}", path.display()))?;
                // Cheap first: most lines are other deliveries'.
                if !line.contains(id) {
                    continue;
                }
                if let Ok(parsed) = serde_json::from_str::<Line>(&line)
                    && parsed.delivery == id
                {
                    found.push(parsed);
                }
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::http::Message;

    #[test]
    fn a_repository_keeps_at_most_two_files_of_exchanges() {
        let dir = tempfile::tempdir().expect("tmp");
        let exchanges = Exchanges {
            rotate_bytes: 10 * 1024,
            ..Exchanges::beside(&dir.path().join("deliveries.jsonl"))
        };
        let message = |line: &str| Message {
            line: line.into(),
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: "x".repeat(1000),
            cut: false,
        };
        let exchange = Exchange {
            request: message("POST http://example.com/"),
            response: Some(message("HTTP 200")),
        };
        let mut ids = Vec::new();
        for n in 0..100u32 {
            let id = uuid::Uuid::new_v4().to_string();
            let attempt = Attempt {
                time: "2026-11-27T09:00:00Z".into(),
                delivery: id.clone(),
                service: "ci".into(),
                broker: "post".into(),
                attempt: n,
                outcome: crate::broker::Verdict::Delivered,
                duration_ms: 1,
                status: Some(200),
                detail: "HTTP 200".into(),
                output: None,
                state: None,
                refs: String::new(),
                commit: String::new(),
                test: false,
                exchange: None,
            };
            exchanges.append(&attempt, &exchange).expect("append");
            ids.push(id);
        }
        let names: Vec<String> = crate::state::list(dir.path())
            .expect("list")
            .iter()
            .filter_map(|(path, _)| path.file_name().map(|n| n.to_string_lossy().into_owned()))
            .filter(|name| name.starts_with("exchanges.jsonl"))
            .collect();
        assert_eq!(names, ["exchanges.jsonl", "exchanges.jsonl.1"]);
        let total: u64 = names
            .iter()
            .map(|name| fs::metadata(dir.path().join(name)).expect("size").len())
            .sum();
        let line = 2200;
        assert!(total <= 2 * (10 * 1024 + line), "{total} bytes kept");
        // The newest is found, the oldest is gone.
        let newest = exchanges.of(&ids[99]).expect("read");
        assert_eq!(newest.len(), 1);
        assert_eq!(newest[0].exchange, exchange);
        assert!(exchanges.of(&ids[0]).expect("read").is_empty());
    }
}
