//! `broker = "msteams"`: a Microsoft Teams incoming webhook (Workflows) with an Adaptive
//! Card. Teams accepts cards up to about 28 KB; ours stays under 4 KB.

use anyhow::Result;
use serde::Deserialize;

use super::{Webhook, escape_markdown, more_line, summarize};
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

/// Markdown that an Adaptive Card TextBlock would interpret, escaped.
fn escape(text: &str) -> String {
    escape_markdown(text, &['\\', '*', '_', '`', '[', ']'])
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
                "text": format!("[{}]({}) {} — {}", line.short, line.url, escape(&line.title), escape(&line.author)),
                "wrap": true, "spacing": "Small",
            }));
        }
        if let Some(more) = more_line(summary.more) {
            body.push(serde_json::json!({"type": "TextBlock", "text": more, "isSubtle": true, "wrap": true}));
        }
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
                    "actions": [{"type": "Action.OpenUrl", "title": format!("Open {}", summary.repo_name), "url": summary.repo_url}],
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
