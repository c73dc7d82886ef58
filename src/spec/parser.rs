//! A JSON reader that reads as Go's encoding/json decodes into typed structures: the generic
//! part (values, objects, arrays, strings, numbers, nesting limit) that the spec's own fields
//! in the parent module are read with.

use crate::error::{Error, Result};

/// Go's limit on nested arrays and objects.
const MAX_DEPTH: usize = 10_000;

/// Whether a JSON key names the Go field with JSON name `name`: equal, or equal under Go's
/// case folding (ASCII letters, and the two non-ASCII letters that fold to ASCII: U+017F
/// LATIN SMALL LETTER LONG S to s, U+212A KELVIN SIGN to k).
pub(super) fn field_is(key: &str, name: &str) -> bool {
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

pub(super) struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
    /// Arrays and objects open around the value being decoded.
    depth: usize,
}

impl<'a> Parser<'a> {
    pub(super) fn new(input: &'a [u8]) -> Self {
        Parser { input, pos: 0, depth: 0 }
    }

    /// Whether the whole input was read.
    pub(super) fn at_end(&self) -> bool {
        self.pos == self.input.len()
    }
}

impl Parser<'_> {
    pub(super) fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    pub(super) fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    pub(super) fn syntax(&self, what: &str) -> Error {
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
    pub(super) fn wrong_type(&self, field: &str, wanted: &str) -> Error {
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

    pub(super) fn literal(&mut self, word: &str) -> Result<()> {
        if self.input[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(self.syntax("invalid literal"))
        }
    }

    /// A pointer field: `null` clears it; anything else decodes into it (made if absent).
    pub(super) fn optional<T: Default>(
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

    /// An object (or `null`, which leaves `into` as it is); `member` decodes each value, the
    /// parser standing on it, in document order.
    pub(super) fn object(&mut self, field: &str, mut member: impl FnMut(&mut Self, &str) -> Result<()>) -> Result<()> {
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

    pub(super) fn members(&mut self, member: &mut impl FnMut(&mut Self, &str) -> Result<()>) -> Result<()> {
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
    pub(super) fn array<T: Default>(&mut self, items: &mut Vec<T>, field: &str, mut element: impl FnMut(&mut Self, &mut T) -> Result<()>) -> Result<()> {
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

    pub(super) fn elements<T: Default>(&mut self, items: &mut Vec<T>, element: &mut impl FnMut(&mut Self, &mut T) -> Result<()>) -> Result<()> {
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

    pub(super) fn boolean(&mut self, value: &mut bool, field: &str) -> Result<()> {
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

    pub(super) fn string_field(&mut self, value: &mut String, field: &str) -> Result<()> {
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

    pub(super) fn unsigned(&mut self, value: &mut u32, field: &str) -> Result<()> {
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
    pub(super) fn number(&mut self) -> Result<&[u8]> {
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
    pub(super) fn string(&mut self) -> Result<String> {
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

    pub(super) fn hex4(&mut self) -> Result<u32> {
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
    pub(super) fn skip_value(&mut self) -> Result<()> {
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
    pub(super) fn key(&mut self) -> Result<()> {
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
