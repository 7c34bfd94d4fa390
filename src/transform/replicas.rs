//! `replicas`: set `spec.replicas` of the workloads with the given (current or original) name.

use serde_json::Value;

use super::fieldspec::{self, OwnedFieldSpec, REPLICAS};
use crate::error::Result;
use crate::load::kustomization::KustFile;
use crate::model::ResourceSet;

pub fn apply(kf: &KustFile, set: &mut ResourceSet) -> Result<()> {
    let specs: Vec<OwnedFieldSpec> = REPLICAS.iter().map(Into::into).collect();
    for (i, entry) in kf.spec.replicas.iter().enumerate() {
        let mut matched = 0;
        for r in set.iter_mut() {
            if !r.all_ids().any(|id| id.name == entry.name) {
                continue;
            }
            matched += fieldspec::visit_resource::<()>(r, &specs, None, &mut |v| {
                *v = Value::from(entry.count);
                Ok(())
            })
            .unwrap_or(0);
        }
        if matched == 0 {
            let idx = i.to_string();
            return Err(kf
                .error_at(&["replicas", &idx], format!("replicas: no Deployment, ReplicaSet, ReplicationController or StatefulSet is named `{}`", entry.name))
                .help("check the name against the rendered resources"));
        }
    }
    Ok(())
}
