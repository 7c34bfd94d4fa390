//! Strategic merge patch (SMP), as kustomize v5.5 applies it for `patches:`
//! entries that hold a strategic-merge document, on [`serde_json::Value`].
//!
//! # Model
//!
//! kustomize does not use the API server's SMP code; it walks target and patch
//! together (kyaml `merge2` + `walk`, with "prepend" list order). This module
//! reproduces that walk:
//!
//! * **Maps** merge key by key. A patch `null` deletes the key. A key only in
//!   the patch is added after the patch has been *normalised* (directives
//!   applied, `null`s dropped). Target key order is kept; new keys are
//!   appended in patch order (kustomize's output sorts keys, so order is ours).
//! * **Scalars** and **lists without a merge strategy** are replaced by the
//!   patch value, verbatim (so directives inside such lists are *not*
//!   interpreted, exactly like kustomize).
//! * **Keyed lists** (schema says `patchStrategy: merge` with a merge key)
//!   merge element by element on the key. The result lists the elements named
//!   by the patch first, in patch order, then the untouched target elements.
//!   With two merge keys (container/service ports, topologySpreadConstraints)
//!   kustomize's own reconciliation of partial keys is reproduced.
//! * **Primitive merge lists** (`finalizers`, `podCIDRs`): set union, patch
//!   values first.
//! * kustomize walks the *whole* target, so keyed lists the patch never
//!   mentions are still de-duplicated (the last duplicate wins); so is this.
//!
//! Directives: `$patch: delete | replace | merge` on maps and, as a list
//! element of its own (`- $patch: replace`), on keyed/primitive lists; a
//! top-level `$patch: delete` yields [`Outcome::DeleteResource`]. kustomize
//! has no support for `$retainKeys`, `$setElementOrder/…` or
//! `$deleteFromPrimitiveList/…`: it copies them into the output as ordinary
//! fields, and so does this module.
//!
//! # Merge-key table
//!
//! kustomize takes the merge strategy from its built-in OpenAPI document
//! (Kubernetes v1.21.2), found by the resource's `apiVersion` + `kind`, then
//! by field path. Everything of that schema that matters for merging is the
//! data in `FIELDS` and `KINDS` below: `FIELDS` is a small type graph
//! (`(type, field, rule)`) holding only the paths that lead to a merge list,
//! with equivalent OpenAPI definitions folded into one `Ty`
//! (e.g. `Workload` = apps/v1 Deployment, DaemonSet, ReplicaSet,
//! StatefulSet, batch/v1 Job, v1 ReplicationController). `KINDS` maps
//! built-in apiVersion/kind pairs to their root type. Consequences that match
//! kustomize:
//!
//! * unknown kinds (CRDs, and removed versions such as `apps/v1beta2`) have no
//!   schema: every list in them is replaced — even `metadata.finalizers` —
//!   except below a nested map that itself carries a built-in
//!   `apiVersion`/`kind` (an embedded resource), which gets that schema;
//! * there is no fallback "merge on `name`" for unknown types;
//! * lists such as `tolerations`, `envFrom`, `args`, `command` are replaced.
//!
//! # Custom schemas
//!
//! [`apply_with_schema`] takes the schemas a kustomization's `openapi` field puts in use
//! (`schema::openapi`): nodes of a custom document (`Sch::Custom`, `$ref`s followed when
//! a field is entered) next to the built-in types. A custom schema alone replaces the
//! built-in one. With both loaded, kinds and definition names resolve in the schema loaded
//! last first; when that is the custom one, built-in kinds are walked by definition name
//! (`Sch::Builtin`, `defs.rs`) so that custom definitions replace the built-in ones they
//! name inside them too, as in kustomize. A `$ref` naming no definition is an error.
//!
//! # Deliberate deviations (kustomize silently corrupts data there)
//!
//! * A patch element of a keyed list without its merge key (or not a map) is
//!   an error; kustomize instead deletes every keyed element of that list.
//!   Where the target has no such list and no patch element gives a key, the
//!   elements are copied as written, as kustomize copies them.
//!   When the patch touches a keyed list whose *target* has such an element,
//!   that is an error too; when it does not, that list is left as it is.
//! * An unknown `$patch` value is always an error (kustomize copies it into
//!   the output when the map is new).
//! * Directives inside a merge list the target lacks (or one brought in by
//!   `$patch: replace`) are always honoured. kustomize merges such a list
//!   with itself and so ignores or mangles some of them (keeps a lone
//!   `- $patch: replace` element, keeps a port marked for deletion), and
//!   copies duplicate entries raw, `null`s and `$patch` keys included.
//!
//! On error the target may be left partly patched.
//!
//! Cost is linear in target + patch size, except for two-key lists whose keys
//! are only partly given (e.g. some ports with and some without `protocol`):
//! those run kustomize's pairwise reconciliation, quadratic in that list's
//! length (such lists are short in practice).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;

use serde_json::{Map, Value};

use crate::kustomize::schema::openapi::{
    self, CustomSchema, ListMerge, NodeId, RefTarget, Reference, SchemaSet,
};

mod defs;

use defs::NamedRule;

// ---------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------

/// Identifies the resource being patched; selects the schema (merge keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmpContext<'a> {
    /// `apiVersion` of the target, e.g. `apps/v1` or `v1`.
    pub api_version: &'a str,
    /// `kind` of the target, e.g. `Deployment`.
    pub kind: &'a str,
}

impl<'a> SmpContext<'a> {
    /// Reads `apiVersion` and `kind` from a resource (empty when absent).
    pub fn of(resource: &'a Value) -> Self {
        let s = |k: &str| resource.get(k).and_then(Value::as_str).unwrap_or("");
        SmpContext {
            api_version: s("apiVersion"),
            kind: s("kind"),
        }
    }
}

/// What the caller must do with the target after [`apply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The target was patched in place (possibly unchanged).
    Merged,
    /// The patch's top level says `$patch: delete`: drop the whole resource.
    /// The target is left untouched.
    DeleteResource,
}

/// A strategic merge failure, with the field path where it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergePatchError {
    /// Path segments, innermost first (pushed while the error propagates).
    rev_path: Vec<Seg>,
    message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
    Elem(String),
}

impl MergePatchError {
    fn new(message: impl Into<String>) -> Self {
        MergePatchError {
            rev_path: Vec::new(),
            message: message.into(),
        }
    }

    fn at_key(mut self, key: &str) -> Self {
        self.rev_path.push(Seg::Key(key.to_owned()));
        self
    }

    fn at_index(mut self, index: usize) -> Self {
        self.rev_path.push(Seg::Index(index));
        self
    }

    fn at_elem(mut self, desc: String) -> Self {
        self.rev_path.push(Seg::Elem(desc));
        self
    }

    /// The failing field, e.g. `spec.template.spec.containers[name=app].ports[1]`;
    /// empty for the document root.
    pub fn path(&self) -> String {
        let mut out = String::new();
        for seg in self.rev_path.iter().rev() {
            match seg {
                Seg::Key(k) => {
                    let plain = !k.is_empty()
                        && k.chars()
                            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '$'));
                    if plain {
                        if !out.is_empty() {
                            out.push('.');
                        }
                        out.push_str(k);
                    } else {
                        out.push_str(&format!("[{k:?}]"));
                    }
                }
                Seg::Index(i) => out.push_str(&format!("[{i}]")),
                Seg::Elem(d) => out.push_str(&format!("[{d}]")),
            }
        }
        out
    }

    /// The failure itself, without the path.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for MergePatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path();
        if path.is_empty() {
            write!(f, "at the document root: {}", self.message)
        } else {
            write!(f, "at {path}: {}", self.message)
        }
    }
}

impl std::error::Error for MergePatchError {}

type Result<T> = std::result::Result<T, MergePatchError>;

/// Applies the strategic merge patch `patch` to `target` in place.
///
/// `ctx` names the target's type; it selects the merge keys (if it is not a
/// built-in type, the patch's own `apiVersion`/`kind` is tried, as kustomize
/// does). A top-level `$patch: replace` leaves the target unchanged, as in
/// kustomize. Restoring `metadata.name`/`namespace`/`kind` afterwards
/// (kustomize does unless name/kind changes are allowed) is the caller's job.
pub fn apply(
    target: &mut Value,
    patch: &Value,
    ctx: &SmpContext<'_>,
) -> std::result::Result<Outcome, MergePatchError> {
    apply_with_schema(target, patch, ctx, &openapi::BUILTIN)
}

/// [`apply`] with the schemas `set` in use instead of kustomize's built-in one (a custom
/// `openapi` schema, see `schema::openapi`).
pub fn apply_with_schema(
    target: &mut Value,
    patch: &Value,
    ctx: &SmpContext<'_>,
    set: &SchemaSet,
) -> std::result::Result<Outcome, MergePatchError> {
    let Value::Object(pm) = patch else {
        return Err(MergePatchError::new(format!(
            "a strategic merge patch must be a mapping, not {}",
            kind_name(patch)
        )));
    };
    let Value::Object(tm) = target else {
        return Err(MergePatchError::new(format!(
            "the patched resource must be a mapping, not {}",
            kind_name(target)
        )));
    };
    match map_directive(pm)? {
        Some(Directive::Delete) => return Ok(Outcome::DeleteResource),
        // kustomize swaps in the patch as a new node but keeps the old
        // resource node, so a top-level replace changes nothing.
        Some(Directive::Replace) => return Ok(Outcome::Merged),
        Some(Directive::Merge) | None => {}
    }
    let unknown = Schema {
        set,
        node: Sch::Unknown,
    };
    let schema = match kind_schema(set, ctx.api_version, ctx.kind) {
        Some(t) => unknown.with(t),
        None => resolve(unknown, Some(tm), Some(pm)),
    };
    merge_map(tm, pm, schema)?;
    Ok(Outcome::Merged)
}

// ---------------------------------------------------------------------------
// Schema data: which list merges on which key, where
// ---------------------------------------------------------------------------

/// Schema node types: classes of equivalent Kubernetes OpenAPI definitions
/// (v1.21.2, the schema built into kustomize v5.5), reduced to what leads to
/// a merge list. `Inert` is any known type with no merge list below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    Inert,
    ComponentStatus,
    ConditionsStatus,
    Container,
    CronJob,
    CronJobSpec,
    CsiNode,
    CsiNodeSpec,
    EphemeralContainer,
    EphemeralVolumeSource,
    JobTemplateSpec,
    Kustomization,
    MetaAndStatus,
    MetaOnly,
    Node,
    NodeSpec,
    NodeStatus,
    ObjectMeta,
    Pod,
    PodSpec,
    PodStatus,
    PodTemplate,
    PodTemplateSpec,
    Service,
    ServiceAccount,
    ServiceSpec,
    Volume,
    WebhookConfiguration,
    Workload,
    WorkloadSpec,
}

/// What a field of a schema type is.
#[derive(Debug, Clone, Copy)]
enum Rule {
    /// A nested object of the given type.
    Object(Ty),
    /// `patchStrategy: merge` list of objects, merged on these keys
    /// (`x-kubernetes-list-map-keys` when given, else `patchMergeKey`);
    /// elements are of the given type.
    Keyed(&'static [&'static str], Ty),
    /// `patchStrategy: merge` list of scalars (set union).
    Primitive,
}

/// The merge-key table: `(type, field, rule)`. Fields not listed are plain
/// (maps merge, lists are replaced). Generated from kustomize's embedded
/// OpenAPI document, keeping only the paths that reach a merge list.
#[rustfmt::skip]
static FIELDS: &[(Ty, &str, Rule)] = &[
    (Ty::ComponentStatus, "conditions", Rule::Keyed(&["type"], Ty::Inert)),
    (Ty::ComponentStatus, "metadata", Rule::Object(Ty::ObjectMeta)),
    (Ty::ConditionsStatus, "conditions", Rule::Keyed(&["type"], Ty::Inert)),
    (Ty::Container, "env", Rule::Keyed(&["name"], Ty::Inert)),
    (Ty::Container, "ports", Rule::Keyed(&["containerPort", "protocol"], Ty::Inert)),
    (Ty::Container, "volumeDevices", Rule::Keyed(&["devicePath"], Ty::Inert)),
    (Ty::Container, "volumeMounts", Rule::Keyed(&["mountPath"], Ty::Inert)),
    (Ty::CronJob, "metadata", Rule::Object(Ty::ObjectMeta)),
    (Ty::CronJob, "spec", Rule::Object(Ty::CronJobSpec)),
    (Ty::CronJobSpec, "jobTemplate", Rule::Object(Ty::JobTemplateSpec)),
    (Ty::CsiNode, "metadata", Rule::Object(Ty::ObjectMeta)),
    (Ty::CsiNode, "spec", Rule::Object(Ty::CsiNodeSpec)),
    (Ty::CsiNodeSpec, "drivers", Rule::Keyed(&["name"], Ty::Inert)),
    (Ty::EphemeralContainer, "env", Rule::Keyed(&["name"], Ty::Inert)),
    (Ty::EphemeralContainer, "volumeDevices", Rule::Keyed(&["devicePath"], Ty::Inert)),
    (Ty::EphemeralContainer, "volumeMounts", Rule::Keyed(&["mountPath"], Ty::Inert)),
    (Ty::EphemeralVolumeSource, "volumeClaimTemplate", Rule::Object(Ty::MetaOnly)),
    (Ty::JobTemplateSpec, "metadata", Rule::Object(Ty::ObjectMeta)),
    (Ty::JobTemplateSpec, "spec", Rule::Object(Ty::WorkloadSpec)),
    (Ty::Kustomization, "configMapGenerator", Rule::Keyed(&["name"], Ty::Inert)),
    (Ty::Kustomization, "secretGenerator", Rule::Keyed(&["name"], Ty::Inert)),
    (Ty::MetaAndStatus, "metadata", Rule::Object(Ty::ObjectMeta)),
    (Ty::MetaAndStatus, "status", Rule::Object(Ty::ConditionsStatus)),
    (Ty::MetaOnly, "metadata", Rule::Object(Ty::ObjectMeta)),
    (Ty::Node, "metadata", Rule::Object(Ty::ObjectMeta)),
    (Ty::Node, "spec", Rule::Object(Ty::NodeSpec)),
    (Ty::Node, "status", Rule::Object(Ty::NodeStatus)),
    (Ty::NodeSpec, "podCIDRs", Rule::Primitive),
    (Ty::NodeStatus, "addresses", Rule::Keyed(&["type"], Ty::Inert)),
    (Ty::NodeStatus, "conditions", Rule::Keyed(&["type"], Ty::Inert)),
    (Ty::ObjectMeta, "finalizers", Rule::Primitive),
    (Ty::ObjectMeta, "ownerReferences", Rule::Keyed(&["uid"], Ty::Inert)),
    (Ty::Pod, "metadata", Rule::Object(Ty::ObjectMeta)),
    (Ty::Pod, "spec", Rule::Object(Ty::PodSpec)),
    (Ty::Pod, "status", Rule::Object(Ty::PodStatus)),
    (Ty::PodSpec, "containers", Rule::Keyed(&["name"], Ty::Container)),
    (Ty::PodSpec, "ephemeralContainers", Rule::Keyed(&["name"], Ty::EphemeralContainer)),
    (Ty::PodSpec, "hostAliases", Rule::Keyed(&["ip"], Ty::Inert)),
    (Ty::PodSpec, "imagePullSecrets", Rule::Keyed(&["name"], Ty::Inert)),
    (Ty::PodSpec, "initContainers", Rule::Keyed(&["name"], Ty::Container)),
    (
        Ty::PodSpec,
        "topologySpreadConstraints",
        Rule::Keyed(&["topologyKey", "whenUnsatisfiable"], Ty::Inert),
    ),
    (Ty::PodSpec, "volumes", Rule::Keyed(&["name"], Ty::Volume)),
    (Ty::PodStatus, "conditions", Rule::Keyed(&["type"], Ty::Inert)),
    (Ty::PodStatus, "podIPs", Rule::Keyed(&["ip"], Ty::Inert)),
    (Ty::PodTemplate, "metadata", Rule::Object(Ty::ObjectMeta)),
    (Ty::PodTemplate, "template", Rule::Object(Ty::PodTemplateSpec)),
    (Ty::PodTemplateSpec, "metadata", Rule::Object(Ty::ObjectMeta)),
    (Ty::PodTemplateSpec, "spec", Rule::Object(Ty::PodSpec)),
    (Ty::Service, "metadata", Rule::Object(Ty::ObjectMeta)),
    (Ty::Service, "spec", Rule::Object(Ty::ServiceSpec)),
    (Ty::Service, "status", Rule::Object(Ty::ConditionsStatus)),
    (Ty::ServiceAccount, "metadata", Rule::Object(Ty::ObjectMeta)),
    (Ty::ServiceAccount, "secrets", Rule::Keyed(&["name"], Ty::Inert)),
    (Ty::ServiceSpec, "ports", Rule::Keyed(&["port", "protocol"], Ty::Inert)),
    (Ty::Volume, "ephemeral", Rule::Object(Ty::EphemeralVolumeSource)),
    (Ty::WebhookConfiguration, "metadata", Rule::Object(Ty::ObjectMeta)),
    (Ty::WebhookConfiguration, "webhooks", Rule::Keyed(&["name"], Ty::Inert)),
    (Ty::Workload, "metadata", Rule::Object(Ty::ObjectMeta)),
    (Ty::Workload, "spec", Rule::Object(Ty::WorkloadSpec)),
    (Ty::Workload, "status", Rule::Object(Ty::ConditionsStatus)),
    (Ty::WorkloadSpec, "template", Rule::Object(Ty::PodTemplateSpec)),
];

/// Built-in kinds of kustomize's schema, by apiVersion, with their root type.
/// Kinds absent here (CRDs, removed API versions, `…List`) have no schema.
#[rustfmt::skip]
static KINDS: &[(&str, &[(&str, Ty)])] = {
    use Ty::*;
    &[
        ("v1", &[
            ("Binding", MetaOnly), ("ComponentStatus", ComponentStatus), ("ConfigMap", MetaOnly),
            ("Endpoints", MetaOnly), ("Event", MetaOnly), ("LimitRange", MetaOnly),
            ("Namespace", MetaAndStatus), ("Node", Node), ("PersistentVolume", MetaOnly),
            ("PersistentVolumeClaim", MetaAndStatus), ("Pod", Pod), ("PodTemplate", PodTemplate),
            ("ReplicationController", Workload), ("ResourceQuota", MetaOnly), ("Secret", MetaOnly),
            ("Service", Service), ("ServiceAccount", ServiceAccount),
        ]),
        ("apps/v1", &[
            ("ControllerRevision", MetaOnly), ("DaemonSet", Workload), ("Deployment", Workload),
            ("ReplicaSet", Workload), ("StatefulSet", Workload),
        ]),
        ("batch/v1", &[("CronJob", CronJob), ("Job", Workload)]),
        ("batch/v1beta1", &[("CronJob", CronJob)]),
        ("admissionregistration.k8s.io/v1", &[
            ("MutatingWebhookConfiguration", WebhookConfiguration),
            ("ValidatingWebhookConfiguration", WebhookConfiguration),
        ]),
        ("admissionregistration.k8s.io/v1beta1", &[
            ("MutatingWebhookConfiguration", WebhookConfiguration),
            ("ValidatingWebhookConfiguration", WebhookConfiguration),
        ]),
        ("apiextensions.k8s.io/v1", &[("CustomResourceDefinition", MetaOnly)]),
        ("apiextensions.k8s.io/v1beta1", &[("CustomResourceDefinition", MetaOnly)]),
        ("apiregistration.k8s.io/v1", &[("APIService", MetaAndStatus)]),
        ("apiregistration.k8s.io/v1beta1", &[("APIService", MetaAndStatus)]),
        ("authentication.k8s.io/v1", &[("TokenRequest", MetaOnly), ("TokenReview", MetaOnly)]),
        ("authentication.k8s.io/v1beta1", &[("TokenReview", MetaOnly)]),
        ("authorization.k8s.io/v1", &[
            ("LocalSubjectAccessReview", MetaOnly), ("SelfSubjectAccessReview", MetaOnly),
            ("SelfSubjectRulesReview", MetaOnly), ("SubjectAccessReview", MetaOnly),
        ]),
        ("authorization.k8s.io/v1beta1", &[
            ("LocalSubjectAccessReview", MetaOnly), ("SelfSubjectAccessReview", MetaOnly),
            ("SelfSubjectRulesReview", MetaOnly), ("SubjectAccessReview", MetaOnly),
        ]),
        ("autoscaling/v1", &[("HorizontalPodAutoscaler", MetaOnly), ("Scale", MetaOnly)]),
        ("autoscaling/v2beta1", &[("HorizontalPodAutoscaler", MetaOnly)]),
        ("autoscaling/v2beta2", &[("HorizontalPodAutoscaler", MetaOnly)]),
        ("certificates.k8s.io/v1", &[("CertificateSigningRequest", MetaOnly)]),
        ("certificates.k8s.io/v1beta1", &[("CertificateSigningRequest", MetaOnly)]),
        ("coordination.k8s.io/v1", &[("Lease", MetaOnly)]),
        ("coordination.k8s.io/v1beta1", &[("Lease", MetaOnly)]),
        ("discovery.k8s.io/v1", &[("EndpointSlice", MetaOnly)]),
        ("discovery.k8s.io/v1beta1", &[("EndpointSlice", MetaOnly)]),
        ("events.k8s.io/v1", &[("Event", MetaOnly)]),
        ("events.k8s.io/v1beta1", &[("Event", MetaOnly)]),
        ("extensions/v1beta1", &[("Ingress", MetaOnly)]),
        ("flowcontrol.apiserver.k8s.io/v1beta1", &[
            ("FlowSchema", MetaOnly), ("PriorityLevelConfiguration", MetaOnly),
        ]),
        ("networking.k8s.io/v1", &[
            ("Ingress", MetaOnly), ("IngressClass", MetaOnly), ("NetworkPolicy", MetaOnly),
        ]),
        ("networking.k8s.io/v1beta1", &[("Ingress", MetaOnly), ("IngressClass", MetaOnly)]),
        ("node.k8s.io/v1", &[("RuntimeClass", MetaOnly)]),
        ("node.k8s.io/v1beta1", &[("RuntimeClass", MetaOnly)]),
        ("policy/v1", &[("PodDisruptionBudget", MetaAndStatus)]),
        ("policy/v1beta1", &[
            ("Eviction", MetaOnly), ("PodDisruptionBudget", MetaAndStatus),
            ("PodSecurityPolicy", MetaOnly),
        ]),
        ("rbac.authorization.k8s.io/v1", &[
            ("ClusterRole", MetaOnly), ("ClusterRoleBinding", MetaOnly), ("Role", MetaOnly),
            ("RoleBinding", MetaOnly),
        ]),
        ("rbac.authorization.k8s.io/v1beta1", &[
            ("ClusterRole", MetaOnly), ("ClusterRoleBinding", MetaOnly), ("Role", MetaOnly),
            ("RoleBinding", MetaOnly),
        ]),
        ("scheduling.k8s.io/v1", &[("PriorityClass", MetaOnly)]),
        ("scheduling.k8s.io/v1beta1", &[("PriorityClass", MetaOnly)]),
        ("storage.k8s.io/v1", &[
            ("CSIDriver", MetaOnly), ("CSINode", CsiNode), ("StorageClass", MetaOnly),
            ("VolumeAttachment", MetaOnly),
        ]),
        ("storage.k8s.io/v1beta1", &[
            ("CSIDriver", MetaOnly), ("CSINode", CsiNode), ("CSIStorageCapacity", MetaOnly),
            ("StorageClass", MetaOnly), ("VolumeAttachment", MetaOnly),
        ]),
        ("kustomize.config.k8s.io/v1beta1", &[("Kustomization", Kustomization)]),
    ]
};

fn builtin_type(api_version: &str, kind: &str) -> Option<Ty> {
    KINDS
        .iter()
        .find(|(gv, _)| *gv == api_version)
        .and_then(|(_, kinds)| kinds.iter().find(|(k, _)| *k == kind))
        .map(|&(_, t)| t)
}

/// A built-in definition by name (`io.k8s.api.core.v1.PodSpec`): its index.
fn builtin_def(name: &str) -> Option<u16> {
    defs::DEFINITIONS
        .binary_search_by(|(n, _)| (*n).cmp(name))
        .ok()
        .and_then(|i| u16::try_from(i).ok())
}

/// The schema of built-in definition `index` with the schemas in use: its merge type, or,
/// when a custom schema loaded after the built-in one may replace definitions it refers
/// to, the definition itself (walked by name).
fn builtin_node(set: &SchemaSet, index: u16) -> Sch {
    let ty = defs::DEFINITIONS[usize::from(index)].1;
    if ty == Ty::Inert || !by_name(set) {
        Sch::Known(ty)
    } else {
        Sch::Builtin(index)
    }
}

/// Whether built-in definitions are walked by name: a custom schema was loaded after the
/// built-in one, so its definitions replace built-in ones of the same name everywhere.
fn by_name(set: &SchemaSet) -> bool {
    set.builtin && set.custom.is_some() && set.custom_last
}

/// A definition by name in the schemas in use, the one loaded last first.
fn named(set: &SchemaSet, name: &str) -> Option<Result<Sch>> {
    let custom = || {
        set.custom
            .as_deref()
            .and_then(|c| c.definition(name).map(|id| (c, id)))
    };
    let builtin = || set.builtin.then(|| builtin_def(name)).flatten();
    if set.custom_last {
        if let Some((c, id)) = custom() {
            return Some(deref(set, c, id));
        }
        builtin().map(|i| Ok(builtin_node(set, i)))
    } else {
        if let Some(i) = builtin() {
            return Some(Ok(builtin_node(set, i)));
        }
        custom().map(|(c, id)| deref(set, c, id))
    }
}

/// What is known at a node: nothing, a built-in type, or a node of the custom schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sch {
    /// No schema (custom resources without a custom schema, unknown fields): lists are
    /// replaced, but a map carrying the apiVersion/kind of a kind with a schema picks up that
    /// schema.
    Unknown,
    Known(Ty),
    /// A built-in definition walked by name (index into `defs::DEFINITIONS`); see
    /// [`by_name`].
    Builtin(u16),
    /// A node of the custom schema, its `$ref`s followed (except at a kind's root, where
    /// kyaml does not follow them either).
    Custom(NodeId),
}

/// Schema knowledge at a node, with the schemas in use.
#[derive(Debug, Clone, Copy)]
struct Schema<'s> {
    set: &'s SchemaSet,
    node: Sch,
}

impl<'s> Schema<'s> {
    fn with(self, node: Sch) -> Schema<'s> {
        Schema {
            set: self.set,
            node,
        }
    }

    fn inert(self) -> Schema<'s> {
        self.with(Sch::Known(Ty::Inert))
    }

    fn is_inert(self) -> bool {
        self.node == Sch::Known(Ty::Inert)
    }

    fn custom(self) -> &'s CustomSchema {
        self.set
            .custom
            .as_deref()
            .expect("a custom schema node comes with its schema")
    }
}

/// The schema of a kind: kustomize's kustomization schema (always loaded last), then the
/// built-in and custom schemas in use, the one loaded last first.
fn kind_schema(set: &SchemaSet, api_version: &str, kind: &str) -> Option<Sch> {
    if api_version == "kustomize.config.k8s.io/v1beta1" && kind == "Kustomization" {
        return Some(Sch::Known(Ty::Kustomization));
    }
    let builtin = || {
        if !set.builtin {
            return None;
        }
        let t = builtin_type(api_version, kind)?;
        if !by_name(set) {
            return Some(Sch::Known(t));
        }
        let i = defs::KIND_DEFINITIONS
            .binary_search_by(|(a, k, _)| (*a, *k).cmp(&(api_version, kind)))
            .ok()?;
        builtin_def(defs::KIND_DEFINITIONS[i].2).map(|d| builtin_node(set, d))
    };
    let custom = || {
        set.custom
            .as_ref()
            .and_then(|c| c.kind(api_version, kind))
            .map(Sch::Custom)
    };
    if set.custom_last {
        custom().or_else(builtin)
    } else {
        builtin().or_else(custom)
    }
}

/// Longest `$ref` chain followed before giving up (a chain that long is a cycle).
const MAX_REFS: usize = 64;

/// Follows the `$ref`s of custom node `id` to the schema they name.
fn deref(set: &SchemaSet, c: &CustomSchema, mut id: NodeId) -> Result<Sch> {
    for _ in 0..MAX_REFS {
        let Some(r) = &c.node_at(id).reference else {
            return Ok(Sch::Custom(id));
        };
        match lookup_ref(set, c, r)? {
            Sch::Custom(next) => id = next,
            other => return Ok(other),
        }
    }
    Err(MergePatchError::new(format!(
        "the OpenAPI schema's `$ref`s form a cycle (through {})",
        c.describe(
            &c.node_at(id)
                .reference
                .as_ref()
                .map_or(Vec::new(), |r| r.at.clone())
        )
    )))
}

/// The schema a `$ref` names: a definition of the custom schema or of the built-in one
/// (when loaded), the one loaded last first.
fn lookup_ref(set: &SchemaSet, c: &CustomSchema, r: &Reference) -> Result<Sch> {
    let RefTarget::Definition { name, rest } = &r.target else {
        return Err(MergePatchError::new(format!(
            "`$ref: {}` at {} is not a reference to a definition of the schema \
             (`#/definitions/NAME`); kustomize would give this field no schema",
            r.text,
            c.describe(&r.at)
        )));
    };
    let custom = || c.definition(name).map(Sch::Custom);
    let builtin = || {
        set.builtin
            .then(|| builtin_def(name))
            .flatten()
            .map(|i| builtin_node(set, i))
    };
    let found = if set.custom_last {
        custom().or_else(builtin)
    } else {
        builtin().or_else(custom)
    };
    match found {
        Some(Sch::Custom(d)) => c.follow(d, rest).map(Sch::Custom).ok_or_else(|| {
            MergePatchError::new(format!(
                "`$ref: {}` at {} leads to no schema inside definition `{name}`",
                r.text,
                c.describe(&r.at)
            ))
        }),
        Some(t @ (Sch::Known(_) | Sch::Builtin(_))) if rest.is_empty() => Ok(t),
        Some(_) => Err(MergePatchError::new(format!(
            "`$ref: {}` at {} points inside the built-in definition `{name}`, which strata \
             does not support; refer to a whole definition",
            r.text,
            c.describe(&r.at)
        ))),
        None => {
            let hint = if builtin_def(name).is_some() {
                " (kustomize does not add its built-in definitions to a custom schema here; \
                 copy the definition into the schema file)"
            } else {
                ""
            };
            Err(MergePatchError::new(format!(
                "the OpenAPI schema has no definition `{name}` (`$ref` at {}){hint}; kustomize \
                 would silently give this field no merge keys",
                c.describe(&r.at)
            )))
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Keys<'s> {
    Static(&'static [&'static str]),
    Custom(&'s [String]),
}

impl<'s> Keys<'s> {
    fn strs(self) -> Cow<'s, [&'s str]> {
        match self {
            Keys::Static(k) => Cow::Borrowed(k),
            Keys::Custom(k) => Cow::Owned(k.iter().map(String::as_str).collect()),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum ListRule<'s> {
    Replace,
    Keyed(Keys<'s>),
    Primitive,
}

/// How to treat a field's value: schema if it is a map, list rule and
/// element schema if it is a list.
#[derive(Debug, Clone, Copy)]
struct Slot<'s> {
    obj: Schema<'s>,
    list: ListRule<'s>,
    elem: Schema<'s>,
}

/// The slot of a value whose own schema is `schema` (a list element, or a field whose
/// schema was found): a custom node brings its list rule and element schema.
fn elem_slot(schema: Schema<'_>) -> Result<Slot<'_>> {
    let Sch::Custom(id) = schema.node else {
        return Ok(Slot {
            obj: schema,
            list: ListRule::Replace,
            elem: schema.inert(),
        });
    };
    let c = schema.custom();
    let n = c.node_at(id);
    let list = match &n.list {
        ListMerge::Replace => ListRule::Replace,
        ListMerge::Keyed(k) => ListRule::Keyed(Keys::Custom(k)),
        ListMerge::Primitive => ListRule::Primitive,
    };
    let elem = match n.items {
        Some(i) => schema.with(deref(schema.set, c, i)?),
        None => schema.with(Sch::Unknown),
    };
    Ok(Slot {
        obj: schema,
        list,
        elem,
    })
}

fn field_slot<'s>(parent: Schema<'s>, field: &str) -> Result<Slot<'s>> {
    let t = match parent.node {
        Sch::Unknown => {
            return Ok(Slot {
                obj: parent,
                list: ListRule::Replace,
                elem: parent,
            });
        }
        Sch::Known(Ty::Inert) => return elem_slot(parent),
        Sch::Known(t) => t,
        Sch::Builtin(i) => return builtin_field_slot(parent, i, field),
        Sch::Custom(id) => {
            // kyaml: the field's schema, else the map's value schema; none makes the field
            // unknown (a nested resource then picks up its kind's schema).
            let c = parent.custom();
            let n = c.node_at(id);
            return match n.properties.get(field).copied().or(n.additional) {
                Some(f) => elem_slot(parent.with(deref(parent.set, c, f)?)),
                None => field_slot(parent.with(Sch::Unknown), field),
            };
        }
    };
    Ok(
        match FIELDS.iter().find(|(ty, f, _)| *ty == t && *f == field) {
            Some(&(_, _, Rule::Object(c))) => elem_slot(parent.with(Sch::Known(c)))?,
            // A map where the schema wants a list has no schema below it.
            Some(&(_, _, Rule::Keyed(keys, e))) => Slot {
                obj: parent.with(Sch::Unknown),
                list: ListRule::Keyed(Keys::Static(keys)),
                elem: parent.with(Sch::Known(e)),
            },
            Some(&(_, _, Rule::Primitive)) => Slot {
                obj: parent.with(Sch::Unknown),
                list: ListRule::Primitive,
                elem: parent.inert(),
            },
            None => elem_slot(parent.inert())?,
        },
    )
}

/// A field of a built-in definition walked by name: the definition it refers to is looked
/// up in the schemas in use (a custom one may replace it).
fn builtin_field_slot<'s>(parent: Schema<'s>, index: u16, field: &str) -> Result<Slot<'s>> {
    let name = defs::DEFINITIONS[usize::from(index)].0;
    let lo = defs::NAMED_FIELDS.partition_point(|(d, _, _)| *d < name);
    let row = defs::NAMED_FIELDS[lo..]
        .iter()
        .take_while(|(d, _, _)| *d == name)
        .find(|(_, f, _)| *f == field);
    let set = parent.set;
    let node = |target: &str| -> Result<Sch> {
        named(set, target).unwrap_or_else(|| {
            Err(MergePatchError::new(format!(
                "internal: built-in definition `{target}` is missing"
            )))
        })
    };
    Ok(match row {
        None => elem_slot(parent.inert())?,
        Some((_, _, NamedRule::Object(target))) => elem_slot(parent.with(node(target)?))?,
        Some((_, _, NamedRule::Keyed(keys, elem))) => Slot {
            obj: parent.with(Sch::Unknown),
            list: ListRule::Keyed(Keys::Static(keys)),
            elem: match elem {
                Some(e) => parent.with(node(e)?),
                None => parent.inert(),
            },
        },
        Some((_, _, NamedRule::Primitive)) => Slot {
            obj: parent.with(Sch::Unknown),
            list: ListRule::Primitive,
            elem: parent.inert(),
        },
    })
}

/// Where the schema is unknown, a map with the apiVersion/kind of a kind with a schema
/// (target first, then patch) selects that schema.
fn resolve<'s>(
    s: Schema<'s>,
    a: Option<&Map<String, Value>>,
    b: Option<&Map<String, Value>>,
) -> Schema<'s> {
    if s.node != Sch::Unknown {
        return s;
    }
    for m in [a, b].into_iter().flatten() {
        if let (Some(Value::String(av)), Some(Value::String(k))) =
            (m.get("apiVersion"), m.get("kind"))
            && let Some(t) = kind_schema(s.set, av, k)
        {
            return s.with(t);
        }
    }
    s
}

// ---------------------------------------------------------------------------
// Directives and small helpers
// ---------------------------------------------------------------------------

const DIRECTIVE: &str = "$patch";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Directive {
    Merge,
    Replace,
    Delete,
}

fn parse_directive(v: &Value) -> Result<Directive> {
    match v.as_str() {
        Some("merge") => Ok(Directive::Merge),
        Some("replace") => Ok(Directive::Replace),
        Some("delete") => Ok(Directive::Delete),
        _ => Err(MergePatchError::new(format!(
            "unknown patch strategy '{}' (expected merge, replace or delete)",
            scalar_text(v)
        ))),
    }
}

fn map_directive(m: &Map<String, Value>) -> Result<Option<Directive>> {
    match m.get(DIRECTIVE) {
        None => Ok(None),
        Some(v) => parse_directive(v)
            .map(Some)
            .map_err(|e| e.at_key(DIRECTIVE)),
    }
}

/// List elements with their index in the patch list.
type Indexed<'v> = Vec<(usize, &'v Value)>;

/// A patch list's own directive: the first element holding `$patch`, if that
/// is its only key. Returns it and the remaining elements with their indices
/// (the directive elements removed, as kustomize does, along with empty ones).
fn list_directive(items: &[Value]) -> Result<(Option<Directive>, Indexed<'_>)> {
    let all = || items.iter().enumerate().collect::<Vec<_>>();
    let found = items.iter().enumerate().find_map(|(i, v)| match v {
        Value::Object(m) if m.contains_key(DIRECTIVE) => Some((i, m)),
        _ => None,
    });
    let Some((i, m)) = found else {
        return Ok((None, all()));
    };
    if m.len() != 1 {
        return Ok((None, all()));
    }
    let raw = m.get(DIRECTIVE).unwrap_or(&Value::Null);
    let d = parse_directive(raw).map_err(|e| e.at_key(DIRECTIVE).at_index(i))?;
    let text = scalar_text(raw);
    let rest = items
        .iter()
        .enumerate()
        .filter(|(_, v)| {
            let is_directive = v
                .get(DIRECTIVE)
                .is_some_and(|x| v.is_object() && scalar_text(x) == text);
            !(v.is_null() || is_empty_map(v) || is_directive)
        })
        .collect();
    Ok((Some(d), rest))
}

/// The scalar's text as YAML holds it (what kustomize compares).
fn scalar_text(v: &Value) -> Cow<'_, str> {
    match v {
        Value::String(s) => Cow::Borrowed(s),
        Value::Number(n) => Cow::Owned(n.to_string()),
        Value::Bool(true) => Cow::Borrowed("true"),
        Value::Bool(false) => Cow::Borrowed("false"),
        Value::Null => Cow::Borrowed("null"),
        Value::Object(_) | Value::Array(_) => Cow::Borrowed(""),
    }
}

/// A merge key's value in an element; "" when missing, null or not a scalar.
fn key_text(elem: &Value, key: &str) -> String {
    match elem.get(key) {
        None | Some(Value::Null | Value::Object(_) | Value::Array(_)) => String::new(),
        Some(v) => scalar_text(v).into_owned(),
    }
}

fn is_empty_map(v: &Value) -> bool {
    matches!(v, Value::Object(m) if m.is_empty())
}

fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Object(_) => "a mapping",
        Value::Array(_) => "a list",
        Value::Null => "null",
        _ => "a scalar",
    }
}

/// Result of merging into an existing target value.
enum Act {
    /// Keep the (possibly modified in place) target value.
    Keep,
    /// Remove the field / element.
    Remove,
    /// Put this value in place of the target value.
    Replace(Value),
}

// ---------------------------------------------------------------------------
// The walk
// ---------------------------------------------------------------------------

/// Merges `p` into the existing value `t`.
fn merge_value(t: &mut Value, p: &Value, slot: Slot<'_>) -> Result<Act> {
    if p.is_null() {
        return Ok(Act::Remove);
    }
    if t.is_null() {
        return Ok(add_value(p, slot)?.map_or(Act::Remove, Act::Replace));
    }
    match (t, p) {
        (Value::Object(tm), Value::Object(pm)) => match map_directive(pm)? {
            Some(Directive::Delete) => Ok(Act::Remove),
            Some(Directive::Replace) => Ok(add_value(p, slot)?.map_or(Act::Remove, Act::Replace)),
            Some(Directive::Merge) | None => {
                let schema = resolve(slot.obj, Some(tm), Some(pm));
                merge_map(tm, pm, schema)?;
                Ok(Act::Keep)
            }
        },
        (Value::Array(ta), Value::Array(pa)) => match slot.list {
            ListRule::Replace => Ok(Act::Replace(p.clone())),
            ListRule::Keyed(keys) => merge_keyed(ta, pa, &keys.strs(), slot.elem),
            ListRule::Primitive => merge_primitive(ta, pa),
        },
        (t, p) if t.is_object() || t.is_array() || p.is_object() || p.is_array() => {
            Err(MergePatchError::new(format!(
                "type mismatch: the resource has {} here but the patch has {}",
                kind_name(t),
                kind_name(p)
            )))
        }
        (_, p) => Ok(Act::Replace(p.clone())),
    }
}

/// Merges the fields of `pm` into `tm` (the map directive is already handled)
/// and walks the target-only fields.
fn merge_map(
    tm: &mut Map<String, Value>,
    pm: &Map<String, Value>,
    schema: Schema<'_>,
) -> Result<()> {
    for (k, pv) in pm {
        if k == DIRECTIVE {
            continue;
        }
        let slot = field_slot(schema, k).map_err(|e| e.at_key(k))?;
        match tm.get_mut(k.as_str()) {
            Some(tv) => match merge_value(tv, pv, slot).map_err(|e| e.at_key(k))? {
                Act::Keep => {}
                Act::Remove => {
                    tm.shift_remove(k.as_str());
                }
                Act::Replace(v) => *tv = v,
            },
            None => {
                if let Some(v) = add_value(pv, slot).map_err(|e| e.at_key(k))? {
                    tm.insert(k.clone(), v);
                }
            }
        }
    }
    if !schema.is_inert() {
        for (k, tv) in tm.iter_mut() {
            if !pm.contains_key(k.as_str()) {
                let slot = field_slot(schema, k).map_err(|e| e.at_key(k))?;
                touch_value(tv, slot).map_err(|e| e.at_key(k))?;
            }
        }
    }
    Ok(())
}

/// Normalises a patch value that has no counterpart in the target: applies
/// its directives and drops its nulls. `None` means "nothing to add".
fn add_value(p: &Value, slot: Slot<'_>) -> Result<Option<Value>> {
    match p {
        Value::Null => Ok(None),
        Value::Object(pm) => {
            if map_directive(pm)? == Some(Directive::Delete) {
                return Ok(None);
            }
            let schema = resolve(slot.obj, None, Some(pm));
            let mut out = Map::with_capacity(pm.len());
            for (k, v) in pm {
                if k == DIRECTIVE {
                    continue;
                }
                let slot = field_slot(schema, k).map_err(|e| e.at_key(k))?;
                if let Some(nv) = add_value(v, slot).map_err(|e| e.at_key(k))? {
                    out.insert(k.clone(), nv);
                }
            }
            Ok(Some(Value::Object(out)))
        }
        Value::Array(pa) => match slot.list {
            ListRule::Replace => Ok(Some(p.clone())),
            ListRule::Keyed(keys) => {
                let (dir, items) = list_directive(pa)?;
                if dir == Some(Directive::Delete) {
                    return Ok(None);
                }
                Ok(Some(Value::Array(normalize_keyed(
                    &items,
                    &keys.strs(),
                    slot.elem,
                )?)))
            }
            ListRule::Primitive => {
                let (dir, items) = list_directive(pa)?;
                if dir == Some(Directive::Delete) {
                    return Ok(None);
                }
                check_scalars(&items, "patch")?;
                let owned = items.into_iter().map(|(_, v)| v.clone()).collect();
                Ok(Some(Value::Array(primitive_union(owned, &[]))))
            }
        },
        _ => Ok(Some(p.clone())),
    }
}

/// Walks a target value the patch does not mention. kustomize merges it with
/// "nothing", which de-duplicates keyed and primitive merge lists.
fn touch_value(t: &mut Value, slot: Slot<'_>) -> Result<()> {
    match t {
        Value::Object(tm) => {
            let schema = resolve(slot.obj, Some(tm), None);
            if schema.is_inert() {
                return Ok(());
            }
            for (k, v) in tm.iter_mut() {
                let slot = field_slot(schema, k).map_err(|e| e.at_key(k))?;
                touch_value(v, slot).map_err(|e| e.at_key(k))?;
            }
            Ok(())
        }
        Value::Array(ta) => match slot.list {
            ListRule::Replace => Ok(()),
            ListRule::Keyed(keys) => {
                let keys = keys.strs();
                // Lists with unkeyed elements are left alone (kustomize would
                // mangle them).
                let Ok(dt) = tuples(ta.iter().enumerate(), &keys, "resource") else {
                    return Ok(());
                };
                let d = std::mem::take(ta);
                *ta = keyed_merge(d, dt, &[], Vec::new(), &keys, slot.elem)?;
                Ok(())
            }
            ListRule::Primitive => {
                if ta.iter().all(|v| !v.is_object() && !v.is_array()) {
                    let d = std::mem::take(ta);
                    *ta = primitive_union(d, &[]);
                }
                Ok(())
            }
        },
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------------------
// Keyed lists
// ---------------------------------------------------------------------------

/// Merge-key values of one element, one string per key ("" = not given).
type Tuple = Vec<String>;

/// Computes the merge-key tuples of list elements; every element must be a
/// map with at least one key value. `side` names the document for errors.
fn tuples<'v>(
    elems: impl Iterator<Item = (usize, &'v Value)>,
    keys: &[&str],
    side: &str,
) -> Result<Vec<Tuple>> {
    let key_list = || {
        keys.iter()
            .map(|k| format!("{k:?}"))
            .collect::<Vec<_>>()
            .join(" or ")
    };
    elems
        .map(|(i, e)| {
            if !e.is_object() {
                return Err(MergePatchError::new(format!(
                    "{side} list element is {}, but this list is merged by key {}",
                    kind_name(e),
                    key_list()
                ))
                .at_index(i));
            }
            let t: Tuple = keys.iter().map(|k| key_text(e, k)).collect();
            if t.iter().all(String::is_empty) {
                let hint =
                    if e.get(DIRECTIVE).is_some() && e.as_object().is_some_and(|m| m.len() == 1) {
                        " (a list-wide `$patch` element is only honoured when no element \
                     before it has a `$patch` key)"
                    } else {
                        ""
                    };
                return Err(MergePatchError::new(format!(
                    "{side} list element has no value for its merge key {}{hint} (give each \
                     element its key: kustomize would leave the merged list empty)",
                    key_list()
                ))
                .at_index(i));
            }
            Ok(t)
        })
        .collect()
}

fn describe(keys: &[&str], t: &[String]) -> String {
    keys.iter()
        .zip(t)
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn merge_keyed(ta: &mut Vec<Value>, pa: &[Value], keys: &[&str], elem: Schema<'_>) -> Result<Act> {
    let (dir, items) = list_directive(pa)?;
    match dir {
        Some(Directive::Delete) => return Ok(Act::Remove),
        Some(Directive::Replace) => {
            return Ok(Act::Replace(Value::Array(normalize_keyed(
                &items, keys, elem,
            )?)));
        }
        Some(Directive::Merge) | None => {}
    }
    let pt = tuples(items.iter().copied(), keys, "patch")?;
    let dt = tuples(ta.iter().enumerate(), keys, "resource")?;
    let d = std::mem::take(ta);
    *ta = keyed_merge(d, dt, &items, pt, keys, elem)?;
    Ok(Act::Keep)
}

/// A keyed patch list with no target counterpart. kustomize merges it with
/// itself: per key value, the first element decides whether the key is
/// deleted; the others are then de-duplicated like target elements.
fn normalize_keyed(
    items: &[(usize, &Value)],
    keys: &[&str],
    elem: Schema<'_>,
) -> Result<Vec<Value>> {
    // Elements that give no merge key at all, added where the target has no list, are
    // copied as written (kustomize does so; merged into a target list they are an error).
    let keyless = |v: &Value| {
        v.as_object()
            .is_some_and(|m| keys.iter().all(|k| !m.contains_key(*k)) && !m.contains_key(DIRECTIVE))
    };
    if !items.is_empty() && items.iter().all(|(_, v)| keyless(v)) {
        let mut out = Vec::with_capacity(items.len());
        for &(i, v) in items {
            if let Some(n) = add_value(v, elem_slot(elem)?).map_err(|e| e.at_index(i))?
                && !is_empty_map(&n)
            {
                out.push(n);
            }
        }
        return Ok(out);
    }
    let pt = tuples(items.iter().copied(), keys, "patch")?;
    let mut deleted: HashSet<&Tuple> = HashSet::new();
    let mut seen: HashSet<&Tuple> = HashSet::with_capacity(pt.len());
    let mut out = Vec::with_capacity(items.len());
    for (t, &(i, v)) in pt.iter().zip(items) {
        let first = seen.insert(t);
        if deleted.contains(t) {
            continue;
        }
        match add_value(v, elem_slot(elem)?).map_err(|e| e.at_index(i))? {
            None if first => {
                deleted.insert(t);
            }
            Some(n) if !is_empty_map(&n) => out.push(n),
            _ => {}
        }
    }
    let dt = tuples(out.iter().enumerate(), keys, "patch")?;
    keyed_merge(out, dt, &[], Vec::new(), keys, elem)
}

/// kustomize's associative-list merge (prepend mode) of patch elements `p`
/// into target elements `d`; `dt`/`pt` are their key tuples.
fn keyed_merge(
    d: Vec<Value>,
    dt: Vec<Tuple>,
    p: &[(usize, &Value)],
    pt: Vec<Tuple>,
    keys: &[&str],
    elem: Schema<'_>,
) -> Result<Vec<Value>> {
    let valid: Vec<usize> = (0..keys.len())
        .filter(|&i| pt.iter().chain(&dt).any(|t| !t[i].is_empty()))
        .collect();
    if let [col] = valid[..] {
        // One key in use: every tuple has it, the others are empty everywhere.
        return merge_single(d, &dt, p, &pt, keys[col], col, elem);
    }
    let full = |ts: &[Tuple]| ts.iter().all(|t| t.iter().all(|v| !v.is_empty()));
    if valid.len() == keys.len() && full(&dt) && full(&pt) {
        return merge_full(d, &dt, p, &pt, keys, elem);
    }
    simulate(d, dt, p, pt, keys, elem)
}

fn take(slots: &mut [Option<Value>], i: usize) -> Value {
    slots.get_mut(i).and_then(Option::take).unwrap_or_default()
}

/// One merge key. Order: keys named by the patch (patch order), then the
/// other target elements. A duplicated target key keeps only its last
/// element, unpatched (kustomize quirk).
fn merge_single(
    d: Vec<Value>,
    dt: &[Tuple],
    p: &[(usize, &Value)],
    pt: &[Tuple],
    key: &str,
    col: usize,
    elem: Schema<'_>,
) -> Result<Vec<Value>> {
    let slot = elem_slot(elem)?;
    let mut d_idx: HashMap<&str, (usize, usize)> = HashMap::with_capacity(dt.len());
    for (i, t) in dt.iter().enumerate() {
        d_idx
            .entry(t[col].as_str())
            .and_modify(|e| e.1 = i)
            .or_insert((i, i));
    }
    let mut p_first: HashMap<&str, usize> = HashMap::with_capacity(pt.len());
    let mut order: Vec<&str> = Vec::with_capacity(pt.len() + dt.len());
    for (j, t) in pt.iter().enumerate() {
        let k = t[col].as_str();
        if !p_first.contains_key(k) {
            p_first.insert(k, j);
            order.push(k);
        }
    }
    for (i, t) in dt.iter().enumerate() {
        let k = t[col].as_str();
        if !p_first.contains_key(k) && d_idx.get(k).is_some_and(|e| e.0 == i) {
            order.push(k);
        }
    }

    let mut slots: Vec<Option<Value>> = d.into_iter().map(Some).collect();
    let mut out = Vec::with_capacity(order.len());
    for k in order {
        let here = |e: MergePatchError| e.at_elem(format!("{key}={k}"));
        match (d_idx.get(k).copied(), p_first.get(k).copied()) {
            (Some((first, last)), None) => {
                if first != last {
                    out.push(take(&mut slots, last));
                } else {
                    let mut v = take(&mut slots, first);
                    touch_value(&mut v, slot).map_err(here)?;
                    out.push(v);
                }
            }
            (None, Some(j)) => {
                if let Some(v) = add_value(p[j].1, slot).map_err(here)?
                    && !is_empty_map(&v)
                {
                    out.push(v);
                }
            }
            (Some((first, last)), Some(j)) => {
                let mut v = take(&mut slots, first);
                match merge_value(&mut v, p[j].1, slot).map_err(here)? {
                    Act::Remove => {}
                    Act::Keep if is_empty_map(&v) => {}
                    // An element-level `$patch: replace` is dropped by
                    // kustomize: the target element stays as it was.
                    Act::Keep | Act::Replace(_) => {
                        if first != last {
                            out.push(take(&mut slots, last));
                        } else {
                            out.push(v);
                        }
                    }
                }
            }
            (None, None) => {}
        }
    }
    Ok(out)
}

/// Several merge keys, all given in every element. Order: patch-only
/// elements first (patch order), then the target elements in target order
/// (duplicates: the last one, unpatched).
fn merge_full(
    d: Vec<Value>,
    dt: &[Tuple],
    p: &[(usize, &Value)],
    pt: &[Tuple],
    keys: &[&str],
    elem: Schema<'_>,
) -> Result<Vec<Value>> {
    let slot = elem_slot(elem)?;
    let mut d_idx: HashMap<&Tuple, (usize, usize)> = HashMap::with_capacity(dt.len());
    for (i, t) in dt.iter().enumerate() {
        d_idx.entry(t).and_modify(|e| e.1 = i).or_insert((i, i));
    }
    let mut slots: Vec<Option<Value>> = d.into_iter().map(Some).collect();
    let mut removed: HashSet<&Tuple> = HashSet::new();
    let mut seen: HashSet<&Tuple> = HashSet::with_capacity(pt.len());
    let mut out = Vec::with_capacity(pt.len() + slots.len());
    for (j, t) in pt.iter().enumerate() {
        if !seen.insert(t) {
            continue;
        }
        let here = |e: MergePatchError| e.at_elem(describe(keys, t));
        match d_idx.get(t).copied() {
            None => {
                if let Some(v) = add_value(p[j].1, slot).map_err(here)?
                    && !is_empty_map(&v)
                {
                    out.push(v);
                }
            }
            Some((first, _)) => {
                let Some(v) = slots.get_mut(first).and_then(Option::as_mut) else {
                    continue;
                };
                match merge_value(v, p[j].1, slot).map_err(here)? {
                    Act::Remove => {
                        removed.insert(t);
                    }
                    Act::Keep if is_empty_map(v) => {
                        removed.insert(t);
                    }
                    Act::Keep | Act::Replace(_) => {}
                }
            }
        }
    }
    for (i, t) in dt.iter().enumerate() {
        let Some(&(first, last)) = d_idx.get(t) else {
            continue;
        };
        if i != last || removed.contains(t) {
            continue;
        }
        let mut v = take(&mut slots, i);
        if first == last && !seen.contains(t) {
            touch_value(&mut v, slot).map_err(|e| e.at_elem(describe(keys, t)))?;
        }
        out.push(v);
    }
    Ok(out)
}

/// Two key tuples match when they share a position with equal values and
/// differ elsewhere only where one side is empty; the result fills the gaps.
fn match_tuples(a: &[String], b: &[String]) -> Option<Tuple> {
    if a.len() != b.len() {
        return None;
    }
    let mut common = false;
    let mut res = Vec::with_capacity(a.len());
    for (x, y) in a.iter().zip(b) {
        if x == y {
            common = true;
            res.push(x.clone());
        } else if !x.is_empty() && !y.is_empty() {
            return None;
        } else if x.is_empty() {
            res.push(y.clone());
        } else {
            res.push(x.clone());
        }
    }
    common.then_some(res)
}

/// Whether object `e` has field `key` with text `val`, or — for an empty
/// `val` — has field `key` at all (kyaml's `FieldMatcher`).
fn field_matches(e: &Value, key: &str, val: &str) -> bool {
    match e.get(key) {
        None => false,
        Some(_) if val.is_empty() => true,
        Some(x) => scalar_text(x) == val,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Item {
    /// Target element (arena index).
    D(usize),
    /// Value built from the patch (arena index).
    O(usize),
}

struct Arena {
    d: Vec<Value>,
    o: Vec<Value>,
}

impl Arena {
    fn get(&self, it: Item) -> Option<&Value> {
        match it {
            Item::D(i) => self.d.get(i),
            Item::O(i) => self.o.get(i),
        }
    }

    fn get_mut(&mut self, it: Item) -> Option<&mut Value> {
        match it {
            Item::D(i) => self.d.get_mut(i),
            Item::O(i) => self.o.get_mut(i),
        }
    }
}

/// kyaml's `ElementSetter`: in `list`, replace every element matching
/// `keys`=`values` with `element` (or remove them when `element` is `None`),
/// appending `element` when nothing matched. Empty elements are dropped.
fn element_setter(
    arena: &Arena,
    list: &mut Vec<Item>,
    element: Option<Item>,
    keys: &[&str],
    values: &[String],
) {
    let mapping_setter = keys.first().is_some_and(|k| !k.is_empty())
        && values.first().is_some_and(|v| !v.is_empty());
    let mut matched = false;
    let mut out = Vec::with_capacity(list.len() + 1);
    for &it in list.iter() {
        let Some(e) = arena.get(it) else { continue };
        if e.is_null() || is_empty_map(e) {
            continue;
        }
        if !e.is_object() && mapping_setter {
            out.push(it);
            continue;
        }
        // Only the first `values.len()` keys are compared; no values, no match.
        let found =
            !values.is_empty() && keys.iter().zip(values).all(|(k, v)| field_matches(e, k, v));
        if !found {
            if !values.is_empty() {
                out.push(it);
            }
            continue;
        }
        matched = true;
        if let Some(el) = element {
            out.push(el);
        }
    }
    if let Some(el) = element
        && !matched
    {
        out.push(el);
    }
    *list = out;
}

/// Literal replay of kyaml's multi-key algorithm (`setAssociativeSequenceElements`
/// then `appendListNode`, prepend mode) for lists whose keys are only partly
/// given. Quadratic; used for short port-like lists only.
fn simulate(
    d: Vec<Value>,
    dt: Vec<Tuple>,
    p: &[(usize, &Value)],
    pt: Vec<Tuple>,
    keys: &[&str],
    elem: Schema<'_>,
) -> Result<Vec<Value>> {
    let slot = elem_slot(elem)?;
    // Unique tuples, patch first.
    let mut values: Vec<Tuple> = Vec::new();
    let mut seen: HashSet<&Tuple> = HashSet::new();
    for t in pt.iter().chain(&dt) {
        if seen.insert(t) {
            values.push(t.clone());
        }
    }
    // mergeValues: reconcile tuples that differ only by missing values.
    let n = values.len();
    for i in 0..n {
        let v1 = values[i].clone();
        for j in 0..n {
            if let Some(m) = match_tuples(&v1, &values[j]) {
                values[i] = m.clone();
                values[j] = m;
            }
        }
    }
    let valid: Vec<usize> = (0..keys.len())
        .filter(|&i| values.iter().any(|t| !t[i].is_empty()))
        .collect();
    let vkeys: Vec<&str> = valid.iter().map(|&i| keys[i]).collect();

    let mut arena = Arena { d, o: Vec::new() };
    let mut d_list: Vec<Item> = (0..arena.d.len()).map(Item::D).collect();
    let mut items: Vec<Item> = Vec::new();
    // kustomize consumes the patch while walking it (directives are elided,
    // new subtrees normalised in place); a tuple visited twice sees that.
    let mut pv: Vec<Value> = p.iter().map(|&(_, v)| v.clone()).collect();
    for t in &values {
        let vv: Vec<String> = valid.iter().map(|&i| t[i].clone()).collect();
        let here = |e: MergePatchError| e.at_elem(describe(&vkeys, &vv));
        // Find the elements by the key values that are given.
        let given: Vec<(&str, &str)> = vkeys
            .iter()
            .zip(&vv)
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (*k, v.as_str()))
            .collect();
        let hit = |e: &Value| e.is_object() && given.iter().all(|(k, v)| field_matches(e, k, v));
        let di = d_list.iter().find_map(|&it| match it {
            Item::D(i) if arena.d.get(i).is_some_and(hit) => Some(i),
            _ => None,
        });
        let pj = pv.iter().position(hit);
        let val: Option<Item> = match (di, pj) {
            (None, None) => None,
            (Some(i), None) => {
                if let Some(v) = arena.d.get_mut(i) {
                    touch_value(v, slot).map_err(here)?;
                }
                Some(Item::D(i))
            }
            (None, Some(j)) => match add_value(&pv[j], slot).map_err(here)? {
                Some(v) => {
                    pv[j] = v.clone();
                    arena.o.push(v);
                    Some(Item::O(arena.o.len() - 1))
                }
                None => {
                    if let Some(m) = pv[j].as_object_mut() {
                        m.shift_remove(DIRECTIVE);
                    }
                    None
                }
            },
            (Some(i), Some(j)) => {
                let Some(v) = arena.d.get_mut(i) else {
                    continue;
                };
                let act = merge_value(v, &pv[j], slot).map_err(here)?;
                consume_directives(&mut pv[j], slot);
                match act {
                    Act::Keep => Some(Item::D(i)),
                    Act::Remove => None,
                    Act::Replace(v) => {
                        arena.o.push(v);
                        Some(Item::O(arena.o.len() - 1))
                    }
                }
            }
        };
        let val = val.filter(|&it| {
            arena
                .get(it)
                .is_some_and(|v| !v.is_null() && !is_empty_map(v))
        });
        let Some(val) = val else {
            element_setter(&arena, &mut d_list, None, &vkeys, &vv);
            continue;
        };
        // Make sure the element carries the key values it was matched on.
        if let Some(Value::Object(m)) = arena.get_mut(val) {
            for (k, v) in vkeys.iter().zip(&vv) {
                if !v.is_empty() && !m.contains_key(*k) {
                    m.insert((*k).to_owned(), infer_scalar(v));
                }
            }
        }
        element_setter(&arena, &mut items, Some(val), &vkeys, &vv);
    }
    // appendListNode: re-insert each remaining target element into the items.
    let mut dst = items;
    for &it in &d_list {
        let Some(e) = arena.get(it) else { continue };
        let mut v: Vec<String> = Vec::with_capacity(vkeys.len());
        for k in &vkeys {
            match e.get(*k) {
                Some(x) => v.push(scalar_text(x).into_owned()),
                None => dst.push(it),
            }
        }
        if vkeys.len() > 1 {
            element_setter(&arena, &mut dst, None, &vkeys, &v);
        }
        element_setter(&arena, &mut dst, Some(it), &vkeys, &v);
    }
    Ok(dst
        .into_iter()
        .filter_map(|it| arena.get(it).cloned())
        .collect())
}

/// Removes the directives a kustomize walk of `v` would have honoured (and
/// elided from the patch): `$patch` of every visited map — nothing below a
/// deleted one — and list-wide directive elements of merge lists.
fn consume_directives(v: &mut Value, slot: Slot<'_>) {
    match v {
        Value::Object(m) => {
            let d = m.get(DIRECTIVE).map(parse_directive);
            if matches!(d, Some(Ok(_))) {
                m.shift_remove(DIRECTIVE);
            }
            if matches!(d, Some(Ok(Directive::Delete))) {
                return;
            }
            let schema = resolve(slot.obj, None, Some(m));
            for (k, c) in m.iter_mut() {
                // The merge walked this path already, so its schema resolves.
                if let Ok(slot) = field_slot(schema, k) {
                    consume_directives(c, slot);
                }
            }
        }
        Value::Array(a) => {
            if matches!(slot.list, ListRule::Replace) {
                return;
            }
            let Ok((dir, rest)) = list_directive(a) else {
                return;
            };
            if dir.is_some() {
                let keep: HashSet<usize> = rest.iter().map(|&(i, _)| i).collect();
                let mut i = 0;
                a.retain(|_| {
                    i += 1;
                    keep.contains(&(i - 1))
                });
            }
            if dir == Some(Directive::Delete) || !matches!(slot.list, ListRule::Keyed(_)) {
                return;
            }
            for e in a.iter_mut() {
                if let Ok(slot) = elem_slot(slot.elem) {
                    consume_directives(e, slot);
                }
            }
        }
        _ => {}
    }
}

/// A plain YAML scalar's value for key text kustomize writes back.
fn infer_scalar(s: &str) -> Value {
    if let Ok(i) = s.parse::<i64>() {
        return Value::from(i);
    }
    match s {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => Value::String(s.to_owned()),
    }
}

// ---------------------------------------------------------------------------
// Primitive merge lists
// ---------------------------------------------------------------------------

fn check_scalars(items: &[(usize, &Value)], side: &str) -> Result<()> {
    match items.iter().find(|(_, v)| v.is_object() || v.is_array()) {
        Some(&(i, v)) => Err(MergePatchError::new(format!(
            "{side} list element is {}, but this list is merged as a set of scalars",
            kind_name(v)
        ))
        .at_index(i)),
        None => Ok(()),
    }
}

fn merge_primitive(ta: &mut Vec<Value>, pa: &[Value]) -> Result<Act> {
    let (dir, items) = list_directive(pa)?;
    match dir {
        Some(Directive::Delete) => return Ok(Act::Remove),
        Some(Directive::Replace) => {
            check_scalars(&items, "patch")?;
            let owned = items.into_iter().map(|(_, v)| v.clone()).collect();
            return Ok(Act::Replace(Value::Array(primitive_union(owned, &[]))));
        }
        Some(Directive::Merge) | None => {}
    }
    check_scalars(&items, "patch")?;
    let tv: Vec<(usize, &Value)> = ta.iter().enumerate().collect();
    check_scalars(&tv, "resource")?;
    let p: Vec<&Value> = items.into_iter().map(|(_, v)| v).collect();
    let d = std::mem::take(ta);
    *ta = primitive_union(d, &p);
    Ok(Act::Keep)
}

/// Set union by scalar text: patch values first, then target-only values;
/// a value present in the target keeps its (last) target form. Nulls go.
fn primitive_union(d: Vec<Value>, p: &[&Value]) -> Vec<Value> {
    let mut d_last: HashMap<String, usize> = HashMap::with_capacity(d.len());
    for (i, v) in d.iter().enumerate() {
        if !v.is_null() {
            d_last.insert(scalar_text(v).into_owned(), i);
        }
    }
    let mut slots: Vec<Option<Value>> = d.into_iter().map(Some).collect();
    let mut done: HashSet<String> = HashSet::new();
    let mut out = Vec::new();
    let mut emit = |text: String, fallback: Option<&Value>, slots: &mut Vec<Option<Value>>| {
        if done.contains(&text) {
            return;
        }
        let v = match d_last.get(&text) {
            Some(&i) => take(slots, i),
            None => fallback.cloned().unwrap_or_default(),
        };
        done.insert(text);
        out.push(v);
    };
    for v in p.iter().filter(|v| !v.is_null()) {
        emit(scalar_text(v).into_owned(), Some(v), &mut slots);
    }
    let d_texts: Vec<String> = slots
        .iter()
        .flatten()
        .filter(|v| !v.is_null())
        .map(|v| scalar_text(v).into_owned())
        .collect();
    for t in d_texts {
        emit(t, None, &mut slots);
    }
    out
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod custom_schema_tests;
