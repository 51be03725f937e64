//! JSON Schemas of the config values that have a hand-written `Deserialize` (checked
//! while parsed, see [`crate::config::values`]): what each accepts, in the terms an
//! editor shows while the admin types.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

use crate::broker::email::Address;
use crate::broker::post::template::{TemplateFile, TemplateText};
use crate::config::secret::RepoSecret;
use crate::config::values::{HttpUrl, PathFilter, RefFilter, ServiceUrl, Timeout};

/// Implements [`JsonSchema`] for `$type` with the schema `$schema`, inlined where used.
macro_rules! schema_of {
    ($type:ty, $name:literal, $schema:tt) => {
        impl JsonSchema for $type {
            fn inline_schema() -> bool {
                true
            }

            fn schema_name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }

            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!($schema)
            }
        }
    };
}

/// The `to` of an email service: one address or a non-empty list.
pub struct Recipients;

schema_of!(Recipients, "Recipients", {
    "title": "address or list of addresses",
    "anyOf": [
        { "type": "string", "minLength": 1 },
        { "type": "array", "items": { "type": "string", "minLength": 1 }, "minItems": 1 }
    ]
});

schema_of!(Address, "Address", {
    "title": "address", "type": "string", "minLength": 1 });

schema_of!(Timeout, "Timeout", {
    "title": "duration",
    "anyOf": [
        { "type": "string", "pattern": "^\\s*[0-9]+\\s*(ms|s|m)?\\s*$" },
        { "type": "integer", "minimum": 1 }
    ]
});

schema_of!(HttpUrl, "HttpUrl", {
    "title": "URL", "type": "string", "pattern": "^[hH][tT][tT][pP][sS]?://" });

schema_of!(ServiceUrl, "ServiceUrl", {
    "title": "URL or \"secret:NAME\"",
    "type": "string",
    "pattern": "^([hH][tT][tT][pP][sS]?://|secret:|env:|file:)"
});

schema_of!(RepoSecret, "Secret", {
    "title": "secret", "type": "string", "minLength": 1 });

schema_of!(RefFilter, "RefGlobs", {
    "title": "list of ref globs", "type": "array", "items": { "type": "string" } });

schema_of!(PathFilter, "PathGlobs", {
    "title": "list of path globs", "type": "array", "items": { "type": "string" } });

schema_of!(TemplateText, "Template", {
    "title": "template", "type": "string" });

schema_of!(TemplateFile, "TemplateFile", {
    "title": "path", "type": "string", "minLength": 1 });
