//! Microsoft Teams workflows ("When a Teams webhook request is received"
//! → post to a channel): a message whose attachment is an Adaptive Card
//! (1.4, what Teams renders) — the headline, the facts, the reason, the
//! log lines in monospace, and an Open URL action to the release.

use serde_json::{Value, json};

use crate::notice::Notification;
use crate::subscription::EventType;

pub(super) fn body(n: &Notification) -> Value {
    let r = &n.release;
    let mut facts = vec![
        json!({"title": "Product", "value": r.product}),
        json!({"title": "Release", "value": format!("#{}", r.number)}),
        json!({"title": "Status", "value": n.status}),
    ];
    if let Some(e) = &n.environment {
        facts.push(json!({"title": "Environment", "value": e}));
    }
    if let Some(v) = &r.version {
        facts.push(json!({"title": "Version", "value": v}));
    }
    let colour = match n.event {
        EventType::Failed => "Attention",
        EventType::Succeeded | EventType::RolledBack => "Good",
        EventType::Suspended | EventType::ApprovalNeeded => "Warning",
        _ => "Default",
    };
    let mut body = vec![
        json!({"type": "TextBlock", "text": n.headline(), "weight": "Bolder", "size": "Medium", "color": colour, "wrap": true}),
        json!({"type": "FactSet", "facts": facts}),
    ];
    if let Some(reason) = &n.reason {
        body.push(json!({"type": "TextBlock", "text": reason, "wrap": true}));
    }
    if !n.log.is_empty() {
        body.push(json!({"type": "TextBlock", "text": n.log.join("\n"), "fontType": "Monospace", "wrap": true, "isSubtle": true}));
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": body,
                "actions": [{"type": "Action.OpenUrl", "title": "Open release", "url": r.url}],
            },
        }],
    })
}
