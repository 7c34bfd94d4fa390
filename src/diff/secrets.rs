//! Secret masking: the values of a `Secret`'s `data` and `stringData` become stable
//! placeholders, `<secret sha256:1a2b3c4d>` (the first 4 bytes of the SHA-256 of the value as
//! written), so a diff shows which keys changed and never a value. Masking happens on the
//! rendered resources before anything else (diff, validation, every format) sees them.

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::model::Resource;

/// The placeholder for one secret value.
pub fn placeholder(value: &str) -> String {
    let digest = Sha256::digest(value.as_bytes());
    let short: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("<secret sha256:{short}>")
}

/// Is this a core `v1` Secret?
pub fn is_secret(r: &Resource) -> bool {
    let (group, _, kind) = r.gvk();
    group.is_empty() && kind == "Secret"
}

/// Masks every Secret of the set in place.
pub fn mask(set: &mut [Resource]) {
    for r in set.iter_mut().filter(|r| is_secret(r)) {
        for field in ["data", "stringData"] {
            match r.obj_mut().get_mut(field) {
                Some(Value::Object(m)) => {
                    for v in m.values_mut() {
                        let text = match &*v {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        *v = Value::String(placeholder(&text));
                    }
                }
                Some(v @ (Value::String(_) | Value::Array(_))) => {
                    let text = v.to_string();
                    *v = Value::String(placeholder(&text));
                }
                _ => {}
            }
        }
        // kubectl's copy of the whole object, values included.
        if let Some(Value::Object(a)) = r
            .obj_mut()
            .get_mut("metadata")
            .and_then(|m| m.get_mut("annotations"))
            && let Some(v) = a.get_mut("kubectl.kubernetes.io/last-applied-configuration")
        {
            *v = Value::String(placeholder(&v.to_string()));
        }
    }
}
