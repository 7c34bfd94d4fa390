//! The only module that touches the YAML crate.
//!
//! Reading: `serde-saphyr`'s event parser (`granit_parser`, re-exported by serde-saphyr) turns
//! the text into events; this module builds `serde_json::Value`s from them and resolves plain
//! scalars the way Kubernetes' own reader does (kubectl, the API machinery and Argo CD all go
//! through `sigs.k8s.io/yaml`, a YAML 1.1 reader): `yes`/`on`/`y` are booleans, `0644` is the
//! octal 420, `1_000` is 1000, dates and `12:30` stay strings, integers beyond 64 bits become
//! floats, a later `<<` merge overrides earlier keys, and keys such as `on` or `0x10` become the
//! strings `"true"` and `"16"`. Serde-saphyr's own typed resolution follows YAML 1.2 and differs
//! from Kubernetes on exactly those points (see README, "Why not serde_yaml").
//!
//! One place follows kustomize rather than the reader: the values of `metadata.annotations`
//! are read as the text they were written with (`port: 8080` is "8080"), because kustomize
//! writes every annotation value so, and Kubernetes accepts only strings there.
//!
//! Writing: serde-saphyr's serializer, which quotes every string that a YAML 1.1 reader would
//! otherwise read as something else (`"yes"`, `"0644"`, `"1.0"`, `"12:30"`).
//!
//! Hostile input is bounded: nesting depth, and the number of nodes that aliases may expand to
//! (billion laughs), are limited; the builder keeps its own stack, so no input recurses.

use std::collections::HashMap;

use rayon::prelude::*;
use serde_json::{Map, Number, Value};
use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle, ScanError, Span, Tag};

/// Deepest nesting of collections accepted in one document.
pub const MAX_DEPTH: usize = 256;
/// Nodes that aliases may add on top of the nodes written in the text.
const ALIAS_NODE_ALLOWANCE: usize = 1_000_000;

/// One document of a YAML stream, with the line its root node starts on (1-based).
#[derive(Debug, Clone)]
pub struct Document {
    pub value: Value,
    pub line: usize,
}

/// A YAML error at a position in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl YamlError {
    fn at(span: &Span, message: impl Into<String>) -> Self {
        YamlError {
            line: span.start.line(),
            column: span.start.col() + 1,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for YamlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

/// Parses a YAML (or JSON) stream into documents. Empty documents (only comments, or nothing
/// between two `---`) are left out, as Kubernetes leaves them out.
pub fn parse_stream(src: &str) -> Result<Vec<Document>, YamlError> {
    parse_stream_map(src, |doc| doc)
}

/// [`parse_stream`], handing each document to `f` as soon as it is read, while it is still in
/// cache; the results come in document order.
pub fn parse_stream_map<T: Send>(
    src: &str,
    f: impl Fn(Document) -> T + Sync,
) -> Result<Vec<T>, YamlError> {
    let src = src.strip_prefix('\u{feff}').unwrap_or(src);
    // (The thread pool is only asked, and so started, for a large text.)
    let pieces = if src.len() < PARALLEL_PARSE_MIN {
        1
    } else {
        rayon::current_num_threads()
    };
    parse_in_pieces(src, pieces, &f)
}

/// [`parse_stream_map`] on up to `pieces` threads.
fn parse_in_pieces<T: Send>(
    src: &str,
    pieces: usize,
    f: &(impl Fn(Document) -> T + Sync),
) -> Result<Vec<T>, YamlError> {
    let chunks = split_at_documents(src, pieces);
    if chunks.len() > 1 {
        let parsed: Result<Vec<Vec<T>>, YamlError> = chunks
            .par_iter()
            .map(|&(start, end, line)| {
                // A `---` after a piece that the next one follows, so that its last document
                // ends as it ends there (before the next document's marker), not at the end
                // of input. Lines count from the piece's start: documents are moved down by
                // the lines before it (an error sends the whole text to be parsed again).
                let mut text = String::with_capacity(end - start + 4);
                text.push_str(&src[start..end]);
                if end < src.len() {
                    text.push_str("---\n");
                }
                parse_whole(&text, line, f)
            })
            .collect();
        // An error found in a piece is reported as the whole text reports it.
        if let Ok(parts) = parsed {
            return Ok(parts.into_iter().flatten().collect());
        }
    }
    parse_whole(src, 0, f)
}

/// Streams of this many documents or more are written on all cores.
const PARALLEL_EMIT_MIN: usize = 200;

/// Texts from this size on are parsed in pieces, one per thread.
const PARALLEL_PARSE_MIN: usize = 1 << 20;

/// Where a large stream can be cut into `pieces` runs of whole documents: `(start, end,
/// lines before start)`, cut only before a `---` marker at the start of a line (YAML forbids
/// one inside any node, so no node spans a cut). Small texts, and texts with a line starting
/// with `%` (a directive applies to the documents after it), are one piece.
fn split_at_documents(src: &str, pieces: usize) -> Vec<(usize, usize, usize)> {
    let whole = vec![(0, src.len(), 0)];
    if pieces < 2 || src.len() < PARALLEL_PARSE_MIN || src.starts_with('%') || src.contains("\n%") {
        return whole;
    }
    let bytes = src.as_bytes();
    let is_marker = |at: usize| {
        bytes[at..].starts_with(b"---")
            && matches!(bytes.get(at + 3), None | Some(b' ' | b'\t' | b'\r' | b'\n'))
    };
    let mut cuts = vec![(0, 0)];
    let mut lines = 0;
    let mut at = 0;
    for k in 1..pieces {
        let goal = src.len() * k / pieces;
        // The first marker line at or after the goal.
        let mut found = None;
        while let Some(nl) = memchr_newline(&bytes[at..]) {
            lines += 1;
            at += nl + 1;
            if at >= goal && at < bytes.len() && is_marker(at) {
                found = Some(at);
                break;
            }
        }
        match found {
            Some(cut) => cuts.push((cut, lines)),
            None => break,
        }
    }
    if cuts.len() < 2 {
        return whole;
    }
    let mut out = Vec::with_capacity(cuts.len());
    for (i, &(start, line)) in cuts.iter().enumerate() {
        let end = cuts.get(i + 1).map_or(src.len(), |&(e, _)| e);
        out.push((start, end, line));
    }
    out
}

fn memchr_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}

/// Parses a whole text, its documents moved down by `lines`, each handed to `f` when read.
fn parse_whole<T>(
    src: &str,
    lines: usize,
    f: &impl Fn(Document) -> T,
) -> Result<Vec<T>, YamlError> {
    let mut builder = Builder::new(src);
    let mut parser = Parser::new_from_str(src);
    let mut out = Vec::new();
    while let Some(item) = parser.next_event() {
        let (event, span) = item.map_err(scan_error)?;
        builder.event(event, span)?;
        for mut doc in builder.docs.drain(..) {
            doc.line += lines;
            out.push(f(doc));
        }
    }
    Ok(out)
}

/// Parses a stream that must hold exactly one document (a kustomization, a patch file).
/// Returns `Ok(None)` for an empty file.
pub fn parse_single(src: &str) -> Result<Option<Document>, YamlError> {
    let mut docs = parse_stream(src)?;
    match docs.len() {
        0 => Ok(None),
        1 => Ok(docs.pop()),
        _ => Err(YamlError {
            line: docs[1].line,
            column: 1,
            message: format!("expected one YAML document, found {}", docs.len()),
        }),
    }
}

fn scan_error(e: ScanError) -> YamlError {
    let info = e.info();
    let message = if info.contains("recursion limit") {
        format!("nesting deeper than {MAX_DEPTH} levels")
    } else {
        info.to_string()
    };
    YamlError {
        line: e.marker().line(),
        column: e.marker().col() + 1,
        message,
    }
}

/// Writes values as a YAML stream, documents separated by `---`.
pub fn to_yaml_stream<T: serde::Serialize + Sync>(docs: &[T]) -> String {
    to_yaml_parts(docs).concat()
}

/// The YAML stream of [`to_yaml_stream`] in consecutive parts, to be written one after the
/// other: a large stream is written by all cores in runs of documents, and handing the runs
/// over as they are saves joining them into one more copy of the output.
pub fn to_yaml_parts<T: serde::Serialize + Sync>(docs: &[T]) -> Vec<String> {
    let write = |first: bool, docs: &[T]| {
        let mut out = String::new();
        for (i, doc) in docs.iter().enumerate() {
            if i > 0 || !first {
                out.push_str("---\n");
            }
            write_yaml(&mut out, doc);
        }
        out
    };
    if docs.len() < PARALLEL_EMIT_MIN {
        return vec![write(true, docs)];
    }
    // Written in runs of documents, one run at a time per thread, kept in order.
    let run = docs.len().div_ceil(rayon::current_num_threads() * 8).max(1);
    docs.par_chunks(run)
        .enumerate()
        .map(|(i, chunk)| write(i == 0, chunk))
        .collect()
}

/// Writes one value as a YAML document (block style, two-space indent, lists not indented
/// under their key, as kustomize writes them).
pub fn to_yaml<T: serde::Serialize>(value: &T) -> String {
    let mut s = String::new();
    write_yaml(&mut s, value);
    s
}

/// [`to_yaml`], appended to `out`.
fn write_yaml<T: serde::Serialize>(out: &mut String, value: &T) {
    // Multi-line strings as literal blocks (`|`), as kustomize writes them; long single-line
    // strings (images, annotations) stay on one line rather than folded (`>`), which reads
    // badly in diffs.
    let mut options = serde_saphyr::SerializerOptions::default();
    options.folded_wrap_chars = usize::MAX;
    let start = out.len();
    serde_saphyr::to_fmt_writer_with_options(out, value, options)
        .unwrap_or_else(|e| unreachable!("a JSON value always serializes to YAML: {e}"));
    if out.len() == start || !out.ends_with('\n') {
        out.push('\n');
    }
}

/// Finds where the node at `path` (object keys and array indexes, in order) of the
/// `doc_index`-th non-empty document starts: `(line, column)`, both 1-based. Falls back to
/// the deepest existing ancestor, so a diagnostic about a missing field still points at the
/// object it belongs in. Parses the text once; for many look-ups in one file, build
/// [`Positions`] once and ask it.
pub fn locate(src: &str, doc_index: usize, path: &[&str]) -> Option<(usize, usize)> {
    Positions::of(src).find(doc_index, path)
}

/// Where every node of every non-empty document starts (JSON pointer -> line, column),
/// counting documents exactly as [`parse_stream`] does. Built with one walk of the events.
#[derive(Debug, Default)]
pub struct Positions {
    docs: Vec<HashMap<String, (usize, usize)>>,
}

impl Positions {
    pub fn of(src: &str) -> Positions {
        Positions {
            docs: node_positions(src, 0, usize::MAX),
        }
    }

    /// The node positions of just the document whose root node starts on `line` (1-based),
    /// as document 0: parses that document's text only, so locating fields in a few
    /// documents of a large file costs those documents, not the file. `None` when the text
    /// from that line on does not parse as that document (a `%TAG` directive before it, or
    /// lines broken by a lone `\r`): use [`Positions::of`] then.
    pub fn of_document_at(src: &str, line_starts: &LineStarts, line: usize) -> Option<Positions> {
        let start = *line_starts.0.get(line.checked_sub(1)?)?;
        let src = src.strip_prefix('\u{feff}').unwrap_or(src);
        let mut docs = node_positions(src.get(start..)?, line - 1, 1);
        let doc = docs.pop()?;
        (doc.get("").map(|&(l, _)| l) == Some(line)).then(|| Positions { docs: vec![doc] })
    }

    /// The position of `path` in the `doc`-th document, or of its deepest existing ancestor.
    pub fn find(&self, doc: usize, path: &[&str]) -> Option<(usize, usize)> {
        let map = self.docs.get(doc)?;
        let mut pointer = crate::model::pointer::of_keys(path);
        loop {
            if let Some(pos) = map.get(&pointer) {
                return Some(*pos);
            }
            let cut = pointer.rfind('/')?;
            pointer.truncate(cut);
        }
    }

    /// The position of the key of the mapping entry at a JSON pointer (`hostPid` in
    /// `hostPid: true`), `None` when the document does not have it.
    pub fn find_key(&self, doc: usize, pointer: &str) -> Option<(usize, usize)> {
        self.docs
            .get(doc)?
            .get(&format!("{pointer}{KEY_MARK}"))
            .copied()
    }

    /// The position of a JSON pointer itself, `None` when the document does not have it.
    pub fn find_exact(&self, doc: usize, pointer: &str) -> Option<(usize, usize)> {
        self.docs.get(doc)?.get(pointer).copied()
    }

    /// The position of a JSON pointer (`/spec/replicas`), or of its deepest existing ancestor.
    pub fn find_pointer(&self, doc: usize, pointer: &str) -> Option<(usize, usize)> {
        let map = self.docs.get(doc)?;
        let mut pointer = pointer.to_string();
        loop {
            if let Some(pos) = map.get(&pointer) {
                return Some(*pos);
            }
            let cut = pointer.rfind('/')?;
            pointer.truncate(cut);
        }
    }
}

/// Byte offset of the start of every line of a text (after a leading BOM), for
/// [`Positions::of_document_at`].
#[derive(Debug, Default)]
pub struct LineStarts(Vec<usize>);

impl LineStarts {
    pub fn of(src: &str) -> LineStarts {
        let src = src.strip_prefix('\u{feff}').unwrap_or(src);
        let mut starts = vec![0];
        starts.extend(
            src.bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| i + 1),
        );
        LineStarts(starts)
    }
}

/// One walk of the events of `src`: every node's position (JSON pointer -> line, column) in
/// each non-empty document, counting documents exactly as [`parse_stream`] does; lines are
/// shifted by `line_offset`; stops after `max_docs` documents or at the first syntax error.
/// Appended to a pointer, names where the key of that mapping entry is written (a JSON
/// pointer never holds a NUL).
const KEY_MARK: char = '\0';

fn node_positions(
    src: &str,
    line_offset: usize,
    max_docs: usize,
) -> Vec<HashMap<String, (usize, usize)>> {
    enum Frame {
        Map {
            pointer: String,
            key: Option<String>,
            /// Where the key read was written.
            key_pos: (usize, usize),
        },
        Seq {
            pointer: String,
            next: usize,
        },
    }
    let src = src.strip_prefix('\u{feff}').unwrap_or(src);
    let mut parser = Parser::new_from_str(src);
    let mut docs = Vec::new();
    let mut current: HashMap<String, (usize, usize)> = HashMap::new();
    let mut stack: Vec<Frame> = Vec::new();
    // Whether the document's root is a null scalar (or absent): such documents are left
    // out, as the builder leaves them out.
    let mut root_null = true;
    while let Some(Ok((event, span))) = parser.next_event() {
        let pos = (span.start.line() + line_offset, span.start.col() + 1);
        match event {
            Event::DocumentStart(..) => {
                current = HashMap::new();
                stack.clear();
                root_null = true;
            }
            Event::DocumentEnd if !root_null => {
                docs.push(std::mem::take(&mut current));
                if docs.len() >= max_docs {
                    break;
                }
            }
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
            }
            Event::Scalar(..)
            | Event::MappingStart(..)
            | Event::SequenceStart(..)
            | Event::Alias(_) => {
                // A mapping key: remember it (resolved as the builder resolves keys).
                if let Some(Frame::Map {
                    key: key @ None,
                    key_pos,
                    ..
                }) = stack.last_mut()
                {
                    *key_pos = pos;
                    *key = Some(match &event {
                        Event::Scalar(text, style, _, tag) => {
                            match resolve_key(text, *style, tag.as_deref(), &span) {
                                Ok(Key::Plain(k, _)) => k,
                                _ => text.to_string(),
                            }
                        }
                        _ => String::new(),
                    });
                    continue;
                }
                let pointer = match stack.last_mut() {
                    None => {
                        root_null = match &event {
                            Event::Scalar(text, style, _, tag) => matches!(
                                resolve_scalar(text, *style, tag.as_deref(), &span),
                                Ok(Value::Null)
                            ),
                            _ => false,
                        };
                        String::new()
                    }
                    Some(Frame::Map {
                        pointer,
                        key,
                        key_pos,
                    }) => {
                        let mut child = pointer.clone();
                        crate::model::pointer::push_key(
                            &mut child,
                            &key.take().unwrap_or_default(),
                        );
                        current
                            .entry(format!("{child}{KEY_MARK}"))
                            .or_insert(*key_pos);
                        child
                    }
                    Some(Frame::Seq { pointer, next }) => {
                        *next += 1;
                        format!("{pointer}/{}", *next - 1)
                    }
                };
                current.entry(pointer.clone()).or_insert(pos);
                match event {
                    Event::MappingStart(..) => stack.push(Frame::Map {
                        pointer,
                        key: None,
                        key_pos: (0, 0),
                    }),
                    Event::SequenceStart(..) => stack.push(Frame::Seq { pointer, next: 0 }),
                    _ => {}
                }
            }
            _ => {}
        }
    }
    docs
}

// ---------------------------------------------------------------------------------------------
// Building values from events

enum Open {
    Seq {
        items: Vec<Value>,
        anchor: usize,
        nodes: usize,
    },
    Map {
        map: Map<String, Value>,
        anchor: usize,
        nodes: usize,
        /// The key read, waiting for its value (`None` between entries).
        key: Option<Key>,
        /// Keys written explicitly in this mapping, to reject duplicates: kept only once a
        /// `<<` merge has added keys (before that, the mapping's keys are exactly these).
        explicit: Option<std::collections::HashSet<String>>,
    },
}

/// A mapping key waiting for its value, with where it stands (line, column).
enum Key {
    Plain(String, (usize, usize)),
    Merge((usize, usize)),
}

fn pos(span: &Span) -> (usize, usize) {
    (span.start.line(), span.start.col() + 1)
}

fn error_at(pos: (usize, usize), message: impl Into<String>) -> YamlError {
    YamlError {
        line: pos.0,
        column: pos.1,
        message: message.into(),
    }
}

struct Builder<'s> {
    src: &'s str,
    docs: Vec<Document>,
    stack: Vec<Open>,
    anchors: HashMap<usize, (Value, usize)>,
    doc_line: usize,
    /// Nodes created by alias expansion so far, against the allowance.
    alias_nodes: usize,
}

impl<'s> Builder<'s> {
    fn new(src: &'s str) -> Self {
        Builder {
            src,
            docs: Vec::new(),
            stack: Vec::new(),
            anchors: HashMap::new(),
            doc_line: 1,
            alias_nodes: 0,
        }
    }

    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), YamlError> {
        match event {
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => Ok(()),
            #[allow(unreachable_patterns)]
            Event::Anchor(..) | Event::UnresolvedAlias(..) => Ok(()),
            Event::DocumentStart(_, version) => {
                if let Some(v) = version
                    && (v.major, v.minor) != (1, 2)
                {
                    return Err(YamlError::at(
                        &span,
                        format!(
                            "the %YAML {}.{} directive is rejected by Kubernetes' YAML \
                                 reader; remove the directive line",
                            v.major, v.minor
                        ),
                    ));
                }
                self.anchors.clear();
                Ok(())
            }
            Event::Alias(id) => {
                let Some((value, nodes)) = self.anchors.get(&id) else {
                    return Err(YamlError::at(&span, "alias to an unknown anchor"));
                };
                self.alias_nodes += nodes;
                if self.alias_nodes > ALIAS_NODE_ALLOWANCE {
                    return Err(YamlError::at(
                        &span,
                        format!(
                            "aliases expand to more than {ALIAS_NODE_ALLOWANCE} nodes \
                             (an alias bomb?); write the repeated content out or use fewer aliases"
                        ),
                    ));
                }
                let (value, nodes) = (value.clone(), *nodes);
                self.complete(value, nodes, span, true)
            }
            Event::Scalar(text, style, anchor, tag) => {
                if let Some(Open::Map {
                    key: key @ None, ..
                }) = self.stack.last_mut()
                {
                    // A mapping key.
                    let k = resolve_key(&text, style, tag.as_deref(), &span)?;
                    *key = Some(k);
                    if anchor != 0 {
                        self.anchors
                            .insert(anchor, (Value::String(text.into_owned()), 1));
                    }
                    return Ok(());
                }
                if self.stack.is_empty() {
                    self.doc_line = span.start.line();
                }
                if style == ScalarStyle::DoubleQuoted {
                    check_yaml11_escapes(self.src, &span)?;
                }
                let text = block_scalar_at_eof(self.src, text, style, &span);
                let mut value = resolve_scalar(&text, style, tag.as_deref(), &span)?;
                if !value.is_string() && self.at_annotation_value() {
                    // An annotation value is text to Kubernetes (a number there is refused);
                    // kustomize writes every one as the text it was written with (`8080`,
                    // `true`, `0644`, `~` become "8080", "true", "0644", "~").
                    value = Value::String(text.to_string());
                }
                if anchor != 0 {
                    self.anchors.insert(anchor, (value.clone(), 1));
                }
                self.complete(value, 1, span, false)
            }
            Event::SequenceStart(_, anchor, _) => {
                self.open(&span)?;
                self.stack.push(Open::Seq {
                    items: Vec::new(),
                    anchor,
                    nodes: 1,
                });
                Ok(())
            }
            Event::MappingStart(_, anchor, _) => {
                self.open(&span)?;
                self.stack.push(Open::Map {
                    map: Map::new(),
                    anchor,
                    nodes: 1,
                    key: None,
                    explicit: None,
                });
                Ok(())
            }
            Event::SequenceEnd => match self.stack.pop() {
                Some(Open::Seq {
                    items,
                    anchor,
                    nodes,
                }) => {
                    let value = Value::Array(items);
                    if anchor != 0 {
                        self.anchors.insert(anchor, (value.clone(), nodes));
                    }
                    self.complete(value, nodes, span, false)
                }
                _ => Err(YamlError::at(&span, "unbalanced sequence end")),
            },
            Event::MappingEnd => match self.stack.pop() {
                Some(Open::Map {
                    map, anchor, nodes, ..
                }) => {
                    let value = Value::Object(map);
                    if anchor != 0 {
                        self.anchors.insert(anchor, (value.clone(), nodes));
                    }
                    self.complete(value, nodes, span, false)
                }
                _ => Err(YamlError::at(&span, "unbalanced mapping end")),
            },
            #[allow(unreachable_patterns)]
            _ => Ok(()),
        }
    }

    /// Is the node being read the value of a document's `metadata.annotations` entry?
    fn at_annotation_value(&self) -> bool {
        let key_is = |open: &Open, name: &str| matches!(open, Open::Map { key: Some(Key::Plain(k, _)), .. } if k == name);
        matches!(self.stack.as_slice(), [doc, meta, Open::Map { key: Some(Key::Plain(..)), .. }]
            if key_is(doc, "metadata") && key_is(meta, "annotations"))
    }

    /// A collection starts: check depth, and that it is not used as a mapping key.
    fn open(&mut self, span: &Span) -> Result<(), YamlError> {
        if self.stack.is_empty() {
            self.doc_line = span.start.line();
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(YamlError::at(
                span,
                format!("nesting deeper than {MAX_DEPTH} levels"),
            ));
        }
        if let Some(Open::Map { key: None, .. }) = self.stack.last() {
            return Err(YamlError::at(
                span,
                "a mapping or sequence used as a mapping key; Kubernetes accepts only \
                 scalar keys",
            ));
        }
        Ok(())
    }

    /// A node is complete: attach it to its parent, or finish the document.
    fn complete(
        &mut self,
        value: Value,
        nodes: usize,
        span: Span,
        from_alias: bool,
    ) -> Result<(), YamlError> {
        match self.stack.last_mut() {
            None => {
                if !value.is_null() {
                    self.docs.push(Document {
                        value,
                        line: self.doc_line.max(1),
                    });
                }
                Ok(())
            }
            Some(Open::Seq {
                items, nodes: n, ..
            }) => {
                items.push(value);
                *n += nodes;
                Ok(())
            }
            Some(Open::Map {
                map,
                nodes: n,
                key,
                explicit,
                ..
            }) => {
                *n += nodes;
                match key.take() {
                    None => {
                        // An alias used as a key.
                        let _ = from_alias;
                        let k = key_string(&value, &span)?;
                        *key = Some(Key::Plain(k, pos(&span)));
                        Ok(())
                    }
                    Some(Key::Merge(mpos)) => {
                        if explicit.is_none() {
                            *explicit = Some(map.keys().cloned().collect());
                        }
                        merge_into(map, value, mpos)
                    }
                    Some(Key::Plain(k, kpos)) => {
                        let duplicate = match explicit {
                            None => map.contains_key(&k),
                            Some(set) => !set.insert(k.clone()),
                        };
                        if duplicate {
                            return Err(error_at(
                                kpos,
                                format!(
                                    "duplicate key {k:?} in one mapping; Kubernetes would keep \
                                     only the last one: remove one of them"
                                ),
                            ));
                        }
                        map.insert(k, value);
                        Ok(())
                    }
                }
            }
        }
    }
}

/// `<<: *a` or `<<: [*a, *b]`: Kubernetes' reader inserts the merged keys where the merge key
/// stands, overriding keys written before it; of several maps, the first wins.
fn merge_into(
    map: &mut Map<String, Value>,
    value: Value,
    at: (usize, usize),
) -> Result<(), YamlError> {
    let bad = || error_at(at, "a `<<` merge key needs a mapping or a list of mappings");
    match value {
        Value::Object(m) => {
            for (k, v) in m {
                map.insert(k, v);
            }
            Ok(())
        }
        Value::Array(items) => {
            for item in items.into_iter().rev() {
                match item {
                    Value::Object(m) => {
                        for (k, v) in m {
                            map.insert(k, v);
                        }
                    }
                    _ => return Err(bad()),
                }
            }
            Ok(())
        }
        _ => Err(bad()),
    }
}

/// A block scalar (`|`, `>`) that ends the input without a final line break has no trailing
/// line break in its value (YAML 1.2, 8.1.1.2, and Kubernetes' reader agree); the event parser
/// adds one there, so take it off again.
fn block_scalar_at_eof<'a>(
    src: &str,
    text: std::borrow::Cow<'a, str>,
    style: ScalarStyle,
    span: &Span,
) -> std::borrow::Cow<'a, str> {
    let block = matches!(style, ScalarStyle::Literal | ScalarStyle::Folded);
    let at_eof = span.end.byte_offset() == Some(src.len());
    if block && at_eof && !src.ends_with('\n') && text.ends_with('\n') {
        let mut t = text.into_owned();
        t.pop();
        return std::borrow::Cow::Owned(t);
    }
    text
}

/// YAML 1.2 added the escape `\/`; Kubernetes' YAML 1.1 reader rejects it.
fn check_yaml11_escapes(src: &str, span: &Span) -> Result<(), YamlError> {
    let (Some(a), Some(b)) = (span.start.byte_offset(), span.end.byte_offset()) else {
        return Ok(());
    };
    let Some(raw) = src.get(a..b) else {
        return Ok(());
    };
    let bytes = raw.as_bytes();
    let mut i = 0;
    while i + 1 < bytes.len() {
        if bytes[i] == b'\\' {
            if bytes[i + 1] == b'/' {
                return Err(YamlError::at(
                    span,
                    "the escape `\\/` is YAML 1.2 only and Kubernetes' reader rejects it; \
                     write `/` without the backslash",
                ));
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    Ok(())
}

fn tag_suffix(tag: Option<&Tag>) -> Option<&str> {
    let tag = tag?;
    if tag.is_yaml_core_schema() || tag.handle() == "tag:yaml.org,2002:" {
        Some(tag.suffix())
    } else {
        // `!Ref` and other application tags: Kubernetes ignores them and keeps the text.
        Some("")
    }
}

fn resolve_key(
    text: &str,
    style: ScalarStyle,
    tag: Option<&Tag>,
    span: &Span,
) -> Result<Key, YamlError> {
    if style == ScalarStyle::Plain && tag.is_none() && text == "<<" {
        return Ok(Key::Merge(pos(span)));
    }
    let value = resolve_scalar(text, style, tag, span)?;
    Ok(Key::Plain(key_string(&value, span)?, pos(span)))
}

/// Kubernetes turns non-string keys into strings: `true`, `16`, `1.5`; a null key is an error.
fn key_string(value: &Value, span: &Span) -> Result<String, YamlError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(match n.as_f64() {
            Some(f) if n.is_f64() => format_float_key(f),
            _ => n.to_string(),
        }),
        Value::Null => Err(YamlError::at(
            span,
            "a null mapping key; Kubernetes rejects it: quote the key or remove the entry",
        )),
        _ => Err(YamlError::at(
            span,
            "a mapping or sequence used as a mapping key; Kubernetes accepts only scalar keys",
        )),
    }
}

fn format_float_key(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e21 {
        format!("{}", f as i128)
    } else {
        format!("{}", f as f32)
    }
}

/// Resolves one scalar as Kubernetes' YAML 1.1 reader does.
fn resolve_scalar(
    text: &str,
    style: ScalarStyle,
    tag: Option<&Tag>,
    span: &Span,
) -> Result<Value, YamlError> {
    let suffix = tag_suffix(tag);
    match suffix {
        Some("str") | Some("") => return Ok(Value::String(text.to_string())),
        Some("binary") => return decode_binary(text, span),
        Some("timestamp") => return Ok(Value::String(text.to_string())),
        _ => {}
    }
    if suffix.is_none() && style != ScalarStyle::Plain {
        return Ok(Value::String(text.to_string()));
    }
    let resolved = resolve_plain(text);
    let resolved = match (suffix, resolved) {
        (None, r) => r,
        (Some("int"), r @ Resolved::Int(_)) => r,
        (Some("float"), Resolved::Int(n)) => Resolved::Float(n.as_f64().unwrap_or(f64::NAN)),
        (Some("float"), r @ Resolved::Float(_)) => r,
        (Some("float"), r @ Resolved::NonFinite) => r,
        (Some("bool"), r @ Resolved::Bool(_)) => r,
        (Some("null"), Resolved::Null) => Resolved::Null,
        (Some("null"), Resolved::Str) if text.is_empty() => Resolved::Null,
        (Some("map" | "seq" | "set" | "omap" | "pairs" | "merge" | "value"), _) | (Some(_), _) => {
            return Err(YamlError::at(
                span,
                format!(
                    "cannot read {text:?} as !!{}; fix the value or the tag",
                    suffix.unwrap_or_default()
                ),
            ));
        }
    };
    Ok(match resolved {
        Resolved::Null => Value::Null,
        Resolved::Bool(b) => Value::Bool(b),
        Resolved::Int(n) => Value::Number(n),
        Resolved::Float(f) => match Number::from_f64(f) {
            Some(n) => Value::Number(n),
            None => return Err(non_finite(text, span)),
        },
        Resolved::NonFinite => return Err(non_finite(text, span)),
        Resolved::Str => Value::String(text.to_string()),
    })
}

fn non_finite(text: &str, span: &Span) -> YamlError {
    YamlError::at(
        span,
        format!(
            "{text:?} is infinity or not-a-number, which Kubernetes cannot represent (JSON has \
             no such numbers); quote it if it is meant as a string"
        ),
    )
}

fn decode_binary(text: &str, span: &Span) -> Result<Value, YamlError> {
    use base64::Engine;
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|e| YamlError::at(span, format!("invalid !!binary base64: {e}")))?;
    // Kubernetes' reader turns the bytes into a string; invalid UTF-8 becomes U+FFFD.
    Ok(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
}

enum Resolved {
    Null,
    Bool(bool),
    Int(Number),
    Float(f64),
    NonFinite,
    Str,
}

/// The YAML 1.1 resolution rules of Kubernetes' reader, for an untagged plain scalar.
fn resolve_plain(s: &str) -> Resolved {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Resolved::Bool(true);
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Resolved::Bool(false);
        }
        ".nan" | ".NaN" | ".NAN" | ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF"
        | "-.inf" | "-.Inf" | "-.INF" => return Resolved::NonFinite,
        _ => {}
    }
    let first = s.as_bytes()[0];
    match first {
        b'.' => match parse_go_float(s) {
            Some(f) => Resolved::Float(f),
            None => Resolved::Str,
        },
        b'0'..=b'9' | b'+' | b'-' => {
            let plain: String = s.chars().filter(|&c| c != '_').collect();
            if let Some(n) = parse_go_int(&plain) {
                return Resolved::Int(n);
            }
            if is_yaml_style_float(&plain)
                && let Some(f) = parse_go_float(&plain)
            {
                return Resolved::Float(f);
            }
            Resolved::Str
        }
        _ => Resolved::Str,
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)`, then `ParseUint(s, 0, 64)`: an optional sign (signed
/// only), a `0x`/`0o`/`0b` prefix or a leading `0` for octal.
fn parse_go_int(s: &str) -> Option<Number> {
    let (neg, signed, body) = match s.as_bytes().first()? {
        b'-' => (true, true, &s[1..]),
        b'+' => (false, true, &s[1..]),
        _ => (false, false, s),
    };
    let lower = body.get(..2).map(|p| p.to_ascii_lowercase());
    let (radix, digits) = match lower.as_deref() {
        Some("0x") => (16, &body[2..]),
        Some("0o") => (8, &body[2..]),
        Some("0b") => (2, &body[2..]),
        _ if body.len() > 1 && body.starts_with('0') => (8, &body[1..]),
        _ => (10, body),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u128::from_str_radix(digits, radix).ok()?;
    if neg {
        if magnitude <= i64::MAX as u128 + 1 {
            return Some(Number::from((-(magnitude as i128)) as i64));
        }
        return None;
    }
    if magnitude <= i64::MAX as u128 {
        return Some(Number::from(magnitude as i64));
    }
    if !signed && magnitude <= u64::MAX as u128 {
        return Some(Number::from(magnitude as u64));
    }
    None
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn is_yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'-' | b'+')) {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Go's `strconv.ParseFloat(s, 64)` for the decimal forms YAML produces; out-of-range values
/// are errors there, so they stay strings.
fn parse_go_float(s: &str) -> Option<f64> {
    if !s
        .bytes()
        .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    let f: f64 = s.parse().ok()?;
    f.is_finite().then_some(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A large stream is written in runs on all cores: the runs, one after the other, are
    /// exactly the documents written one by one and joined by `---`.
    #[test]
    fn emitting_in_runs_is_emitting_one_by_one() {
        let docs: Vec<Value> = (0..PARALLEL_EMIT_MIN * 3 + 7)
            .map(|i| json!({"kind": "ConfigMap", "n": i, "s": format!("line\n{i}"), "e": {}}))
            .collect();
        let parts = to_yaml_parts(&docs);
        assert!(parts.len() > 1);
        let one_by_one: Vec<String> = docs.iter().map(to_yaml).collect();
        assert_eq!(parts.concat(), one_by_one.join("---\n"));
        assert_eq!(to_yaml_stream(&docs), one_by_one.join("---\n"));
        let back: Vec<Value> = parse_stream(&parts.concat())
            .unwrap()
            .into_iter()
            .map(|d| d.value)
            .collect();
        assert_eq!(back, docs);
    }

    fn one(src: &str) -> Value {
        let docs = parse_stream(src).unwrap();
        assert_eq!(docs.len(), 1, "{docs:?}");
        docs.into_iter().next().unwrap().value
    }

    #[test]
    fn yaml11_scalars_resolve_as_kubernetes_reads_them() {
        let v = one(
            "a: 0644\nb: yes\nc: 'yes'\nd: 1_000\ne: 0x1F\nf: 08\ng: 12:30\nh: 2024-01-01\n\
             i: 0o9\nj: tRUE\nk: ~\nl: 1.0\nm: -0644\nnn: +42\no: 1e3\np: 18446744073709551615\n\
             q: 18446744073709551616\nr: 1,000\n",
        );
        assert_eq!(v["a"], json!(420));
        assert_eq!(v["b"], json!(true));
        assert_eq!(v["c"], json!("yes"));
        assert_eq!(v["d"], json!(1000));
        assert_eq!(v["e"], json!(31));
        assert_eq!(v["f"], json!(8.0));
        assert_eq!(v["g"], json!("12:30"));
        assert_eq!(v["h"], json!("2024-01-01"));
        assert_eq!(v["i"], json!("0o9"));
        assert_eq!(v["j"], json!("tRUE"));
        assert_eq!(v["k"], Value::Null);
        assert_eq!(v["l"], json!(1.0));
        assert_eq!(v["m"], json!(-420));
        assert_eq!(v["nn"], json!(42));
        assert_eq!(v["o"], json!(1000.0));
        assert_eq!(v["p"], json!(18446744073709551615u64));
        assert_eq!(v["q"], json!(18446744073709551616.0));
        assert_eq!(v["r"], json!("1,000"));
    }

    #[test]
    fn keys_become_strings_as_kubernetes_converts_them() {
        let v = one("on: 1\n0x10: 2\n1.5: 3\n'on': 4\nNO: 5\n");
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["true", "16", "1.5", "on", "false"]);
    }

    #[test]
    fn later_merge_overrides_and_first_of_a_list_wins() {
        let v = one("base: &b {cpu: 1, mem: 2}\nx: &x {eph: 3, mem: 9}\n\
             a: {mem: 5, <<: *b}\nb: {<<: [*b, *x], cpu: 7}\n");
        assert_eq!(v["a"], json!({"mem": 2, "cpu": 1}));
        assert_eq!(v["b"], json!({"cpu": 7, "mem": 2, "eph": 3}));
    }

    #[test]
    fn block_scalar_at_the_end_of_input_without_a_line_break() {
        assert_eq!(one("a: |\n  x\n  y")["a"], json!("x\ny"));
        assert_eq!(one("a: |\n  x\n  y\n")["a"], json!("x\ny\n"));
        assert_eq!(one("a: >\n  x\n  y")["a"], json!("x y"));
        assert_eq!(one("a: |-\n  x")["a"], json!("x"));
        assert_eq!(one("a: |\n  x\nb: 1")["a"], json!("x\n"));
    }

    #[test]
    fn duplicate_keys_are_an_error_with_the_line() {
        let e = parse_stream("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("duplicate key \"a\""), "{e}");
    }

    #[test]
    fn tags() {
        let v =
            one("a: !!str 0644\nb: !!int \"42\"\nc: !!binary aGVsbG8=\nd: !Ref X\ne: !!null ''\n");
        assert_eq!(
            v,
            json!({"a": "0644", "b": 42, "c": "hello", "d": "X", "e": null})
        );
        assert!(parse_stream("a: !!int abc\n").is_err());
    }

    #[test]
    fn alias_bomb_is_bounded() {
        let mut src = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            src.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let e = parse_stream(&src).unwrap_err();
        assert!(e.message.contains("alias bomb"), "{e}");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let src = "[".repeat(5000) + &"]".repeat(5000);
        let e = parse_stream(&src).unwrap_err();
        assert!(e.message.contains("nesting deeper"), "{e}");
    }

    #[test]
    fn empty_documents_are_skipped_and_lines_kept() {
        let docs = parse_stream("# c\n---\n---\na: 1\n---\n# only a comment\n---\nb: 2\n").unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].line, 4);
        assert_eq!(docs[1].line, 8);
    }

    #[test]
    fn risky_strings_survive_a_round_trip() {
        for s in [
            "yes", "NO", "on", "0644", "8080", "1.0", "12:30", "~", "null", "", " x", "a: b",
        ] {
            let v = json!({ s: s });
            let back = one(&to_yaml(&v));
            assert_eq!(back, v, "{s:?}");
        }
    }

    #[test]
    fn locate_counts_documents_as_the_reader_does() {
        // `--- ~` and an empty document are left out by the reader, so by `locate` too.
        let src = "--- ~\n---\n---\nkind: A\n---\nkind: B\n";
        assert_eq!(parse_stream(src).unwrap().len(), 2);
        assert_eq!(locate(src, 0, &["kind"]), Some((4, 7)));
        assert_eq!(locate(src, 1, &["kind"]), Some((6, 7)));
        // Keys as Kubernetes reads them: `on` is the key "true".
        assert_eq!(locate("on: 1\n", 0, &["true"]), Some((1, 5)));
    }

    #[test]
    fn locate_finds_fields_and_list_items() {
        let src = "a: 1\n---\nkind: X\nspec:\n  list:\n  - name: a\n  - name: b\n    port: 80\n";
        assert_eq!(
            locate(src, 1, &["spec", "list", "1", "port"]),
            Some((8, 11))
        );
        assert_eq!(locate(src, 1, &["kind"]), Some((3, 7)));
        assert_eq!(locate(src, 0, &["a"]), Some((1, 4)));
        // A missing field falls back to its nearest ancestor.
        assert_eq!(locate(src, 1, &["spec", "list", "1", "nope"]), Some((7, 5)));
    }

    #[test]
    fn one_document_is_located_alone_as_in_the_whole_file() {
        let src = "\u{feff}a: 1\n---\n# c\nkind: K\nspec:\n  list:\n  - port: 1\n  - port: 2\n\
                   ---\n  indented: {x: [1, 2]}\n";
        let lines = LineStarts::of(src);
        let whole = Positions::of(src);
        let docs = parse_stream(src).unwrap();
        assert_eq!(docs.len(), 3);
        for (i, doc) in docs.iter().enumerate() {
            let alone = Positions::of_document_at(src, &lines, doc.line).unwrap();
            for pointer in ["", "/a", "/kind", "/spec/list/1/port", "/indented/x/1"] {
                assert_eq!(
                    alone.find_pointer(0, pointer),
                    whole.find_pointer(i, pointer),
                    "document {i}, {pointer}"
                );
            }
        }
        assert_eq!(
            Positions::of_document_at(src, &lines, 4)
                .unwrap()
                .find_pointer(0, "/spec/list/1/port"),
            Some((8, 11))
        );
        assert!(Positions::of_document_at(src, &lines, 99).is_none());
        // A directive before the document: positions stay those of the whole file.
        let tagged = "%TAG !e! tag:example.com,2000:\n---\n!e!x\nkind: K\n";
        let line = parse_stream(tagged).unwrap()[0].line;
        let alone = Positions::of_document_at(tagged, &LineStarts::of(tagged), line);
        assert!(alone.is_none_or(|p| p.find_pointer(0, "/kind") == Some((4, 7))));
    }

    #[test]
    fn a_large_stream_parsed_in_pieces_reads_as_parsed_whole() {
        // Documents that end in every way a cut could disturb: kept trailing blank lines
        // (`|+`), a block scalar at the very end, content on the `---` line, a `...` end
        // marker, comments and empty documents between.
        let mut src = String::new();
        let mut i = 0;
        while src.len() < PARALLEL_PARSE_MIN + 4096 {
            src.push_str(&format!(
                "kind: A\nn: {i}\nkeep: |+\n  x\n\n\n---\n# c\n---\n--- {{kind: B, n: {i}}}\n\
                 ---\nkind: C\nmode: 0644\nfold: >-\n  a\n  b\n...\n---\n"
            ));
            i += 1;
        }
        src.push_str("kind: D\nlast: |\n  end");
        let same = |d: Document| d;
        let whole = parse_whole(&src, 0, &same).unwrap();
        for pieces in [2, 3, 7] {
            assert!(split_at_documents(&src, pieces).len() > 1);
            let parts = parse_in_pieces(&src, pieces, &same).unwrap();
            assert_eq!(parts.len(), whole.len(), "{pieces} pieces");
            for (a, b) in parts.iter().zip(&whole) {
                assert_eq!((a.line, &a.value), (b.line, &b.value), "{pieces} pieces");
            }
        }
        assert_eq!(whole.last().unwrap().value["last"], json!("end"));
        // An error far into the text is reported at the same place.
        let bad = src.replacen("n: 9000\n", "n: 9000\n  bad: [\n", 1);
        let expected = parse_whole(&bad, 0, &same).unwrap_err();
        assert!(expected.line > 1000, "{expected:?}");
        assert_eq!(parse_in_pieces(&bad, 4, &same).unwrap_err(), expected);
        // A directive keeps the text in one piece.
        assert_eq!(
            split_at_documents(&format!("%YAML 1.1\n---\n{src}"), 4).len(),
            1
        );
    }
}
