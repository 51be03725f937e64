//! The post-receive input: one `<old> <new> <ref>` line per updated ref.

use anyhow::{Context, Result, bail};
use git2::Oid;

/// One line of post-receive input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefUpdate {
    /// The ref's value before the push; zero when it was created.
    pub old: Oid,
    /// The ref's value after the push; zero when it was deleted.
    pub new: Oid,
    /// The full ref name, `refs/heads/main`.
    pub name: String,
}

impl RefUpdate {
    /// The ref did not exist before the push.
    pub fn is_create(&self) -> bool {
        self.old.is_zero()
    }

    /// The push deleted the ref.
    pub fn is_delete(&self) -> bool {
        self.new.is_zero()
    }

    /// The line as git wrote it, for spooling the raw push.
    pub fn to_line(&self) -> String {
        format!("{} {} {}", self.old, self.new, self.name)
    }
}

/// Parses the whole post-receive input. Blank lines are ignored; any malformed line is an
/// error naming its line number, so that no half-read push is delivered.
pub fn parse(input: &str) -> Result<Vec<RefUpdate>> {
    let mut updates = Vec::new();
    for (index, line) in input.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let update = parse_line(line).with_context(|| {
            format!(
                "hook input line {}: expected `<old-sha> <new-sha> <ref>`, got {:?}",
                index + 1,
                truncate(line, 80)
            )
        })?;
        updates.push(update);
    }
    Ok(updates)
}

fn parse_line(line: &str) -> Result<RefUpdate> {
    let Some((old, new, name)) = fields(line) else {
        bail!("it has fewer than three fields");
    };
    let old = parse_oid(old).context("the old value is not a full object id")?;
    let new = parse_oid(new).context("the new value is not a full object id")?;
    if !name.starts_with("refs/") || name.chars().any(char::is_control) {
        bail!("the ref name does not start with `refs/`");
    }
    if old.is_zero() && new.is_zero() {
        bail!("both values are zero");
    }
    Ok(RefUpdate {
        old,
        new,
        name: name.to_string(),
    })
}

/// A line's three space-separated fields; found by position when the line is as git
/// writes it (40 digits, a space, 40 digits, a space, the name).
fn fields(line: &str) -> Option<(&str, &str, &str)> {
    let bytes = line.as_bytes();
    if let (Some(old), Some(new), Some(name)) = (line.get(..40), line.get(41..81), line.get(82..))
        && bytes[40] == b' '
        && bytes[81] == b' '
    {
        return Some((old, new, name));
    }
    let mut parts = line.splitn(3, ' ');
    Some((parts.next()?, parts.next()?, parts.next()?))
}

/// 40 hexadecimal digits as an object id. (gitoxide's: libgit2's parser took a tenth of
/// a 10,000-tag push's hook run.)
fn parse_oid(text: &str) -> Result<Oid> {
    match gix::ObjectId::from_hex(text.as_bytes()) {
        Ok(id) if text.len() == 40 => Ok(Oid::from_bytes(id.as_bytes())?),
        _ => bail!("not 40 hex digits"),
    }
}

fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "1111111111111111111111111111111111111111";
    const Z: &str = "0000000000000000000000000000000000000000";

    #[test]
    fn parses_lines_and_skips_blank_ones() {
        let input = format!("{Z} {A} refs/heads/main\n\n{A} {Z} refs/tags/v1\r\n");
        let updates = parse(&input).expect("valid input");
        assert_eq!(updates.len(), 2);
        assert!(updates[0].is_create());
        assert_eq!(updates[0].name, "refs/heads/main");
        assert!(updates[1].is_delete());
        assert_eq!(updates[1].to_line(), format!("{A} {Z} refs/tags/v1"));
    }

    #[test]
    fn object_ids_read_as_libgit2_reads_them() {
        for hex in [
            "0123456789abcdef0123456789ABCDEF01234567",
            "fedcba9876543210FEDCBA9876543210fedcba98",
            "9f6b0883636a5074dbac267a5d4ea2a767770dc1",
        ] {
            assert_eq!(
                parse_oid(hex).unwrap(),
                Oid::from_str(hex).unwrap(),
                "{hex}"
            );
        }
        for bad in [
            "9f6b0883636a5074dbac267a5d4ea2a767770dcg",
            "9f6b",
            " f6b0883636a5074dbac267a5d4ea2a767770dc1",
        ] {
            assert!(parse_oid(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rejects_malformed_lines_with_their_number() {
        for (input, needle) in [
            (format!("{A} {A} refs/heads/x\ngarbage"), "line 2"),
            (format!("{A} 12345 refs/heads/x"), "new value"),
            (format!("{A} {A} main"), "refs/"),
            (format!("{Z} {Z} refs/heads/x"), "both values are zero"),
            (format!("{A} {A}"), "fewer than three"),
        ] {
            let error = format!("{:#}", parse(&input).expect_err("malformed"));
            assert!(error.contains(needle), "{error:?} should name {needle:?}");
        }
    }
}

#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    proptest! {
        /// Any input, however broken, parses or fails with a message: never a panic.
        #[test]
        fn parse_never_panics(input in "\\PC*(\n\\PC*){0,4}") {
            let _ = super::parse(&input);
        }

        /// Lines shaped like real input but with random fields.
        #[test]
        fn near_valid_lines_never_panic(
            old in "[0-9a-fA-Fz]{0,41}",
            new in "[0-9a-f]{38,41}",
            name in "(refs/)?[a-z/\\x00-\\x1f]{0,20}",
            sep in "[ \t]{1,2}",
        ) {
            let _ = super::parse(&format!("{old}{sep}{new}{sep}{name}\n"));
        }
    }
}
