//! serde's and toml's error wording, said in the admin's terms.
//!
//! `invalid type: string "main", expected a sequence` becomes `branches must be a list,
//! e.g. branches = ["main"]`; an unknown key or choice gets a "did you mean". The key is
//! read from the error's line (`key = value`), so the site config and `pushbroker.toml`
//! share the wording.

use super::diagnostic::closest;

/// The admin's wording of a toml/serde `message` about the line `line` (the error's own
/// line of the file); `also` are keys valid besides those the message lists (the options
/// every `[[service]]` has). Messages already in our words pass unchanged.
pub fn admin(message: &str, line: &str, also: &[&str]) -> String {
    let key = key_of(line);
    if let Some(rest) = message.strip_prefix("unknown field `") {
        return unknown_key(rest, also);
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        return unknown_choice(rest, key);
    }
    if message == "duplicate key" {
        return duplicate(line.trim());
    }
    if let Some((found, expected)) = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "))
        .and_then(|rest| rest.split_once(", expected "))
        && let Some(key) = key
    {
        let found = shown(found);
        let must = match expected {
            "a sequence" => format!("must be a list, e.g. {key} = {}", list_example(key)),
            "a boolean" => "must be true or false (without quotes)".into(),
            "a string" => format!("must be text in quotes, e.g. {key} = \"…\""),
            "a map" => format!("must be a table: write [{key}] on a line of its own"),
            number if number.starts_with('u') || number.starts_with("a nonzero") => {
                let least = if number.starts_with("a nonzero") {
                    1
                } else {
                    0
                };
                format!(
                    "must be a whole number of {least} or more, without quotes, e.g. {key} = 100"
                )
            }
            "i64" | "i32" | "an integer" => {
                format!("must be a whole number, without quotes, e.g. {key} = 100")
            }
            _ => return message.to_string(),
        };
        return format!("{key} {must} (not {found})");
    }
    message.to_string()
}

/// `key` of a `key = value` line.
fn key_of(line: &str) -> Option<&str> {
    let (key, _) = line.split_once('=')?;
    let key = key.trim().trim_matches('"');
    (!key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c)))
    .then_some(key)
}

/// What serde calls the value it found: `string "main"` → `"main"`, ``integer `-1` ``
/// → `-1`.
fn shown(found: &str) -> String {
    let value = found
        .split_once(' ')
        .map_or(found, |(_, value)| value)
        .trim_matches('`');
    match found {
        "map" => "a table".into(),
        "sequence" => "a list".into(),
        _ => value.to_string(),
    }
}

fn list_example(key: &str) -> &'static str {
    match key {
        "branches" => "[\"main\"]",
        "paths" => "[\"src/**\"]",
        "to" => "[\"dev@example.com\"]",
        _ => "[\"…\"]",
    }
}

/// The names between backticks in `text`.
fn quoted(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// ``brances`, expected one of `to`, …` (what follows "unknown field `").
fn unknown_key(rest: &str, also: &[&str]) -> String {
    let Some((name, expected)) = rest.split_once('`') else {
        return format!("unknown field `{rest}");
    };
    let mut valid = quoted(expected);
    for key in also {
        if !valid.contains(key) {
            valid.push(key);
        }
    }
    let hint = match closest(name, valid.iter().copied()) {
        Some(suggestion) => format!(": did you mean `{suggestion}`?"),
        None => String::new(),
    };
    if valid.is_empty() {
        return format!("unknown key `{name}`: this table takes no keys");
    }
    format!(
        "unknown key `{name}`{hint} (valid keys: {})",
        valid.join(", ")
    )
}

/// ``jsn`, expected one of `json`, …` (what follows "unknown variant `").
fn unknown_choice(rest: &str, key: Option<&str>) -> String {
    let Some((value, expected)) = rest.split_once('`') else {
        return format!("unknown variant `{rest}");
    };
    let choices = quoted(expected);
    let hint = match closest(value, choices.iter().copied()) {
        Some(suggestion) => format!(" did you mean \"{suggestion}\"?"),
        None => String::new(),
    };
    let what = match key {
        Some(key) => format!("{key} = \"{value}\""),
        None => format!("\"{value}\""),
    };
    format!(
        "{what} is not a choice:{hint} write one of {}",
        choices.join(", ")
    )
}

/// A key or table written twice.
fn duplicate(line: &str) -> String {
    match line {
        "[service]" | "[[service]]" => "[service] is written more than once: write each \
            service as a [[service]] table (double brackets), one per service"
            .into(),
        _ if line.starts_with('[') => {
            format!("{line} is written twice: merge the two tables into one")
        }
        _ => match key_of(line) {
            Some(key) => format!("{key} is set twice in this table: keep one"),
            None => "a key is set twice in this table: keep one".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_wording_becomes_the_admins() {
        let cases = [
            (
                "invalid type: string \"main\", expected a sequence",
                "branches = \"main\"",
                "branches must be a list, e.g. branches = [\"main\"] (not \"main\")",
            ),
            (
                "invalid type: string \"ten\", expected usize",
                "max_lines = \"ten\"",
                "max_lines must be a whole number of 0 or more, without quotes, e.g. max_lines = 100 (not \"ten\")",
            ),
            (
                "invalid value: integer `-1`, expected usize",
                "max_lines = -1",
                "max_lines must be a whole number of 0 or more, without quotes, e.g. max_lines = 100 (not -1)",
            ),
            (
                "invalid type: string \"no\", expected a boolean",
                "enabled = \"no\"",
                "enabled must be true or false (without quotes) (not \"no\")",
            ),
            (
                "unknown variant `jsn`, expected one of `bitbucket`, `json`, `github`",
                "format = \"jsn\"",
                "format = \"jsn\" is not a choice: did you mean \"json\"? write one of bitbucket, json, github",
            ),
            (
                "unknown field `brances`, expected `to` or `from`",
                "brances = [\"x\"]",
                "unknown key `brances`: did you mean `branches`? (valid keys: to, from, name, branches)",
            ),
            (
                "duplicate key",
                "[service]",
                "[service] is written more than once: write each service as a [[service]] table (double brackets), one per service",
            ),
            (
                "duplicate key",
                "to = \"x\"",
                "to is set twice in this table: keep one",
            ),
            ("already in our words", "x = 1", "already in our words"),
        ];
        for (message, line, expected) in cases {
            assert_eq!(
                admin(message, line, &["name", "branches"]),
                expected,
                "{message}"
            );
        }
    }
}
