//! A tolerant reader of Git's commit and tag objects: whatever `git log` can show, this
//! reads, without refusing the fields libgit2 and gitoxide refuse (an author without
//! e-mail or without `<>`, no author line, a date that is not a number or overflows,
//! an absurd offset, bytes that are not UTF-8).
//!
//! An ident line is read as git's `split_ident_line` reads it, more leniently where git
//! gives up: the name is what comes before `<`, the e-mail what is between `<` and the
//! first `>`, the date what follows the last `>`. A line without `<…>` is a name, with a
//! date when it ends in one (`Name 1795770000 +0100`; git shows no author at all there).

use anyhow::{Context, Result, bail};
use gix::ObjectId;
use gix::objs::{Find, Kind};

use crate::scm::dates::Date;
use crate::text::{decode, one_line};

/// A commit's headers and message, as bytes.
#[derive(Debug, Default)]
pub struct RawCommit<'a> {
    /// The `tree` header, when it names an object id.
    pub tree: Option<ObjectId>,
    /// The `parent` headers that name an object id, in order.
    pub parents: Vec<ObjectId>,
    /// What follows `author `, when there is an author line.
    pub author: Option<&'a [u8]>,
    /// What follows `committer `.
    pub committer: Option<&'a [u8]>,
    /// The `encoding` header.
    pub encoding: Option<&'a str>,
    /// Everything after the first empty line.
    pub message: &'a [u8],
}

/// An author or committer, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// The name; empty when there is none.
    pub name: String,
    /// The e-mail address; empty when there is none.
    pub email: String,
    /// The date.
    pub date: Date,
}

impl Person {
    /// Nobody, at no date: what a missing author line reads as.
    pub fn missing() -> Person {
        Person {
            name: String::new(),
            email: String::new(),
            date: Date::Missing,
        }
    }
}

/// Splits a commit object's bytes into its headers and message. Never fails: a header
/// that cannot be read is left out.
pub fn commit(data: &[u8]) -> RawCommit<'_> {
    let (headers, message) = split_message(data);
    let mut raw = RawCommit {
        message,
        ..RawCommit::default()
    };
    for line in headers.split(|&b| b == b'\n') {
        // A line starting with a space continues a multi-line header (gpgsig, mergetag).
        let Some(space) = line.iter().position(|&b| b == b' ') else {
            continue;
        };
        let (name, value) = (&line[..space], &line[space + 1..]);
        match name {
            b"tree" if raw.tree.is_none() => raw.tree = object_id(value),
            b"parent" => raw.parents.extend(object_id(value)),
            b"author" if raw.author.is_none() => raw.author = Some(value),
            b"committer" if raw.committer.is_none() => raw.committer = Some(value),
            b"encoding" if raw.encoding.is_none() => {
                raw.encoding = std::str::from_utf8(value).ok();
            }
            _ => {}
        }
    }
    raw
}

/// The headers and the message (after the first empty line) of a commit or tag.
fn split_message(data: &[u8]) -> (&[u8], &[u8]) {
    match data.windows(2).position(|pair| pair == b"\n\n") {
        Some(end) => (&data[..end], &data[end + 2..]),
        None => (data, &[]),
    }
}

fn object_id(hex: &[u8]) -> Option<ObjectId> {
    ObjectId::from_hex(hex.trim_ascii()).ok()
}

/// Decodes an ident line (`Name <email> 1795770000 +0100`) as the module doc says.
pub fn person(line: &[u8], encoding: Option<&str>) -> Person {
    let (name, email, date) = match line.iter().position(|&b| b == b'<') {
        Some(open) => {
            let rest = &line[open + 1..];
            let close = rest.iter().position(|&b| b == b'>').unwrap_or(rest.len());
            let date = match line.iter().rposition(|&b| b == b'>') {
                Some(last) if last > open => &line[last + 1..],
                _ => &[][..],
            };
            (&line[..open], &rest[..close], date)
        }
        None => {
            let (name, date) = trailing_date(line);
            (name, &[][..], date)
        }
    };
    Person {
        name: decode(name.trim_ascii(), encoding),
        email: decode(email.trim_ascii(), encoding),
        date: date_of(date),
    }
}

/// A line without `<…>`: the name, and its last two words when they read as a date.
fn trailing_date(line: &[u8]) -> (&[u8], &[u8]) {
    let words: Vec<usize> = line
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b' ')
        .map(|(at, _)| at)
        .collect();
    if let [.., before_seconds, _] = words.as_slice() {
        let date = &line[before_seconds + 1..];
        if matches!(date_of(date), Date::At { .. }) {
            return (&line[..*before_seconds], date);
        }
    }
    (line, &[])
}

/// `<seconds> <+hhmm>` as a [`Date`]: the seconds as a number (a sign allowed), the
/// offset as git reads it (`hh * 60 + mm` minutes, any number of digits); a missing or
/// unreadable offset is UTC. Anything else is kept as written.
fn date_of(text: &[u8]) -> Date {
    let text = text.trim_ascii();
    if text.is_empty() {
        return Date::Missing;
    }
    let shown = one_line(&String::from_utf8_lossy(text), 100);
    let mut words = text
        .split(|b| b.is_ascii_whitespace())
        .filter(|word| !word.is_empty());
    let Some(seconds) = words
        .next()
        .and_then(|word| std::str::from_utf8(word).ok())
        .and_then(|word| word.parse::<i64>().ok())
    else {
        return Date::Raw(shown);
    };
    let offset = words.next().and_then(offset_minutes).unwrap_or(0);
    Date::new(seconds, offset, &shown)
}

/// `+hhmm` or `-hhmm` in minutes east of UTC.
fn offset_minutes(word: &[u8]) -> Option<i32> {
    let (sign, digits) = match word.split_first()? {
        (b'+', digits) => (1, digits),
        (b'-', digits) => (-1, digits),
        _ => return None,
    };
    if digits.is_empty() || digits.len() > 6 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value: i32 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some(sign * (value / 100 * 60 + value % 100))
}

/// Reads object `id` into `buffer`, as a commit: its bytes.
pub fn commit_bytes<'a>(
    odb: &gix::odb::Handle,
    id: &ObjectId,
    buffer: &'a mut Vec<u8>,
) -> Result<&'a [u8]> {
    object_bytes(odb, id, Kind::Commit, buffer)
}

/// Reads object `id` into `buffer`, as an object of `kind`: its bytes.
pub fn object_bytes<'a>(
    odb: &gix::odb::Handle,
    id: &gix::oid,
    kind: Kind,
    buffer: &'a mut Vec<u8>,
) -> Result<&'a [u8]> {
    let data = odb
        .try_find(id, buffer)
        .with_context(|| format!("reading {kind} {id}"))?
        .with_context(|| format!("{kind} {id} is not in the repository"))?;
    if data.kind != kind {
        bail!("{id} is a {}, not a {kind}", data.kind);
    }
    Ok(data.data)
}

/// The commit `id` peels to (through tags); `None` for a tree or a blob.
pub fn peel_to_commit(odb: &gix::odb::Handle, id: ObjectId) -> Result<Option<ObjectId>> {
    // The header first: most refs name commits, whose kind is known without inflating
    // them (a pack entry's header says it).
    let header = gix::objs::FindHeader::try_header(odb, &id)
        .map_err(|error| anyhow::anyhow!("cannot read revision {id}: {error}"))?
        .ok_or_else(|| anyhow::anyhow!("unknown revision {id}: not in this repository"))?;
    match header.kind {
        Kind::Commit => return Ok(Some(id)),
        Kind::Tree | Kind::Blob => return Ok(None),
        Kind::Tag => {}
    }
    let mut buffer = Vec::new();
    let mut current = id;
    // Tags on tags: as deep as git goes (its limit is far lower than a repository
    // could make, so a loop of tags ends).
    for _ in 0..64 {
        let data = odb
            .try_find(&current, &mut buffer)
            .map_err(|error| anyhow::anyhow!("cannot read revision {id}: {error}"))?
            .ok_or_else(|| anyhow::anyhow!("unknown revision {id}: not in this repository"))?;
        match data.kind {
            Kind::Commit => return Ok(Some(current)),
            Kind::Tree | Kind::Blob => return Ok(None),
            Kind::Tag => {
                let (headers, _) = split_message(data.data);
                let target = headers
                    .split(|&b| b == b'\n')
                    .find_map(|line| line.strip_prefix(b"object "))
                    .and_then(object_id);
                match target {
                    Some(target) => current = target,
                    None => return Ok(None),
                }
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person_of(line: &str) -> Person {
        person(line.as_bytes(), None)
    }

    const WHEN: Date = Date::At {
        seconds: 1_795_770_000,
        offset_minutes: 60,
    };

    #[test]
    fn idents_git_writes_and_idents_git_accepts() {
        let normal = person_of("Alice Example <alice@example.com> 1795770000 +0100");
        assert_eq!(
            (normal.name.as_str(), normal.email.as_str(), &normal.date),
            ("Alice Example", "alice@example.com", &WHEN)
        );
        let no_email = person_of("Name <> 1795770000 +0100");
        assert_eq!(
            (no_email.name.as_str(), no_email.email.as_str()),
            ("Name", "")
        );
        assert_eq!(no_email.date, WHEN);
        let no_brackets = person_of("Name 1795770000 +0100");
        assert_eq!(
            (no_brackets.name.as_str(), no_brackets.email.as_str()),
            ("Name", "")
        );
        assert_eq!(no_brackets.date, WHEN);
        let just_a_name = person_of("Just a name");
        assert_eq!(just_a_name.name, "Just a name");
        assert_eq!(just_a_name.date, Date::Missing);
        let bad = person_of("A <a@x> notanumber +0000");
        assert_eq!(bad.date, Date::Raw("notanumber +0000".into()));
        let huge = person_of("A <a@x> 18446744073709551617 +0000");
        assert_eq!(huge.date, Date::Raw("18446744073709551617 +0000".into()));
        let absurd = person_of("A <a@x> 1795770000 +9999");
        assert_eq!(
            absurd.date,
            Date::At {
                seconds: 1_795_770_000,
                offset_minutes: 99 * 60 + 99
            }
        );
        let west = person_of("A <a@x> 1795770000 -0530");
        assert_eq!(
            west.date,
            Date::At {
                seconds: 1_795_770_000,
                offset_minutes: -330
            }
        );
        let unclosed = person_of("A <a@x 1795770000 +0100");
        assert_eq!(unclosed.email, "a@x 1795770000 +0100");
        let bytes = person(b"N\xe9me <a\xff@x> 1795770000 +0100", None);
        assert_eq!(bytes.name, "N\u{fffd}me");
        assert_eq!(bytes.email, "a\u{fffd}@x");
        assert_eq!(person(b"", None), Person::missing());
    }

    #[test]
    fn headers_are_read_whatever_is_missing() {
        let tree = "4b825dc642cb6eb9a060e54bf8d69288fbe4904b";
        let parent = "1111111111111111111111111111111111111111";
        let text = format!(
            "tree {tree}\nparent {parent}\ncommitter C <c@x> 1 +0000\ngpgsig -----BEGIN\n \n author X\n -----END\n\nmessage\n\nbody\n"
        );
        let raw = commit(text.as_bytes());
        assert_eq!(raw.tree.map(|id| id.to_string()).as_deref(), Some(tree));
        assert_eq!(raw.parents.len(), 1);
        assert_eq!(raw.author, None, "a signature's lines are not headers");
        assert_eq!(raw.committer, Some(&b"C <c@x> 1 +0000"[..]));
        assert_eq!(raw.message, b"message\n\nbody\n");
        let empty = commit(b"");
        assert!(empty.tree.is_none() && empty.message.is_empty());
    }
}

#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    proptest! {
        /// Any bytes, as an ident or a commit: read, never a panic.
        #[test]
        fn any_bytes_read_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = super::person(&bytes, None);
            let raw = super::commit(&bytes);
            if let Some(author) = raw.author {
                let _ = super::person(author, raw.encoding);
            }
        }

        /// Ident-shaped text with random parts.
        #[test]
        fn near_valid_idents_never_panic(line in "[A-Za-z <>]{0,12}[<>]?[ 0-9+-]{0,30}") {
            let _ = super::person(line.as_bytes(), None);
        }
    }
}
