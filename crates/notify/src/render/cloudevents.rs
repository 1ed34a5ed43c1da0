//! CloudEvents 1.0 in structured mode (the JSON event format): the
//! context attributes and the notification as `data`. The `id` is the
//! de-duplication id, so `source` + `id` identify the event across tries
//! and replicas, as the specification asks of a consumer's de-duplication.

use serde_json::{Value, json};

use crate::notice::Notification;

pub const CONTENT_TYPE: &str = "application/cloudevents+json; charset=utf-8";

/// `io.ferry.` + the notification's type (`io.ferry.environment.failed`).
pub fn event_type(n: &Notification) -> String {
    format!("io.ferry.{}", n.type_name())
}

pub(super) fn body(n: &Notification) -> Value {
    // The product's page: the context in which releases happen.
    let source = match n.release.url.rsplit_once("/releases/") {
        Some((product_page, _)) => product_page.to_owned(),
        None => format!("/products/{}", n.release.product),
    };
    json!({
        "specversion": "1.0",
        "id": n.id,
        "source": source,
        "type": event_type(n),
        "subject": n.environment.clone().unwrap_or_else(|| format!("releases/{}", n.release.number)),
        "time": n.time,
        "datacontenttype": "application/json",
        "data": n,
    })
}
