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
