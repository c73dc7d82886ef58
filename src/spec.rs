//! The few fields the library needs from a runtime-spec document.
//!
//! The spec JSON goes to containerd exactly as the caller gave it (seed 004: no decode and
//! re-encode on the hot path). This module only reads what the library itself acts on, and
//! reads it as containerd and runc will: as Go's encoding/json decodes the document into
//! runtime-spec's `specs.Spec` (checked against Go itself by tests/spec_reader.rs). A small
//! hand-written reader rather than serde: serde's derived structs accept arrays as objects
//! positionally, refuse escaped strings where they borrow, match keys case-sensitively and
//! recurse per nesting level, all unlike Go.

use crate::error::{Error, Result};

/// What the library needs to know about a container's spec.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpecInfo {
    /// `process.terminal`: the task gets a terminal, so no stderr FIFO.
    pub terminal: bool,
    /// Host uid and gid that container root maps to (0/0 without a user namespace); the bundle
    /// directory and the task's IO are owned by them.
    pub host_uid: u32,
    pub host_gid: u32,
}

impl SpecInfo {
    /// Reads a runtime-spec `Spec` JSON document.
    pub fn from_spec_json(json: &[u8]) -> Result<Self> {
        let spec = SpecFields::read(json)?;
        let terminal = spec.process.map(|p| p.terminal).unwrap_or(false);
        let (host_uid, host_gid) = match spec.linux {
            Some(linux) if linux.namespaces.iter().any(|kind| kind == "user") => (
                host_id_of_root(&linux.uid_mappings),
                host_id_of_root(&linux.gid_mappings),
            ),
            _ => (0, 0),
        };
        Ok(SpecInfo { terminal, host_uid, host_gid })
    }
}

/// The host id that container id 0 maps to, or 0 when no mapping covers it (moby's rule).
fn host_id_of_root(mappings: &[IdMapping]) -> u32 {
    mappings.iter().find(|m| m.size > 0 && m.container_id == 0).map(|m| m.host_id).unwrap_or(0)
}

/// What Go's encoding/json, decoding into runtime-spec's `specs.Spec`, gives for the fields the
/// library reads: one value of the decoded Go structures, so the library's reading and Go's can
/// be compared field by field (tests/spec_reader.rs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpecFields {
    pub process: Option<ProcessFields>,
    pub linux: Option<LinuxFields>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessFields {
    pub terminal: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinuxFields {
    /// The namespaces' `type`s.
    pub namespaces: Vec<String>,
    pub uid_mappings: Vec<IdMapping>,
    pub gid_mappings: Vec<IdMapping>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IdMapping {
    pub container_id: u32,
    pub host_id: u32,
    pub size: u32,
}

/// Go's limit on nested arrays and objects.
const MAX_DEPTH: usize = 10_000;

impl SpecFields {
    /// Reads a runtime-spec document as Go's `json.Unmarshal` into `specs.Spec` does, for the
    /// fields above: keys match field names exactly or case-insensitively (Go's folding), a
    /// repeated key decodes again into what the earlier one left (so the last value wins, and
    /// objects and array elements merge), `null` clears a pointer or slice and leaves anything
    /// else as it was, numbers for ids must be plain unsigned integers that fit in 32 bits,
    /// strings may hold invalid UTF-8 or lone surrogates (read as U+FFFD), nesting deeper than
    /// 10,000 is refused. Fields the library does not read are only checked to be valid JSON.
    pub fn read(json: &[u8]) -> Result<SpecFields> {
        let mut parser = Parser { input: json, pos: 0, depth: 0 };
        let mut spec = None;
        parser.skip_space();
        match parser.peek() {
            Some(b'n') => parser.literal("null")?,
            Some(b'{') => {
                let mut fields = SpecFields::default();
                parser.object("the spec", |parser, key| {
                    if field_is(key, "process") {
                        parser.optional(&mut fields.process, "process", |parser, process| {
                            parser.object("process", |parser, key| {
                                if field_is(key, "terminal") {
                                    parser.boolean(&mut process.terminal, "process.terminal")
                                } else {
                                    parser.skip_value()
                                }
                            })
                        })
                    } else if field_is(key, "linux") {
                        parser.optional(&mut fields.linux, "linux", Parser::linux)
                    } else {
                        parser.skip_value()
                    }
                })?;
                spec = Some(fields);
            }
            Some(_) => {
                parser.skip_value()?;
                return Err(Error::invalid_argument("runtime spec JSON: the document must be an object"));
            }
            None => return Err(parser.syntax("an empty document")),
        }
        parser.skip_space();
        if parser.pos != parser.input.len() {
            return Err(parser.syntax("data after the document"));
        }
        Ok(spec.unwrap_or_default())
    }
}

/// Whether a JSON key names the Go field with JSON name `name`: equal, or equal under Go's
/// case folding (ASCII letters, and the two non-ASCII letters that fold to ASCII: U+017F
/// LATIN SMALL LETTER LONG S to s, U+212A KELVIN SIGN to k).
fn field_is(key: &str, name: &str) -> bool {
    if key == name {
        return true;
    }
    let folded = key.chars().map(|c| match c {
        '\u{17F}' => 'S',
        '\u{212A}' => 'K',
        c => c.to_ascii_uppercase(),
    });
    folded.eq(name.chars().map(|c| c.to_ascii_uppercase()))
}

struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
    /// Arrays and objects open around the value being decoded.
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn syntax(&self, what: &str) -> Error {
        let found = match self.peek() {
            Some(c) if c.is_ascii_graphic() => format!("'{}'", c as char),
            Some(c) => format!("byte 0x{c:02x}"),
            None => "the end".to_owned(),
        };
        Error::invalid_argument(format!(
            "runtime spec is not valid JSON: {what} (found {found} at byte offset {})",
            self.pos
        ))
    }

    /// The error for a value of the wrong JSON type (or no valid value at all) at `field`.
    fn wrong_type(&self, field: &str, wanted: &str) -> Error {
        let found = match self.peek() {
            Some(b'{') => "an object",
            Some(b'[') => "an array",
            Some(b'"') => "a string",
            Some(b't' | b'f') => "a boolean",
            Some(b'n') => "null",
            Some(b'-' | b'0'..=b'9') => "a number",
            _ => return self.syntax("expected a value"),
        };
        Error::invalid_argument(format!("runtime spec JSON: field {field} must be {wanted}, not {found}"))
    }

    fn literal(&mut self, word: &str) -> Result<()> {
        if self.input[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(self.syntax("invalid literal"))
        }
    }

    /// A pointer field: `null` clears it; anything else decodes into it (made if absent).
    fn optional<T: Default>(
        &mut self,
        slot: &mut Option<T>,
        field: &str,
        decode: impl FnOnce(&mut Self, &mut T) -> Result<()>,
    ) -> Result<()> {
        if self.peek() == Some(b'n') {
            *slot = None;
            return self.literal("null");
        }
        if self.peek() != Some(b'{') {
            return Err(self.wrong_type(field, "an object"));
        }
        decode(self, slot.get_or_insert_with(T::default))
    }

    fn linux(&mut self, linux: &mut LinuxFields) -> Result<()> {
        self.object("linux", |parser, key| {
            if field_is(key, "namespaces") {
                parser.array(&mut linux.namespaces, "linux.namespaces", |parser, kind| {
                    parser.object("linux.namespaces[]", |parser, key| {
                        if field_is(key, "type") {
                            parser.string_field(kind, "linux.namespaces[].type")
                        } else {
                            parser.skip_value()
                        }
                    })
                })
            } else if field_is(key, "uidMappings") {
                parser.array(&mut linux.uid_mappings, "linux.uidMappings", |parser, m| parser.mapping(m, "linux.uidMappings[]"))
            } else if field_is(key, "gidMappings") {
                parser.array(&mut linux.gid_mappings, "linux.gidMappings", |parser, m| parser.mapping(m, "linux.gidMappings[]"))
            } else {
                parser.skip_value()
            }
        })
    }

    fn mapping(&mut self, mapping: &mut IdMapping, field: &str) -> Result<()> {
        self.object(field, |parser, key| {
            if field_is(key, "containerID") {
                parser.unsigned(&mut mapping.container_id, "containerID")
            } else if field_is(key, "hostID") {
                parser.unsigned(&mut mapping.host_id, "hostID")
            } else if field_is(key, "size") {
                parser.unsigned(&mut mapping.size, "size")
            } else {
                parser.skip_value()
            }
        })
    }

    /// An object (or `null`, which leaves `into` as it is); `member` decodes each value, the
    /// parser standing on it, in document order.
    fn object(&mut self, field: &str, mut member: impl FnMut(&mut Self, &str) -> Result<()>) -> Result<()> {
        match self.peek() {
            Some(b'n') => return self.literal("null"),
            Some(b'{') => self.pos += 1,
            _ => return Err(self.wrong_type(field, "an object")),
        }
        self.depth += 1;
        let members = self.members(&mut member);
        self.depth -= 1;
        members
    }

    fn members(&mut self, member: &mut impl FnMut(&mut Self, &str) -> Result<()>) -> Result<()> {
        self.skip_space();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.skip_space();
            if self.peek() != Some(b'"') {
                return Err(self.syntax("expected a string key"));
            }
            let key = self.string()?;
            self.skip_space();
            if self.peek() != Some(b':') {
                return Err(self.syntax("expected ':' after a key"));
            }
            self.pos += 1;
            self.skip_space();
            member(self, &key)?;
            self.skip_space();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.syntax("expected ',' or '}' in an object")),
            }
        }
    }

    /// A slice field: `null` empties it; an array decodes element i into the i-th element left
    /// by an earlier value of the same key (as Go reuses a slice), then cuts it to its length.
    fn array<T: Default>(&mut self, items: &mut Vec<T>, field: &str, mut element: impl FnMut(&mut Self, &mut T) -> Result<()>) -> Result<()> {
        match self.peek() {
            Some(b'n') => {
                items.clear();
                return self.literal("null");
            }
            Some(b'[') => self.pos += 1,
            _ => return Err(self.wrong_type(field, "an array")),
        }
        self.depth += 1;
        let elements = self.elements(items, &mut element);
        self.depth -= 1;
        elements
    }

    fn elements<T: Default>(&mut self, items: &mut Vec<T>, element: &mut impl FnMut(&mut Self, &mut T) -> Result<()>) -> Result<()> {
        let mut count = 0;
        self.skip_space();
        if self.peek() == Some(b']') {
            self.pos += 1;
            items.clear();
            return Ok(());
        }
        loop {
            self.skip_space();
            if count == items.len() {
                items.push(T::default());
            }
            element(self, &mut items[count])?;
            count += 1;
            self.skip_space();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    items.truncate(count);
                    return Ok(());
                }
                _ => return Err(self.syntax("expected ',' or ']' in an array")),
            }
        }
    }

    fn boolean(&mut self, value: &mut bool, field: &str) -> Result<()> {
        match self.peek() {
            Some(b't') => {
                self.literal("true")?;
                *value = true;
            }
            Some(b'f') => {
                self.literal("false")?;
                *value = false;
            }
            Some(b'n') => self.literal("null")?,
            _ => {
                let error = self.wrong_type(field, "a boolean");
                self.skip_value()?;
                return Err(error);
            }
        }
        Ok(())
    }

    fn string_field(&mut self, value: &mut String, field: &str) -> Result<()> {
        match self.peek() {
            Some(b'"') => *value = self.string()?,
            Some(b'n') => self.literal("null")?,
            _ => {
                let error = self.wrong_type(field, "a string");
                self.skip_value()?;
                return Err(error);
            }
        }
        Ok(())
    }

    fn unsigned(&mut self, value: &mut u32, field: &str) -> Result<()> {
        match self.peek() {
            Some(b'n') => return self.literal("null"),
            Some(b'-' | b'0'..=b'9') => {}
            _ => {
                let error = self.wrong_type(field, "an unsigned 32-bit integer");
                self.skip_value()?;
                return Err(error);
            }
        }
        let number = self.number()?;
        let parsed = std::str::from_utf8(number).ok().filter(|n| n.bytes().all(|b| b.is_ascii_digit())).and_then(|n| n.parse::<u32>().ok());
        match parsed {
            Some(n) => {
                *value = n;
                Ok(())
            }
            None => Err(Error::invalid_argument(format!(
                "runtime spec JSON: field {field} must be an unsigned 32-bit integer, not {}",
                crate::identifiers::quote(&String::from_utf8_lossy(number))
            ))),
        }
    }

    /// A JSON number's text (its grammar checked).
    fn number(&mut self) -> Result<&[u8]> {
        let start = self.pos;
        let digits = |parser: &mut Self| {
            let from = parser.pos;
            while matches!(parser.peek(), Some(b'0'..=b'9')) {
                parser.pos += 1;
            }
            parser.pos > from
        };
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return Err(self.syntax("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !digits(self) {
                return Err(self.syntax("invalid number"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if !digits(self) {
                return Err(self.syntax("invalid number"));
            }
        }
        Ok(&self.input[start..self.pos])
    }

    /// A string, unescaped; invalid UTF-8 and lone surrogates become U+FFFD as in Go.
    fn string(&mut self) -> Result<String> {
        self.pos += 1; // the opening quote
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(c) = self.peek() else { return Err(self.syntax("unterminated string")) };
            match c {
                b'"' => {
                    self.pos += 1;
                    return Ok(String::from_utf8_lossy(&out).into_owned());
                }
                b'\\' => {
                    self.pos += 1;
                    let Some(escape) = self.peek() else { return Err(self.syntax("unterminated string")) };
                    self.pos += 1;
                    let simple = match escape {
                        b'"' => Some('"'),
                        b'\\' => Some('\\'),
                        b'/' => Some('/'),
                        b'b' => Some('\u{8}'),
                        b'f' => Some('\u{c}'),
                        b'n' => Some('\n'),
                        b'r' => Some('\r'),
                        b't' => Some('\t'),
                        b'u' => None,
                        _ => {
                            self.pos -= 1;
                            return Err(self.syntax("invalid escape in a string"));
                        }
                    };
                    let decoded = match simple {
                        Some(c) => c,
                        None => {
                            let first = self.hex4()?;
                            if (0xD800..0xDC00).contains(&first) && self.input[self.pos..].starts_with(b"\\u") {
                                let save = self.pos;
                                self.pos += 2;
                                let second = self.hex4()?;
                                if (0xDC00..0xE000).contains(&second) {
                                    char::from_u32(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)).unwrap_or('\u{FFFD}')
                                } else {
                                    self.pos = save; // the second escape stands on its own
                                    '\u{FFFD}'
                                }
                            } else {
                                char::from_u32(first).unwrap_or('\u{FFFD}')
                            }
                        }
                    };
                    out.extend_from_slice(decoded.encode_utf8(&mut [0; 4]).as_bytes());
                }
                0..=0x1f => return Err(self.syntax("control character in a string")),
                _ => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn hex4(&mut self) -> Result<u32> {
        let digits = self.input.get(self.pos..self.pos + 4).ok_or_else(|| self.syntax("invalid \\u escape"))?;
        let value = std::str::from_utf8(digits)
            .ok()
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|d| u32::from_str_radix(d, 16).ok())
            .ok_or_else(|| self.syntax("invalid \\u escape"))?;
        self.pos += 4;
        Ok(value)
    }

    /// Checks one value of a field the library does not read, without recursion: a caller's
    /// deeply nested document cannot exhaust the stack.
    fn skip_value(&mut self) -> Result<()> {
        // Open containers, innermost last: b'{' or b'['.
        let mut open: Vec<u8> = Vec::new();
        loop {
            self.skip_space();
            // A value.
            match self.peek() {
                Some(b'{') | Some(b'[') => {
                    if self.depth + open.len() >= MAX_DEPTH {
                        return Err(self.syntax("nested more than 10000 levels deep"));
                    }
                    let c = self.input[self.pos];
                    open.push(c);
                    self.pos += 1;
                    self.skip_space();
                    let close = if c == b'{' { b'}' } else { b']' };
                    if self.peek() == Some(close) {
                        self.pos += 1;
                        open.pop();
                    } else if c == b'{' {
                        self.key()?;
                        continue;
                    } else {
                        continue;
                    }
                }
                Some(b'"') => {
                    self.string()?;
                }
                Some(b't') => self.literal("true")?,
                Some(b'f') => self.literal("false")?,
                Some(b'n') => self.literal("null")?,
                Some(b'-' | b'0'..=b'9') => {
                    self.number()?;
                }
                _ => return Err(self.syntax("expected a value")),
            }
            // After a value: close containers or move to the next member.
            loop {
                let Some(&inner) = open.last() else { return Ok(()) };
                self.skip_space();
                match (inner, self.peek()) {
                    (b'{', Some(b'}')) | (b'[', Some(b']')) => {
                        self.pos += 1;
                        open.pop();
                    }
                    (_, Some(b',')) => {
                        self.pos += 1;
                        if inner == b'{' {
                            self.skip_space();
                            self.key()?;
                        }
                        break;
                    }
                    (b'{', _) => return Err(self.syntax("expected ',' or '}' in an object")),
                    _ => return Err(self.syntax("expected ',' or ']' in an array")),
                }
            }
        }
    }

    /// An object key and its colon.
    fn key(&mut self) -> Result<()> {
        if self.peek() != Some(b'"') {
            return Err(self.syntax("expected a string key"));
        }
        self.string()?;
        self.skip_space();
        if self.peek() != Some(b':') {
            return Err(self.syntax("expected ':' after a key"));
        }
        self.pos += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn plain_spec_has_root_ids_and_terminal_flag() {
        let info = SpecInfo::from_spec_json(br#"{"ociVersion":"1.0.2","process":{"terminal":true,"args":["sh"]}}"#).unwrap();
        assert_eq!(info, SpecInfo { terminal: true, host_uid: 0, host_gid: 0 });
    }

    #[test]
    fn user_namespace_maps_root_to_host_ids() {
        let json = br#"{"process":{},"linux":{"namespaces":[{"type":"pid"},{"type":"user"}],
            "uidMappings":[{"containerID":0,"hostID":100000,"size":65536}],
            "gidMappings":[{"containerID":0,"hostID":200000,"size":65536}]}}"#;
        let info = SpecInfo::from_spec_json(json).unwrap();
        assert_eq!((info.host_uid, info.host_gid), (100000, 200000));
    }

    #[test]
    fn mappings_without_user_namespace_are_ignored() {
        let json = br#"{"linux":{"uidMappings":[{"containerID":0,"hostID":5,"size":1}]}}"#;
        assert_eq!(SpecInfo::from_spec_json(json).unwrap().host_uid, 0);
    }

    #[test]
    fn invalid_json_is_invalid_argument() {
        for bad in [&b"{"[..], b"", b"[1,2]", b"{\"process\":{\"terminal\":\"yes\"}}"] {
            let err = SpecInfo::from_spec_json(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        }
    }

    /// The three cases of issue 20: an array is not an object, an escaped string is a string,
    /// and deep nesting is reported as such (without exhausting the stack).
    #[test]
    fn arrays_escapes_and_deep_nesting_are_read_as_go_reads_them() {
        let err = SpecInfo::from_spec_json(br#"{"process":[true]}"#).unwrap_err();
        assert!(err.to_string().contains("field process must be an object, not an array"), "{err}");
        let truncated = SpecInfo::from_spec_json(br#"{"process":"#).unwrap_err();
        assert!(truncated.to_string().contains("not valid JSON: expected a value"), "{truncated}");
        let escaped = br#"{"linux":{"namespaces":[{"type":"us\u0065r"}],"uidMappings":[{"containerID":0,"hostID":7,"size":1}]}}"#;
        assert_eq!(SpecInfo::from_spec_json(escaped).unwrap().host_uid, 7);
        let deep = format!("{{\"x\":{}{}}}", "[".repeat(200_000), "]".repeat(200_000));
        let err = SpecInfo::from_spec_json(deep.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("nested more than 10000 levels deep"), "{err}");
        let unterminated = "[".repeat(200_000);
        assert_eq!(SpecInfo::from_spec_json(format!("{{\"x\":{unterminated}").as_bytes()).unwrap_err().kind(), ErrorKind::InvalidArgument);
    }
}
