//! Target selectors, with kustomize's semantics: group, version, kind, name and namespace are
//! regular expressions anchored at both ends; name and namespace match the original or the
//! current identity; `labelSelector` and `annotationSelector` use Kubernetes' label selector
//! syntax (`a=b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`).

use regex::Regex;

use crate::kustomize::load::kustomization::Selector;
use crate::kustomize::schema::scope;
use crate::model::Resource;

/// A compiled selector.
#[derive(Debug, Clone)]
pub struct Target {
    group: Option<Pattern>,
    version: Option<Pattern>,
    kind: Option<Pattern>,
    name: Option<Pattern>,
    namespace: Option<Pattern>,
    labels: Vec<Requirement>,
    annotations: Vec<Requirement>,
}

/// A selector field: kustomize reads each as an anchored regular expression; most are plain
/// names, which match only themselves and need no regex built.
#[derive(Debug, Clone)]
enum Pattern {
    Literal(String),
    Regex(Regex),
}

impl Pattern {
    fn is_match(&self, s: &str) -> bool {
        match self {
            Pattern::Literal(l) => l == s,
            Pattern::Regex(re) => re.is_match(s),
        }
    }
}

fn anchored(field: &str, pattern: &Option<String>) -> Result<Option<Pattern>, String> {
    match pattern.as_deref() {
        None | Some("") => Ok(None),
        // No character with a meaning outside a class (`-` is one only inside `[...]`, which
        // needs `[`): the pattern is the name itself.
        Some(p) if !p.contains(|c| r"\.+*?()|[]{}^$".contains(c)) => {
            Ok(Some(Pattern::Literal(p.to_string())))
        }
        Some(p) => compiled(&format!("^(?:{p})$"))
            .map(|re| Some(Pattern::Regex(re)))
            .map_err(|e| format!("`{field}: {p}` is not a valid regular expression: {e}")),
    }
}

/// How many compiled patterns [`compiled`] keeps: far more than the patterns of any real
/// repository, and a bound on the memory of a process that builds many unrelated trees (a
/// library user, a fuzzer: unbounded, the cache grew past 2 GB).
const REGEX_CACHE_SIZE: usize = 1024;

static REGEX_CACHE: std::sync::OnceLock<
    std::sync::Mutex<std::collections::HashMap<String, Regex>>,
> = std::sync::OnceLock::new();

/// `Regex::new`, remembered for the process: the overlays of one `--out-dir` run name the
/// same patterns again and again, and building a regex costs far more than matching it.
/// Once full, the cache starts again empty.
pub(crate) fn compiled(pattern: &str) -> Result<Regex, regex::Error> {
    let cache = REGEX_CACHE.get_or_init(Default::default);
    if let Some(re) = cache.lock().expect("regex cache lock").get(pattern) {
        return Ok(re.clone());
    }
    let re = Regex::new(pattern)?;
    let mut cache = cache.lock().expect("regex cache lock");
    if cache.len() >= REGEX_CACHE_SIZE {
        cache.clear();
    }
    cache.insert(pattern.to_string(), re.clone());
    Ok(re)
}

impl Target {
    pub fn compile(s: &Selector) -> Result<Target, String> {
        Ok(Target {
            group: anchored("group", &s.group)?,
            version: anchored("version", &s.version)?,
            kind: anchored("kind", &s.kind)?,
            name: anchored("name", &s.name)?,
            namespace: anchored("namespace", &s.namespace)?,
            labels: parse_label_selector(s.label_selector.as_deref().unwrap_or(""))
                .map_err(|e| format!("labelSelector: {e}"))?,
            annotations: parse_label_selector(s.annotation_selector.as_deref().unwrap_or(""))
                .map_err(|e| format!("annotationSelector: {e}"))?,
        })
    }

    pub fn matches(&self, r: &Resource) -> bool {
        // Borrowed fields only: this runs for every resource and every patch.
        let (group, version, kind) = r.gvk();
        let (cur_ns, cur_name) = (r.namespace(), r.name());
        let (org_ns, org_name) = match r.previous_ids.first() {
            Some(org) => (org.namespace.as_str(), org.name.as_str()),
            None => (cur_ns, cur_name),
        };
        let cluster_scoped = scope::is_cluster_scoped(group, kind);
        fn effective(ns: &str, cluster_scoped: bool) -> &str {
            if cluster_scoped {
                ""
            } else if ns.is_empty() {
                "default"
            } else {
                ns
            }
        }
        let m = |p: &Option<Pattern>, s: &str| p.as_ref().is_none_or(|p| p.is_match(s));
        if !m(&self.namespace, effective(org_ns, cluster_scoped))
            && !m(&self.namespace, effective(cur_ns, cluster_scoped))
        {
            return false;
        }
        if !m(&self.name, org_name) && !m(&self.name, cur_name) {
            return false;
        }
        if !m(&self.group, group) || !m(&self.version, version) || !m(&self.kind, kind) {
            return false;
        }
        let labels = r.labels();
        if !self.labels.iter().all(|req| req.matches(&labels)) {
            return false;
        }
        let annotations = r.annotations();
        self.annotations.iter().all(|req| req.matches(&annotations))
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

impl Requirement {
    fn matches(&self, pairs: &[(&str, &str)]) -> bool {
        let get = |k: &str| pairs.iter().find(|(pk, _)| *pk == k).map(|(_, v)| *v);
        match self {
            Requirement::Equals(k, v) => get(k) == Some(v.as_str()),
            Requirement::NotEquals(k, v) => get(k) != Some(v.as_str()),
            Requirement::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Requirement::NotIn(k, vs) => get(k).is_none_or(|x| !vs.iter().any(|v| v == x)),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::NotExists(k) => get(k).is_none(),
        }
    }
}

/// Splits at commas that are not inside parentheses.
fn split_top_level(s: &str) -> Result<Vec<&str>, String> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return Err(format!("unbalanced `)` in {s:?}"));
                }
            }
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(format!("unbalanced `(` in {s:?}"));
    }
    parts.push(&s[start..]);
    Ok(parts)
}

fn valid_key(k: &str) -> bool {
    !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
}

fn parse_label_selector(s: &str) -> Result<Vec<Requirement>, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for part in split_top_level(s)? {
        let part = part.trim();
        let bad = || format!("cannot parse requirement {part:?}");
        let req = if let Some(k) = part.strip_prefix('!') {
            Requirement::NotExists(k.trim().to_string())
        } else if let Some((k, v)) = part.split_once("!=") {
            Requirement::NotEquals(k.trim().to_string(), v.trim().to_string())
        } else if let Some((k, v)) = part.split_once("==") {
            Requirement::Equals(k.trim().to_string(), v.trim().to_string())
        } else if let Some((k, v)) = part.split_once('=') {
            Requirement::Equals(k.trim().to_string(), v.trim().to_string())
        } else if let Some(open) = part.find('(') {
            let head = part[..open].trim();
            let values = part[open + 1..].strip_suffix(')').ok_or_else(bad)?;
            let values: Vec<String> = values
                .split(',')
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .collect();
            let mut words = head.split_whitespace();
            let (Some(k), Some(op), None) = (words.next(), words.next(), words.next()) else {
                return Err(bad());
            };
            match op {
                "in" => Requirement::In(k.to_string(), values),
                "notin" => Requirement::NotIn(k.to_string(), values),
                _ => return Err(bad()),
            }
        } else {
            Requirement::Exists(part.to_string())
        };
        let key = match &req {
            Requirement::Equals(k, _)
            | Requirement::NotEquals(k, _)
            | Requirement::In(k, _)
            | Requirement::NotIn(k, _)
            | Requirement::Exists(k)
            | Requirement::NotExists(k) => k,
        };
        if !valid_key(key) {
            return Err(bad());
        }
        out.push(req);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_regex_cache_stays_bounded() {
        for i in 0..3 * REGEX_CACHE_SIZE {
            assert!(
                compiled(&format!("^(?:app-{i}.*)$"))
                    .unwrap()
                    .is_match(&format!("app-{i}x"))
            );
        }
        let len = REGEX_CACHE.get().unwrap().lock().unwrap().len();
        assert!(len <= REGEX_CACHE_SIZE, "{len}");
    }

    use super::*;
    use crate::model::Origin;
    use serde_json::json;
    use std::sync::Arc;

    fn res(v: serde_json::Value) -> Resource {
        let origin = Origin {
            file: Arc::new("t.yaml".into()),
            line: 1,
            doc_index: 0,
            item: None,
        };
        Resource::from_value(v, origin).unwrap()
    }

    fn sel(v: serde_json::Value) -> Target {
        Target::compile(&serde_json::from_value(v).unwrap()).unwrap()
    }

    /// A pattern read as a plain name matches exactly what the anchored regex matches.
    #[test]
    fn plain_names_match_as_their_regexes_do() {
        let names = [
            "node-exporter",
            "a_b-1",
            "x:y",
            "Deployment",
            "v1",
            "a#b",
            "a&b~c",
            "é-1",
        ];
        let candidates = [
            "node-exporter",
            "node-exporterX",
            "xnode-exporter",
            "a_b-1",
            "x:y",
        ];
        for p in names.iter().chain(&candidates) {
            let Some(Pattern::Literal(_)) = anchored("name", &Some(p.to_string())).unwrap() else {
                panic!("{p} is a plain name");
            };
            let re = Regex::new(&format!("^(?:{p})$")).unwrap();
            for c in names.iter().chain(&candidates) {
                let lit = anchored("name", &Some(p.to_string())).unwrap().unwrap();
                assert_eq!(lit.is_match(c), re.is_match(c), "{p} vs {c}");
            }
        }
        for p in ["apps.k8s.io", "a|b", "web-[0-9]+", "(?i)x", "a\\.b", "x*"] {
            assert!(matches!(
                anchored("name", &Some(p.to_string())).unwrap(),
                Some(Pattern::Regex(_))
            ));
        }
    }

    #[test]
    fn regexes_are_anchored() {
        let r = res(
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web-1"}}),
        );
        assert!(sel(json!({"kind": "Deployment"})).matches(&r));
        assert!(!sel(json!({"kind": "Deploy"})).matches(&r));
        assert!(sel(json!({"kind": "Deploy.*", "name": "web-.*"})).matches(&r));
        assert!(sel(json!({"kind": "DaemonSet|Deployment"})).matches(&r));
        assert!(sel(json!({"group": "apps", "version": "v1"})).matches(&r));
        assert!(!sel(json!({"group": "batch"})).matches(&r));
    }

    #[test]
    fn namespace_default_matches_an_unset_namespace() {
        let r = res(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}));
        assert!(sel(json!({"namespace": "default"})).matches(&r));
        assert!(!sel(json!({"namespace": "other"})).matches(&r));
    }

    #[test]
    fn original_name_and_namespace_still_match() {
        let mut r = res(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "a"}}),
        );
        r.remember_id();
        r.metadata_mut().insert("namespace".into(), json!("b"));
        assert!(sel(json!({"namespace": "a"})).matches(&r));
        assert!(sel(json!({"namespace": "b"})).matches(&r));
    }

    #[test]
    fn label_selectors() {
        let r = res(
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p",
            "labels": {"app": "web", "tier": "fe"}, "annotations": {"a/b": "x"}}}),
        );
        for (s, want) in [
            ("app=web", true),
            ("app==web", true),
            ("app!=web", false),
            ("app=web,tier=fe", true),
            ("app=web,tier=be", false),
            ("tier in (fe, be)", true),
            ("tier notin (fe)", false),
            ("app", true),
            ("!app", false),
            ("!missing", true),
            ("missing notin (x)", true),
        ] {
            assert_eq!(sel(json!({"labelSelector": s})).matches(&r), want, "{s}");
        }
        assert!(sel(json!({"annotationSelector": "a/b=x"})).matches(&r));
    }

    #[test]
    fn bad_selectors_are_errors() {
        let bad: Selector = serde_json::from_value(json!({"name": "a(b"})).unwrap();
        assert!(
            Target::compile(&bad)
                .unwrap_err()
                .contains("not a valid regular expression")
        );
        let bad: Selector = serde_json::from_value(json!({"labelSelector": "a in (b"})).unwrap();
        assert!(Target::compile(&bad).unwrap_err().contains("unbalanced"));
    }
}
