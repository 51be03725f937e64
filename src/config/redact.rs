//! A service's options as its payload's `service` shows them: every secret `"***"`,
//! every URL masked ([`crate::trust::urls`]).

use toml::de::{DeTable, DeValue};

use super::repo::SECRET_KEYS;
use super::secret;

/// The service's options as JSON for the payload, every secret replaced by `"***"`.
pub fn options(table: &DeTable<'_>) -> serde_json::Value {
    let map = table
        .iter()
        .filter(|(key, _)| key.get_ref().as_ref() != "broker")
        .map(|(key, value)| {
            let key = key.get_ref().as_ref();
            (key.to_string(), redacted(key, value.get_ref()))
        })
        .collect();
    serde_json::Value::Object(map)
}

fn redacted(key: &str, value: &DeValue<'_>) -> serde_json::Value {
    use serde_json::Value;
    match value {
        DeValue::String(text) if secret::is_reference(text) || SECRET_KEYS.contains(&key) => {
            Value::String("***".into())
        }
        DeValue::String(text) => Value::String(crate::trust::urls::masked_text(text)),
        DeValue::Integer(number) => number
            .as_str()
            .parse::<i64>()
            .map_or_else(|_| Value::String(number.as_str().into()), Value::from),
        DeValue::Float(number) => number
            .as_str()
            .parse::<f64>()
            .map_or(Value::Null, Value::from),
        DeValue::Boolean(flag) => Value::Bool(*flag),
        DeValue::Datetime(datetime) => Value::String(datetime.to_string()),
        DeValue::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| redacted(key, item.get_ref()))
                .collect(),
        ),
        DeValue::Table(table) => options(table),
    }
}

/// The service as a repository config of its own, as written (secret references left as
/// they are): what a queued delivery carries, for a worker to build the same service.
pub fn as_written(table: &DeTable<'_>) -> String {
    let table: toml::Table = table
        .iter()
        .map(|(key, value)| (key.get_ref().to_string(), toml_value(value.get_ref())))
        .collect();
    let mut config = toml::Table::new();
    config.insert(
        "service".into(),
        toml::Value::Array(vec![toml::Value::Table(table)]),
    );
    toml::to_string(&config).unwrap_or_default()
}

fn toml_value(value: &DeValue<'_>) -> toml::Value {
    use toml::Value;
    match value {
        DeValue::String(text) => Value::String(text.to_string()),
        DeValue::Integer(number) => {
            let digits = number.as_str().replace('_', "");
            i64::from_str_radix(&digits, number.radix())
                .map_or_else(|_| Value::String(digits.clone()), Value::Integer)
        }
        DeValue::Float(number) => number
            .as_str()
            .replace('_', "")
            .parse::<f64>()
            .map_or(Value::Float(f64::NAN), Value::Float),
        DeValue::Boolean(flag) => Value::Boolean(*flag),
        DeValue::Datetime(datetime) => Value::Datetime(*datetime),
        DeValue::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| toml_value(item.get_ref()))
                .collect(),
        ),
        DeValue::Table(table) => Value::Table(
            table
                .iter()
                .map(|(key, value)| (key.get_ref().to_string(), toml_value(value.get_ref())))
                .collect(),
        ),
    }
}
