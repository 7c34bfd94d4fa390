//! RFC 6902 JSON Patch applied to a `serde_json::Value`.
//!
//! Operations are parsed into the `json-patch` crate's types (`Patch`, `PatchOperation`,
//! `AddOperation`, ..., with `jsonptr` pointers), but this module applies them itself instead of
//! calling `json_patch::patch`, which has two gaps:
//!
//! 1. Its `test` compares with `==`, so `1` and `1.0` are unequal, while RFC 6902 §4.6 says
//!    numbers are equal when their values are numerically equal (also inside arrays and objects).
//! 2. With serde_json's `preserve_order` (our `Map` is an `IndexMap`), its `remove` and the
//!    rollback of a failed patch reorder object keys, because `Map::remove` is `swap_remove`.
//!
//! Here `remove` (and the removal half of `move`) uses `shift_remove`, `add` on an existing key
//! replaces the value where it stands, and `test` compares numbers by value. There is no
//! rollback: when an operation fails the document is left half patched and the caller aborts.
//! Operation indices in errors count from 0, like positions in the patch list.

use std::fmt;

use ::json_patch::jsonptr::{ParseError, Pointer, PointerBuf};
use ::json_patch::{
    AddOperation, CopyOperation, MoveOperation, Patch, PatchOperation, RemoveOperation,
    ReplaceOperation, TestOperation,
};
use serde_json::{Map, Number, Value};

/// A JSON patch that could not be parsed, or an operation that could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum JsonPatchError {
    /// The patch is not a list of operations.
    #[error("a JSON patch must be a list of operations, found {found}")]
    NotAList {
        /// What was found instead ("a mapping", "a string", ...).
        found: &'static str,
    },
    /// An operation in the list is malformed.
    #[error("op {index}{}: {reason}", context(.op, .path))]
    InvalidOp {
        /// Position of the operation in the patch, from 0.
        index: usize,
        /// The `op` member, when it is a known operation name.
        op: Option<String>,
        /// The `path` member, when it is a valid pointer.
        path: Option<String>,
        /// The member at fault (`op`, `path`, `from`, `value`), if any.
        field: Option<&'static str>,
        /// What is wrong.
        reason: String,
    },
    /// An operation failed against the document.
    #[error("op {index} ({op} {}{}): {reason}", show_ptr(.path), from_suffix(.from))]
    Failed {
        /// Position of the operation in the patch, from 0.
        index: usize,
        /// Operation name: add, remove, replace, move, copy or test.
        op: &'static str,
        /// The operation's `path`, as written (JSON pointer encoding).
        path: String,
        /// The operation's `from`, for move and copy.
        from: Option<String>,
        /// Why it failed (boxed to keep the error small).
        reason: Box<Reason>,
    },
}

/// Which pointer of an operation an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// The `path` member.
    Path,
    /// The `from` member (move and copy).
    From,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Location::Path => "path",
            Location::From => "from path",
        })
    }
}

/// Why an operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reason {
    /// Nothing at the location; `missing` names the first missing prefix when it is shorter
    /// than the pointer itself.
    #[error("{loc} does not exist{}", missing_suffix(.missing))]
    NotFound {
        /// Which pointer.
        loc: Location,
        /// The first prefix of the pointer with nothing at it, if a proper prefix.
        missing: Option<String>,
    },
    /// The pointer goes through a scalar.
    #[error("{loc} does not exist ({} is {found}, not an object or array)", show_ptr(.at))]
    NotAContainer {
        /// Which pointer.
        loc: Location,
        /// The prefix that holds the scalar.
        at: String,
        /// What it holds ("a number", "null", ...).
        found: &'static str,
    },
    /// A token that is not `0`, a number without leading zeros, or `-`, used on an array.
    #[error("{loc} has an invalid array index {token:?}")]
    InvalidIndex {
        /// Which pointer.
        loc: Location,
        /// The token as written.
        token: String,
    },
    /// An array index past the end (for `add`, past the length).
    #[error("{loc} has array index {index} out of bounds (array length {len})")]
    IndexOutOfBounds {
        /// Which pointer.
        loc: Location,
        /// The index as written.
        index: String,
        /// The array's length.
        len: usize,
    },
    /// `-` (the element after the last one) where an existing element is needed.
    #[error("{loc} uses \"-\", which names no existing array element")]
    PastEnd {
        /// Which pointer.
        loc: Location,
    },
    /// `remove` of the whole document.
    #[error("cannot remove the whole document")]
    RemoveRoot,
    /// `move` whose `from` is a proper prefix of `path`.
    #[error("cannot move a value into its own child")]
    MoveIntoChild,
    /// `test` found a different value (both shortened to at most 60 characters).
    #[error("test failed: value is {actual}, expected {expected}")]
    TestFailed {
        /// The value in the document, as compact JSON.
        actual: String,
        /// The operation's value, as compact JSON.
        expected: String,
    },
}

/// A pointer for messages; the root (empty) pointer shows as `""`.
fn show_ptr(p: &str) -> &str {
    if p.is_empty() { "\"\"" } else { p }
}

fn from_suffix(from: &Option<String>) -> String {
    match from {
        Some(f) => format!(" from {}", show_ptr(f)),
        None => String::new(),
    }
}

fn missing_suffix(missing: &Option<String>) -> String {
    match missing {
        Some(m) => format!(" ({} is missing)", show_ptr(m)),
        None => String::new(),
    }
}

fn context(op: &Option<String>, path: &Option<String>) -> String {
    match (op, path) {
        (Some(op), Some(path)) => format!(" ({op} {})", show_ptr(path)),
        (Some(op), None) => format!(" ({op})"),
        _ => String::new(),
    }
}

/// "a number", "null", ... for messages.
fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// Compact JSON, shortened to at most 60 characters.
fn brief(v: &Value) -> String {
    const MAX: usize = 60;
    let s = v.to_string();
    if s.chars().count() <= MAX {
        s
    } else {
        let mut out: String = s.chars().take(MAX - 3).collect();
        out.push_str("...");
        out
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing

const OP_NAMES: [&str; 6] = ["add", "remove", "replace", "move", "copy", "test"];

/// Parses a list of operations (from already-parsed YAML or JSON) into a [`Patch`].
///
/// Follows RFC 6902: `op` and `path` are required, `from` for move and copy, `value` for add,
/// replace and test (even when null). Unknown members are ignored, as kustomize does. Pointers
/// must be empty or start with `/`, and `~` must be followed by `0` or `1`.
pub fn parse_ops(v: &Value) -> Result<Patch, JsonPatchError> {
    let Value::Array(items) = v else {
        return Err(JsonPatchError::NotAList { found: kind_of(v) });
    };
    items
        .iter()
        .enumerate()
        .map(|(index, item)| parse_op(index, item))
        .collect::<Result<Vec<_>, _>>()
        .map(Patch)
}

fn parse_op(index: usize, item: &Value) -> Result<PatchOperation, JsonPatchError> {
    let invalid =
        |op: Option<&str>, path: Option<&str>, field, reason: String| JsonPatchError::InvalidOp {
            index,
            op: op.map(str::to_owned),
            path: path.map(str::to_owned),
            field,
            reason,
        };
    let Value::Object(m) = item else {
        let reason = format!("an operation must be a mapping, found {}", kind_of(item));
        return Err(invalid(None, None, None, reason));
    };
    let op = match m.get("op") {
        None => return Err(invalid(None, None, Some("op"), "missing field `op`".into())),
        Some(Value::String(s)) => s.as_str(),
        Some(other) => {
            let reason = format!("field `op` must be a string, found {}", kind_of(other));
            return Err(invalid(None, None, Some("op"), reason));
        }
    };
    let Some(op) = OP_NAMES.iter().copied().find(|name| *name == op) else {
        let reason =
            format!("unknown op {op:?} (expected add, remove, replace, move, copy or test)");
        return Err(invalid(None, None, Some("op"), reason));
    };
    let path = pointer_field(m, "path").map_err(|r| invalid(Some(op), None, Some("path"), r))?;
    let ctx = |field, reason| invalid(Some(op), Some(path.as_str()), Some(field), reason);
    let value = || {
        m.get("value")
            .cloned()
            .ok_or_else(|| ctx("value", "missing field `value`".into()))
    };
    let from = || pointer_field(m, "from").map_err(|r| ctx("from", r));
    Ok(match op {
        "add" => PatchOperation::Add(AddOperation {
            value: value()?,
            path,
        }),
        "remove" => PatchOperation::Remove(RemoveOperation { path }),
        "replace" => PatchOperation::Replace(ReplaceOperation {
            value: value()?,
            path,
        }),
        "move" => PatchOperation::Move(MoveOperation {
            from: from()?,
            path,
        }),
        "copy" => PatchOperation::Copy(CopyOperation {
            from: from()?,
            path,
        }),
        _ => PatchOperation::Test(TestOperation {
            value: value()?,
            path,
        }),
    })
}

fn pointer_field(m: &Map<String, Value>, field: &str) -> Result<PointerBuf, String> {
    let s = match m.get(field) {
        None => return Err(format!("missing field `{field}`")),
        Some(Value::String(s)) => s,
        Some(other) => {
            return Err(format!(
                "field `{field}` must be a string, found {}",
                kind_of(other)
            ));
        }
    };
    match Pointer::parse(s) {
        Ok(p) => Ok(p.to_buf()),
        Err(ParseError::NoLeadingSlash) => Err(format!(
            "field `{field}` is not a JSON pointer: {s:?} must be empty or start with \"/\""
        )),
        Err(ParseError::InvalidEncoding { .. }) => Err(format!(
            "field `{field}` is not a JSON pointer: in {s:?}, \"~\" must be followed by \"0\" or \"1\""
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// Application

/// Applies `patch` to `doc` in order, stopping at the first failing operation.
///
/// On error `doc` keeps the effects of the operations before the failing one (no rollback).
pub fn apply(doc: &mut Value, patch: &Patch) -> Result<(), JsonPatchError> {
    for (index, op) in patch.iter().enumerate() {
        apply_op(doc, op).map_err(|reason| failed(index, op, reason))?;
    }
    Ok(())
}

fn failed(index: usize, op: &PatchOperation, reason: Reason) -> JsonPatchError {
    let (name, from) = match op {
        PatchOperation::Add(_) => ("add", None),
        PatchOperation::Remove(_) => ("remove", None),
        PatchOperation::Replace(_) => ("replace", None),
        PatchOperation::Move(o) => ("move", Some(&o.from)),
        PatchOperation::Copy(o) => ("copy", Some(&o.from)),
        PatchOperation::Test(_) => ("test", None),
    };
    let path = op.path();
    // A missing prefix equal to the whole pointer is just "does not exist".
    let reason = match reason {
        Reason::NotFound {
            loc,
            missing: Some(m),
        } if m
            == match loc {
                Location::Path => path.as_str(),
                Location::From => from.map_or("", |f| f.as_str()),
            } =>
        {
            Reason::NotFound { loc, missing: None }
        }
        other => other,
    };
    JsonPatchError::Failed {
        index,
        op: name,
        path: path.as_str().to_owned(),
        from: from.map(|f| f.as_str().to_owned()),
        reason: Box::new(reason),
    }
}

fn apply_op(doc: &mut Value, op: &PatchOperation) -> Result<(), Reason> {
    match op {
        PatchOperation::Add(o) => add(doc, &o.path, o.value.clone()),
        PatchOperation::Remove(o) => remove(doc, &o.path, Location::Path).map(drop),
        PatchOperation::Replace(o) => {
            *resolve_mut(doc, &o.path, Location::Path)? = o.value.clone();
            Ok(())
        }
        PatchOperation::Move(o) => {
            if o.from == o.path {
                // A no-op, but the location must exist; also keeps the key where it is.
                return resolve(doc, &o.from, Location::From).map(drop);
            }
            if o.path.starts_with(&o.from) {
                return Err(Reason::MoveIntoChild);
            }
            let value = remove(doc, &o.from, Location::From)?;
            add(doc, &o.path, value)
        }
        PatchOperation::Copy(o) => {
            let value = resolve(doc, &o.from, Location::From)?.clone();
            add(doc, &o.path, value)
        }
        PatchOperation::Test(o) => {
            let actual = resolve(doc, &o.path, Location::Path)?;
            if json_eq(actual, &o.value) {
                Ok(())
            } else {
                Err(Reason::TestFailed {
                    actual: brief(actual),
                    expected: brief(&o.value),
                })
            }
        }
    }
}

/// An array index token: a number, or `-` for the element after the last.
enum Index {
    Num(usize),
    Next,
}

/// Parses an array index token per RFC 6901 (`0` or digits without a leading zero, or `-`).
fn parse_index(token: &str, len: usize, loc: Location) -> Result<Index, Reason> {
    if token == "-" {
        return Ok(Index::Next);
    }
    let digits = !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit());
    if !digits || (token.len() > 1 && token.starts_with('0')) {
        return Err(Reason::InvalidIndex {
            loc,
            token: token.to_owned(),
        });
    }
    token
        .parse()
        .map(Index::Num)
        .map_err(|_| out_of_bounds(loc, token, len))
}

fn out_of_bounds(loc: Location, index: &str, len: usize) -> Reason {
    Reason::IndexOutOfBounds {
        loc,
        index: index.to_owned(),
        len,
    }
}

/// Index of an existing array element.
fn existing_index(token: &str, len: usize, loc: Location) -> Result<usize, Reason> {
    match parse_index(token, len, loc)? {
        Index::Num(i) if i < len => Ok(i),
        Index::Num(_) => Err(out_of_bounds(loc, token, len)),
        Index::Next => Err(Reason::PastEnd { loc }),
    }
}

/// Error for a pointer that reaches a scalar (at `prefix`) and has tokens left.
fn not_a_container(loc: Location, prefix: &str, v: &Value) -> Reason {
    Reason::NotAContainer {
        loc,
        at: prefix.to_owned(),
        found: kind_of(v),
    }
}

fn resolve<'v>(doc: &'v Value, ptr: &Pointer, loc: Location) -> Result<&'v Value, Reason> {
    let full = ptr.as_str();
    let mut cur = doc;
    let mut end = 0; // `full[..end]` points at `cur`
    for token in ptr.tokens() {
        let prefix = &full[..end];
        end += 1 + token.encoded().len();
        cur = match cur {
            Value::Object(m) => {
                m.get(token.decoded().as_ref())
                    .ok_or_else(|| Reason::NotFound {
                        loc,
                        missing: Some(full[..end].to_owned()),
                    })?
            }
            Value::Array(a) => &a[existing_index(token.encoded(), a.len(), loc)?],
            other => return Err(not_a_container(loc, prefix, other)),
        };
    }
    Ok(cur)
}

fn resolve_mut<'v>(
    doc: &'v mut Value,
    ptr: &Pointer,
    loc: Location,
) -> Result<&'v mut Value, Reason> {
    let full = ptr.as_str();
    let mut cur = doc;
    let mut end = 0; // `full[..end]` points at `cur`
    for token in ptr.tokens() {
        let prefix = &full[..end];
        end += 1 + token.encoded().len();
        cur = match cur {
            Value::Object(m) => {
                m.get_mut(token.decoded().as_ref())
                    .ok_or_else(|| Reason::NotFound {
                        loc,
                        missing: Some(full[..end].to_owned()),
                    })?
            }
            Value::Array(a) => {
                let i = existing_index(token.encoded(), a.len(), loc)?;
                &mut a[i]
            }
            other => return Err(not_a_container(loc, prefix, other)),
        };
    }
    Ok(cur)
}

/// RFC 6902 `add`: the root is replaced, an existing key is replaced in place, a new key is
/// appended, and an array element is inserted (`-` or index == length appends).
fn add(doc: &mut Value, ptr: &Pointer, value: Value) -> Result<(), Reason> {
    let loc = Location::Path;
    let Some((parent, last)) = ptr.split_back() else {
        *doc = value;
        return Ok(());
    };
    match resolve_mut(doc, parent, loc)? {
        Value::Object(m) => {
            let key = last.decoded();
            match m.get_mut(key.as_ref()) {
                Some(slot) => *slot = value,
                None => {
                    m.insert(key.into_owned(), value);
                }
            }
        }
        Value::Array(a) => match parse_index(last.encoded(), a.len(), loc)? {
            Index::Next => a.push(value),
            Index::Num(i) if i <= a.len() => a.insert(i, value),
            Index::Num(_) => return Err(out_of_bounds(loc, last.encoded(), a.len())),
        },
        other => return Err(not_a_container(loc, parent.as_str(), other)),
    }
    Ok(())
}

/// RFC 6902 `remove`, keeping the order of the remaining object keys.
fn remove(doc: &mut Value, ptr: &Pointer, loc: Location) -> Result<Value, Reason> {
    let Some((parent, last)) = ptr.split_back() else {
        return Err(Reason::RemoveRoot);
    };
    match resolve_mut(doc, parent, loc)? {
        Value::Object(m) => {
            m.shift_remove(last.decoded().as_ref())
                .ok_or_else(|| Reason::NotFound {
                    loc,
                    missing: Some(ptr.as_str().to_owned()),
                })
        }
        Value::Array(a) => {
            let i = existing_index(last.encoded(), a.len(), loc)?;
            Ok(a.remove(i))
        }
        other => Err(not_a_container(loc, parent.as_str(), other)),
    }
}

/// JSON equality per RFC 6902 §4.6: numbers compare by value, objects ignore key order.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => num_eq(x, y),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_eq(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// Numeric equality, exact between integers and floats (no rounding through `f64`).
fn num_eq(a: &Number, b: &Number) -> bool {
    fn int(n: &Number) -> Option<i128> {
        n.as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
    }
    // An integral float equals an integer when it converts exactly; `as` saturates, and
    // saturated values lie outside the i64/u64 range, so they never match.
    let float_is = |f: f64, i: i128| f.fract() == 0.0 && f as i128 == i;
    match (int(a), int(b)) {
        (Some(x), Some(y)) => x == y,
        (Some(i), None) => b.as_f64().is_some_and(|f| float_is(f, i)),
        (None, Some(i)) => a.as_f64().is_some_and(|f| float_is(f, i)),
        (None, None) => a.as_f64() == b.as_f64(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SUITE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/json-patch-tests/");

    /// Parses and applies; the error as text.
    fn run(doc: Value, ops: Value) -> Result<Value, String> {
        let mut doc = doc;
        let patch = parse_ops(&ops).map_err(|e| e.to_string())?;
        apply(&mut doc, &patch).map_err(|e| e.to_string())?;
        Ok(doc)
    }

    fn err(doc: Value, ops: Value) -> String {
        match run(doc, ops) {
            Ok(v) => panic!("expected an error, got {v}"),
            Err(e) => e,
        }
    }

    /// Keys in order, as compact JSON text.
    fn text(doc: &Value) -> String {
        serde_json::to_string(doc).unwrap()
    }

    #[derive(Default, Debug)]
    struct Tally {
        run: usize,
        passed: usize,
        failures: Vec<String>,
    }

    #[test]
    fn conformance_suite() {
        if !std::path::Path::new(SUITE_DIR).is_dir() {
            // Past the harness's capture, so that `cargo test` shows it.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr().lock(),
                "SKIP conformance_suite: no {SUITE_DIR} (the RFC 6902 suite is shared data beside the project)"
            );
            return;
        }
        let mut enabled = Tally::default();
        let mut disabled = Tally::default();
        for file in ["tests.json", "spec_tests.json"] {
            let path = format!("{SUITE_DIR}{file}");
            let body = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
            let records: Vec<Value> = serde_json::from_str(&body).unwrap();
            for (i, rec) in records.iter().enumerate() {
                let tally = if rec["disabled"] == json!(true) {
                    &mut disabled
                } else {
                    &mut enabled
                };
                tally.run += 1;
                let outcome = run(rec["doc"].clone(), rec["patch"].clone());
                let ok = match (&outcome, rec.get("expected"), rec.get("error")) {
                    (Ok(got), Some(expected), _) => got == expected,
                    (Ok(_), None, Some(_)) => false,
                    (Ok(_), None, None) => true,
                    (Err(_), _, Some(_)) => true,
                    (Err(_), _, None) => false,
                };
                if ok {
                    tally.passed += 1;
                } else {
                    tally
                        .failures
                        .push(format!("{file}[{i}] {}: {outcome:?}", rec["comment"]));
                }
            }
        }
        eprintln!(
            "suite: {}/{} passed; disabled: {}/{} passed {:?}",
            enabled.passed, enabled.run, disabled.passed, disabled.run, disabled.failures
        );
        assert!(enabled.failures.is_empty(), "{:#?}", enabled.failures);
        // 95 + 17 records, 4 of them disabled.
        assert_eq!(enabled.run, 108);
        assert_eq!(disabled.run, 4);
        // The two disabled "duplicate op" records cannot be told apart once parsed into a
        // `Value` (the last `op` wins); one of them still errors for another reason.
        assert_eq!(disabled.passed, 3, "{:#?}", disabled.failures);
    }

    // --- numeric equality in `test` ---

    #[test]
    fn test_numbers_compare_by_value() {
        let doc = json!({"a": 1, "b": 1.0, "c": -0.0, "d": 2.5, "big": u64::MAX});
        for (path, value) in [
            ("/a", json!(1.0)),
            ("/b", json!(1)),
            ("/a", json!(1)),
            ("/c", json!(0)),
            ("/d", json!(2.5)),
            ("/big", json!(u64::MAX)),
        ] {
            let ops = json!([{"op": "test", "path": path, "value": value}]);
            assert!(run(doc.clone(), ops).is_ok(), "{path} == {value}");
        }
        for (path, value) in [
            ("/a", json!(1.5)),
            ("/a", json!("1")),
            ("/d", json!(2)),
            // u64::MAX is not exactly representable as f64; 2^64 must not match it.
            ("/big", json!(18446744073709551616.0)),
        ] {
            let ops = json!([{"op": "test", "path": path, "value": value}]);
            assert!(run(doc.clone(), ops).is_err(), "{path} != {value}");
        }
    }

    #[test]
    fn test_numbers_nested() {
        let doc = json!({"spec": {"ports": [80, {"n": 1, "w": [2, 3.5]}], "r": {"x": 1, "y": 2}}});
        let same = json!({"ports": [80.0, {"w": [2.0, 3.5], "n": 1.0}], "r": {"y": 2.0, "x": 1}});
        assert!(
            run(
                doc.clone(),
                json!([{"op": "test", "path": "/spec", "value": same}])
            )
            .is_ok()
        );
        let differ = json!({"ports": [80.0, {"w": [2.0, 3.5], "n": 1.5}], "r": {"y": 2, "x": 1}});
        assert!(
            run(
                doc.clone(),
                json!([{"op": "test", "path": "/spec", "value": differ}])
            )
            .is_err()
        );
        let extra = json!({"ports": [80, {"n": 1, "w": [2, 3.5]}], "r": {"x": 1, "y": 2, "z": 3}});
        assert!(
            run(
                doc.clone(),
                json!([{"op": "test", "path": "/spec", "value": extra}])
            )
            .is_err()
        );
        let short = json!([80, {"n": 1}]);
        assert!(
            run(
                doc,
                json!([{"op": "test", "path": "/spec/ports", "value": short}])
            )
            .is_err()
        );
    }

    // --- key order ---

    fn ordered() -> Value {
        serde_json::from_str(r#"{"z": 1, "a": 2, "m": {"q": 1, "b": 2, "k": 3}, "c": 4}"#).unwrap()
    }

    #[test]
    fn remove_keeps_key_order() {
        let got = run(
            ordered(),
            json!([{"op": "remove", "path": "/z"}, {"op": "remove", "path": "/m/q"}]),
        );
        assert_eq!(text(&got.unwrap()), r#"{"a":2,"m":{"b":2,"k":3},"c":4}"#);
    }

    #[test]
    fn replace_keeps_key_order() {
        let got = run(
            ordered(),
            json!([{"op": "replace", "path": "/a", "value": [9]}]),
        );
        assert_eq!(
            text(&got.unwrap()),
            r#"{"z":1,"a":[9],"m":{"q":1,"b":2,"k":3},"c":4}"#
        );
    }

    #[test]
    fn add_on_existing_key_replaces_in_place() {
        let ops = json!([
            {"op": "add", "path": "/z", "value": "new"},
            {"op": "add", "path": "/m/b", "value": null},
            {"op": "add", "path": "/n", "value": 5},
        ]);
        let got = run(ordered(), ops).unwrap();
        assert_eq!(
            text(&got),
            r#"{"z":"new","a":2,"m":{"q":1,"b":null,"k":3},"c":4,"n":5}"#
        );
    }

    #[test]
    fn move_and_copy_keep_key_order() {
        let ops = json!([
            {"op": "move", "from": "/a", "path": "/m/x"},
            {"op": "move", "from": "/m/b", "path": "/z"},
            {"op": "copy", "from": "/c", "path": "/m/q"},
        ]);
        let got = run(ordered(), ops).unwrap();
        assert_eq!(text(&got), r#"{"z":2,"m":{"q":4,"k":3,"x":2},"c":4}"#);
        // Moving a value onto itself is a no-op and leaves the key where it is.
        let got = run(
            ordered(),
            json!([{"op": "move", "from": "/z", "path": "/z"}]),
        )
        .unwrap();
        assert_eq!(text(&got), text(&ordered()));
    }

    // --- arrays, pointers, move ---

    #[test]
    fn array_index_rules() {
        let doc = json!({"l": ["a", "b"]});
        let add = |path: &str| {
            run(
                doc.clone(),
                json!([{"op": "add", "path": path, "value": "x"}]),
            )
        };
        assert_eq!(add("/l/-").unwrap(), json!({"l": ["a", "b", "x"]}));
        assert_eq!(add("/l/2").unwrap(), json!({"l": ["a", "b", "x"]}));
        assert_eq!(add("/l/0").unwrap(), json!({"l": ["x", "a", "b"]}));
        for bad in [
            "/l/3",
            "/l/01",
            "/l/-1",
            "/l/1e0",
            "/l/",
            "/l/99999999999999999999999",
        ] {
            assert!(add(bad).is_err(), "{bad}");
        }
        let op =
            |op: &str, path: &str| run(doc.clone(), json!([{"op": op, "path": path, "value": 1}]));
        for o in ["remove", "replace", "test"] {
            assert!(op(o, "/l/2").is_err(), "{o} /l/2");
            assert!(op(o, "/l/-").is_err(), "{o} /l/-");
            assert!(op(o, "/l/00").is_err(), "{o} /l/00");
        }
        assert_eq!(op("remove", "/l/0").unwrap(), json!({"l": ["b"]}));
        assert_eq!(op("replace", "/l/1").unwrap(), json!({"l": ["a", 1]}));
        // On objects, the same tokens are plain keys.
        let doc = json!({"01": 1, "-": 2});
        let got = run(
            doc,
            json!([{"op": "test", "path": "/01", "value": 1}, {"op": "remove", "path": "/-"}]),
        );
        assert_eq!(got.unwrap(), json!({"01": 1}));
    }

    #[test]
    fn move_rules() {
        let doc = json!({"a": {"b": {"c": 1}}, "l": [1, 2, 3]});
        let mv = |from: &str, path: &str| {
            run(
                doc.clone(),
                json!([{"op": "move", "from": from, "path": path}]),
            )
        };
        assert!(mv("/a", "/a/b/x").is_err());
        assert!(mv("/a/b", "/a/b/c").is_err());
        // A sibling whose name extends the source is not a child.
        assert_eq!(
            mv("/a", "/ab").unwrap(),
            json!({"ab": {"b": {"c": 1}}, "l": [1, 2, 3]})
        );
        // Moving a child over its parent is fine.
        assert_eq!(
            mv("/a/b", "/a").unwrap(),
            json!({"a": {"c": 1}, "l": [1, 2, 3]})
        );
        assert_eq!(mv("/l/0", "/l/-").unwrap()["l"], json!([2, 3, 1]));
        assert_eq!(mv("/l/2", "/l/0").unwrap()["l"], json!([3, 1, 2]));
    }

    #[test]
    fn root_and_escapes() {
        let got = run(
            json!({"a": 1}),
            json!([{"op": "replace", "path": "", "value": [1]}]),
        );
        assert_eq!(got.unwrap(), json!([1]));
        let got = run(
            json!({"a": 1}),
            json!([{"op": "add", "path": "", "value": "s"}]),
        );
        assert_eq!(got.unwrap(), json!("s"));
        let got = run(
            json!({"a/b": 1, "m~n": 2}),
            json!([
                {"op": "test", "path": "/a~1b", "value": 1},
                {"op": "move", "from": "/m~0n", "path": "/x"},
            ]),
        );
        assert_eq!(got.unwrap(), json!({"a/b": 1, "x": 2}));
        assert_eq!(
            err(json!({}), json!([{"op": "remove", "path": ""}])),
            r#"op 0 (remove ""): cannot remove the whole document"#
        );
    }

    #[test]
    fn later_ops_see_earlier_ones_and_no_rollback() {
        let mut doc = json!({"a": 1});
        let patch = parse_ops(&json!([
            {"op": "add", "path": "/b", "value": 2},
            {"op": "remove", "path": "/nope"},
        ]))
        .unwrap();
        assert!(apply(&mut doc, &patch).is_err());
        assert_eq!(doc, json!({"a": 1, "b": 2}));
    }

    // --- error messages ---

    #[test]
    fn apply_error_messages() {
        let doc = json!({"spec": {"template": {"spec": {"containers": [{"name": "app"}]}}, "replicas": 1}});
        let cases = [
            (
                json!([{"op": "test", "path": "/spec/replicas", "value": 1}, {"op": "add", "path": "/x", "value": 1},
                       {"op": "replace", "path": "/spec/template/spec/hostNetwork", "value": true}]),
                "op 2 (replace /spec/template/spec/hostNetwork): path does not exist",
            ),
            (
                json!([{"op": "add", "path": "/spec/a/b/c", "value": 1}]),
                "op 0 (add /spec/a/b/c): path does not exist (/spec/a is missing)",
            ),
            (
                json!([{"op": "remove", "path": "/spec/replicas/x"}]),
                "op 0 (remove /spec/replicas/x): path does not exist \
                 (/spec/replicas is a number, not an object or array)",
            ),
            (
                json!([{"op": "remove", "path": "/spec/template/spec/containers/1"}]),
                "op 0 (remove /spec/template/spec/containers/1): path has array index 1 out of \
                 bounds (array length 1)",
            ),
            (
                json!([{"op": "add", "path": "/spec/template/spec/containers/01", "value": {}}]),
                "op 0 (add /spec/template/spec/containers/01): path has an invalid array index \"01\"",
            ),
            (
                json!([{"op": "replace", "path": "/spec/template/spec/containers/-/name", "value": "x"}]),
                "op 0 (replace /spec/template/spec/containers/-/name): path uses \"-\", which names \
                 no existing array element",
            ),
            (
                json!([{"op": "test", "path": "/spec/replicas", "value": 2}]),
                "op 0 (test /spec/replicas): test failed: value is 1, expected 2",
            ),
            (
                json!([{"op": "test", "path": "/spec/template", "value": "x"}]),
                r#"op 0 (test /spec/template): test failed: value is {"spec":{"containers":[{"name":"app"}]}}, expected "x""#,
            ),
            (
                json!([{"op": "move", "from": "/spec/nope", "path": "/spec/x"}]),
                "op 0 (move /spec/x from /spec/nope): from path does not exist",
            ),
            (
                json!([{"op": "copy", "from": "/spec/template/spec/containers/5", "path": "/x"}]),
                "op 0 (copy /x from /spec/template/spec/containers/5): from path has array index 5 \
                 out of bounds (array length 1)",
            ),
            (
                json!([{"op": "move", "from": "/spec", "path": "/spec/template/x"}]),
                "op 0 (move /spec/template/x from /spec): cannot move a value into its own child",
            ),
        ];
        for (ops, want) in cases {
            assert_eq!(err(doc.clone(), ops), want);
        }
        let long = json!([{"op": "test", "path": "/s", "value": "y"}]);
        let got = err(json!({"s": "x".repeat(100)}), long);
        assert_eq!(
            got,
            format!(
                "op 0 (test /s): test failed: value is \"{}..., expected \"y\"",
                "x".repeat(56)
            )
        );
    }

    #[test]
    fn error_fields() {
        let e = run_err_value(json!({"a": [1]}), json!([{"op": "remove", "path": "/a/3"}]));
        match e {
            JsonPatchError::Failed {
                index,
                op,
                path,
                from,
                reason,
            } => {
                assert_eq!(
                    (index, op, path.as_str(), from),
                    (0, "remove", "/a/3", None)
                );
                assert_eq!(
                    *reason,
                    Reason::IndexOutOfBounds {
                        loc: Location::Path,
                        index: "3".into(),
                        len: 1
                    }
                );
            }
            other => panic!("{other:?}"),
        }
    }

    fn run_err_value(mut doc: Value, ops: Value) -> JsonPatchError {
        apply(&mut doc, &parse_ops(&ops).unwrap()).unwrap_err()
    }

    #[test]
    fn parse_errors() {
        let cases = [
            (
                json!({"op": "add"}),
                "a JSON patch must be a list of operations, found a mapping",
            ),
            (
                json!([{"op": "add", "path": "/a", "value": 1}, "x"]),
                "op 1: an operation must be a mapping, found a string",
            ),
            (json!([{"path": "/a"}]), "op 0: missing field `op`"),
            (
                json!([{"op": 3, "path": "/a"}]),
                "op 0: field `op` must be a string, found a number",
            ),
            (
                json!([{"op": "Add", "path": "/a", "value": 1}]),
                "op 0: unknown op \"Add\" (expected add, remove, replace, move, copy or test)",
            ),
            (
                json!([{"op": "remove"}]),
                "op 0 (remove): missing field `path`",
            ),
            (
                json!([{"op": "remove", "path": null}]),
                "op 0 (remove): field `path` must be a string, found null",
            ),
            (
                json!([{"op": "replace", "path": "spec/replicas", "value": 3}]),
                "op 0 (replace): field `path` is not a JSON pointer: \"spec/replicas\" must be empty or start with \"/\"",
            ),
            (
                json!([{"op": "add", "path": "/a~2b", "value": 3}]),
                "op 0 (add): field `path` is not a JSON pointer: in \"/a~2b\", \"~\" must be followed by \"0\" or \"1\"",
            ),
            (
                json!([{"op": "add", "path": "/a"}]),
                "op 0 (add /a): missing field `value`",
            ),
            (
                json!([{"op": "replace", "path": ""}]),
                "op 0 (replace \"\"): missing field `value`",
            ),
            (
                json!([{"op": "test", "path": "/a"}]),
                "op 0 (test /a): missing field `value`",
            ),
            (
                json!([{"op": "copy", "path": "/a"}]),
                "op 0 (copy /a): missing field `from`",
            ),
            (
                json!([{"op": "move", "path": "/a", "from": "a"}]),
                "op 0 (move /a): field `from` is not a JSON pointer: \"a\" must be empty or start with \"/\"",
            ),
        ];
        for (ops, want) in cases {
            assert_eq!(parse_ops(&ops).unwrap_err().to_string(), want);
        }
        match parse_ops(&json!([{"op": "copy", "path": "/a"}])).unwrap_err() {
            JsonPatchError::InvalidOp {
                index: 0,
                field: Some("from"),
                ..
            } => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parse_accepts_kustomize_style_ops() {
        // Unknown members are ignored; an explicit null value is a value.
        let ops = json!([
            {"op": "add", "path": "/a", "value": null, "comment": "x", "from": 7},
            {"op": "remove", "path": "/b", "value": "ignored"},
            {"op": "move", "from": "/c", "path": "/d"},
        ]);
        let patch = parse_ops(&ops).unwrap();
        assert_eq!(patch.len(), 3);
        assert_eq!(
            patch[0],
            PatchOperation::Add(AddOperation {
                path: PointerBuf::parse("/a").unwrap(),
                value: Value::Null
            })
        );
        assert_eq!(parse_ops(&json!([])).unwrap().len(), 0);
        let got = run(json!({"b": 1, "c": 2}), ops).unwrap();
        assert_eq!(text(&got), r#"{"a":null,"d":2}"#);
    }
}
