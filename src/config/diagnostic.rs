//! Config errors with file, line and column.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A config file's text, kept to turn byte spans into lines and columns.
#[derive(Debug)]
pub struct Source {
    /// Where the text came from.
    pub path: PathBuf,
    /// The whole file.
    pub text: String,
}

impl Source {
    /// Reads `path`.
    pub fn read(path: &Path) -> Result<Source, ConfigErrors> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(Source {
                path: path.to_path_buf(),
                text,
            }),
            Err(error) => Err(ConfigErrors(vec![ConfigError {
                file: path.to_path_buf(),
                line: 0,
                column: 0,
                message: format!("cannot read the config: {error}"),
            }])),
        }
    }

    /// An error at the byte span `span` (the start of the file when unknown).
    pub fn error(&self, span: Option<Range<usize>>, message: impl Into<String>) -> ConfigError {
        let offset = span.map_or(0, |span| span.start).min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |at| at + 1);
        let column = before[line_start..].chars().count() + 1;
        ConfigError {
            file: self.path.clone(),
            line,
            column,
            message: message.into(),
        }
    }

    /// A toml parse or deserialize error, located, in the admin's words.
    pub fn toml_error(&self, error: &toml::de::Error) -> ConfigError {
        self.toml_error_also(error, &[])
    }

    /// [`Source::toml_error`] for a table that also takes the keys `also` (which an
    /// unknown key's message lists with the others).
    pub fn toml_error_also(&self, error: &toml::de::Error, also: &[&str]) -> ConfigError {
        let message = error.message().trim().replace('\n', " ");
        let line = self.line_at(error.span().map_or(0, |span| span.start));
        self.error(error.span(), super::wording::admin(&message, line, also))
    }

    /// The line holding byte `offset`.
    fn line_at(&self, offset: usize) -> &str {
        let offset = offset.min(self.text.len());
        let start = self.text[..offset].rfind('\n').map_or(0, |at| at + 1);
        let end = self.text[offset..]
            .find('\n')
            .map_or(self.text.len(), |at| offset + at);
        self.text.get(start..end).unwrap_or("")
    }
}

/// One config problem, located in its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The config file.
    pub file: PathBuf,
    /// 1-based line; 0 when the problem is the file as a whole.
    pub line: usize,
    /// 1-based column in characters.
    pub column: usize,
    /// What is wrong and what to write instead.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file.display(),
                self.line,
                self.column,
                self.message
            )
        }
    }
}

/// Every problem found in a config; never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [] => write!(f, "invalid config"),
            [only] => write!(f, "{only}"),
            [first, rest @ ..] => write!(f, "{first} (and {} more errors)", rest.len()),
        }
    }
}

impl std::error::Error for ConfigErrors {}

/// The candidate closest to `name` when it is close enough to be a typo (at most two
/// edits, and fewer than half of the name's letters), for "did you mean" hints.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| (strsim::levenshtein(name, candidate), candidate))
        .filter(|(distance, _)| *distance <= 2 && *distance * 2 < name.chars().count().max(2))
        .min()
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_become_lines_and_columns() {
        let source = Source {
            path: "x.toml".into(),
            text: "a = 1\n  bé = 2\n".into(),
        };
        let error = source.error(Some(11..12), "bad");
        assert_eq!((error.line, error.column), (2, 5));
        assert_eq!(error.to_string(), "x.toml:2:5: bad");
    }

    #[test]
    fn close_names_are_suggested() {
        let keys = ["to", "subject_prefix", "max_lines", "branches"];
        assert_eq!(closest("subjekt_prefix", keys), Some("subject_prefix"));
        assert_eq!(closest("brances", keys), Some("branches"));
        assert_eq!(closest("tx", keys), None, "too short to guess");
        assert_eq!(closest("colour", keys), None);
    }
}
