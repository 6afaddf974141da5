//! Building audit events. Details are a flat JSON object of non-secret strings.

use uuid::Uuid;

use crate::store::NewAuditEvent;

/// How an audited attempt ended.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Outcome {
    Success,
    Denied,
    Failure,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Denied => "denied",
            Outcome::Failure => "failure",
        }
    }
}

pub(crate) fn event(
    tenant_id: Uuid,
    actor: String,
    caller_service: Option<String>,
    action: &str,
    target: String,
    outcome: Outcome,
    details: &[(&str, &str)],
) -> NewAuditEvent {
    NewAuditEvent {
        tenant_id,
        actor,
        caller_service,
        action: action.to_owned(),
        target,
        outcome: outcome.as_str().to_owned(),
        details: json_object(details),
    }
}

fn json_object(fields: &[(&str, &str)]) -> String {
    let map: serde_json::Map<String, serde_json::Value> = fields
        .iter()
        .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v)))
        .collect();
    serde_json::Value::Object(map).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_are_escaped_json() {
        assert_eq!(
            json_object(&[("a", "x\"y"), ("b", "line\n")]),
            r#"{"a":"x\"y","b":"line\n"}"#
        );
        assert_eq!(json_object(&[]), "{}");
    }
}
