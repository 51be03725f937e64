//! `broker = "msteams"`: a Microsoft Teams incoming webhook (Workflows) with an Adaptive
//! Card. Teams accepts cards up to about 28 KB; ours stays under 20 KB for any input.
//!
//! What the reader sees is exactly the commit's text: every ASCII punctuation character
//! is escaped with a backslash (CommonMark's escapes, which the SDK's markdown takes),
//! so no markdown, HTML entity (`&amp;` stays `&amp;`) or text function
//! (`{{DATE(…)}}`: its `{{` is escaped) is interpreted. Checked in the tests with
//! Microsoft's `adaptivecards` SDK rendering the card in jsdom with markdown-it.

use anyhow::Result;
use serde::Deserialize;

use super::{Webhook, more_line, summarize};
use crate::broker::{Broker, BrokerConfig, BuildContext, Delivery, Outcome};
use crate::config::values::ServiceUrl;

/// `[[service]] broker = "msteams"` options.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamsConfig {
    /// The webhook URL (it is the credential: keep the config private).
    pub url: ServiceUrl,
}

impl BrokerConfig for TeamsConfig {
    fn build(&self, context: &BuildContext<'_>) -> Result<Box<dyn Broker>> {
        Ok(Box::new(TeamsBroker {
            hook: Webhook::new(&self.url, context)?,
        }))
    }
}

/// A built `msteams` service.
pub struct TeamsBroker {
    hook: Webhook,
}

/// `text` as an Adaptive Card TextBlock shows it literally: every ASCII punctuation
/// character backslash-escaped (markdown, entities, `{{DATE(…)}}` functions).
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() * 2);
    for ch in text.chars() {
        if ch.is_ascii_punctuation() {
            escaped.push('\\');
        }
        escaped.push(ch);
    }
    escaped
}

/// A changeset's link in markdown, or its bare id when the link was left out.
fn linked(short: &str, url: &str) -> String {
    match url {
        "" => short.to_string(),
        url => format!("[{short}]({url})"),
    }
}

impl TeamsBroker {
    fn card(&self, delivery: &Delivery<'_>) -> serde_json::Value {
        let summary = summarize(delivery.push, delivery.max_commits);
        let mut body = vec![serde_json::json!({
            "type": "TextBlock", "text": escape(&summary.headline), "weight": "Bolder", "wrap": true,
        })];
        for line in &summary.lines {
            body.push(serde_json::json!({
                "type": "TextBlock",
                "text": format!("{} {} — {}", linked(&line.short, &line.url), escape(&line.title), escape(&line.author)),
                "wrap": true, "spacing": "Small",
            }));
        }
        if let Some(more) = more_line(summary.more) {
            body.push(serde_json::json!({"type": "TextBlock", "text": more, "isSubtle": true, "wrap": true}));
        }
        let actions = match summary.repo_url.as_str() {
            "" => serde_json::json!([]),
            url => {
                serde_json::json!([{"type": "Action.OpenUrl", "title": format!("Open {}", summary.repo_name), "url": url}])
            }
        };
        serde_json::json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": null,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": body,
                    "actions": actions,
                },
            }],
        })
    }
}

impl Broker for TeamsBroker {
    fn deliver(&self, delivery: &Delivery<'_>) -> Outcome {
        self.hook.post(&self.card(delivery))
    }

    fn preview(&self, delivery: &Delivery<'_>) -> Result<String> {
        self.hook.preview(&self.card(delivery))
    }

    fn destination(&self) -> Option<String> {
        self.hook.host()
    }
}
