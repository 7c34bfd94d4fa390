//! `Substitution`: replaces placeholders in every string value (not keys) of every resource:
//! `<NAME>` (the form cloud vendors' docs use, e.g. `registry-<REGION_ID>-vpc...`) and
//! `${NAME}` (Flux's form), with `${NAME:=default}` and the escape `$${NAME}` (which becomes
//! the literal `${NAME}`). Values come from, highest first: what the user gave outside the
//! tree ([`Overrides`]: `--set NAME=VALUE`, `--env NAME`, and in the Argo CD plugin the app's
//! parameters and `ARGOCD_ENV_NAME`), `spec.vars`, then the default in `${NAME:=default}`.
//! Nothing else from the environment is read: a stray `REGION_ID` in a shell or CI runner
//! does not change a render.
//!
//! `<...>` is a placeholder only when its name is declared, or looks like one (upper case
//! with an underscore, `<REGION_ID>`), so HTML such as `<b>` or `<br/>` in an annotation is
//! never touched. With `strict` (the default), a placeholder left after substitution is an
//! error naming the resource and the field.

use indexmap::IndexMap;
use serde_json::Value;

use super::kinds::SubstitutionSpec;
use crate::error::Result;
use crate::kustomize::listed::Configured;
use crate::model::ResourceSet;
use crate::model::pointer::push_key;

/// Values the user gave outside the tree, each with where it came from (`--set`,
/// `$NAME (--env)`, `ARGOCD_ENV_NAME`...), for messages.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    values: IndexMap<String, (String, String)>,
}

impl Overrides {
    /// `--set NAME=VALUE` (later wins) and `--env NAME` (read from the environment now; an
    /// unset variable is an error). `--set` wins over `--env`.
    pub fn from_args(
        set: &[(String, String)],
        env_names: &[String],
    ) -> std::result::Result<Self, String> {
        let mut o = Overrides::default();
        for name in env_names {
            if !is_name(name) {
                return Err(format!(
                    "--env {name}: not a variable name (letters, digits, `_`)"
                ));
            }
            let value = std::env::var(name).map_err(|_| {
                format!("--env {name}: the environment has no {name} (set it, or give the value with --set {name}=VALUE)")
            })?;
            o.insert(name, value, format!("${name} (--env)"));
        }
        for (name, value) in set {
            o.insert(name, value.clone(), "--set".into());
        }
        Ok(o)
    }

    /// Adds (or replaces) one value; `source` says where it came from.
    pub fn insert(&mut self, name: &str, value: String, source: String) {
        self.values.insert(name.to_string(), (value, source));
    }

    pub fn get(&self, name: &str) -> Option<&(String, String)> {
        self.values.get(name)
    }

    /// The names given, in order, with their sources.
    pub fn names(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values
            .iter()
            .map(|(k, (_, s))| (k.as_str(), s.as_str()))
    }
}

/// What one Substitution did with the values given outside the tree: the variable names
/// it knows (declared in `spec.vars` or met as placeholders), and each `spec.vars` value an override replaced (name, the file's value, the override,
/// its source).
#[derive(Debug, Default)]
pub struct Used {
    pub names: Vec<String>,
    pub overridden: Vec<(String, String, String, String)>,
}

/// Is `name` a placeholder name: `[A-Za-z_][A-Za-z0-9_]*`?
fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Does `<name>` look like a vendor placeholder even when nobody declared it?
fn looks_like_placeholder(name: &str) -> bool {
    is_name(name)
        && name.contains('_')
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && name.chars().next().is_some_and(|c| c.is_ascii_uppercase())
}

/// The placeholders a string still holds, as validation reports them: `${NAME}` (any name),
/// `<NAME>` in the vendor form (upper case with an underscore), and the upstream template
/// form of kube-dns, CoreDNS and node-local-dns manifests, `__PILLAR__DNS__SERVER__` (upper
/// case words between double underscores, at least two words).
pub fn placeholders(s: &str) -> Vec<String> {
    let mut out = if s.contains('<') || s.contains("${") {
        substitute(s, &|_| false, &|_| false, &|_| None).unresolved
    } else {
        Vec::new()
    };
    if s.contains("__") {
        out.extend(pillar_placeholders(s));
    }
    out
}

/// `__WORD__WORD__...__` tokens: upper-case letters and digits, words joined by `__`.
fn pillar_placeholders(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let word = |c: u8| c.is_ascii_uppercase() || c.is_ascii_digit();
    let mut i = 0;
    while let Some(at) = s[i..].find("__").map(|k| k + i) {
        // Words separated by `__`, closed by a final `__`.
        let mut j = at + 2;
        let mut words = 0;
        loop {
            let start = j;
            while j < b.len() && word(b[j]) {
                j += 1;
            }
            if j == start || !s[j..].starts_with("__") {
                break;
            }
            words += 1;
            j += 2;
        }
        let preceded = at > 0 && (b[at - 1].is_ascii_alphanumeric() || b[at - 1] == b'_');
        if words >= 2 && !preceded {
            out.push(s[at..j].to_string());
        }
        // Every `__` that starts before `j` is preceded by `_` or a word character, so none
        // starts a token: go on from `j` (going on from `at + 2` walked a long chain of
        // words again from each of its `__`, quadratic in its length).
        i = j;
    }
    out
}

/// The result of substituting one string.
#[derive(Debug, PartialEq)]
pub struct Substituted {
    pub text: String,
    /// Placeholders left (no value anywhere), in order.
    pub unresolved: Vec<String>,
    pub changed: bool,
}

/// Substitutes the placeholders of one string. `lookup` gives a name's value, if any;
/// placeholders of `ignored` names are text, left as written (a vendored Grafana
/// dashboard's `${datasource}`).
pub fn substitute(
    s: &str,
    declared: &dyn Fn(&str) -> bool,
    ignored: &dyn Fn(&str) -> bool,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Substituted {
    let mut out = String::with_capacity(s.len());
    let mut unresolved = Vec::new();
    let mut changed = false;
    let b = s.as_bytes();
    // Where the next `}` and `>` are, found once and reused while ahead of `i`: searching
    // again from every `${` or `<` is quadratic in a text with many and a far (or no) close.
    let (mut next_brace, mut next_gt) = (None, None);
    let mut i = 0;
    while i < s.len() {
        let rest = &s[i..];
        if rest.starts_with("$${") {
            // The escape: `$${NAME}` is the literal `${NAME}`.
            if let Some(end) = next_of(s, '}', i, &mut next_brace).map(|at| at - i) {
                out.push_str(&rest[1..=end]);
                i += end + 1;
                changed = true;
                continue;
            }
        }
        if rest.starts_with("${")
            && let Some(end) = next_of(s, '}', i, &mut next_brace).map(|at| at - i)
        {
            let inner = &rest[2..end];
            // `NAME` or `NAME:=default`. Only the name's characters are read to find the
            // `:=` (any text before a first `:=` that is not a name is no placeholder);
            // splitting the whole of a long `${...}` at each of its `${` was quadratic.
            let name_len = inner
                .bytes()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_')
                .count();
            let (name, default) = match inner[name_len..].strip_prefix(":=") {
                Some(d) => (&inner[..name_len], Some(d)),
                None if name_len == inner.len() => (inner, None),
                None => ("", None),
            };
            if is_name(name) && !ignored(name) {
                match lookup(name).or_else(|| default.map(str::to_string)) {
                    Some(v) => {
                        out.push_str(&v);
                        changed = true;
                    }
                    None => {
                        unresolved.push(format!("${{{name}}}"));
                        out.push_str(&rest[..=end]);
                    }
                }
                i += end + 1;
                continue;
            }
        }
        if b[i] == b'<'
            && let Some(end) = next_of(s, '>', i + 1, &mut next_gt).map(|at| at - (i + 1))
        {
            let name = &rest[1..=end];
            if is_name(name) && !ignored(name) && (declared(name) || looks_like_placeholder(name)) {
                match lookup(name) {
                    Some(v) => {
                        out.push_str(&v);
                        changed = true;
                    }
                    None => {
                        unresolved.push(format!("<{name}>"));
                        out.push_str(&rest[..=end + 1]);
                    }
                }
                i += end + 2;
                continue;
            }
        }
        let ch = rest.chars().next().expect("not at the end");
        out.push(ch);
        i += ch.len_utf8();
    }
    Substituted {
        text: out,
        unresolved,
        changed,
    }
}

/// The position of the next `c` in `s` at or after `from`, remembered in `memo` for later
/// calls with a `from` no smaller: a position still ahead of `from` is still the next one,
/// and none stays none.
fn next_of(s: &str, c: char, from: usize, memo: &mut Option<Option<usize>>) -> Option<usize> {
    if let Some(found) = *memo
        && found.is_none_or(|at| at >= from)
    {
        return found;
    }
    let found = s[from..].find(c).map(|k| k + from);
    *memo = Some(found);
    found
}

pub fn apply(
    t: &Configured,
    spec: &SubstitutionSpec,
    overrides: &Overrides,
    set: &mut ResourceSet,
) -> Result<Used> {
    for name in spec.vars.keys() {
        if !is_name(name) {
            return Err(t.error_at(
                &["spec", "vars", name],
                format!("`{name}` is not a valid variable name (letters, digits, `_`)"),
            ));
        }
    }
    let declared = |name: &str| spec.vars.contains_key(name) || overrides.get(name).is_some();
    let looked_up = std::cell::RefCell::new(std::collections::BTreeSet::new());
    let lookup = |name: &str| -> Option<String> {
        looked_up.borrow_mut().insert(name.to_string());
        if let Some((v, _)) = overrides.get(name) {
            return Some(v.clone());
        }
        spec.vars.get(name).cloned()
    };
    let mut used = Used::default();
    for (name, file_value) in &spec.vars {
        looked_up.borrow_mut().insert(name.clone());
        if let Some((v, source)) = overrides.get(name)
            && v != file_value
        {
            used.overridden.push((
                name.clone(),
                file_value.clone(),
                v.clone(),
                source.to_string(),
            ));
        }
    }
    for (i, name) in spec.ignore.iter().enumerate() {
        if !is_name(name) || spec.vars.contains_key(name) {
            return Err(t.error_at(
                &["spec", "ignore", &i.to_string()],
                if is_name(name) {
                    format!("`{name}` is both a variable (spec.vars) and ignored")
                } else {
                    format!("`{name}` is not a variable name (letters, digits, `_`): write the name without `${{}}` or `<>`")
                },
            ));
        }
    }
    let ignored = |name: &str| spec.ignore.iter().any(|n| n == name);
    let names = Names {
        declared: &declared,
        ignored: &ignored,
        lookup: &lookup,
    };
    // Which resources the targets select (all when there are none).
    let selected: Option<Vec<bool>> = if spec.targets.is_empty() {
        None
    } else {
        let mut chosen = vec![false; set.len()];
        for i in super::kinds::targets(t, &spec.targets)?.select(set, t)? {
            chosen[i] = true;
        }
        Some(chosen)
    };
    let actor = t.actor.clone();
    for (index, r) in set.iter_mut().enumerate() {
        if selected.as_ref().is_some_and(|s| !s[index]) {
            continue;
        }
        let mut changed_paths = Vec::new();
        let mut unresolved: Vec<(String, String)> = Vec::new();
        let mut literal = Vec::new();
        let mut path = String::new();
        for (k, v) in r.obj_mut().iter_mut() {
            let len = path.len();
            push_key(&mut path, k);
            walk(
                v,
                &mut path,
                &names,
                &mut changed_paths,
                &mut unresolved,
                &mut literal,
            );
            path.truncate(len);
        }
        r.literals.extend(literal);
        if spec.strict
            && let Some((field, placeholder)) = unresolved.first()
        {
            let others: Vec<String> = unresolved[1..]
                .iter()
                .take(4)
                .map(|(f, p)| format!("{p} at {f}"))
                .collect();
            let more = match unresolved.len() {
                1 => String::new(),
                2..=5 => format!("; also {}", others.join(", ")),
                n => format!("; also {} and {} more", others.join(", "), n - 5),
            };
            return Err(t
                    .error_at(&["spec", "vars"], format!(
                        "{placeholder} has no value in {} at {field}{more}",
                        r.id()
                    ))
                    .context(format!("the resource was read from {}", r.origin))
                    .help(format!(
                        "add `{}` to spec.vars, pass `--set {}=...` or `--env {}` (in Argo CD: a parameter, or ARGOCD_ENV_{} in the app's plugin env), or list it under `ignore` if it is text; write $${{NAME}} for a literal ${{NAME}}",
                        bare(placeholder), bare(placeholder), bare(placeholder), bare(placeholder)
                    )));
        }
        for p in changed_paths {
            r.changed(p, &actor);
        }
    }
    used.names = looked_up.into_inner().into_iter().collect();
    Ok(used)
}

fn bare(placeholder: &str) -> &str {
    placeholder
        .trim_start_matches("${")
        .trim_start_matches('<')
        .trim_end_matches('}')
        .trim_end_matches('>')
}

/// What a Substitution knows of names: declared ones, ignored ones, and their values.
struct Names<'a> {
    declared: &'a dyn Fn(&str) -> bool,
    ignored: &'a dyn Fn(&str) -> bool,
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

fn walk(
    v: &mut Value,
    path: &mut String,
    names: &Names<'_>,
    changed: &mut Vec<String>,
    unresolved: &mut Vec<(String, String)>,
    literal: &mut Vec<String>,
) {
    match v {
        Value::String(s) => {
            if !s.contains('<') && !s.contains("${") {
                return;
            }
            if s.contains("$${") {
                // After substitution `$${NAME}` reads `${NAME}` on purpose: remember where, so
                // validation (IM001) does not take it for a placeholder left behind.
                literal.push(path.clone());
            }
            let r = substitute(s, names.declared, names.ignored, names.lookup);
            for u in r.unresolved {
                unresolved.push((path.clone(), u));
            }
            // Placeholders left on purpose (`ignore`) are text: validation (IM001) must not
            // take them for ones left behind.
            if placeholders(&r.text)
                .iter()
                .any(|p| (names.ignored)(bare(p)))
                && !literal.contains(path)
            {
                literal.push(path.clone());
            }
            if r.changed && r.text != *s {
                *s = r.text;
                changed.push(path.clone());
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                let len = path.len();
                path.push('/');
                path.push_str(&i.to_string());
                walk(item, path, names, changed, unresolved, literal);
                path.truncate(len);
            }
        }
        Value::Object(m) => {
            for (k, item) in m.iter_mut() {
                let len = path.len();
                push_key(path, k);
                walk(item, path, names, changed, unresolved, literal);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(s: &str, vars: &[(&str, &str)]) -> Substituted {
        let map: std::collections::HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        substitute(s, &|n| map.contains_key(n), &|_| false, &|n| {
            map.get(n).cloned()
        })
    }

    #[test]
    fn upstream_dns_template_placeholders_are_found() {
        assert_eq!(
            placeholders("forward . __PILLAR__CLUSTER__DNS__ {\n  bind __PILLAR__LOCAL__DNS__\n"),
            ["__PILLAR__CLUSTER__DNS__", "__PILLAR__LOCAL__DNS__"]
        );
        assert_eq!(
            placeholders("cluster.local __DNS__DOMAIN__"),
            ["__DNS__DOMAIN__"]
        );
        // Not placeholders: one word, lower case (Python's dunders), inside an identifier.
        assert!(placeholders("__INIT__ __init__ __main__").is_empty());
        assert!(placeholders("MY__PILLAR__X__").is_empty());
    }

    #[test]
    fn both_forms_defaults_and_escape() {
        let v = [("REGION_ID", "cn-hangzhou")];
        assert_eq!(
            sub("registry-<REGION_ID>-vpc", &v).text,
            "registry-cn-hangzhou-vpc"
        );
        assert_eq!(
            sub("registry-${REGION_ID}-vpc", &v).text,
            "registry-cn-hangzhou-vpc"
        );
        assert_eq!(sub("${ZONE:=a}", &v).text, "a");
        assert_eq!(sub("$${REGION_ID} stays", &v).text, "${REGION_ID} stays");
        assert_eq!(
            sub("<b>bold</b> <br/> a < b > c", &v).text,
            "<b>bold</b> <br/> a < b > c"
        );
    }

    #[test]
    fn unresolved_are_reported_not_replaced() {
        let r = sub("<CLUSTER_ID> and ${MISSING} and <Title>", &[]);
        assert_eq!(r.text, "<CLUSTER_ID> and ${MISSING} and <Title>");
        assert_eq!(r.unresolved, ["<CLUSTER_ID>", "${MISSING}"]);
    }

    #[test]
    fn declared_short_names_in_angle_brackets() {
        assert_eq!(sub("<ZONE>", &[("ZONE", "b")]).text, "b");
        assert_eq!(sub("<ZONE>", &[]).unresolved, Vec::<String>::new());
    }

    #[test]
    fn idempotent() {
        let v = [("REGION_ID", "cn-hangzhou")];
        let once = sub("x-<REGION_ID>-${REGION_ID}", &v).text;
        assert_eq!(sub(&once, &v).text, once);
    }

    #[test]
    fn unicode_is_kept() {
        assert_eq!(
            sub("héllo ☃ <REGION_ID>", &[("REGION_ID", "北京")]).text,
            "héllo ☃ 北京"
        );
    }
}
