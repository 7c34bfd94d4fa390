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
//! # Deliberate deviations (kustomize silently corrupts data there)
//!
//! * A patch element of a keyed list without its merge key (or not a map) is
//!   an error; kustomize instead deletes every keyed element of that list.
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
    let schema = match builtin_type(ctx.api_version, ctx.kind) {
        Some(t) => Schema::Known(t),
        None => resolve(Schema::Unknown, Some(tm), Some(pm)),
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

/// Schema knowledge at a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Schema {
    /// No schema (custom resources, unknown fields): lists are replaced, but
    /// a map carrying a built-in apiVersion/kind picks up that schema.
    Unknown,
    Known(Ty),
}

const INERT: Schema = Schema::Known(Ty::Inert);

#[derive(Debug, Clone, Copy)]
enum ListRule {
    Replace,
    Keyed(&'static [&'static str]),
    Primitive,
}

/// How to treat a field's value: schema if it is a map, list rule and
/// element schema if it is a list.
#[derive(Debug, Clone, Copy)]
struct Slot {
    obj: Schema,
    list: ListRule,
    elem: Schema,
}

fn elem_slot(schema: Schema) -> Slot {
    Slot {
        obj: schema,
        list: ListRule::Replace,
        elem: INERT,
    }
}

fn field_slot(parent: Schema, field: &str) -> Slot {
    let t = match parent {
        Schema::Unknown => {
            return Slot {
                obj: Schema::Unknown,
                list: ListRule::Replace,
                elem: Schema::Unknown,
            };
        }
        Schema::Known(Ty::Inert) => return elem_slot(INERT),
        Schema::Known(t) => t,
    };
    match FIELDS.iter().find(|(ty, f, _)| *ty == t && *f == field) {
        Some(&(_, _, Rule::Object(c))) => elem_slot(Schema::Known(c)),
        // A map where the schema wants a list has no schema below it.
        Some(&(_, _, Rule::Keyed(keys, e))) => Slot {
            obj: Schema::Unknown,
            list: ListRule::Keyed(keys),
            elem: Schema::Known(e),
        },
        Some(&(_, _, Rule::Primitive)) => Slot {
            obj: Schema::Unknown,
            list: ListRule::Primitive,
            elem: INERT,
        },
        None => elem_slot(INERT),
    }
}

/// Where the schema is unknown, a map with a built-in apiVersion/kind (target
/// first, then patch) selects that type's schema.
fn resolve(s: Schema, a: Option<&Map<String, Value>>, b: Option<&Map<String, Value>>) -> Schema {
    if s != Schema::Unknown {
        return s;
    }
    for m in [a, b].into_iter().flatten() {
        if let (Some(Value::String(av)), Some(Value::String(k))) =
            (m.get("apiVersion"), m.get("kind"))
            && let Some(t) = builtin_type(av, k)
        {
            return Schema::Known(t);
        }
    }
    Schema::Unknown
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
fn merge_value(t: &mut Value, p: &Value, slot: Slot) -> Result<Act> {
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
            ListRule::Keyed(keys) => merge_keyed(ta, pa, keys, slot.elem),
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
fn merge_map(tm: &mut Map<String, Value>, pm: &Map<String, Value>, schema: Schema) -> Result<()> {
    for (k, pv) in pm {
        if k == DIRECTIVE {
            continue;
        }
        let slot = field_slot(schema, k);
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
    if schema != INERT {
        for (k, tv) in tm.iter_mut() {
            if !pm.contains_key(k.as_str()) {
                touch_value(tv, field_slot(schema, k)).map_err(|e| e.at_key(k))?;
            }
        }
    }
    Ok(())
}

/// Normalises a patch value that has no counterpart in the target: applies
/// its directives and drops its nulls. `None` means "nothing to add".
fn add_value(p: &Value, slot: Slot) -> Result<Option<Value>> {
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
                if let Some(nv) = add_value(v, field_slot(schema, k)).map_err(|e| e.at_key(k))? {
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
                    &items, keys, slot.elem,
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
fn touch_value(t: &mut Value, slot: Slot) -> Result<()> {
    match t {
        Value::Object(tm) => {
            let schema = resolve(slot.obj, Some(tm), None);
            if schema == INERT {
                return Ok(());
            }
            for (k, v) in tm.iter_mut() {
                touch_value(v, field_slot(schema, k)).map_err(|e| e.at_key(k))?;
            }
            Ok(())
        }
        Value::Array(ta) => match slot.list {
            ListRule::Replace => Ok(()),
            ListRule::Keyed(keys) => {
                // Lists with unkeyed elements are left alone (kustomize would
                // mangle them).
                let Ok(dt) = tuples(ta.iter().enumerate(), keys, "resource") else {
                    return Ok(());
                };
                let d = std::mem::take(ta);
                *ta = keyed_merge(d, dt, &[], Vec::new(), keys, slot.elem)?;
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
                    "{side} list element has no value for its merge key {}{hint}",
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

fn merge_keyed(
    ta: &mut Vec<Value>,
    pa: &[Value],
    keys: &'static [&'static str],
    elem: Schema,
) -> Result<Act> {
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
fn normalize_keyed(items: &[(usize, &Value)], keys: &[&str], elem: Schema) -> Result<Vec<Value>> {
    let pt = tuples(items.iter().copied(), keys, "patch")?;
    let mut deleted: HashSet<&Tuple> = HashSet::new();
    let mut seen: HashSet<&Tuple> = HashSet::with_capacity(pt.len());
    let mut out = Vec::with_capacity(items.len());
    for (t, &(i, v)) in pt.iter().zip(items) {
        let first = seen.insert(t);
        if deleted.contains(t) {
            continue;
        }
        match add_value(v, elem_slot(elem)).map_err(|e| e.at_index(i))? {
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
    elem: Schema,
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
    elem: Schema,
) -> Result<Vec<Value>> {
    let slot = elem_slot(elem);
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
    elem: Schema,
) -> Result<Vec<Value>> {
    let slot = elem_slot(elem);
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
    elem: Schema,
) -> Result<Vec<Value>> {
    let slot = elem_slot(elem);
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
fn consume_directives(v: &mut Value, slot: Slot) {
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
                consume_directives(c, field_slot(schema, k));
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
                consume_directives(e, elem_slot(slot.elem));
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
mod tests {
    //! Expectations marked "kubectl-confirmed" were first checked against
    //! `kubectl kustomize` (kustomize v5.5.0) on a throwaway tree
    //! (`resources: [base.yaml]`, `patches: [{path: p.yaml}]`); list order and
    //! values match its output (which sorts map keys, so key order is ours).
    use super::*;
    use serde_json::json;

    fn ctx_of(v: &Value) -> (String, String) {
        let c = SmpContext::of(v);
        (c.api_version.to_owned(), c.kind.to_owned())
    }

    fn try_apply(
        target: &mut Value,
        patch: &Value,
    ) -> std::result::Result<Outcome, MergePatchError> {
        let (av, k) = ctx_of(target);
        let ctx = SmpContext {
            api_version: &av,
            kind: &k,
        };
        apply(target, patch, &ctx)
    }

    fn merged(mut target: Value, patch: Value) -> Value {
        match try_apply(&mut target, &patch) {
            Ok(Outcome::Merged) => target,
            other => panic!("unexpected result {other:?}"),
        }
    }

    fn err(mut target: Value, patch: Value) -> MergePatchError {
        match try_apply(&mut target, &patch) {
            Err(e) => e,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    fn deployment(spec: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "web"}, "spec": {"template": {"spec": spec}}})
    }

    fn pod_spec(v: &Value) -> &Value {
        &v["spec"]["template"]["spec"]
    }

    fn names(list: &Value, key: &str) -> Vec<String> {
        list.as_array()
            .expect("a list")
            .iter()
            .map(|e| scalar_text(&e[key]).into_owned())
            .collect()
    }

    fn base() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web", "tier": "fe"}},
            "spec": {"replicas": 1, "template": {"spec": {
                "containers": [
                    {"name": "a", "image": "a:1",
                     "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}],
                     "ports": [{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}]},
                    {"name": "b", "image": "b:1"},
                    {"name": "c", "image": "c:1"}
                ],
                "volumes": [{"name": "v1", "emptyDir": {}}],
                "tolerations": [{"key": "k1", "operator": "Exists"}]
            }}}
        })
    }

    // kubectl-confirmed.
    #[test]
    fn maps_merge_recursively_and_null_deletes() {
        let out = merged(
            base(),
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                   "metadata": {"name": "web", "labels": {"zeta": "z", "alpha": "a", "tier": null},
                                "annotations": {"b": "1", "a": "2"}},
                   "spec": {"replicas": null}}),
        );
        assert_eq!(
            out["metadata"]["labels"],
            json!({"app": "web", "zeta": "z", "alpha": "a"})
        );
        assert_eq!(out["metadata"]["annotations"], json!({"b": "1", "a": "2"}));
        assert!(out["spec"].get("replicas").is_none());
    }

    #[test]
    fn target_key_order_kept_and_new_keys_appended_in_patch_order() {
        let out = merged(
            json!({"kind": "X", "apiVersion": "v9", "b": 1, "a": {"y": 1, "x": 2}}),
            json!({"z": 1, "a": {"w": 1, "x": 3, "v": 2}, "c": 2, "b": null}),
        );
        let keys: Vec<&str> = out
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["kind", "apiVersion", "a", "z", "c"]);
        let inner: Vec<&str> = out["a"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(inner, ["y", "x", "w", "v"]);
        assert_eq!(out["a"]["x"], json!(3));
    }

    // kubectl-confirmed: patched/new containers first in patch order, then the
    // untouched ones; env likewise; tolerations (no merge key) replaced.
    #[test]
    fn containers_and_env_merge_by_name_patch_order_first() {
        let out = merged(
            base(),
            deployment(json!({
                "containers": [
                    {"name": "c", "image": "c:2"},
                    {"name": "new", "image": "new:1"},
                    {"name": "a", "env": [{"name": "Z", "value": "3"}, {"name": "X", "value": "9"}]}
                ],
                "tolerations": [{"key": "k2", "operator": "Exists"}]
            })),
        );
        let ps = pod_spec(&out);
        assert_eq!(names(&ps["containers"], "name"), ["c", "new", "a", "b"]);
        assert_eq!(ps["containers"][0]["image"], json!("c:2"));
        let a = &ps["containers"][2];
        assert_eq!(a["image"], json!("a:1"));
        assert_eq!(
            a["env"],
            json!([{"name": "Z", "value": "3"}, {"name": "X", "value": "9"}, {"name": "Y", "value": "2"}])
        );
        assert_eq!(
            a["ports"],
            base()["spec"]["template"]["spec"]["containers"][0]["ports"]
        );
        assert_eq!(
            ps["tolerations"],
            json!([{"key": "k2", "operator": "Exists"}])
        );
        assert_eq!(ps["volumes"], json!([{"name": "v1", "emptyDir": {}}]));
    }

    // kubectl-confirmed.
    #[test]
    fn element_delete_list_replace_and_map_replace() {
        let out = merged(
            base(),
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"$patch": "replace", "only": "me"}},
            "spec": {"template": {"spec": {
                "containers": [{"name": "b", "$patch": "delete"}, {"name": "zz", "$patch": "delete"}],
                "volumes": [{"$patch": "replace"}, {"name": "v2", "emptyDir": {}}]
            }}}}),
        );
        assert_eq!(out["metadata"]["labels"], json!({"only": "me"}));
        assert_eq!(names(&pod_spec(&out)["containers"], "name"), ["a", "c"]);
        assert_eq!(
            pod_spec(&out)["volumes"],
            json!([{"name": "v2", "emptyDir": {}}])
        );
    }

    // kubectl-confirmed: `- $patch: delete` removes the list, a lone
    // `- $patch: replace` empties it, an element-level replace is ignored and
    // a directive inside a list without merge key is kept verbatim.
    #[test]
    fn list_directives_and_their_kustomize_quirks() {
        let out = merged(
            base(),
            deployment(json!({
                "containers": [
                    {"name": "a", "env": [{"$patch": "delete"}], "ports": [{"$patch": "replace"}]},
                    {"name": "c", "$patch": "replace", "image": "c:3"}
                ],
                "tolerations": [{"$patch": "replace"}, {"key": "k3"}]
            })),
        );
        let ps = pod_spec(&out);
        assert_eq!(names(&ps["containers"], "name"), ["a", "c", "b"]);
        assert!(ps["containers"][0].get("env").is_none());
        assert_eq!(ps["containers"][0]["ports"], json!([]));
        assert_eq!(ps["containers"][1], json!({"name": "c", "image": "c:1"}));
        assert_eq!(
            ps["tolerations"],
            json!([{"$patch": "replace"}, {"key": "k3"}])
        );
    }

    // kubectl-confirmed.
    #[test]
    fn merge_directive_is_stripped() {
        let out = merged(
            base(),
            deployment(json!({
                "nodeSelector": {"$patch": "merge", "disk": "ssd"},
                "volumes": [{"$patch": "merge"}, {"name": "v2", "emptyDir": {}}],
                "containers": [{"name": "b", "$patch": "merge", "image": "b:2"}]
            })),
        );
        let ps = pod_spec(&out);
        assert_eq!(ps["nodeSelector"], json!({"disk": "ssd"}));
        assert_eq!(names(&ps["volumes"], "name"), ["v2", "v1"]);
        assert_eq!(ps["containers"][0], json!({"name": "b", "image": "b:2"}));
    }

    // kubectl-confirmed (top-level delete drops the resource; top-level
    // replace leaves it unchanged).
    #[test]
    fn top_level_directives() {
        let mut t = base();
        let patch = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                           "metadata": {"name": "web"}, "$patch": "delete"});
        assert_eq!(try_apply(&mut t, &patch), Ok(Outcome::DeleteResource));
        assert_eq!(t, base());
        let out = merged(
            base(),
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "$patch": "replace",
                   "metadata": {"name": "other"}, "spec": {"replicas": 3}}),
        );
        assert_eq!(out, base());
    }

    // kubectl-confirmed: kustomize has no $retainKeys / $setElementOrder /
    // $deleteFromPrimitiveList; they end up in the output as plain fields.
    #[test]
    fn unsupported_directives_pass_through() {
        let mut t = base();
        t["spec"]["strategy"] = json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}});
        let out = merged(
            t,
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                   "spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"},
                            "template": {"spec": {
                                "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
                                "containers": [{"name": "a", "$deleteFromPrimitiveList/args": ["x"]}]}}}}),
        );
        assert_eq!(
            out["spec"]["strategy"],
            json!({"type": "Recreate", "rollingUpdate": {"maxSurge": 1}, "$retainKeys": ["type"]})
        );
        let ps = pod_spec(&out);
        assert_eq!(
            ps["$setElementOrder/containers"],
            json!([{"name": "b"}, {"name": "a"}])
        );
        assert_eq!(
            ps["containers"][0]["$deleteFromPrimitiveList/args"],
            json!(["x"])
        );
        assert_eq!(names(&ps["containers"], "name"), ["a", "b", "c"]);
    }

    // kubectl-confirmed.
    #[test]
    fn finalizers_are_a_set_union_patch_first() {
        let mut t = base();
        t["metadata"]["finalizers"] = json!(["f1", "f2"]);
        let out = merged(
            t,
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                   "metadata": {"name": "web", "finalizers": ["f3", "f1", null]}}),
        );
        assert_eq!(out["metadata"]["finalizers"], json!(["f3", "f1", "f2"]));
    }

    // kubectl-confirmed: no schema for a custom resource, so every list is
    // replaced (even finalizers), but an embedded built-in object merges.
    #[test]
    fn custom_resources_replace_lists_except_in_embedded_builtins() {
        let containers = json!([{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]);
        let out = merged(
            json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
                   "metadata": {"name": "web", "finalizers": ["f1", "f2"]},
                   "spec": {"template": {"spec": {"containers": containers.clone()}},
                            "items": [{"name": "x", "v": 1}],
                            "embedded": {"apiVersion": "apps/v1", "kind": "Deployment",
                                         "spec": {"template": {"spec": {"containers": containers}}}}}}),
            json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
                   "metadata": {"name": "web", "finalizers": ["f3"]},
                   "spec": {"template": {"spec": {"containers": [{"name": "b", "image": "b:2"}]}},
                            "items": [{"name": "x", "w": 2}],
                            "embedded": {"spec": {"template": {"spec": {
                                "containers": [{"name": "b", "image": "b:2"}]}}}}}}),
        );
        assert_eq!(out["metadata"]["finalizers"], json!(["f3"]));
        assert_eq!(
            out["spec"]["template"]["spec"]["containers"],
            json!([{"name": "b", "image": "b:2"}])
        );
        assert_eq!(out["spec"]["items"], json!([{"name": "x", "w": 2}]));
        assert_eq!(
            out["spec"]["embedded"]["spec"]["template"]["spec"]["containers"],
            json!([{"name": "b", "image": "b:2"}, {"name": "a", "image": "a:1"}])
        );
    }

    // kubectl-confirmed: apps/v1beta2 is not in kustomize's schema.
    #[test]
    fn removed_api_versions_have_no_merge_keys() {
        let mut t = base();
        t["apiVersion"] = json!("apps/v1beta2");
        let mut p = deployment(json!({"containers": [{"name": "a", "image": "a:2"}]}));
        p["apiVersion"] = json!("apps/v1beta2");
        let out = merged(t, p);
        assert_eq!(
            pod_spec(&out)["containers"],
            json!([{"name": "a", "image": "a:2"}])
        );
    }

    // kubectl-confirmed: a list new to the target is merged with itself
    // (duplicates: last wins; `$patch: delete` elements and nulls dropped);
    // empty maps and lists are added as such.
    #[test]
    fn new_keyed_list_is_normalised() {
        let out = merged(
            base(),
            deployment(json!({
                "containers": [{"name": "b",
                    "env": [{"name": "A", "value": "1"}, {"name": "A", "value": "2"},
                            {"name": "B", "value": "3", "$patch": "delete"},
                            {"name": "C", "value": null, "valueFrom": {"fieldRef": {"fieldPath": "x"}}}],
                    "securityContext": {},
                    "resources": {"limits": {"cpu": null, "memory": "1Gi"}}}],
                "imagePullSecrets": []
            })),
        );
        let b = &pod_spec(&out)["containers"][0];
        assert_eq!(
            b["env"],
            json!([{"name": "A", "value": "2"},
                   {"name": "C", "valueFrom": {"fieldRef": {"fieldPath": "x"}}}])
        );
        assert_eq!(b["securityContext"], json!({}));
        assert_eq!(b["resources"], json!({"limits": {"memory": "1Gi"}}));
        assert_eq!(pod_spec(&out)["imagePullSecrets"], json!([]));
    }

    // kubectl-confirmed: two merge keys (port, protocol); kustomize puts
    // patch-only ports first and moves target ports after them, and a patch
    // port without protocol does not match a target port with one.
    #[test]
    fn service_ports_merge_on_port_and_protocol() {
        let out = merged(
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc"},
                   "spec": {"ports": [{"port": 80, "targetPort": 8080, "name": "http"},
                                      {"port": 443, "protocol": "TCP", "name": "https"},
                                      {"port": 53, "protocol": "UDP", "name": "dns"}],
                            "selector": {"app": "x"}, "explicitNull": null}}),
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc"},
                   "spec": {"ports": [{"port": 80, "targetPort": 9090},
                                      {"port": 443, "name": "https2"},
                                      {"port": "53", "protocol": "UDP", "targetPort": 5353},
                                      {"port": 8443, "protocol": "TCP"}],
                            "selector": {"$patch": "replace", "app": "y"}}}),
        );
        assert_eq!(
            out["spec"]["ports"],
            json!([{"port": 8443, "protocol": "TCP"},
                   {"port": 80, "targetPort": 9090, "name": "http"},
                   {"port": 443, "protocol": "TCP", "name": "https"},
                   {"port": "53", "protocol": "UDP", "name": "dns", "targetPort": 5353}])
        );
        assert_eq!(out["spec"]["selector"], json!({"app": "y"}));
        assert_eq!(out["spec"]["explicitNull"], Value::Null);
    }

    // kubectl-confirmed: with protocols only partly given, kustomize's
    // reconciliation drops both patch ports here.
    #[test]
    fn container_ports_partial_protocols_follow_kustomize() {
        let out = merged(
            base(),
            deployment(json!({"containers": [{"name": "a", "ports": [
                {"containerPort": 53, "name": "dns"}, {"containerPort": 80, "protocol": "UDP"}]}]})),
        );
        assert_eq!(
            pod_spec(&out)["containers"][0]["ports"],
            json!([{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}])
        );
    }

    #[test]
    fn container_ports_without_protocol_merge_on_container_port() {
        let t = deployment(json!({"containers": [{"name": "a", "ports": [
            {"containerPort": 80}, {"containerPort": 443}]}]}));
        let out = merged(
            t,
            deployment(json!({"containers": [{"name": "a", "ports": [
                {"containerPort": 443, "name": "https"}, {"containerPort": 8080}]}]})),
        );
        assert_eq!(
            pod_spec(&out)["containers"][0]["ports"],
            json!([{"containerPort": 443, "name": "https"}, {"containerPort": 8080},
                   {"containerPort": 80}])
        );
    }

    // kubectl-confirmed: merge keys compare as YAML text ("80" matches 80);
    // duplicated target keys collapse to the last one and the patch for that
    // key is lost.
    #[test]
    fn key_text_matching_and_target_duplicates() {
        let t = deployment(json!({"containers": [{"name": "a", "image": "a:1",
            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "1"}, {"name": "A", "value": "2"}],
            "ports": [{"containerPort": 80}]}]}));
        let out = merged(
            t,
            deployment(json!({"containers": [{"name": "a",
                "env": [{"name": "A", "value": "3"}],
                "ports": [{"containerPort": "80", "name": "http"}]}]})),
        );
        let a = &pod_spec(&out)["containers"][0];
        assert_eq!(
            a["env"],
            json!([{"name": "A", "value": "2"}, {"name": "B", "value": "1"}])
        );
        assert_eq!(a["ports"], json!([{"containerPort": "80", "name": "http"}]));
    }

    // kubectl-confirmed (DaemonSet): keyed lists the patch never mentions are
    // de-duplicated too; ownerReferences by uid, hostAliases by ip,
    // imagePullSecrets by name, volumeMounts by mountPath, volumeDevices by
    // devicePath, topologySpreadConstraints by (topologyKey, whenUnsatisfiable).
    #[test]
    fn daemonset_merge_keys() {
        let t = json!({"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "agent", "ownerReferences": [
                {"apiVersion": "v1", "kind": "Foo", "name": "a", "uid": "u1"},
                {"apiVersion": "v1", "kind": "Foo", "name": "b", "uid": "u2"}]},
            "spec": {"template": {"spec": {
                "hostAliases": [{"ip": "10.0.0.1", "hostnames": ["a"]}],
                "imagePullSecrets": [{"name": "reg1"}],
                "topologySpreadConstraints": [
                    {"topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule", "maxSkew": 1},
                    {"topologyKey": "host", "whenUnsatisfiable": "ScheduleAnyway", "maxSkew": 1}],
                "containers": [{"name": "agent", "image": "agent:1",
                    "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "1"}, {"name": "A", "value": "2"}],
                    "volumeMounts": [{"name": "data", "mountPath": "/data"}, {"name": "logs", "mountPath": "/logs"}],
                    "volumeDevices": [{"name": "dev", "devicePath": "/dev/x"}]}]}}}});
        let p = json!({"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "agent", "ownerReferences": [
                {"uid": "u2", "name": "b2"},
                {"apiVersion": "v1", "kind": "Foo", "name": "c", "uid": "u3"}]},
            "spec": {"template": {"spec": {
                "hostAliases": [{"ip": "10.0.0.2", "hostnames": ["b"]}, {"ip": "10.0.0.1", "hostnames": ["c"]}],
                "imagePullSecrets": [{"name": "reg2"}],
                "topologySpreadConstraints": [
                    {"topologyKey": "host", "whenUnsatisfiable": "ScheduleAnyway", "maxSkew": 3},
                    {"topologyKey": "rack", "whenUnsatisfiable": "DoNotSchedule", "maxSkew": 1}],
                "containers": [{"name": "agent",
                    "volumeMounts": [{"name": "logs2", "mountPath": "/logs", "readOnly": true}],
                    "volumeDevices": [{"name": "dev2", "devicePath": "/dev/y"}]}]}}}});
        let out = merged(t, p);
        assert_eq!(
            names(&out["metadata"]["ownerReferences"], "name"),
            ["b2", "c", "a"]
        );
        let ps = pod_spec(&out);
        assert_eq!(
            ps["hostAliases"],
            json!([{"ip": "10.0.0.2", "hostnames": ["b"]}, {"ip": "10.0.0.1", "hostnames": ["c"]}])
        );
        assert_eq!(names(&ps["imagePullSecrets"], "name"), ["reg2", "reg1"]);
        assert_eq!(
            names(&ps["topologySpreadConstraints"], "topologyKey"),
            ["rack", "zone", "host"]
        );
        assert_eq!(ps["topologySpreadConstraints"][2]["maxSkew"], json!(3));
        let c = &ps["containers"][0];
        assert_eq!(
            c["env"],
            json!([{"name": "A", "value": "2"}, {"name": "B", "value": "1"}])
        );
        assert_eq!(
            c["volumeMounts"],
            json!([{"name": "logs2", "mountPath": "/logs", "readOnly": true},
                   {"name": "data", "mountPath": "/data"}])
        );
        assert_eq!(
            names(&c["volumeDevices"], "devicePath"),
            ["/dev/y", "/dev/x"]
        );
    }

    // kubectl-confirmed.
    #[test]
    fn cronjob_pod_template_is_found() {
        let out = merged(
            json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "job"},
                   "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {
                       "restartPolicy": "Never",
                       "containers": [{"name": "main", "image": "main:1", "args": ["a", "b"]},
                                      {"name": "side", "image": "side:1"}]}}}}}}),
            json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "job"},
                   "spec": {"jobTemplate": {"spec": {"template": {"spec": {
                       "containers": [{"name": "side", "image": "side:2", "args": ["c"]}]}}}}}}),
        );
        let cs = &out["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"];
        assert_eq!(
            cs,
            &json!([{"name": "side", "image": "side:2", "args": ["c"]},
                    {"name": "main", "image": "main:1", "args": ["a", "b"]}])
        );
    }

    // kubectl-confirmed.
    #[test]
    fn deleting_every_container_leaves_an_empty_list_and_null_removes_lists() {
        let out = merged(
            base(),
            deployment(json!({
                "containers": [{"name": "a", "$patch": "delete"}, {"name": "b", "$patch": "delete"},
                               {"name": "c", "$patch": "delete"}],
                "volumes": null,
                "tolerations": []
            })),
        );
        let ps = pod_spec(&out);
        assert_eq!(ps["containers"], json!([]));
        assert!(ps.get("volumes").is_none());
        assert_eq!(ps["tolerations"], json!([]));
    }

    // kubectl-confirmed (same data under a custom kind).
    #[test]
    fn explicit_null_in_target_kept_unless_patched() {
        let out = merged(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
                   "data": {"a": null, "b": null, "c": null}}),
            json!({"data": {"b": "x", "c": {"k": null, "j": 1}}}),
        );
        assert_eq!(out["data"], json!({"a": null, "b": "x", "c": {"j": 1}}));
    }

    // kubectl-confirmed (kustomize: "wrong node kind").
    #[test]
    fn type_mismatches_are_errors_with_path() {
        let e = err(base(), deployment(json!({"volumes": {"$patch": "delete"}})));
        assert_eq!(e.path(), "spec.template.spec.volumes");
        assert!(
            e.message()
                .contains("a list here but the patch has a mapping"),
            "{e}"
        );
        let e = err(base(), json!({"spec": {"replicas": {"a": 1}}}));
        assert_eq!(
            e.to_string(),
            "at spec.replicas: type mismatch: the resource has a scalar here but the patch has a mapping"
        );
        let e = err(base(), json!({"metadata": {"labels": [1]}}));
        assert_eq!(e.path(), "metadata.labels");
    }

    // kubectl-confirmed (kustomize: "unknown patch strategy 'foo'").
    #[test]
    fn unknown_patch_strategy_is_an_error() {
        let e = err(base(), json!({"spec": {"template": {"$patch": "foo"}}}));
        assert_eq!(e.path(), "spec.template.$patch");
        assert!(e.message().starts_with("unknown patch strategy 'foo'"));
        let e = err(
            base(),
            deployment(json!({"containers": [{"name": "a", "$patch": 1}]})),
        );
        assert_eq!(e.path(), "spec.template.spec.containers[name=a].$patch");
        let e = err(base(), deployment(json!({"volumes": [{"$patch": "nope"}]})));
        assert_eq!(e.path(), "spec.template.spec.volumes[0].$patch");
    }

    // Deviation (kubectl-checked): kustomize silently wipes every named
    // container here instead.
    #[test]
    fn patch_element_without_merge_key_is_an_error() {
        let e = err(
            base(),
            deployment(json!({"containers": [{"name": "a"}, {"image": "foo"}]})),
        );
        assert_eq!(e.path(), "spec.template.spec.containers[1]");
        assert!(
            e.message().contains("no value for its merge key \"name\""),
            "{e}"
        );
        let e = err(base(), deployment(json!({"containers": ["a"]})));
        assert!(e.message().contains("is a scalar"), "{e}");
        let e = err(
            base(),
            deployment(
                json!({"volumes": [{"name": "v1", "$patch": "delete"}, {"$patch": "replace"}]}),
            ),
        );
        assert!(e.message().contains("list-wide `$patch`"), "{e}");
    }

    #[test]
    fn target_without_merge_key_errors_only_when_the_list_is_patched() {
        let t = deployment(json!({"containers": [{"image": "x"}, {"name": "a", "image": "a:1"}]}));
        let out = merged(t.clone(), json!({"spec": {"replicas": 2}}));
        assert_eq!(pod_spec(&out), pod_spec(&t));
        let e = err(
            t,
            deployment(json!({"containers": [{"name": "a", "image": "a:2"}]})),
        );
        assert_eq!(e.path(), "spec.template.spec.containers[0]");
        assert!(e.message().starts_with("resource list element"), "{e}");
    }

    #[test]
    fn list_directive_in_a_list_the_target_lacks_is_honoured() {
        let out = merged(
            deployment(json!({"containers": [{"name": "a"}]})),
            deployment(json!({
                "hostAliases": [{"$patch": "merge"}, {"ip": "1.2.3.4", "hostnames": ["a"]}],
                "volumes": [{"$patch": "delete"}],
                "containers": [{"name": "a", "env": [{"$patch": "replace"}, {"name": "E", "value": "1"}]}]
            })),
        );
        let ps = pod_spec(&out);
        assert_eq!(
            ps["hostAliases"],
            json!([{"ip": "1.2.3.4", "hostnames": ["a"]}])
        );
        assert!(ps.get("volumes").is_none());
        assert_eq!(
            ps["containers"][0]["env"],
            json!([{"name": "E", "value": "1"}])
        );
    }

    // kubectl-confirmed.
    #[test]
    fn replace_on_a_map_normalises_the_patch_value() {
        let mut t = base();
        t["spec"]["template"]["spec"]["securityContext"] = json!({"runAsUser": 1, "fsGroup": 2});
        let out = merged(
            t,
            deployment(
                json!({"securityContext": {"$patch": "replace", "runAsGroup": 3, "fsGroup": null}}),
            ),
        );
        assert_eq!(pod_spec(&out)["securityContext"], json!({"runAsGroup": 3}));
    }

    #[test]
    fn unknown_kind_in_context_falls_back_to_the_patch_kind() {
        let mut t = base();
        let ctx = SmpContext {
            api_version: "",
            kind: "",
        };
        let p = deployment(json!({"containers": [{"name": "b", "image": "b:2"}]}));
        assert_eq!(apply(&mut t, &p, &ctx), Ok(Outcome::Merged));
        assert_eq!(names(&pod_spec(&t)["containers"], "name"), ["b", "a", "c"]);
    }

    // kubectl-confirmed.
    #[test]
    fn init_and_ephemeral_containers_merge_by_name() {
        let t = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"initContainers": [{"name": "i1", "image": "i:1"}, {"name": "i2", "image": "i:1"}],
                     "ephemeralContainers": [{"name": "dbg", "image": "busybox",
                         "volumeMounts": [{"name": "x", "mountPath": "/x"}]}]}});
        let out = merged(
            t,
            json!({"spec": {"initContainers": [{"name": "i2", "image": "i:2"}],
                            "ephemeralContainers": [{"name": "dbg",
                                "volumeMounts": [{"name": "y", "mountPath": "/y"}]}]}}),
        );
        assert_eq!(names(&out["spec"]["initContainers"], "name"), ["i2", "i1"]);
        assert_eq!(out["spec"]["initContainers"][0]["image"], json!("i:2"));
        assert_eq!(
            names(
                &out["spec"]["ephemeralContainers"][0]["volumeMounts"],
                "mountPath"
            ),
            ["/y", "/x"]
        );
    }

    #[test]
    fn env_from_args_and_command_are_replaced() {
        let t = deployment(json!({"containers": [{"name": "a", "args": ["1", "2"],
            "envFrom": [{"configMapRef": {"name": "x"}}], "command": ["sh"]}]}));
        let out = merged(
            t,
            deployment(json!({"containers": [{"name": "a", "args": ["3"],
                "envFrom": [{"secretRef": {"name": "y"}}]}]})),
        );
        let a = &pod_spec(&out)["containers"][0];
        assert_eq!(a["args"], json!(["3"]));
        assert_eq!(a["envFrom"], json!([{"secretRef": {"name": "y"}}]));
        assert_eq!(a["command"], json!(["sh"]));
    }

    #[test]
    fn non_mapping_documents_are_rejected_without_panicking() {
        let mut t = base();
        assert!(try_apply(&mut t, &json!([1, 2])).is_err());
        assert!(try_apply(&mut t, &Value::Null).is_err());
        let mut s = json!("scalar");
        assert!(try_apply(&mut s, &json!({})).is_err());
        // Odd but well-formed inputs never panic.
        let odd = [
            json!({"spec": {"template": {"spec": {"containers": [null, {"name": "x"}]}}}}),
            json!({"spec": {"template": {"spec": {"containers": [{"name": {"a": 1}}]}}}}),
            json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "ports": [{"protocol": "TCP"}]}]}}}}),
            json!({"metadata": {"finalizers": [{"a": 1}]}}),
            json!({"metadata": {"finalizers": [{"$patch": "delete", "x": 1}]}}),
            json!({"spec": {"template": {"spec": {"volumes": [{"$patch": null}]}}}}),
            json!({"$patch": ["delete"]}),
        ];
        for p in odd {
            let mut t = base();
            let _ = try_apply(&mut t, &p);
        }
    }

    #[test]
    fn partial_multi_key_delete_matches_kustomize_replay() {
        // kubectl-confirmed (Service fuzzing): the patch deletes 8080/UDP, the
        // duplicate tuple makes kustomize add it back without the directive.
        let out = merged(
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
                   "spec": {"ports": [{"port": 53, "targetPort": 1}]}}),
            json!({"spec": {"ports": [{"port": 8080, "targetPort": 6},
                                      {"port": 8080, "protocol": "UDP", "$patch": "delete"}]}}),
        );
        assert_eq!(
            out["spec"]["ports"],
            json!([{"port": 8080, "protocol": "UDP"}, {"port": 53, "targetPort": 1}])
        );
    }

    #[test]
    fn error_paths_quote_odd_keys() {
        let e = err(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c",
                   "annotations": {"app.kubernetes.io/x": {"a": 1}}}}),
            json!({"metadata": {"annotations": {"app.kubernetes.io/x": "s"}}}),
        );
        assert_eq!(e.path(), "metadata.annotations[\"app.kubernetes.io/x\"]");
        let e = err(base(), json!("x"));
        assert_eq!(e.path(), "");
        assert!(e.to_string().starts_with("at the document root:"));
    }

    #[test]
    fn large_lists_are_merged_in_linear_time() {
        let n = 100_000;
        let env: Vec<Value> = (0..n)
            .map(|i| json!({"name": format!("E{i}"), "value": "x"}))
            .collect();
        let t = deployment(json!({"containers": [{"name": "a", "env": env}]}));
        let p = deployment(json!({"containers": [{"name": "a", "env": [
            {"name": "E99999", "value": "y"}, {"name": "NEW", "value": "z"}]}]}));
        let start = std::time::Instant::now();
        let out = merged(t, p);
        let env = pod_spec(&out)["containers"][0]["env"].as_array().unwrap();
        assert_eq!(env.len(), n + 1);
        assert_eq!(env[0], json!({"name": "E99999", "value": "y"}));
        assert_eq!(env[1]["name"], json!("NEW"));
        assert_eq!(env[2]["name"], json!("E0"));
        // A quadratic algorithm would need minutes here.
        assert!(start.elapsed().as_secs() < 20, "took {:?}", start.elapsed());
    }

    #[test]
    fn schema_table_is_consistent() {
        // Every non-inert type reachable from a kind has a row, and each
        // field appears once per type.
        let mut seen = HashSet::new();
        for (t, f, _) in FIELDS {
            assert!(seen.insert((*t as u8, *f)), "duplicate row {t:?}.{f}");
        }
        for (_, kinds) in KINDS {
            for (_, t) in *kinds {
                assert!(
                    FIELDS.iter().any(|(ty, _, _)| ty == t),
                    "{t:?} has no fields"
                );
            }
        }
        assert_eq!(builtin_type("apps/v1", "Deployment"), Some(Ty::Workload));
        assert_eq!(builtin_type("apps/v1beta1", "Deployment"), None);
    }
}
