//! Slack incoming webhooks: `text` (the notification's fallback, shown in
//! alerts) and Block Kit `blocks` — a header, the facts, the reason, the
//! log lines in a code block, and a button to the release. Slack's limits:
//! a header's text 150 characters, a section's 3,000, ten fields.

use serde_json::{Value, json};

use super::cut;
use crate::notice::Notification;

/// Slack's mrkdwn needs `&`, `<` and `>` escaped.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

pub(super) fn body(n: &Notification) -> Value {
    let headline = n.headline();
    let r = &n.release;
    let mut fields = vec![
        json!({"type": "mrkdwn", "text": format!("*Product*\n{}", escape(&r.product))}),
        json!({"type": "mrkdwn", "text": format!("*Release*\n<{}|#{}>", r.url, r.number)}),
        json!({"type": "mrkdwn", "text": format!("*Status*\n{}", escape(&n.status))}),
    ];
    if let Some(e) = &n.environment {
        fields.push(json!({"type": "mrkdwn", "text": format!("*Environment*\n{}", escape(e))}));
    }
    if let Some(v) = &r.version {
        fields.push(
            json!({"type": "mrkdwn", "text": cut(&format!("*Version*\n{}", escape(v)), 2000)}),
        );
    }
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": cut(&headline, 150)}}),
        json!({"type": "section", "fields": fields}),
    ];
    if let Some(reason) = &n.reason {
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": cut(&escape(reason), 3000)}}));
    }
    if !n.log.is_empty() {
        let log = escape(&n.log.join("\n")).replace("```", "'''");
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("```{}```", cut(&log, 2990))}}));
    }
    blocks.push(json!({"type": "actions", "elements": [{
        "type": "button",
        "text": {"type": "plain_text", "text": "Open release"},
        "url": r.url,
    }]}));
    json!({"text": escape(&headline), "blocks": blocks})
}
