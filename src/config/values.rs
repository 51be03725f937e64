//! Config values that are checked while they are parsed: durations, URLs, ref globs.
//!
//! Each type's `Deserialize` rejects a bad value with a message saying what to write, and
//! toml attaches the value's position to it.

use std::fmt;
use std::time::Duration;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use serde::de::{Deserialize, Deserializer, Error};

/// A duration written `"10s"`, `"500ms"`, `"2m"`, or a number of seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeout(pub Duration);

impl Timeout {
    /// Parses `"10s"`, `"500ms"`, `"2m"`.
    pub fn parse(text: &str) -> Result<Timeout, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let number: u64 = number
            .parse()
            .map_err(|_| format!("invalid duration {text:?}: write e.g. \"10s\" or \"500ms\""))?;
        let duration = match unit.trim() {
            "ms" => Duration::from_millis(number),
            "s" | "" => Duration::from_secs(number),
            "m" => Duration::from_secs(number * 60),
            _ => {
                return Err(format!(
                    "invalid duration unit in {text:?}: use ms, s or m, e.g. \"10s\""
                ));
            }
        };
        if duration.is_zero() {
            return Err(format!(
                "a duration of {text:?} is too short: write e.g. \"10s\""
            ));
        }
        Ok(Timeout(duration))
    }
}

impl<'de> Deserialize<'de> for Timeout {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Seconds(u64),
            Text(String),
        }
        match Raw::deserialize(deserializer)
            .map_err(|_| D::Error::custom("expected a duration such as \"10s\" or \"500ms\""))?
        {
            Raw::Seconds(seconds) => Timeout::parse(&seconds.to_string()),
            Raw::Text(text) => Timeout::parse(&text),
        }
        .map_err(D::Error::custom)
    }
}

/// An `http://` or `https://` URL with a host.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpUrl(pub url::Url);

impl HttpUrl {
    /// The URL as messages and payloads show it: user info, query values and fragment
    /// masked.
    pub fn redacted(&self) -> String {
        crate::trust::urls::masked(&self.0)
    }

    /// Parses and checks `text`; the error says what to write and never repeats `text`.
    pub fn parse(text: &str) -> Result<HttpUrl, String> {
        let url = url::Url::parse(text).map_err(|error| {
            format!("invalid URL ({error}): write e.g. \"https://ci.example.com/hook\"")
        })?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err("the URL must start with http:// or https:// and name a host".into());
        }
        Ok(HttpUrl(url))
    }
}

/// A service's URL: written out, or a secret reference (`"secret:NAME"`) for services
/// whose URL is the credential (a webhook URL with its token in the path).
#[derive(Clone)]
pub enum ServiceUrl {
    /// The URL as written.
    Literal(HttpUrl),
    /// A secret whose value is the URL.
    Secret(super::secret::RepoSecret),
}

impl fmt::Debug for ServiceUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceUrl::Literal(url) => write!(f, "{url:?}"),
            ServiceUrl::Secret(secret) => write!(f, "{secret:?}"),
        }
    }
}

impl<'de> Deserialize<'de> for ServiceUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if super::secret::is_reference(&text) {
            return super::secret::RepoSecret::parse(&text)
                .map(ServiceUrl::Secret)
                .map_err(D::Error::custom);
        }
        HttpUrl::parse(&text)
            .map(ServiceUrl::Literal)
            .map_err(D::Error::custom)
    }
}

impl fmt::Debug for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.redacted())
    }
}

impl<'de> Deserialize<'de> for HttpUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        HttpUrl::parse(&text).map_err(D::Error::custom)
    }
}

/// A list of ref globs (`main`, `release/*`, `{dev,staging}`, `refs/tags/v*`).
///
/// A pattern matches a branch's short name; a pattern starting with `refs/` matches the
/// full name of any ref. `*` stays within one `/` segment, `**` crosses them.
#[derive(Clone)]
pub struct RefFilter {
    patterns: Vec<String>,
    short: GlobSet,
    full: GlobSet,
}

impl RefFilter {
    /// Compiles `patterns`; the error names the bad one.
    pub fn new(patterns: Vec<String>) -> Result<RefFilter, String> {
        let mut short = GlobSetBuilder::new();
        let mut full = GlobSetBuilder::new();
        for pattern in &patterns {
            let glob = GlobBuilder::new(pattern)
                .literal_separator(true)
                .build()
                .map_err(|error| format!("invalid glob {pattern:?}: {}", error.kind()))?;
            if pattern.starts_with("refs/") {
                full.add(glob);
            } else {
                short.add(glob);
            }
        }
        let build = |builder: GlobSetBuilder| {
            builder
                .build()
                .map_err(|error| format!("invalid glob: {error}"))
        };
        Ok(RefFilter {
            short: build(short)?,
            full: build(full)?,
            patterns,
        })
    }

    /// Whether a ref matches: its full name, and its branch name when it is a branch.
    pub fn matches(&self, refname: &str, branch: Option<&str>) -> bool {
        self.full.is_match(refname) || branch.is_some_and(|name| self.short.is_match(name))
    }
}

impl fmt::Debug for RefFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.patterns).finish()
    }
}

impl<'de> Deserialize<'de> for RefFilter {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let patterns = Vec::<String>::deserialize(deserializer)?;
        RefFilter::new(patterns).map_err(D::Error::custom)
    }
}

/// A list of path globs (`src/**`, `*.md`), `!` before a pattern to exclude
/// (`!docs/drafts/**`). A path matches when some pattern without `!` matches it (or there
/// is none) and no `!` pattern does.
#[derive(Clone)]
pub struct PathFilter {
    patterns: Vec<String>,
    include: Option<GlobSet>,
    exclude: GlobSet,
}

impl PathFilter {
    /// Compiles `patterns`; the error names the bad one.
    pub fn new(patterns: Vec<String>) -> Result<PathFilter, String> {
        let mut include = GlobSetBuilder::new();
        let mut exclude = GlobSetBuilder::new();
        let mut includes = 0;
        for pattern in &patterns {
            let (target, glob) = match pattern.strip_prefix('!') {
                Some(rest) => (&mut exclude, rest),
                None => {
                    includes += 1;
                    (&mut include, pattern.as_str())
                }
            };
            if glob.is_empty() {
                return Err(
                    "an empty path pattern: write e.g. \"src/**\" or \"!docs/drafts/**\"".into(),
                );
            }
            let compiled = GlobBuilder::new(glob)
                .literal_separator(true)
                .build()
                .map_err(|error| format!("invalid glob {pattern:?}: {}", error.kind()))?;
            target.add(compiled);
        }
        let build = |builder: GlobSetBuilder| {
            builder
                .build()
                .map_err(|error| format!("invalid glob: {error}"))
        };
        Ok(PathFilter {
            include: if includes > 0 {
                Some(build(include)?)
            } else {
                None
            },
            exclude: build(exclude)?,
            patterns,
        })
    }

    /// Whether `path` passes the filter.
    pub fn matches(&self, path: &str) -> bool {
        self.include.as_ref().is_none_or(|set| set.is_match(path)) && !self.exclude.is_match(path)
    }
}

impl fmt::Debug for PathFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.patterns).finish()
    }
}

impl<'de> Deserialize<'de> for PathFilter {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let patterns = Vec::<String>::deserialize(deserializer)?;
        PathFilter::new(patterns).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(Timeout::parse("2s"), Ok(Timeout(Duration::from_secs(2))));
        assert_eq!(
            Timeout::parse("250ms"),
            Ok(Timeout(Duration::from_millis(250)))
        );
        assert_eq!(Timeout::parse("1m"), Ok(Timeout(Duration::from_secs(60))));
        assert!(Timeout::parse("2h").is_err());
        assert!(Timeout::parse("0s").is_err());
        assert!(Timeout::parse("fast").is_err());
    }

    #[test]
    fn ref_filters_match_branches_and_full_names() {
        let filter = RefFilter::new(vec![
            "main".into(),
            "release/*".into(),
            "{dev,staging}".into(),
            "refs/tags/v*".into(),
        ])
        .expect("valid globs");
        assert!(filter.matches("refs/heads/main", Some("main")));
        assert!(filter.matches("refs/heads/release/1.0", Some("release/1.0")));
        assert!(!filter.matches("refs/heads/release/1/x", Some("release/1/x")));
        assert!(filter.matches("refs/heads/staging", Some("staging")));
        assert!(filter.matches("refs/tags/v1.0", None));
        assert!(!filter.matches("refs/tags/main", None));
        assert!(!filter.matches("refs/heads/feature", Some("feature")));
        assert!(RefFilter::new(vec!["{a,b".into()]).is_err());
    }

    #[test]
    fn path_filters_include_and_exclude() {
        let filter =
            PathFilter::new(vec!["docs/**".into(), "!docs/drafts/**".into()]).expect("valid");
        assert!(filter.matches("docs/guide.md"));
        assert!(filter.matches("docs/a/b.md"));
        assert!(!filter.matches("docs/drafts/x.md"));
        assert!(!filter.matches("src/lib.rs"));
        let only_exclude = PathFilter::new(vec!["!*.md".into()]).expect("valid");
        assert!(only_exclude.matches("src/lib.rs"));
        assert!(!only_exclude.matches("README.md"));
        assert!(
            only_exclude.matches("docs/README.md"),
            "`*` does not cross `/`"
        );
        assert!(PathFilter::new(vec!["!".into()]).is_err());
    }
}
