//! Text from untrusted sources (commit data, ref names, environment) made safe to show.

/// Decodes commit bytes: UTF-8 when valid, Latin-1 when the commit declares it, else
/// UTF-8 with invalid bytes replaced by U+FFFD. Never fails.
pub fn decode(bytes: &[u8], encoding: Option<&str>) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_string(),
        Err(_) if encoding.is_some_and(is_latin1) => bytes.iter().map(|&b| b as char).collect(),
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

fn is_latin1(name: &str) -> bool {
    matches!(
        name.to_ascii_lowercase().as_str(),
        "iso-8859-1" | "iso8859-1" | "latin1" | "latin-1"
    )
}

/// One line of text for a header or a status line: control characters (CR, LF, tabs,
/// escapes) become spaces, runs of spaces fold, and the result is at most `max` chars.
pub fn one_line(text: &str, max: usize) -> String {
    let mut line = String::with_capacity(text.len().min(max));
    let mut count = 0;
    let mut last_space = true;
    for ch in text.chars() {
        let ch = if ch.is_control() { ' ' } else { ch };
        if ch == ' ' && last_space {
            continue;
        }
        if count == max {
            line.push('…');
            break;
        }
        last_space = ch == ' ';
        line.push(ch);
        count += 1;
    }
    line.trim_end().to_string()
}

/// How much of a message [`first_line`] looks at: a subject comes from the start, so a
/// huge message costs no more than a small one.
pub const FIRST_LINE_SCAN: usize = 64 * 1024;

/// The first line of a message (of its first [`FIRST_LINE_SCAN`] bytes), made safe for
/// a header.
pub fn first_line(message: &str, max: usize) -> String {
    one_line(
        head(message, FIRST_LINE_SCAN).lines().next().unwrap_or(""),
        max,
    )
}

/// The longest start of `text` that is at most `max` bytes and ends on a character.
pub fn head(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// `text` with every line break (`\n`, `\r\n`, or a `\r` alone) written `\r\n`, as a
/// message body must be sent (RFC 5322: CR and LF occur only together). One pass.
pub fn crlf(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len() + text.len() / 16);
    let mut start = 0;
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'\n' => {
                out.push_str(&text[start..index]);
                out.push_str("\r\n");
                start = index + 1;
            }
            b'\r' => {
                out.push_str(&text[start..index]);
                out.push_str("\r\n");
                if bytes.get(index + 1) == Some(&b'\n') {
                    index += 1;
                }
                start = index + 1;
            }
            _ => {}
        }
        index += 1;
    }
    out.push_str(&text[start..]);
    out
}

/// A count for the reader, with thousands separated: `199,990`.
pub fn count(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// A size for the reader: `64 KiB`, `1 MiB`, or `1,000 bytes` when not a whole unit.
pub fn size(bytes: usize) -> String {
    const KIB: usize = 1024;
    const MIB: usize = 1024 * 1024;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", count(bytes / MIB))
    } else if bytes >= KIB && bytes.is_multiple_of(KIB) {
        format!("{} KiB", count(bytes / KIB))
    } else {
        format!("{} bytes", count(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_invalid_utf8_without_failing() {
        assert_eq!(decode(b"caf\xe9", Some("ISO-8859-1")), "café");
        assert_eq!(decode(b"caf\xe9", None), "caf\u{fffd}");
        assert_eq!(decode("café".as_bytes(), Some("latin1")), "café");
    }

    #[test]
    fn one_line_removes_line_breaks_and_caps() {
        assert_eq!(one_line("a\r\nBcc: x@y\t z", 100), "a Bcc: x@y z");
        assert_eq!(one_line("abcdef", 3), "abc…");
        assert_eq!(first_line("Subject\n\nbody", 80), "Subject");
    }

    #[test]
    fn crlf_writes_every_kind_of_line_break_as_crlf() {
        assert_eq!(
            crlf("a\nb\r\nc\rd\r\re\n\r\nf\r"),
            "a\r\nb\r\nc\r\nd\r\n\r\ne\r\n\r\nf\r\n"
        );
        assert_eq!(crlf("\r\n\n"), "\r\n\r\n");
        assert_eq!(crlf("caf\u{e9}\rna\u{ef}ve"), "caf\u{e9}\r\nna\u{ef}ve");
        assert_eq!(crlf(""), "");
    }

    #[test]
    fn heads_end_on_a_character() {
        assert_eq!(head("café", 4), "caf");
        assert_eq!(head("café", 5), "café");
        assert_eq!(head("", 3), "");
    }

    #[test]
    fn counts_and_sizes_read_well() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(199_990), "199,990");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(size(64 * 1024), "64 KiB");
        assert_eq!(size(1024 * 1024), "1 MiB");
        assert_eq!(size(1000), "1,000 bytes");
    }
}
