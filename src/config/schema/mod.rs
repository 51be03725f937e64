//! The JSON Schema of `pushbroker.toml`, derived from the very structs the loader fills
//! ([`crate::config::repo`]'s `[repository]` and common service options, each built-in
//! broker's config), so the published schema, `pushbroker brokers` and the loader cannot
//! disagree. Doc comments on the fields are the schema's descriptions.
//!
//! Draft 7 (what Taplo and Even Better TOML read): each `[[service]]` is checked by its
//! `broker` with `if`/`then`, so a built-in broker's table admits exactly its options and
//! the common ones; a custom broker's (registered by the site) admits any option.

pub mod types;

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{Map, Value, json};

use super::common::CommonOptions;
use super::repo::RepositoryConfig;
use crate::broker::{BUILTIN, Builtin};

/// The generator every schema here comes from: draft 7, every subschema inlined.
fn generator() -> SchemaGenerator {
    SchemaSettings::draft07()
        .with(|settings| {
            settings.inline_subschemas = true;
            settings.meta_schema = None;
        })
        .into_generator()
}

/// The schema of `T` as a JSON object.
fn object_of<T: JsonSchema>() -> Map<String, Value> {
    match generator().into_root_schema_for::<T>().to_value() {
        Value::Object(mut map) => {
            map.remove("title");
            map.remove("$schema");
            without_null(&mut map);
            map
        }
        _ => Map::new(),
    }
}

/// Takes `null` out of every schema in `map`: TOML has no null, an optional key is one
/// that may be left out (serde's `Option` reads as "or null" to schemars).
fn without_null(map: &mut Map<String, Value>) {
    if let Some(Value::Array(types)) = map.get_mut("type") {
        types.retain(|kind| kind != "null");
        if let [only] = types.as_slice() {
            let only = only.clone();
            map.insert("type".into(), only);
        }
    }
    if let Some(Value::Array(choices)) = map.get_mut("anyOf") {
        choices.retain(|choice| choice.get("type").is_none_or(|kind| kind != "null"));
        if let [Value::Object(only)] = choices.as_slice() {
            let only = only.clone();
            map.remove("anyOf");
            for (key, value) in only {
                map.entry(key).or_insert(value);
            }
        }
    }
    for value in map.values_mut() {
        match value {
            Value::Object(inner) => without_null(inner),
            Value::Array(items) => {
                for item in items {
                    if let Value::Object(inner) = item {
                        without_null(inner);
                    }
                }
            }
            _ => {}
        }
    }
}

fn properties(schema: &Map<String, Value>) -> Map<String, Value> {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

fn required(schema: &Map<String, Value>) -> Vec<Value> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// The options every service has, whatever its broker: name → schema.
pub fn common_options() -> Map<String, Value> {
    properties(&object_of::<CommonOptions>())
}

/// The description of `broker`.
fn broker_key(description: &str) -> Value {
    json!({ "type": "string", "description": description })
}

/// The whole `[[service]]` table of the built-in broker `builtin`: its own options, the
/// common ones and `broker`, nothing else.
pub fn service(builtin: &Builtin) -> Map<String, Value> {
    let own = match (builtin.schema)(&mut generator()).to_value() {
        Value::Object(mut map) => {
            without_null(&mut map);
            map
        }
        _ => Map::new(),
    };
    let mut props = Map::new();
    let mut key = broker_key(builtin.summary);
    key["const"] = builtin.name.into();
    props.insert("broker".into(), key);
    props.extend(properties(&own));
    props.extend(common_options());
    let mut needed = vec![Value::from("broker")];
    needed.extend(required(&own));
    let mut table = Map::new();
    table.insert("type".into(), "object".into());
    table.insert("description".into(), builtin.summary.into());
    table.insert("properties".into(), Value::Object(props));
    table.insert("required".into(), Value::Array(needed));
    table.insert("additionalProperties".into(), false.into());
    table
}

/// The schema of `pushbroker.toml`.
pub fn repo_config() -> Value {
    let names: Vec<&str> = BUILTIN.iter().map(|builtin| builtin.name).collect();
    let mut by_broker: Vec<Value> = BUILTIN
        .iter()
        .map(|builtin| {
            json!({
                "if": { "properties": { "broker": { "const": builtin.name } }, "required": ["broker"] },
                "then": Value::Object(service(builtin)),
            })
        })
        .collect();
    by_broker.push(json!({
        "if": { "properties": { "broker": { "enum": names } }, "required": ["broker"] },
        "else": {
            "description": "a custom broker registered in the site config: its options are its own",
            "properties": common_options(),
        },
    }));
    let mut repository = object_of::<RepositoryConfig>();
    repository.insert(
        "description".into(),
        "How the repository is named in payloads and messages.".into(),
    );
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": "https://pushbroker.dev/pushbroker.schema.json",
        "title": "pushbroker.toml",
        "description": "A repository's pushbroker config: [repository] and one [[service]] table per service. Generated by `pushbroker schema`.",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "repository": Value::Object(repository),
            "service": {
                "description": "The services, each written as a [[service]] table (double brackets: one per service).",
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["broker"],
                    "properties": {
                        "broker": {
                            "type": "string",
                            "description": "Which broker this service runs: a built-in one or one the site registers.",
                            "examples": names,
                        },
                    },
                    "allOf": by_broker,
                },
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_option_has_a_description_and_the_tables_are_closed() {
        for builtin in BUILTIN {
            let table = service(builtin);
            assert_eq!(table["additionalProperties"], false, "{}", builtin.name);
            for (name, option) in properties(&table) {
                assert!(
                    option.get("description").and_then(Value::as_str).is_some(),
                    "{}.{name} has no doc comment",
                    builtin.name
                );
            }
        }
    }
}
