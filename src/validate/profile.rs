//! `ClusterProfile`: the facts about the cluster an overlay targets that rules need: nodes
//! (or node pools with labels and taints), ports the nodes reserve, host ports the node
//! security group allows, Pod Security levels of namespaces, per-rule severities. Without a
//! profile, rules use safe defaults and say what they assumed.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::Severity;
use crate::error::{Error, Result};
use crate::kustomize::load::kustomization;
use crate::kustomize::load::{self, Loader};
use crate::yaml;

/// The ports nodes commonly reserve (see docs/hostnetwork.md): SSH, DNS, HTTP(S), etcd, the
/// API server, Calico and Cilium agents, kubelet/kube-proxy/scheduler/controller-manager, and
/// the NodePort range.
pub const DEFAULT_RESERVED: &[(u16, u16)] = &[
    (22, 22),
    (53, 53),
    (80, 80),
    (443, 443),
    (2379, 2380),
    (6443, 6443),
    (9099, 9099),
    (9890, 9890),
    (10248, 10259),
    (30000, 32767),
];

/// The ports the nodes of a kind of cluster use themselves, the base list of `reservedPorts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// The commonly reserved ports ([`DEFAULT_RESERVED`]): sshd, DNS, HTTP(S), etcd, the API
    /// server, Calico Felix health, Cilium gops, the kubelet and control-plane ports, the
    /// NodePort range.
    #[default]
    Generic,
    /// Alibaba Cloud ACK, as it publishes them: 22, 53, 80, 443, 6443, 9099, 9890, 10250,
    /// 10256 and the NodePort range.
    Ack,
    /// Amazon EKS worker nodes: sshd (22) and the resolver stub of Amazon Linux 2023 (53),
    /// the VPC CNI's `aws-node` on the host network (ipamd metrics 61678, its introspection
    /// 61679 and gRPC 50051, the network policy agent's metrics 8162, health probe 8163 and
    /// gRPC 50052, as the VPC CNI v1.23 manifest, chart and sources bind them; the loopback
    /// ones still take the port from a pod binding every address), the kubelet (10250, its
    /// health check 10248), kube-proxy (10249, 10256) and the NodePort range. The API server and etcd are AWS's, off the nodes.
    Eks,
    /// kind: the nodes are containers that run only Kubernetes' own components (etcd, the
    /// API server, the kubelet, kube-proxy, scheduler and controller manager) and NodePorts;
    /// no sshd, no DNS or web server on the node.
    Kind,
}

impl Provider {
    pub fn reserved(self) -> &'static [(u16, u16)] {
        match self {
            Provider::Generic => DEFAULT_RESERVED,
            Provider::Ack => &[
                (22, 22),
                (53, 53),
                (80, 80),
                (443, 443),
                (6443, 6443),
                (9099, 9099),
                (9890, 9890),
                (10250, 10250),
                (10256, 10256),
                (30000, 32767),
            ],
            Provider::Eks => &[
                (22, 22),
                (53, 53),
                (8162, 8163),
                (10248, 10250),
                (10256, 10256),
                (30000, 32767),
                (50051, 50052),
                (61678, 61679),
            ],
            Provider::Kind => &[(2379, 2380), (6443, 6443), (10248, 10259), (30000, 32767)],
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodePool {
    pub name: String,
    pub count: u32,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub taints: Vec<Taint>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Taint {
    pub key: String,
    #[serde(default)]
    pub value: String,
    pub effect: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PortChanges {
    #[serde(default)]
    pub add: Vec<PortSpec>,
    #[serde(default)]
    pub remove: Vec<PortSpec>,
    /// Replaces the default list entirely.
    pub replace: Option<Vec<PortSpec>>,
}

/// A port or a range, written `"80"`, `80` or `"30000-32767"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum PortSpec {
    Number(u16),
    Text(String),
}

impl PortSpec {
    pub fn range(&self) -> std::result::Result<(u16, u16), String> {
        match self {
            PortSpec::Number(n) => Ok((*n, *n)),
            PortSpec::Text(t) => {
                let parse = |s: &str| {
                    s.trim()
                        .parse::<u16>()
                        .map_err(|_| format!("`{t}` is not a port or a range like 30000-32767"))
                };
                match t.split_once('-') {
                    Some((a, b)) => {
                        let (a, b) = (parse(a)?, parse(b)?);
                        if a > b {
                            return Err(format!("`{t}`: the range is backwards"));
                        }
                        Ok((a, b))
                    }
                    None => parse(t).map(|p| (p, p)),
                }
            }
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PodSecurity {
    pub default: Option<String>,
    #[serde(default)]
    pub namespaces: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProfileSpec {
    pub kubernetes_version: Option<String>,
    /// The kind of cluster: its nodes' own ports are the base of `reservedPorts`.
    pub provider: Option<Provider>,
    pub nodes: Option<u32>,
    #[serde(default)]
    pub node_pools: Vec<NodePool>,
    #[serde(default)]
    pub reserved_ports: PortChanges,
    pub allowed_host_ports: Option<Vec<PortSpec>>,
    #[serde(default)]
    pub pod_security: PodSecurity,
    /// Files or directories (relative to the profile) holding the CustomResourceDefinitions
    /// installed in the cluster, for GN005.
    #[serde(default)]
    pub crds: Vec<String>,
    /// Per-rule levels: `off`, `warning` or `error`. An unquoted `off` reads as the boolean
    /// false in Kubernetes' YAML and means off too.
    #[serde(default)]
    pub rules: BTreeMap<String, RuleLevel>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RuleLevel {
    Flag(bool),
    Text(String),
}

impl RuleLevel {
    fn normalized(&self) -> String {
        match self {
            RuleLevel::Flag(false) => "off".into(),
            RuleLevel::Flag(true) => "on".into(),
            RuleLevel::Text(t) => t.to_ascii_lowercase(),
        }
    }
}

/// A loaded profile (or the defaults, when none is given).
#[derive(Debug, Clone, Default)]
pub struct ClusterProfile {
    pub name: Option<String>,
    pub spec: ProfileSpec,
    pub reserved: Vec<(u16, u16)>,
    pub allowed: Option<Vec<(u16, u16)>>,
    pub given: bool,
    /// The CustomResourceDefinitions `spec.crds` names, as read.
    pub crds: Vec<Value>,
}

impl ClusterProfile {
    /// The defaults: nothing known about the cluster but the commonly reserved ports.
    pub fn assumed() -> Self {
        ClusterProfile {
            reserved: DEFAULT_RESERVED.to_vec(),
            ..Default::default()
        }
    }

    /// The number of nodes, when known (`nodes`, or the sum of the node pools).
    pub fn node_count(&self) -> Option<u32> {
        if !self.spec.node_pools.is_empty() {
            return Some(self.spec.node_pools.iter().map(|p| p.count).sum());
        }
        self.spec.nodes
    }

    pub fn is_reserved(&self, port: u16) -> Option<(u16, u16)> {
        self.reserved
            .iter()
            .copied()
            .find(|(a, b)| (*a..=*b).contains(&port))
    }

    pub fn is_allowed(&self, port: u16) -> Option<bool> {
        self.allowed
            .as_ref()
            .map(|ranges| ranges.iter().any(|(a, b)| (*a..=*b).contains(&port)))
    }

    /// `Some(None)`: the rule is off; `Some(Some(s))`: its severity is overridden.
    pub fn severity_for(&self, code: &str) -> Option<Option<Severity>> {
        match self
            .spec
            .rules
            .get(code)
            .map(RuleLevel::normalized)
            .as_deref()
        {
            Some("off") => Some(None),
            Some("error") => Some(Some(Severity::Error)),
            Some("warning" | "warn") => Some(Some(Severity::Warning)),
            _ => None,
        }
    }

    /// Reads a profile from a YAML file (`--cluster FILE`).
    pub fn read(path: &Path) -> Result<ClusterProfile> {
        let src = std::fs::read_to_string(path).map_err(|e| {
            Error::new(format!("cannot read the cluster profile: {e}")).in_file(path)
        })?;
        let docs = yaml::parse_stream(&src).map_err(|e| Error::from_yaml(e, path))?;
        let Some(doc) = docs.into_iter().next() else {
            return Err(Error::new("the cluster profile file is empty").in_file(path));
        };
        Self::from_value(&doc.value, &src, path)
    }

    pub fn from_value(v: &Value, src: &str, path: &Path) -> Result<ClusterProfile> {
        let at =
            |p: &[&str], m: String| Error::new(m).in_file(path).at_opt(yaml::locate(src, 0, p));
        if v.get("apiVersion").and_then(Value::as_str) != Some(crate::hostnet::API_VERSION)
            || v.get("kind").and_then(Value::as_str) != Some("ClusterProfile")
        {
            return Err(at(
                &["kind"],
                format!(
                    "expected a ClusterProfile ({})",
                    crate::hostnet::API_VERSION
                ),
            ));
        }
        let spec_v = v
            .get("spec")
            .cloned()
            .unwrap_or(Value::Object(Default::default()));
        let spec: ProfileSpec = serde_path_to_error::deserialize(spec_v).map_err(|e| {
            let p: Vec<String> = std::iter::once("spec".to_string())
                .chain(e.path().iter().map(|s| match s {
                    serde_path_to_error::Segment::Seq { index } => index.to_string(),
                    serde_path_to_error::Segment::Map { key } => key.clone(),
                    other => other.to_string(),
                }))
                .collect();
            let refs: Vec<&str> = p.iter().map(String::as_str).collect();
            at(&refs, format!("invalid ClusterProfile: {}", e.into_inner()))
        })?;
        let mut reserved = match &spec.reserved_ports.replace {
            Some(list) => list
                .iter()
                .map(|p| p.range())
                .collect::<std::result::Result<Vec<_>, _>>(),
            None => Ok(spec.provider.unwrap_or_default().reserved().to_vec()),
        }
        .map_err(|m| at(&["spec", "reservedPorts"], m))?;
        if spec.provider.is_some() && spec.reserved_ports.replace.is_some() {
            return Err(at(
                &["spec", "reservedPorts", "replace"],
                "`reservedPorts.replace` gives the whole list, and so does `provider`: keep one (`add`/`remove` adjust a provider's list)".into(),
            ));
        }
        for p in &spec.reserved_ports.add {
            reserved.push(
                p.range()
                    .map_err(|m| at(&["spec", "reservedPorts", "add"], m))?,
            );
        }
        for p in &spec.reserved_ports.remove {
            let (a, b) = p
                .range()
                .map_err(|m| at(&["spec", "reservedPorts", "remove"], m))?;
            reserved = reserved
                .into_iter()
                .flat_map(|(x, y)| {
                    // Cut [a, b] out of [x, y].
                    let mut parts = Vec::new();
                    if b < x || a > y {
                        parts.push((x, y));
                    } else {
                        if a > x {
                            parts.push((x, a - 1));
                        }
                        if b < y {
                            parts.push((b + 1, y));
                        }
                    }
                    parts
                })
                .collect();
        }
        let allowed = match &spec.allowed_host_ports {
            None => None,
            Some(list) => Some(
                list.iter()
                    .map(|p| p.range())
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|m| at(&["spec", "allowedHostPorts"], m))?,
            ),
        };
        for (code, level) in &spec.rules {
            let level = level.normalized();
            if !["off", "error", "warning", "warn"].contains(&level.as_str()) {
                return Err(at(
                    &["spec", "rules", code],
                    format!("rule level `{level}` is not off, warning or error"),
                ));
            }
            if !super::registry().iter().any(|r| r.doc.code == code) {
                return Err(at(
                    &["spec", "rules", code],
                    format!("unknown rule `{code}`; `strata rules` lists them"),
                ));
            }
        }
        for level in spec
            .pod_security
            .default
            .iter()
            .chain(spec.pod_security.namespaces.values())
        {
            if !["privileged", "baseline", "restricted"].contains(&level.as_str()) {
                return Err(at(
                    &["spec", "podSecurity"],
                    format!(
                        "Pod Security level `{level}` is not privileged, baseline or restricted"
                    ),
                ));
            }
        }
        if let Some(version) = &spec.kubernetes_version {
            let bare = version.trim_start_matches('v');
            let parts: Vec<&str> = bare.split('.').collect();
            if !(2..=3).contains(&parts.len())
                || parts
                    .iter()
                    .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
            {
                return Err(at(
                    &["spec", "kubernetesVersion"],
                    format!("`{version}` is not a Kubernetes version such as 1.30 or 1.30.2"),
                ));
            }
        }
        let mut pool_names = std::collections::BTreeSet::new();
        for (i, pool) in spec.node_pools.iter().enumerate() {
            let idx = i.to_string();
            if !pool_names.insert(pool.name.as_str()) {
                return Err(at(
                    &["spec", "nodePools", &idx, "name"],
                    format!("node pool `{}` is listed twice", pool.name),
                ));
            }
            for (j, t) in pool.taints.iter().enumerate() {
                if !["NoSchedule", "PreferNoSchedule", "NoExecute"].contains(&t.effect.as_str()) {
                    return Err(at(
                        &[
                            "spec",
                            "nodePools",
                            &idx,
                            "taints",
                            &j.to_string(),
                            "effect",
                        ],
                        format!(
                            "taint effect `{}` is not NoSchedule, PreferNoSchedule or NoExecute",
                            t.effect
                        ),
                    ));
                }
            }
        }
        if let Some(nodes) = spec.nodes
            && !spec.node_pools.is_empty()
        {
            let sum: u32 = spec.node_pools.iter().map(|p| p.count).sum();
            if sum != nodes {
                return Err(at(
                    &["spec", "nodes"],
                    format!(
                        "`nodes: {nodes}` contradicts the node pools, which hold {sum} nodes"
                    ),
                )
                .help("give the node count once: drop `nodes`, or make the pools' counts add up to it"));
            }
        }
        let name = v
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .map(str::to_string);
        let mut crds = Vec::new();
        for (i, entry) in spec.crds.iter().enumerate() {
            let index = i.to_string();
            let at = |m: String| at(&["spec", "crds", &index], m);
            crds.extend(read_crds(path, entry).map_err(at)?);
        }
        Ok(ClusterProfile {
            name,
            spec,
            reserved,
            allowed,
            given: true,
            crds,
        })
    }
}

/// The CustomResourceDefinitions of a file, or of the `.yaml`/`.yml`/`.json` files of a
/// directory, named relative to the profile `profile`.
fn read_crds(profile: &Path, entry: &str) -> std::result::Result<Vec<Value>, String> {
    if Path::new(entry).is_absolute() {
        return Err(format!(
            "`{entry}`: name CRD files relative to the profile, so that the repository carries them"
        ));
    }
    let base = profile.parent().unwrap_or(Path::new("."));
    let target = base.join(entry);
    // Below the profile's directory only, symlinks resolved: a profile in a repository
    // reads nothing outside it.
    if let (Ok(t), Ok(b)) = (target.canonicalize(), base.canonicalize())
        && !t.starts_with(&b)
    {
        return Err(format!(
            "`{entry}` resolves to {}, outside the profile's directory {}: keep the CRDs beside or below the profile",
            t.display(),
            b.display()
        ));
    }
    let mut files = Vec::new();
    if target.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(&target)
            .map_err(|e| format!("cannot read `{entry}`: {e}"))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.is_file()
                    && matches!(
                        p.extension().and_then(|x| x.to_str()),
                        Some("yaml" | "yml" | "json")
                    )
            })
            .collect();
        entries.sort();
        files.extend(entries);
    } else {
        files.push(target);
    }
    let mut out = Vec::new();
    for f in files {
        let src = std::fs::read_to_string(&f)
            .map_err(|e| format!("cannot read the CRDs of `{}`: {e}", f.display()))?;
        let docs = yaml::parse_stream(&src)
            .map_err(|e| format!("`{}` is not valid YAML: {e}", f.display()))?;
        out.extend(
            docs.into_iter().map(|d| d.value).filter(|v| {
                v.get("kind").and_then(Value::as_str) == Some("CustomResourceDefinition")
            }),
        );
    }
    if out.is_empty() {
        return Err(format!("`{entry}` holds no CustomResourceDefinition"));
    }
    Ok(out)
}

/// The ClusterProfile a kustomization lists under `validators:`, if any.
pub fn profile_of(loader: &Loader, dir: &Path) -> Result<Option<ClusterProfile>> {
    let dir = dir
        .canonicalize()
        .map_err(|e| Error::new(format!("cannot open {}: {e}", dir.display())))?;
    let kf = kustomization::read(loader, &dir)?;
    match kf.spec.validators.as_slice() {
        [] => Ok(None),
        [one] => {
            let path =
                load::resolve_within(loader, &kf.dir, one, "validators[0]").map_err(|e| {
                    e.in_file(kf.display()).at_opt(crate::yaml::locate(
                        &kf.file.src,
                        0,
                        &["validators", "0"],
                    ))
                })?;
            let display = loader.display_path(&path);
            ClusterProfile::read(&path).map(Some).map_err(|mut e| {
                e.file = Some(display);
                e
            })
        }
        _ => Err(kf.error_at(
            &["validators"],
            "list one ClusterProfile under `validators`",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reserved_ports_add_remove_and_node_pools() {
        let v = json!({"apiVersion": "strata.dev/v1alpha1", "kind": "ClusterProfile", "metadata": {"name": "p"},
            "spec": {"nodePools": [{"name": "a", "count": 2}, {"name": "b", "count": 1}],
                     "reservedPorts": {"add": ["9100"], "remove": ["80", "30000-30100"]},
                     "allowedHostPorts": ["20000-20999", 443], "rules": {"IM002": "error"}}});
        let p = ClusterProfile::from_value(&v, "", Path::new("p.yaml")).unwrap();
        assert_eq!(p.node_count(), Some(3));
        assert!(p.is_reserved(9100).is_some());
        assert!(p.is_reserved(80).is_none());
        assert!(p.is_reserved(30050).is_none());
        assert!(p.is_reserved(30101).is_some());
        assert_eq!(p.is_allowed(20500), Some(true));
        assert_eq!(p.is_allowed(8080), Some(false));
        assert_eq!(p.severity_for("IM002"), Some(Some(Severity::Error)));
    }

    #[test]
    fn contradictions_and_malformed_values_are_errors() {
        let err = |spec: serde_json::Value| {
            let v = json!({"apiVersion": "strata.dev/v1alpha1", "kind": "ClusterProfile",
                "metadata": {"name": "p"}, "spec": spec});
            ClusterProfile::from_value(&v, "", Path::new("p.yaml"))
                .unwrap_err()
                .message
        };
        let pools = json!([{"name": "a", "count": 2}, {"name": "b", "count": 3}]);
        assert_eq!(
            err(json!({"nodes": 3, "nodePools": pools})),
            "`nodes: 3` contradicts the node pools, which hold 5 nodes"
        );
        let v = json!({"apiVersion": "strata.dev/v1alpha1", "kind": "ClusterProfile",
            "metadata": {"name": "p"}, "spec": {"nodes": 5, "nodePools": pools}});
        assert!(ClusterProfile::from_value(&v, "", Path::new("p.yaml")).is_ok());
        assert_eq!(
            err(json!({"nodePools": [{"name": "a", "count": 1}, {"name": "a", "count": 1}]})),
            "node pool `a` is listed twice"
        );
        assert_eq!(
            err(json!({"nodePools": [{"name": "a", "count": 1,
                "taints": [{"key": "k", "effect": "NoScheduled"}]}]})),
            "taint effect `NoScheduled` is not NoSchedule, PreferNoSchedule or NoExecute"
        );
        assert_eq!(
            err(json!({"kubernetesVersion": "1.30-gke"})),
            "`1.30-gke` is not a Kubernetes version such as 1.30 or 1.30.2"
        );
        assert!(
            err(json!({"provider": "ack", "reservedPorts": {"replace": ["22"]}}))
                .contains("keep one")
        );
        let e = err(json!({"provider": "gke"}));
        assert!(
            e.contains("unknown variant `gke`, expected one of `generic`, `ack`, `eks`, `kind`"),
            "{e}"
        );
    }

    #[test]
    fn providers_give_their_nodes_ports() {
        let of = |spec: serde_json::Value| {
            let v = json!({"apiVersion": "strata.dev/v1alpha1", "kind": "ClusterProfile",
                "metadata": {"name": "p"}, "spec": spec});
            ClusterProfile::from_value(&v, "", Path::new("p.yaml")).unwrap()
        };
        let ack = of(json!({"provider": "ack"}));
        // ACK's list: the kubelet's 10250 and kube-proxy's 10256, not the whole 10248-10259,
        // and no etcd on the workers.
        assert!(ack.is_reserved(10250).is_some() && ack.is_reserved(10256).is_some());
        assert!(ack.is_reserved(10249).is_none() && ack.is_reserved(2379).is_none());
        assert!(ack.is_reserved(9099).is_some() && ack.is_reserved(31000).is_some());
        // EKS: the VPC CNI's ports, not the API server's (AWS runs it off the nodes).
        let eks = of(json!({"provider": "eks"}));
        assert!(eks.is_reserved(61678).is_some() && eks.is_reserved(8163).is_some());
        assert!(eks.is_reserved(6443).is_none() && eks.is_reserved(80).is_none());
        let kind = of(json!({"provider": "kind", "reservedPorts": {"add": ["53"]}}));
        assert!(kind.is_reserved(22).is_none() && kind.is_reserved(80).is_none());
        assert!(kind.is_reserved(6443).is_some() && kind.is_reserved(53).is_some());
        let generic = of(json!({"provider": "generic"}));
        assert_eq!(generic.reserved, ClusterProfile::assumed().reserved);
    }
}
