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

/// The first line of a message, made safe for a header.
pub fn first_line(message: &str, max: usize) -> String {
    one_line(message.lines().next().unwrap_or(""), max)
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
}
