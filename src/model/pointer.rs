//! JSON pointers (RFC 6901), the way findings, provenance and diffs name a field:
//! `/spec/template/spec/containers/0/image`.

use std::fmt::Write;

/// Appends `/key`, with `~` written `~0` and `/` written `~1`.
pub fn push_key(pointer: &mut String, key: &str) {
    pointer.push('/');
    if !key.contains(['~', '/']) {
        pointer.push_str(key);
        return;
    }
    for c in key.chars() {
        match c {
            '~' => pointer.push_str("~0"),
            '/' => pointer.push_str("~1"),
            c => pointer.push(c),
        }
    }
}

/// Appends `/index`.
pub fn push_index(pointer: &mut String, index: usize) {
    // Writing into a String cannot fail.
    let _ = write!(pointer, "/{index}");
}

/// One step of a path being walked, kept unescaped until a pointer is needed.
#[derive(Debug, Clone, Copy)]
pub enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// The pointer of a walked path.
pub fn of_segs(segs: &[Seg<'_>]) -> String {
    let mut pointer = String::new();
    for seg in segs {
        match *seg {
            Seg::Key(k) => push_key(&mut pointer, k),
            Seg::Index(i) => push_index(&mut pointer, i),
        }
    }
    pointer
}

/// The pointer of a path of keys.
pub fn of_keys<S: AsRef<str>>(keys: impl IntoIterator<Item = S>) -> String {
    let mut pointer = String::new();
    for k in keys {
        push_key(&mut pointer, k.as_ref());
    }
    pointer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_escaped_as_rfc_6901_says() {
        assert_eq!(
            of_keys(["metadata", "labels", "app"]),
            "/metadata/labels/app"
        );
        assert_eq!(
            of_keys(["metadata", "annotations", "example.com/a~b"]),
            "/metadata/annotations/example.com~1a~0b"
        );
        assert_eq!(of_keys([""]), "/");
        assert_eq!(of_keys(Vec::<&str>::new()), "");
        let mut p = of_keys(["spec", "containers"]);
        push_index(&mut p, 12);
        assert_eq!(p, "/spec/containers/12");
        assert_eq!(
            of_segs(&[Seg::Key("data"), Seg::Index(3), Seg::Key("a/b")]),
            "/data/3/a~1b"
        );
    }
}
