//! `broker = "slack"`: a Slack incoming webhook (also what Mattermost and Rocket.Chat
//! accept). The message is one `text` in Slack's mrkdwn; Slack truncates `text` past
//! 40,000 characters, ours stays under 20,000 for any input.

use anyhow::Result;
use serde::Deserialize;

use super::{Webhook, more_line, summarize};
use crate::broker::{Broker, BrokerConfig, BuildContext, Delivery, Outcome};
use crate::config::values::ServiceUrl;

/// `[[service]] broker = "slack"` options.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// The incoming-webhook URL (it is the credential: keep the config private).
    pub url: ServiceUrl,
    /// Post to this channel instead of the webhook's own (where the webhook allows it).
    pub channel: Option<String>,
    /// The name the message appears under.
    pub username: Option<String>,
}

impl BrokerConfig for SlackConfig {
    fn build(&self, context: &BuildContext<'_>) -> Result<Box<dyn Broker>> {
        Ok(Box::new(SlackBroker {
            hook: Webhook::new(&self.url, context)?,
            channel: self.channel.clone(),
            username: self.username.clone(),
        }))
    }
}

/// A built `slack` service.
pub struct SlackBroker {
    hook: Webhook,
    channel: Option<String>,
    username: Option<String>,
}

/// Slack's mrkdwn escapes: `&`, `<` and `>`.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

impl SlackBroker {
    fn message(&self, delivery: &Delivery<'_>) -> serde_json::Value {
        let summary = summarize(delivery.push, delivery.max_commits);
        let link = |url: &str, text: &str| match url {
            "" => text.to_string(),
            url => format!("<{url}|{text}>"),
        };
        let mut text = format!(
            "{}: {}",
            link(&summary.repo_url, &escape(&summary.repo_name)),
            escape(&summary.headline)
        );
        for line in &summary.lines {
            text.push_str(&format!(
                "\n• {} {} — {}",
                link(&line.url, &format!("`{}`", line.short)),
                escape(&line.title),
                escape(&line.author)
            ));
        }
        if let Some(more) = more_line(summary.more) {
            text.push_str(&format!("\n{more}"));
        }
        let mut message = serde_json::json!({"text": text});
        if let Some(channel) = &self.channel {
            message["channel"] = channel.clone().into();
        }
        if let Some(username) = &self.username {
            message["username"] = username.clone().into();
        }
        message
    }
}

impl Broker for SlackBroker {
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
