//! `pushbroker brokers [NAME] [--repo REPO]` and `pushbroker schema`: the services this
//! server offers (the "dropdown" of a forge's admin page), each broker's options with a
//! `[[service]]` block to paste, and the JSON Schema of `pushbroker.toml`.
//!
//! Everything shown is read from [`crate::config::schema`], which derives it from the
//! structs the loader fills: an option the loader accepts is listed, and only those.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use serde_json::{Map, Value};

use crate::broker::{self, BUILTIN};
use crate::config::{schema, site};
use crate::repo::RepoContext;

/// Lists the brokers (built-in, then the site's registered ones), or shows `name`'s
/// options; with `repo`, also that repository's services and whether each is on.
pub fn run(name: Option<&str>, repo: Option<&Path>, out: &mut dyn Write) -> Result<ExitCode> {
    let site = match site::load() {
        Ok(site) => site,
        Err(errors) => {
            for error in &errors.0 {
                writeln!(out, "error: {error}")?;
            }
            return Ok(ExitCode::FAILURE);
        }
    };
    let registered: Vec<&str> = site.brokers.keys().map(String::as_str).collect();
    match name {
        Some(name) => {
            if let Some(builtin) = broker::builtin_named(name) {
                show(name, builtin.summary, &schema::service(builtin), out)?;
            } else if let Some(registration) = site.brokers.get(name) {
                let summary = format!(
                    "custom program {} (registered in {})",
                    registration.command.0.display(),
                    site::path().display()
                );
                let mut table = Map::new();
                table.insert("properties".into(), Value::Object(schema::common_options()));
                show(name, &summary, &table, out)?;
                writeln!(
                    out,
                    "\nIts own options are free: each is passed to the program in the payload's \
                     `service`; a secret, token or password option, or a \"secret:NAME\" value, \
                     is handed to it in its environment instead."
                )?;
            } else {
                writeln!(out, "error: {}", broker::unknown_message(name, &registered))?;
                return Ok(ExitCode::FAILURE);
            }
        }
        None => {
            let width = BUILTIN
                .iter()
                .map(|builtin| builtin.name.len())
                .chain(registered.iter().map(|name| name.len()))
                .max()
                .unwrap_or(0);
            for builtin in BUILTIN {
                writeln!(out, "{:width$}  {}", builtin.name, builtin.summary)?;
            }
            for (name, registration) in &site.brokers {
                writeln!(
                    out,
                    "{name:width$}  custom program {} (registered in {})",
                    registration.command.0.display(),
                    site::path().display()
                )?;
            }
            writeln!(
                out,
                "\n`pushbroker brokers NAME` shows a broker's options and a [[service]] block to paste."
            )?;
        }
    }
    if let Some(repo) = repo {
        return services(repo, out);
    }
    Ok(ExitCode::SUCCESS)
}

/// The repository's services, one line each, `off` for those with `enabled = false`.
fn services(repo: &Path, out: &mut dyn Write) -> Result<ExitCode> {
    let context = RepoContext::open(Some(repo))?;
    let Some(loaded) = super::load_or_print(&context, out)? else {
        return Ok(ExitCode::FAILURE);
    };
    writeln!(out, "\nservices in {}:", loaded.config.path.display())?;
    if loaded.config.services.is_empty() {
        writeln!(out, "  none")?;
    }
    for service in &loaded.config.services {
        let state = if service.enabled { "on" } else { "off" };
        writeln!(out, "  {} ({}): {state}", service.name, service.broker)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// One broker's options, then a `[[service]]` block with its required options set and
/// the others commented out at their defaults.
fn show(name: &str, summary: &str, table: &Map<String, Value>, out: &mut dyn Write) -> Result<()> {
    let properties = table
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let required: Vec<&str> = table
        .get("required")
        .and_then(Value::as_array)
        .map(|keys| keys.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    writeln!(out, "{name}: {summary}\n\noptions:")?;
    // Required options first, then the broker's own, then those every service has.
    let common = schema::common_options();
    let mut keys: Vec<(&String, &Value)> = properties
        .iter()
        .filter(|(key, _)| key.as_str() != "broker")
        .collect();
    keys.sort_by_key(|(key, _)| {
        (
            !required.contains(&key.as_str()),
            common.contains_key(key.as_str()),
        )
    });
    let rows: Vec<[String; 4]> = keys
        .iter()
        .map(|(key, option)| {
            let default = match option.get("default") {
                Some(value) => format!("default {}", toml_value(value)),
                None if required.contains(&key.as_str()) => "required".into(),
                None => "optional".into(),
            };
            [key.to_string(), type_of(option), default, help(option)]
        })
        .collect();
    let widths: Vec<usize> = (0..3)
        .map(|column| rows.iter().map(|row| row[column].len()).max().unwrap_or(0))
        .collect();
    for [key, kind, default, help] in &rows {
        writeln!(
            out,
            "  {key:w0$}  {kind:w1$}  {default:w2$}  {help}",
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        )?;
    }
    writeln!(out, "\n[[service]]\nbroker = \"{name}\"")?;
    for (key, option) in &keys {
        let value = option
            .get("default")
            .map(toml_value)
            .unwrap_or_else(|| example(name, key, option));
        let comment = if required.contains(&key.as_str()) {
            ""
        } else {
            "# "
        };
        writeln!(out, "{comment}{key} = {value}")?;
    }
    Ok(())
}

/// How an option's type reads: the schema's title, its values, or its JSON type.
fn type_of(option: &Value) -> String {
    if let Some(title) = option.get("title").and_then(Value::as_str) {
        return title.to_string();
    }
    if let Some(choices) = option
        .get("oneOf")
        .or(option.get("enum"))
        .and_then(Value::as_array)
    {
        let names: Vec<String> = choices
            .iter()
            .filter_map(|choice| choice.get("const").or(Some(choice)).and_then(Value::as_str))
            .map(str::to_string)
            .collect();
        if !names.is_empty() {
            return names.join("|");
        }
    }
    match option.get("type").and_then(Value::as_str) {
        Some("boolean") => "true/false".into(),
        Some("integer") => "number".into(),
        Some("array") => "list".into(),
        Some(other) => other.into(),
        None => "any".into(),
    }
}

/// The first sentence of an option's description, on one line.
fn help(option: &Value) -> String {
    let text = option
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    match text.find(". ") {
        Some(end) => text[..=end].to_string(),
        None => text,
    }
}

/// A TOML literal of a JSON value.
fn toml_value(value: &Value) -> String {
    match value {
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(toml_value).collect();
            format!("[{}]", items.join(", "))
        }
        other => other.to_string(),
    }
}

/// A value to start from for an option without a default.
fn example(broker: &str, key: &str, option: &Value) -> String {
    let text = match key {
        "to" => return "[\"dev@example.com\"]".into(),
        "branches" => return "[\"main\"]".into(),
        "paths" => return "[\"src/**\"]".into(),
        "name" => format!("{broker}-1"),
        "url" => "https://hooks.example.com/push".into(),
        "homeserver" => "https://matrix.example.com".into(),
        "room" => "!abcdef:example.com".into(),
        "token" | "secret" => format!("secret:{broker}_{key}"),
        "timeout" => "10s".into(),
        "from" | "reply_to" => "Git <git@example.com>".into(),
        "subject_prefix" => "[widgets] ".into(),
        "channel" => "#dev".into(),
        "username" => "pushbroker".into(),
        "content_type" => "application/json".into(),
        "template_file" => "push.json.j2".into(),
        _ => match option.get("type").and_then(Value::as_str) {
            Some("boolean") => return "false".into(),
            Some("integer") => return "0".into(),
            Some("array") => return "[]".into(),
            _ => "…".into(),
        },
    };
    Value::from(text).to_string()
}

/// `pushbroker schema`: the JSON Schema of `pushbroker.toml`, as committed in
/// `pushbroker.schema.json`.
pub fn print_schema(out: &mut dyn Write) -> Result<ExitCode> {
    writeln!(
        out,
        "{}",
        serde_json::to_string_pretty(&schema::repo_config())?
    )?;
    Ok(ExitCode::SUCCESS)
}
