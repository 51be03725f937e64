//! `broker = "discord"`: a Discord webhook with one embed. Discord's limits: embed title
//! 256 characters, description 4,096, 6,000 in all; ours caps the title at 256 and the
//! description at 4,096 characters (so under 4,400 in all), and leaves out a field it has
//! nothing for (a push of refs alone has no description: Discord refuses an empty one).

use anyhow::Result;
use serde::Deserialize;

use super::{Webhook, cap, escape_markdown, more_line, summarize};
use crate::broker::{Broker, BrokerConfig, BuildContext, Delivery, Outcome};
use crate::config::values::ServiceUrl;

/// `[[service]] broker = "discord"` options.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DiscordConfig {
    /// The webhook URL (it is the credential: keep the config private).
    pub url: ServiceUrl,
    /// The name the message appears under (default: the webhook's).
    pub username: Option<String>,
}

impl BrokerConfig for DiscordConfig {
    fn build(&self, context: &BuildContext<'_>) -> Result<Box<dyn Broker>> {
        Ok(Box::new(DiscordBroker {
            hook: Webhook::new(&self.url, context)?,
            username: self.username.clone(),
        }))
    }
}

/// A built `discord` service.
pub struct DiscordBroker {
    hook: Webhook,
    username: Option<String>,
}

/// Markdown that Discord would interpret, escaped.
fn escape(text: &str) -> String {
    escape_markdown(
        text,
        &[
            '\\', '*', '_', '~', '`', '|', '>', '[', ']', '(', ')', '#', '@',
        ],
    )
}

impl DiscordBroker {
    fn message(&self, delivery: &Delivery<'_>) -> serde_json::Value {
        let summary = summarize(delivery.push, delivery.max_commits);
        let mut description = Vec::new();
        for line in &summary.lines {
            let id = match line.url.as_str() {
                "" => format!("`{}`", line.short),
                url => format!("[`{}`]({url})", line.short),
            };
            description.push(format!(
                "{id} {} — {}",
                escape(&line.title),
                escape(&line.author)
            ));
        }
        if let Some(more) = more_line(summary.more) {
            description.push(more);
        }
        let mut embed = serde_json::json!({
            "title": cap(&summary.headline, 256),
            "color": 0x2f81f7,
            "timestamp": delivery.push.pushed_at,
        });
        if !summary.repo_url.is_empty() {
            embed["url"] = summary.repo_url.clone().into();
        }
        if !description.is_empty() {
            embed["description"] = cap(&description.join("\n"), 4096).into();
        }
        let mut message = serde_json::json!({
            "allowed_mentions": {"parse": []},
            "embeds": [embed],
        });
        if let Some(username) = &self.username {
            message["username"] = username.clone().into();
        }
        message
    }
}

impl Broker for DiscordBroker {
    fn deliver(&self, delivery: &Delivery<'_>) -> Outcome {
        self.hook.post(&self.message(delivery))
    }

    fn preview(&self, delivery: &Delivery<'_>) -> Result<String> {
        self.hook.preview(&self.message(delivery))
    }

    fn destination(&self) -> Option<String> {
        self.hook.host()
    }
}
