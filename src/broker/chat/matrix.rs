//! `broker = "matrix"`: an `m.room.message` (`m.notice`) sent with the client-server API,
//! `PUT /_matrix/client/v3/rooms/{room}/send/m.room.message/{txn}`. The transaction id is
//! the delivery id, so a retried delivery is not posted twice. Matrix events may be
//! 65,536 bytes; ours stay under 40 KB for any input.

use anyhow::Result;
use serde::Deserialize;

use super::{more_line, summarize};
use crate::broker::{Broker, BrokerConfig, BuildContext, Delivery, Outcome, http};
use crate::config::secret::RepoSecret;
use crate::config::values::ServiceUrl;
use crate::trust::secrets::{Destination, Granted};

/// `[[service]] broker = "matrix"` options.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MatrixConfig {
    /// The homeserver, e.g. `https://matrix.example.com`.
    pub homeserver: ServiceUrl,
    /// The room id, e.g. `!abcdef:example.com`.
    pub room: String,
    /// The bot account's access token: a secret the site grants (`"secret:NAME"`), or
    /// inline.
    pub token: RepoSecret,
}

impl BrokerConfig for MatrixConfig {
    fn build(&self, context: &BuildContext<'_>) -> Result<Box<dyn Broker>> {
        let homeserver = context.grants.url(&self.homeserver, false)?;
        Ok(Box::new(MatrixBroker {
            homeserver: homeserver.url.as_str().trim_end_matches('/').to_string(),
            shown: homeserver.shown.trim_end_matches('/').to_string(),
            room: self.room.clone(),
            token: context.grants.secret(
                &self.token,
                Destination::Host(homeserver.url.host_str().unwrap_or("")),
            )?,
            agent: http::agent(context),
        }))
    }
}

/// A built `matrix` service.
pub struct MatrixBroker {
    homeserver: String,
    /// What messages show of the homeserver.
    shown: String,
    room: String,
    token: Granted,
    agent: ureq::Agent,
}

fn html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl MatrixBroker {
    fn url(&self, homeserver: &str, txn: &str) -> String {
        let room =
            percent_encoding::utf8_percent_encode(&self.room, percent_encoding::NON_ALPHANUMERIC);
        format!("{homeserver}/_matrix/client/v3/rooms/{room}/send/m.room.message/{txn}")
    }

    fn message(&self, delivery: &Delivery<'_>) -> serde_json::Value {
        let summary = summarize(delivery.push, delivery.max_commits);
        let mut plain = summary.headline.clone();
        let link = |url: &str, text: &str| match url {
            "" => text.to_string(),
            url => format!("<a href=\"{}\">{text}</a>", html(url)),
        };
        let mut rich = format!(
            "{}: {}",
            link(&summary.repo_url, &html(&summary.repo_name)),
            html(&summary.headline)
        );
        rich.push_str("<ul>");
        for line in &summary.lines {
            plain.push_str(&format!(
                "\n{} {} — {} {}",
                line.short, line.title, line.author, line.url
            ));
            rich.push_str(&format!(
                "<li>{} {} — {}</li>",
                link(&line.url, &format!("<code>{}</code>", line.short)),
                html(&line.title),
                html(&line.author)
            ));
        }
        rich.push_str("</ul>");
        if let Some(more) = more_line(summary.more) {
            plain.push_str(&format!("\n{more}"));
            rich.push_str(&format!("<p>{more}</p>"));
        }
        serde_json::json!({"msgtype": "m.notice", "body": plain, "format": "org.matrix.custom.html", "formatted_body": rich})
    }
}

impl Broker for MatrixBroker {
    fn deliver(&self, delivery: &Delivery<'_>) -> Outcome {
        let token = match self.token.resolve() {
            Ok(token) => token,
            Err(error) => return Outcome::failed(format!("the matrix token: {error:#}")),
        };
        let body = self.message(delivery).to_string();
        let headers = [
            ("Content-Type", "application/json".to_string()),
            ("Authorization", format!("Bearer {}", token.expose())),
        ];
        let url = self.url(&self.homeserver, delivery.id);
        let shown = self.url(&self.shown, delivery.id);
        http::send(&self.agent, "PUT", &url, &shown, &headers, body.as_bytes())
    }

    fn preview(&self, delivery: &Delivery<'_>) -> Result<String> {
        Ok(format!(
            "PUT {}\nAuthorization: Bearer ***\n\n{}\n",
            self.url(&self.shown, delivery.id),
            serde_json::to_string_pretty(&self.message(delivery))?
        ))
    }

    fn destination(&self) -> Option<String> {
        url::Url::parse(&self.homeserver)
            .ok()
            .and_then(|url| url.host_str().map(str::to_string))
    }
}
