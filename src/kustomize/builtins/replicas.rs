//! `replicas` (kustomize's ReplicaCountTransformer): set the replica count, at the fields the
//! `replicas` field specs name, of the objects with the given (current or earlier) name.

use std::sync::Arc;

use serde_json::Value;

use crate::error::Result;
use crate::kustomize::fieldspec::{self, OwnedFieldSpec};
use crate::kustomize::load::kustomization::KustFile;
use crate::model::{Actor, ResourceSet};

/// `specs`: the `replicas` field specs in use.
pub fn apply(kf: &KustFile, set: &mut ResourceSet, specs: &[OwnedFieldSpec]) -> Result<()> {
    for (i, entry) in kf.spec.replicas.iter().enumerate() {
        let idx = i.to_string();
        let actor = Arc::new(Actor {
            what: format!("replicas[{i}]"),
            file: Arc::new(kf.display().to_path_buf()),
            line: kf.file.locate(0, &["replicas", &idx]).map_or(1, |(l, _)| l),
        });
        let mut matched = 0;
        for r in set.iter_mut() {
            if !r.all_ids().any(|id| id.name == entry.name) {
                continue;
            }
            let applied = fieldspec::visit_resource::<()>(r, specs, None, &mut |v| {
                *v = Value::from(entry.count);
                Ok(())
            })
            .unwrap_or(0);
            if applied > 0 {
                r.changed("/spec/replicas", &actor);
            }
            matched += applied;
        }
        if matched == 0 {
            return Err(kf
                .error_at(&["replicas", &idx], format!("replicas: no Deployment, ReplicaSet, ReplicationController or StatefulSet is named `{}`", entry.name))
                .help("check the name against the rendered resources"));
        }
    }
    Ok(())
}
